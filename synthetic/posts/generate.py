"""Synthetic social-media posts written by synthetic people, assembled without a loop per post.

Each person writes posts in proportion to their social-media activity. A monitoring tool reads
only part of them: the posts *pulled in* over a window of ``months`` are Poisson with mean
``observed_posts_per_month * months`` (the population's surveillance coverage times the
person's posting rate), so a more closely watched person has more posts read.

A post has a true topic (daily life, sport, religion, politics, solidarity with Palestinians,
solidarity with another cause, criticism of a government; only people whose
``palestine_solidarity`` is set post on Palestinian rights) and a true intent: a genuine threat
of violence, written generically, is very rare and has the same rate for every group by
default (a share ``threat_share`` of the posts of the population's ``true_threat`` people, and
``threat_rate`` of everyone else's). The language and style come from the author's profile:
English, English code-switched with Arabic or Spanish, Spanish, French or transliterated
Arabic, with religious phrases, dialect markers and friends' names (``vocabulary``).

Randomness. A person's posts are a deterministic function of the seed, the person's id and the
post's index: one 64-bit key per person is drawn from the population's block streams
(``SeedSequence(seed, spawn_key=(block, crc32(name)))``, :mod:`synthetic.population.noise`),
and every per-post uniform is a SplitMix64 hash of (key, post index, variable). Hence a
person's posts are identical whatever other people are generated with them, in any order or
chunk, and a post can be re-rendered in another style with its content kept
(:func:`restyle`).

Labels. Annotators label each post "threat" or not. They miss a genuine threat with
probability ``annotator_miss_rate``, and label a non-threat post "threat" with probability

    annotator_noise * (1 + annotator_bias * (arabic + code_switched + palestine))

(capped at 0.95), where ``arabic`` marks Arabic or Islamic terms (transliterated Arabic, Arabic
words, Islamic phrases, Arabic names, a mosque), ``code_switched`` a post mixing languages and
``palestine`` pro-Palestinian topic words. With ``annotator_bias = 0`` label errors do not
depend on who wrote the post. The knob follows the documented dialect and identity-term bias
of toxicity annotation and classifiers: tweets in African-American English were about twice as
likely to be labelled offensive by annotators and by classifiers trained on their labels
(Sap, Card, Gabriel, Choi and Smith, "The Risk of Racial Bias in Hate Speech Detection", ACL
2019), and classifiers learned to treat identity terms such as "muslim" or "gay" as toxic
because of their skewed use in the training data (Dixon, Li, Sorensen, Thain and Vasserman,
"Measuring and Mitigating Unintended Bias in Text Classification", AIES 2018).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synthetic.population.noise import person_uniforms, poisson_from_uniform
from synthetic.posts import vocabulary as vocab
from synthetic.threads import map_in_threads, thread_parts

#: Columns of a post table, in order.
POST_COLUMNS = (
    "person_id", "post_index", "topic", "true_threat", "sentiment", "style", "language",
    "religious_phrase", "dialect_marker", "arabic_or_islamic_terms", "code_switched",
    "pro_palestinian_terms", "text", "annotator_threat", "annotator_sentiment",
)
#: Share of posts whose sentiment annotators label at random.
SENTIMENT_LABEL_NOISE = 0.1
#: Most posts one person can have pulled in over a window (a guard against absurd rates).
MAX_POSTS_PER_PERSON = 5_000

_TEXT = object  # gathers of Python strings are fast; np.add concatenates them
_MASK_INT = 0xFFFFFFFFFFFFFFFF
_GOLDEN_INT = 0x9E3779B97F4A7C15
_GOLDEN = np.uint64(_GOLDEN_INT)
_TO_UNIT = 2.0**-53

_SLOT_KINDS = ("place", "time", "food", "team", "cause", "official", "issue", "friend",
               "worship", "holiday")
_FRIEND = _SLOT_KINDS.index("friend")
_RELIGIOUS_SLOTS = (_SLOT_KINDS.index("worship"), _SLOT_KINDS.index("holiday"))
_MAX_SLOTS = 4
_N_CONTEXTS = max(len(vocab.NAME_FAMILIES), len(vocab.RELIGIONS))
_NAME_FAMILIES = tuple(vocab.NAME_FAMILIES)
_DIALECT_FAMILIES = tuple(vocab.DIALECT_MARKERS)
_N_VARIANTS = 5


class PostInputError(ValueError):
    """Post generation cannot run as asked; the message names the input and the fix."""


# --------------------------------------------------------------------------- randomness


#: Elements hashed at a time: the passes of the hash over a chunk this size stay in the
#: processor's cache, where passes over a whole block of posts would go to memory each time.
_HASH_CHUNK = 1 << 15


def _mix64_in_place(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, a bijective, well-mixed hash of 64-bit integers, of a uint64
    array of the caller's own, which it overwrites.

    The hash goes chunk by chunk (:data:`_HASH_CHUNK`) through one small scratch array: each
    element's value is the same as hashing the whole array at once, without a temporary
    array the size of the input."""
    flat = x.reshape(-1)
    scratch = np.empty(min(_HASH_CHUNK, flat.size), dtype=np.uint64)
    for start in range(0, flat.size, _HASH_CHUNK):
        chunk = flat[start:start + _HASH_CHUNK]
        _mix64_chunk(chunk, scratch[:chunk.size])
    return x


def _mix64_chunk(chunk: np.ndarray, scratch: np.ndarray) -> None:
    """:func:`_mix64_in_place` of one chunk, with ``scratch`` (as long) for the shifts."""
    with np.errstate(over="ignore"):
        for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            np.right_shift(chunk, np.uint64(shift), out=scratch)
            chunk ^= scratch
            chunk *= np.uint64(factor)
        np.right_shift(chunk, np.uint64(31), out=scratch)
        chunk ^= scratch


def _hashed_uniforms(base: np.ndarray, salt: np.uint64) -> np.ndarray:
    """Uniforms on [0, 1) from the top 53 bits of the hash of ``base ^ salt``, chunk by chunk
    (:data:`_HASH_CHUNK`): every pass over a chunk stays in the processor's cache, where
    passes over a whole block of posts would go to memory each time (a third of the time,
    the same numbers)."""
    flat = base.reshape(-1)
    out = np.empty(flat.size, dtype=np.float64)
    work = np.empty(min(_HASH_CHUNK, flat.size), dtype=np.uint64)
    scratch = np.empty_like(work)
    for start in range(0, flat.size, _HASH_CHUNK):
        stop = min(start + _HASH_CHUNK, flat.size)
        hashed = work[:stop - start]
        np.bitwise_xor(flat[start:stop], salt, out=hashed)
        _mix64_chunk(hashed, scratch[:stop - start])
        hashed >>= np.uint64(11)
        uniform = out[start:stop]
        uniform[...] = hashed
        uniform *= _TO_UNIT
    return out.reshape(base.shape)


def person_keys(seed: int, person_id: np.ndarray, stream: str) -> np.ndarray:
    """One 64-bit key per person, from the population's block streams (uint64)."""
    uniforms = person_uniforms(seed, person_id, f"{stream}.key")
    return (uniforms * 2.0**53).astype(np.uint64)


class PostNoise:
    """Per-post uniforms: a hash of (person key, post index, variable name).

    Parameters
    ----------
    keys : ndarray of uint64
        The author's key, one per post.
    post_index : ndarray of int
        The post's index among its author's posts.
    """

    def __init__(self, keys: np.ndarray, post_index: np.ndarray) -> None:
        with np.errstate(over="ignore"):
            self._base = _mix64_in_place(keys + post_index.astype(np.uint64) * _GOLDEN)

    def uniform(self, variable: str) -> np.ndarray:
        """Uniforms on [0, 1) for one named variable, one per post."""
        salt = np.uint64((zlib.crc32(variable.encode("utf-8")) * _GOLDEN_INT) & _MASK_INT)
        return _hashed_uniforms(self._base, salt)


def _pick(u: np.ndarray, size: int | np.ndarray) -> np.ndarray:
    """Index in ``range(size)`` from a uniform (``size`` one for all, or one per uniform).

    ``min(int(u * size), size - 1)``, chunk by chunk (:data:`_HASH_CHUNK`) through one small
    scratch array, which stays in the processor's cache."""
    size = np.asarray(size)
    shared = size.ndim == 0
    out = np.empty(u.shape, dtype=np.result_type(np.int64, size))
    product = np.empty(min(_HASH_CHUNK, u.size), dtype=np.result_type(u, size))
    for start in range(0, u.size, _HASH_CHUNK):
        stop = min(start + _HASH_CHUNK, u.size)
        chunk_size = size if shared else size[start:stop]
        scaled = product[:stop - start]
        np.multiply(u[start:stop], chunk_size, out=scaled)
        picked = out[start:stop]
        np.copyto(picked, scaled, casting="unsafe")  # truncated, as astype(int64)
        np.minimum(picked, chunk_size - 1, out=picked)
    return out


def _pick_rows(u: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Category per row from row-wise cumulative probabilities ``cdf`` (inverse CDF)."""
    return np.minimum((u[:, None] >= cdf).sum(axis=1), cdf.shape[1] - 1)


#: Posts per block when a per-author table is gathered for every post: a block's gathered
#: rows and comparisons (a few MB) stay in the processor's cache, three times as fast as
#: blocks of a million posts, and millions of posts never hold a row each at once.
_GATHER_BLOCK = 1 << 14


def _pick_by_author(u: np.ndarray, cdf: np.ndarray, author: np.ndarray) -> np.ndarray:
    """:func:`_pick_rows` with each post's row of ``cdf`` its author's, gathered block by block
    of posts, so that millions of posts never hold a row of probabilities each at once."""
    out = np.empty(len(u), dtype=np.int64)
    for start in range(0, len(u), _GATHER_BLOCK):
        block = slice(start, start + _GATHER_BLOCK)
        out[block] = _pick_rows(u[block], cdf[author[block]])
    return out


# --------------------------------------------------------------------------- compiled parts


@dataclass(frozen=True)
class _Parts:
    """Templates and pools as flat arrays, indexed without a loop per post."""

    pieces: np.ndarray        # (n_templates, MAX_SLOTS + 1) text around the slots
    slots: np.ndarray         # (n_templates, MAX_SLOTS) slot kind code, -1 for none
    sentiment: np.ndarray     # (n_templates,) sentiment code
    pool_text: np.ndarray     # flat fillers
    pool_offset: np.ndarray   # (n_kinds, n_languages, n_contexts)
    pool_length: np.ndarray   # (n_kinds, n_languages, n_contexts)
    openers: np.ndarray       # (n_styles, 8)
    tails: np.ndarray         # (n_styles, 8)
    phrases: np.ndarray       # (n_religions, n_languages, 6); row 0 (none) is empty
    dialects: np.ndarray      # (n_dialect_families, 4)
    hashtags: np.ndarray      # (n_topics, 6)


def _split_template(template: str) -> tuple[list[str], list[int]]:
    pieces, slots, rest = [], [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        pieces.append(before)
        slots.append(_SLOT_KINDS.index(name))
    pieces.append(rest)
    if len(slots) > _MAX_SLOTS:
        raise ValueError(f"template {template!r} has more than {_MAX_SLOTS} slots")
    pad = _MAX_SLOTS - len(slots)
    return pieces + [""] * pad, slots + [-1] * pad


def _table(rows: list[list[str]], *, before: str = "", after: str = "") -> np.ndarray:
    """Rows of words as a padded 2-D array, each non-empty word with its separating space."""
    width = max(len(r) for r in rows)
    return np.array([[f"{before}{w}{after}" if w else "" for w in r] + [""] * (width - len(r))
                     for r in rows], dtype=_TEXT)


@lru_cache(maxsize=1)
def _parts() -> _Parts:
    pieces, slots, sentiment = [], [], []
    for topic in vocab.TOPICS:
        variants = vocab.TEMPLATES[topic]
        if len(variants) != _N_VARIANTS:
            raise ValueError(f"topic {topic!r} needs {_N_VARIANTS} templates")
        for mood, *texts in variants:
            for text in texts:
                p, s = _split_template(text)
                pieces.append(p)
                slots.append(s)
                sentiment.append(vocab.SENTIMENTS.index(mood))
    flat: list[str] = []
    shape = (len(_SLOT_KINDS), len(vocab.LANGUAGES), _N_CONTEXTS)
    offset, length = np.zeros(shape, dtype=np.int64), np.ones(shape, dtype=np.int64)

    def add(kind: int, language: int, context: int, items: list[str]) -> None:
        offset[kind, language, context] = len(flat)
        length[kind, language, context] = len(items)
        flat.extend(items)

    for kind, name in enumerate(_SLOT_KINDS):
        for li, language in enumerate(vocab.LANGUAGES):
            if name == "friend":
                for ci, family in enumerate(_NAME_FAMILIES):
                    add(kind, li, ci, vocab.NAME_FAMILIES[family])
            elif name in vocab.RELIGION_POOLS:
                for ci, religion in enumerate(vocab.RELIGIONS):
                    add(kind, li, ci, vocab.RELIGION_POOLS[name][religion][language])
            else:
                add(kind, li, 0, vocab.SLOT_POOLS[name][language])
                offset[kind, li, 1:] = offset[kind, li, 0]
                length[kind, li, 1:] = length[kind, li, 0]
    phrases = np.full((len(vocab.RELIGIONS), len(vocab.LANGUAGES), 6), "", dtype=_TEXT)
    for ri, religion in enumerate(vocab.RELIGIONS):
        for li, language in enumerate(vocab.LANGUAGES):
            if religion in vocab.RELIGIOUS_PHRASES:
                phrases[ri, li] = [f" {w}" for w in vocab.RELIGIOUS_PHRASES[religion][language]]
    return _Parts(
        pieces=np.array(pieces, dtype=_TEXT), slots=np.array(slots, dtype=np.int64),
        sentiment=np.array(sentiment, dtype=np.int8), pool_text=np.array(flat, dtype=_TEXT),
        pool_offset=offset, pool_length=length,
        openers=_table([vocab.OPENERS[s] for s in vocab.STYLES], after=" "),
        tails=_table([vocab.TAILS[s] for s in vocab.STYLES], before=" "),
        phrases=phrases,
        dialects=_table([vocab.DIALECT_MARKERS[f] for f in _DIALECT_FAMILIES], before=" "),
        hashtags=_table([vocab.HASHTAGS[t] for t in vocab.TOPICS], before=" "),
    )


# --------------------------------------------------------------------------- authors


@dataclass(frozen=True)
class Authors:
    """What shapes a person's posts, one entry per person.

    Attributes
    ----------
    religion : ndarray of int
        Index into ``vocabulary.RELIGIONS``.
    name_family : ndarray of int
        Index of the family of their friends' names.
    dialect_family : ndarray of int
        Index of their dialect's marker family, -1 for none.
    style_cdf : ndarray, shape (n, n_styles)
        Cumulative probabilities of the writing styles.
    topic_cdf : ndarray, shape (n, n_topics - 1)
        Cumulative probabilities of the (non-threat) topics.
    """

    religion: np.ndarray
    name_family: np.ndarray
    dialect_family: np.ndarray
    style_cdf: np.ndarray
    topic_cdf: np.ndarray


def _by_category(column: pd.Series, table: dict, default: object) -> tuple[np.ndarray, list]:
    """Codes of a categorical column, and the table's value for each of its categories."""
    values = column.astype("category")
    categories = list(values.cat.categories)
    return values.cat.codes.to_numpy(), [table.get(c, default) for c in categories]


def author_profiles(people: pd.DataFrame, seed: int) -> Authors:
    """Religion, friends' names, dialect markers, writing styles and topics of each person.

    Parameters
    ----------
    people : DataFrame
        People with ``person_id``, ``first_language``, ``dialect``, ``name_origin``,
        ``speaks_english``, ``protest_participation`` and ``palestine_solidarity`` (only
        those who speak for Palestinian rights post on ``solidarity_palestine``).
    seed : int
        Seed of the population (religion is drawn from its block streams).
    """
    person_id = people["person_id"].to_numpy()
    codes, shares = _by_category(people["first_language"], vocab.RELIGION_BY_LANGUAGE,
                                 vocab.DEFAULT_RELIGION)
    shares = np.array(shares, dtype=np.float64).reshape(-1, 2)[codes]
    u = person_uniforms(seed, person_id, "posts.religion")
    religion = np.where(u < shares[:, 0], 1, np.where(u < shares.sum(axis=1), 2, 0))

    codes, families = _by_category(people["name_origin"], vocab.NAME_ORIGIN_FAMILY, "anglo")
    name_family = np.array([_NAME_FAMILIES.index(f) for f in families], dtype=np.int64)[codes]
    codes, families = _by_category(people["dialect"], vocab.DIALECT_FAMILY, None)
    dialect_family = np.array([-1 if f is None else _DIALECT_FAMILIES.index(f)
                               for f in families], dtype=np.int64)[codes]

    codes, styles = _by_category(people["first_language"], vocab.STYLE_BY_LANGUAGE,
                                 {"english": 1.0})
    _, weak = _by_category(people["first_language"], vocab.NON_ENGLISH_SPEAKER_STYLE, None)
    fluent = np.array([[mix.get(s, 0.0) for s in vocab.STYLES] for mix in styles])
    limited = np.array([[(w or mix).get(s, 0.0) for s in vocab.STYLES]
                        for mix, w in zip(styles, weak, strict=True)])
    style_probs = np.where(people["speaks_english"].to_numpy(dtype=bool)[:, None],
                           fluent[codes], limited[codes])

    topics = vocab.TOPICS[:-1]
    base = np.array([vocab.TOPIC_BASE_WEIGHTS[t] for t in topics])
    codes, interests = _by_category(people["first_language"], vocab.TOPIC_INTEREST, {})
    interest = np.array([[mix.get(t, 1.0) for t in topics] for mix in interests])[codes]
    political = np.array([t in vocab.POLITICAL_TOPICS for t in topics])
    protest = people["protest_participation"].to_numpy(dtype=bool)
    speaks = people["palestine_solidarity"].to_numpy(dtype=bool)
    solidarity = np.array([t == vocab.SOLIDARITY_TOPIC for t in topics])
    weights = base * interest * np.where(protest[:, None] & political,
                                         vocab.PROTEST_TOPIC_MULTIPLIER, 1.0)
    weights = np.where(solidarity & ~speaks[:, None], 0.0, weights)
    return Authors(
        religion=religion, name_family=name_family, dialect_family=dialect_family,
        style_cdf=np.cumsum(style_probs / style_probs.sum(axis=1, keepdims=True), axis=1),
        topic_cdf=np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1),
    )


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Content:
    """What a post says, independent of how it is written."""

    topic: np.ndarray          # topic code
    variant: np.ndarray        # template variant within the topic
    noise: PostNoise
    religion: np.ndarray       # author's religion (places of worship, holidays)


def _segments(
    content: _Content,
    style: np.ndarray,
    name_family: np.ndarray,
    phrase_religion: np.ndarray,
    dialect_family: np.ndarray,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """What every post is made of: the index of each of its text segments in
    :func:`_segment_table`, in the order they are joined.

    Returns
    -------
    segments : list of ndarray of int32
        Opener, the template's pieces and slot fillers interleaved, religious phrase, dialect
        marker, tail and hashtag (index 0 is the empty text); a piece of the template is None
        here (:func:`_template_piece` gives it from ``template``, so a million posts do not
        hold five more columns).
    template : ndarray of int
    sentiment : ndarray of int8
    arabic_slots : ndarray of bool
        Whether a slot put an Arabic name or an Islamic place or holiday in the text.
    """
    parts = _parts()
    at = _segment_offsets()
    noise = content.noise
    language = np.array([vocab.LANGUAGES.index(vocab.STYLE_LANGUAGE[s])
                         for s in vocab.STYLES])[style]
    template = (content.topic * _N_VARIANTS + content.variant) * len(vocab.LANGUAGES) + language
    width = parts.openers.shape[1]
    segments: list[np.ndarray | None] = [
        _small(at["openers"] + style * width + _pick(noise.uniform("opener"), 8))]
    arabic_slots = np.zeros(len(style), dtype=bool)
    muslim = vocab.RELIGIONS.index("muslim")
    arabic_names = _NAME_FAMILIES.index("arabic")
    for i in range(_MAX_SLOTS):  # a loop over the slot positions, not over posts
        segments.append(None)  # piece i of the template
        kind = parts.slots[template, i]
        used = kind >= 0
        safe_kind = np.where(used, kind, 0)
        religious = np.isin(safe_kind, _RELIGIOUS_SLOTS)
        context = np.where(safe_kind == _FRIEND, name_family,
                           np.where(religious, content.religion, 0))
        offset = parts.pool_offset[safe_kind, language, context]
        length = parts.pool_length[safe_kind, language, context]
        filler = at["pool_text"] + offset + _pick(noise.uniform(f"slot{i}"), length)
        segments.append(_small(np.where(used, filler, 0)))
        arabic_slots |= used & (((safe_kind == _FRIEND) & (name_family == arabic_names))
                                | (religious & (content.religion == muslim)))
    segments.append(None)  # the template's last piece
    has_phrase = phrase_religion > 0
    phrase = at["phrases"] + np.ravel_multi_index(
        (np.where(has_phrase, phrase_religion, 0), language, _pick(noise.uniform("phrase"), 6)),
        parts.phrases.shape)
    has_marker = dialect_family >= 0
    marker = (at["dialects"] + np.where(has_marker, dialect_family, 0) * parts.dialects.shape[1]
              + _pick(noise.uniform("dialect_marker"), 4))
    hashtag = (at["hashtags"] + content.topic * parts.hashtags.shape[1]
               + _pick(noise.uniform("hashtag"), 6))
    # Every extra carries its own leading space, so empty ones leave no double space.
    segments += [_small(np.where(has_phrase, phrase, 0)), _small(np.where(has_marker, marker, 0)),
                 _small(at["tails"] + style * parts.tails.shape[1]
                        + _pick(noise.uniform("tail"), 8)),
                 _small(np.where(noise.uniform("hashtag_use") < vocab.HASHTAG_RATE, hashtag, 0))]
    return segments, template, parts.sentiment[template], arabic_slots


def _small(index: np.ndarray) -> np.ndarray:
    """A segment index as int32 (the segment table is small): half the memory per post."""
    return index.astype(np.int32)


def _template_piece(template: np.ndarray, position: int) -> np.ndarray:
    """Index of piece ``position`` (0 to ``_MAX_SLOTS``) of each template."""
    return _segment_offsets()["pieces"] + template * (_MAX_SLOTS + 1) + position


@lru_cache(maxsize=1)
def _segment_table() -> np.ndarray:
    """Every text segment a post can hold, flat: the empty text first, then each table of
    :class:`_Parts` in the order of :func:`_segment_offsets`."""
    parts = _parts()
    return np.concatenate([np.array([""], dtype=_TEXT),
                           *(getattr(parts, name).ravel() for name in _SEGMENT_TABLES)])


_SEGMENT_TABLES = ("openers", "pieces", "pool_text", "phrases", "dialects", "tails", "hashtags")


@lru_cache(maxsize=1)
def _segment_offsets() -> dict[str, int]:
    parts = _parts()
    sizes = [getattr(parts, name).size for name in _SEGMENT_TABLES]
    return dict(zip(_SEGMENT_TABLES, (1 + np.cumsum([0, *sizes[:-1]])).tolist(), strict=True))


def _distinct_rows(columns: list[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Code of each row's combination of ``columns`` (values below ``size``), numbered in
    order of first appearance, and the first row of each combination."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    bound = 1
    for column in columns:
        if bound * size >= 2**62:  # pack as many columns as an int64 holds, then renumber
            key, uniques = pd.factorize(key)
            bound = max(len(uniques), 1)
        key = key * size + column
        bound *= size
    codes, _ = pd.factorize(key)
    highest = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate([[True], highest[1:] > highest[:-1]])) \
        if len(codes) else np.zeros(0, dtype=np.int64)
    return codes, first


def _render_distinct(
    content: _Content,
    style: np.ndarray,
    name_family: np.ndarray,
    phrase_religion: np.ndarray,
    dialect_family: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Assemble each distinct text once: posts repeat a finite vocabulary, so a million posts
    hold far fewer distinct texts.

    Returns
    -------
    codes : ndarray of int
        Each post's row in ``texts``.
    texts : pyarrow.LargeStringArray
        The distinct combinations of segments, joined by Arrow (the same bytes as joining the
        Python strings; two combinations may give one text).
    sentiment : ndarray of int8
    arabic_slots : ndarray of bool
    """
    codes, rows, layout, sentiment, arabic_slots = _combinations(
        content, style, name_family, phrase_religion, dialect_family)
    return codes, _render_rows(rows, layout), sentiment, arabic_slots


def _combinations(
    content: _Content,
    style: np.ndarray,
    name_family: np.ndarray,
    phrase_religion: np.ndarray,
    dialect_family: np.ndarray,
) -> tuple[np.ndarray, list[np.ndarray], tuple[bool, ...], np.ndarray, np.ndarray]:
    """The distinct combinations of segments that the posts are made of, not yet joined.

    Returns
    -------
    codes : ndarray of int
        Each post's combination, numbered by first appearance.
    rows : list of ndarray of int32
        The combinations as columns: the template, then each filler segment in order.
    layout : tuple of bool
        For each segment of a text in order, whether it is a piece of the template (given
        by the template) rather than a filler.
    sentiment : ndarray of int8
    arabic_slots : ndarray of bool
    """
    segments, template, sentiment, arabic_slots = _segments(
        content, style, name_family, phrase_religion, dialect_family)
    # The template fixes its pieces, so the pieces need not enter the key.
    fillers = [s for s in segments if s is not None]
    codes, first = _distinct_rows([template, *fillers], _key_size())
    rows = [template[first].astype(np.int32), *(f[first] for f in fillers)]
    return codes, rows, tuple(s is None for s in segments), sentiment, arabic_slots


def _key_size() -> int:
    """A bound on every value of a combination's columns (segment indices and templates)."""
    return max(len(_segment_table()), _parts().slots.shape[0])


def _render_rows(rows: list[np.ndarray], layout: tuple[bool, ...]) -> pa.LargeStringArray:
    """Join the combinations of :func:`_combinations` into their texts, by Arrow (halves of
    more than :data:`RENDER_BLOCK` combinations on two threads, each text being its own)."""
    parts = thread_parts(len(rows[0]), RENDER_BLOCK)
    if len(parts) == 1:
        return _render_part(rows, layout)
    return pa.concat_arrays(map_in_threads(
        lambda part: _render_part([column[part] for column in rows], layout), parts, "texts"))


#: Combinations joined on one thread at most.
RENDER_BLOCK = 250_000


def _render_part(rows: list[np.ndarray], layout: tuple[bool, ...]) -> pa.LargeStringArray:
    template, fillers = rows[0], iter(rows[1:])
    pieces = iter(range(_MAX_SLOTS + 1))
    columns = [_segment_arrow().take(pa.array(
        _template_piece(template.astype(np.int64), next(pieces)) if is_piece
        else next(fillers))) for is_piece in layout]
    return pc.binary_join_element_wise(*columns, pa.scalar("", type=pa.large_string()))


@lru_cache(maxsize=1)
def _segment_arrow() -> pa.LargeStringArray:
    """:func:`_segment_table` as an Arrow array, for joining in Arrow."""
    return pa.array(_segment_table().tolist(), type=pa.large_string())


def _render(
    content: _Content,
    style: np.ndarray,
    name_family: np.ndarray,
    phrase_religion: np.ndarray,
    dialect_family: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assemble the text of every post.

    Returns
    -------
    text : ndarray of str (object dtype)
    sentiment : ndarray of int8
    arabic_slots : ndarray of bool
        Whether a slot put an Arabic name or an Islamic place or holiday in the text.
    """
    codes, texts, sentiment, arabic_slots = _render_distinct(
        content, style, name_family, phrase_religion, dialect_family)
    return np.array(texts.to_pylist(), dtype=_TEXT)[codes], sentiment, arabic_slots


# --------------------------------------------------------------------------- posts


def post_counts(people: pd.DataFrame, seed: int, months: float,
                rate_column: str = "observed_posts_per_month", stream: str = "posts"
                ) -> np.ndarray:
    """Posts pulled in per person over ``months``: Poisson(rate x months), one uniform each."""
    if rate_column not in people.columns:
        raise PostInputError(
            f"people table lacks {rate_column!r}; generate the population with its mechanisms "
            "(surveillance_intensity adds observed_posts_per_month)"
        )
    rate = np.nan_to_num(people[rate_column].to_numpy(dtype=np.float64)) * months
    counts = poisson_from_uniform(person_uniforms(seed, people["person_id"].to_numpy(),
                                                  f"{stream}.count"), rate)
    return np.minimum(counts, MAX_POSTS_PER_PERSON)


def generate_posts(
    people: pd.DataFrame,
    seed: int,
    *,
    months: float = 12.0,
    rate_column: str = "observed_posts_per_month",
    threat_share: float = 0.25,
    threat_rate: float = 0.0,
    annotator_bias: float = 0.0,
    annotator_noise: float = 0.01,
    annotator_miss_rate: float = 0.1,
    stream: str = "posts",
    text_dtype: Literal["str", "category"] = "str",
) -> pd.DataFrame:
    """The posts of ``people`` pulled in over a window, with their text and annotator labels.

    Parameters
    ----------
    people : DataFrame
        People of a generated population (``person_id``, ``first_language``, ``dialect``,
        ``name_origin``, ``speaks_english``, ``protest_participation``,
        ``palestine_solidarity``, ``true_threat`` and ``rate_column``).
    seed : int
        Seed of the population.
    months : float
        Length of the window of persistent search.
    rate_column : str
        Posts per month that reach the tool; ``observed_posts_per_month`` (surveillance
        coverage times activity) by default, ``posts_per_month`` for everything written.
    threat_share : float
        Share of the posts of ``true_threat`` people that are genuine threats.
    threat_rate : float
        Share of everyone else's posts that are genuine threats (0 by default; an annotation
        corpus enriched in threats sets it higher, the same for every group).
    annotator_bias : float
        In [0, 5]; 0 = annotators' errors do not depend on the author (see the module doc).
    annotator_noise : float
        Probability that annotators label an unmarked non-threat post "threat".
    annotator_miss_rate : float
        Probability that annotators miss a genuine threat.
    stream : str
        Name of the noise streams: another name gives another, independent set of posts.
    text_dtype : {"str", "category"}
        ``"category"`` keeps each distinct text once (posts repeat a finite vocabulary, so a
        million posts hold a few hundred thousand texts): the same texts in a fraction of the
        memory, and a scorer can score each distinct text once.

    Returns
    -------
    DataFrame
        One row per post, columns :data:`POST_COLUMNS`, sorted by (person_id, post_index).
    """
    _check_rates(months=months, threat_share=threat_share, threat_rate=threat_rate,
                 annotator_bias=annotator_bias, annotator_noise=annotator_noise,
                 annotator_miss_rate=annotator_miss_rate)
    missing = [c for c in ("person_id", "first_language", "dialect", "name_origin",
                           "speaks_english", "protest_participation", "palestine_solidarity",
                           "true_threat")
               if c not in people.columns]
    if missing:
        raise PostInputError(f"people table lacks the columns {missing}; pass people from "
                             "synthetic.population.generate(...).people")
    if text_dtype not in ("str", "category"):
        raise PostInputError(f"text_dtype must be 'str' or 'category', got {text_dtype!r}")
    counts = post_counts(people, seed, months, rate_column, stream)
    annotators = (annotator_bias, annotator_noise, annotator_miss_rate)
    # Every post depends on its author alone: people go in blocks of about POST_BLOCK posts,
    # which bounds the memory of the per-post working arrays, and give the same posts.
    # Blocks go on two threads (NumPy lets go of the interpreter on long arrays), whose two
    # blocks' working arrays together take what one block of twice the size would.
    blocks = _people_blocks(counts)

    def block_posts(block: slice) -> dict[str, object]:
        part = _posts_of(people.iloc[block], counts[block], seed, stream, threat_share,
                         threat_rate, annotators)
        if len(blocks) > 1:
            # Each block joins its own combinations' texts on its thread: a text two blocks
            # share is joined twice, but no block waits for the others to be numbered
            # together (the texts are numbered together below).
            part["texts"] = _render_part(part.pop("rows"), part.pop("layout"))
        return part

    parts = map_in_threads(block_posts, blocks, "posts")
    # Column by column, each block's part let go as it is joined.
    columns = {name: _concatenate([part.pop(name) for part in parts]) for name in list(parts[0])
               if name not in ("codes", "rows", "layout", "texts")}
    if len(parts) == 1:
        codes = parts[0].pop("codes")
        distinct = _render_rows(parts[0].pop("rows"), parts[0].pop("layout"))
    else:
        codes, distinct = _join_blocks([part.pop("codes") for part in parts],
                                       [part.pop("texts") for part in parts])
    del parts
    # The texts before the frame, and their codes let go: the frame copies its columns.
    text = _text_column(codes, distinct, text_dtype)
    del codes, distinct
    topic, sentiment, style = columns.pop("topic"), columns.pop("sentiment"), \
        columns.pop("style")
    return pd.DataFrame({
        "person_id": columns.pop("person_id"),
        "post_index": columns.pop("post_index"),
        "topic": pd.Categorical.from_codes(topic, vocab.TOPICS),
        "true_threat": columns.pop("true_threat"),
        "sentiment": pd.Categorical.from_codes(sentiment, vocab.SENTIMENTS),
        "style": pd.Categorical.from_codes(style, vocab.STYLES),
        "language": _language_column(style),
        "religious_phrase": columns.pop("religious_phrase"),
        "dialect_marker": columns.pop("dialect_marker"),
        **{name: columns.pop(name) for name in _MARKER_COLUMNS},
        "text": text,
        "annotator_threat": columns.pop("annotator_threat"),
        "annotator_sentiment": pd.Categorical.from_codes(columns.pop("annotator_sentiment"),
                                                         vocab.SENTIMENTS),
    }, columns=list(POST_COLUMNS))


#: Posts generated at once (about): a block's working arrays stay within a few hundred MB.
POST_BLOCK = 1_000_000
_MARKER_COLUMNS = ("arabic_or_islamic_terms", "code_switched", "pro_palestinian_terms")


def _people_blocks(counts: np.ndarray) -> list[slice]:
    """Consecutive slices of people, each writing about :data:`POST_BLOCK` posts (at least
    one person each; one slice when there are none)."""
    ends = np.cumsum(counts)
    if not len(counts) or ends[-1] <= POST_BLOCK:
        return [slice(0, len(counts))]
    # The first person whose posts end at or past each multiple of the block ends a block.
    cuts = np.searchsorted(ends, np.arange(POST_BLOCK, ends[-1], POST_BLOCK)) + 1
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts, len(counts)), [len(counts)]]))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _posts_of(people: pd.DataFrame, counts: np.ndarray, seed: int, stream: str,
              threat_share: float, threat_rate: float,
              annotators: tuple[float, float, float]) -> dict[str, object]:
    """The posts of a block of people (each writing ``counts`` posts) as columns, with each
    post's code into the block's distinct combinations of segments (``codes``, ``rows`` and
    ``layout`` of :func:`_combinations`)."""
    author = np.repeat(np.arange(len(people)), counts)
    starts = np.cumsum(counts) - counts
    post_index = np.arange(author.size) - np.repeat(starts, counts)
    person_id = people["person_id"].to_numpy(dtype=np.int64)
    noise = PostNoise(person_keys(seed, person_id, stream)[author], post_index)
    authors = author_profiles(people, seed)

    writes_threats = people["true_threat"].to_numpy(dtype=bool)[author]
    threat = noise.uniform("threat") < np.where(writes_threats, threat_share, threat_rate)
    topic = np.where(threat, len(vocab.TOPICS) - 1,
                     _pick_by_author(noise.uniform("topic"), authors.topic_cdf, author))
    content = _Content(topic=topic, variant=_pick(noise.uniform("template"), _N_VARIANTS),
                       noise=noise, religion=authors.religion[author])
    style = _pick_by_author(noise.uniform("style"), authors.style_cdf, author)
    phrase_religion = np.where(noise.uniform("phrase_use") < vocab.RELIGIOUS_PHRASE_RATE,
                               content.religion, 0)
    dialect = authors.dialect_family[author]
    dialect = np.where(noise.uniform("dialect_use") < vocab.DIALECT_MARKER_RATE, dialect, -1)
    codes, rows, layout, sentiment, arabic_slots = _combinations(
        content, style, authors.name_family[author], phrase_religion, dialect)
    markers = identity_markers(style, phrase_religion, dialect, topic, arabic_slots)
    annotator_threat = annotate_threats(
        threat, markers, noise.uniform("annotator_threat"), *annotators)
    random_sentiment = _pick(noise.uniform("annotator_sentiment_pick"), len(vocab.SENTIMENTS))
    annotator_sentiment = np.where(
        noise.uniform("annotator_sentiment") < SENTIMENT_LABEL_NOISE, random_sentiment,
        sentiment)
    return {
        "person_id": person_id[author], "post_index": post_index.astype(np.int32),
        # Codes of a few categories, as the categorical columns will hold them.
        "topic": topic.astype(np.int8), "true_threat": threat, "sentiment": sentiment,
        "style": style.astype(np.int8),
        "religious_phrase": phrase_religion > 0, "dialect_marker": dialect >= 0, **markers,
        "annotator_threat": annotator_threat,
        "annotator_sentiment": annotator_sentiment.astype(np.int8),
        "codes": codes, "rows": rows, "layout": layout,
    }


def _join_blocks(codes: list[np.ndarray], texts: list[pa.LargeStringArray]
                 ) -> tuple[np.ndarray, pa.ChunkedArray]:
    """Each post's row in the blocks' texts one after the other, and those texts.

    A block's texts come in order of their first post, and the blocks in order of their
    posts, so the first of the rows holding a text is its first post's: numbering the texts
    by first appearance in the joined rows (:func:`_text_column`) numbers them as one block
    of every post would.
    """
    offsets = np.cumsum([0, *(len(block) for block in texts[:-1])])
    # A code per post in 4 bytes where the texts allow (they are held while the texts are
    # numbered, the largest moment of drawing millions of posts).
    code_type = np.int32 if sum(len(block) for block in texts) < 2**31 else np.int64
    # Chunked, not copied into one array: the texts are the largest part of the posts.
    return (np.concatenate([(offset + code).astype(code_type, copy=False)
                            for offset, code in zip(offsets, codes, strict=True)]),
            pa.chunked_array(texts, type=pa.large_string()))


def _text_column(codes: np.ndarray, distinct: pa.LargeStringArray | pa.ChunkedArray,
                 text_dtype: str) -> pd.Categorical | pd.api.extensions.ExtensionArray:
    """The text of every post from its code into the distinct texts (one array, or the
    blocks' arrays one after the other), as ``text_dtype``."""
    if text_dtype == "category":
        # Two combinations of segments can join to one text: number the texts themselves
        # (in order of first appearance; the chunks of a chunked array share one numbering).
        encoded = distinct.dictionary_encode()
        chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
        text_codes = (np.concatenate([chunk.indices.to_numpy() for chunk in chunks])
                      .astype(np.int32, copy=False))
        # Every chunk's codes index the last chunk's dictionary (a chunk's is all of it, or
        # the texts up to that chunk, in the same order).
        dictionary = chunks[-1].dictionary
        del encoded, chunks
        return pd.Categorical.from_codes(text_codes[codes], dtype=_distinct_categories(
            pd.Index(pd.array(dictionary, dtype="str"))), validate=False)
    if isinstance(distinct, pa.ChunkedArray):
        distinct = distinct.combine_chunks()
    # Gathered by Arrow, with no Python string per post.
    return pd.array(distinct.take(pa.array(codes)), dtype="str")


def _distinct_categories(categories: pd.Index) -> pd.CategoricalDtype:
    """A categorical dtype over ``categories`` that are distinct by construction (an Arrow
    dictionary's values).

    pandas checks that categories are distinct by building a hash table of Python strings,
    which for millions of texts costs seconds and hundreds of MB that the column keeps; its
    constructor without the check is used where this pandas has it.
    """
    without_check = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if without_check is None:
        return pd.CategoricalDtype(categories, ordered=False)
    return without_check(categories, ordered=False)


def _language_column(style: np.ndarray) -> pd.Categorical:
    names = [vocab.LANGUAGE_NAMES[language] for language in vocab.LANGUAGES]
    code_of_style = np.array([vocab.LANGUAGES.index(vocab.STYLE_LANGUAGE[s])
                              for s in vocab.STYLES])
    return pd.Categorical.from_codes(code_of_style[style], names)


def identity_markers(style: np.ndarray, phrase_religion: np.ndarray, dialect: np.ndarray,
                     topic: np.ndarray, arabic_slots: np.ndarray) -> dict[str, np.ndarray]:
    """The three post features biased annotators react to, as boolean columns."""
    arabic_styles = [vocab.STYLES.index(s) for s in vocab.ARABIC_STYLES]
    switched = [vocab.STYLES.index(s) for s in vocab.CODE_SWITCHED_STYLES]
    arabic_dialects = [_DIALECT_FAMILIES.index(f) for f in vocab.ARABIC_DIALECT_FAMILIES]
    return {
        "arabic_or_islamic_terms": (np.isin(style, arabic_styles)
                                    | (phrase_religion == vocab.RELIGIONS.index("muslim"))
                                    | np.isin(dialect, arabic_dialects) | arabic_slots),
        "code_switched": np.isin(style, switched),
        "pro_palestinian_terms": topic == vocab.TOPICS.index("solidarity_palestine"),
    }


def annotate_threats(
    threat: np.ndarray, markers: dict[str, np.ndarray], u: np.ndarray, bias: float,
    noise: float, miss_rate: float,
) -> np.ndarray:
    """Simulated annotators' "threat" labels (see the module docstring for the model)."""
    identity = (markers["arabic_or_islamic_terms"].astype(np.float64)
                + markers["code_switched"] + markers["pro_palestinian_terms"])
    false_label = np.minimum(0.95, noise * (1.0 + bias * identity))
    return np.where(threat, u >= miss_rate, u < false_label)


def _check_rates(**values: float) -> None:
    limits = {"months": (0, 600), "threat_share": (0, 1), "threat_rate": (0, 1),
              "annotator_bias": (0, 5), "annotator_noise": (0, 1),
              "annotator_miss_rate": (0, 1)}
    for name, value in values.items():
        low, high = limits[name]
        if not (low <= value <= high) or (name == "months" and value == 0):
            raise PostInputError(f"{name} must lie in [{low}, {high}]"
                                 f"{' and be positive' if name == 'months' else ''}, got {value}")


# --------------------------------------------------------------------------- restyling


@dataclass(frozen=True)
class Rendering:
    """One way of writing the same content, for the counterfactual text test.

    Attributes
    ----------
    name : str
        How reports call it ("English code-switched with Arabic").
    style : str
        One of ``vocabulary.STYLES``.
    names : str
        Family of the friends' names mentioned (``vocabulary.NAME_FAMILIES``).
    religious_phrase : str
        ``"none"``, ``"muslim"`` or ``"christian"``: a phrase added to every post.
    dialect : str or None
        A dialect family whose marker is added to every post.
    """

    name: str
    style: str = "english"
    names: str = "anglo"
    religious_phrase: str = "none"
    dialect: str | None = None


#: The renderings of the counterfactual text test; the first is the baseline.
RENDERINGS = (
    Rendering("English (baseline)"),
    Rendering("English with Arabic names", names="arabic"),
    Rendering("English with an Islamic phrase", religious_phrase="muslim"),
    Rendering("English with a Christian phrase", religious_phrase="christian"),
    Rendering("English code-switched with Arabic", style="english_arabic"),
    Rendering("Transliterated Arabic", style="arabizi"),
    Rendering("English with Levantine Arabic markers", dialect="levantine"),
    Rendering("English code-switched with Spanish", style="english_spanish"),
    Rendering("Spanish", style="spanish"),
    Rendering("French", style="french"),
    Rendering("English with Nigerian English markers", dialect="west_african_english"),
    Rendering("English with Hispanic names", names="hispanic"),
)
#: The renderings that write a post in an Arabic style.
ARABIC_RENDERINGS = ("English code-switched with Arabic", "Transliterated Arabic")


def restyle(posts: pd.DataFrame, people: pd.DataFrame, seed: int, rendering: Rendering,
            *, stream: str = "posts") -> np.ndarray:
    """The text of the same posts (same topic, template and fillers) written another way.

    Parameters
    ----------
    posts : DataFrame
        Posts from :func:`generate_posts` with the same ``seed`` and ``stream``
        (``person_id``, ``post_index``, ``topic``).
    people : DataFrame
        A table holding every author of ``posts``.
    seed : int
    rendering : Rendering
    stream : str

    Returns
    -------
    ndarray of str
    """
    if rendering.style not in vocab.STYLES:
        raise PostInputError(f"unknown style {rendering.style!r}; styles: {vocab.STYLES}")
    if rendering.names not in _NAME_FAMILIES:
        raise PostInputError(f"unknown name family {rendering.names!r}; "
                             f"families: {_NAME_FAMILIES}")
    position = pd.Index(people["person_id"]).get_indexer(posts["person_id"])
    if (position < 0).any():
        raise PostInputError("some posts' authors are not in the people table")
    authors = people.iloc[np.unique(position)]
    religion = np.zeros(len(people), dtype=np.int64)
    religion[np.unique(position)] = author_profiles(authors, seed).religion
    noise = PostNoise(person_keys(seed, posts["person_id"].to_numpy(dtype=np.int64), stream),
                      posts["post_index"].to_numpy())
    topic = pd.Categorical(posts["topic"], categories=vocab.TOPICS).codes.astype(np.int64)
    if (topic < 0).any():
        raise PostInputError(f"posts have topics outside {vocab.TOPICS}")
    content = _Content(topic=topic, variant=_pick(noise.uniform("template"), _N_VARIANTS),
                       noise=noise, religion=religion[position])
    n = len(posts)
    text, _, _ = _render(
        content,
        np.full(n, vocab.STYLES.index(rendering.style)),
        np.full(n, _NAME_FAMILIES.index(rendering.names)),
        np.full(n, vocab.RELIGIONS.index(rendering.religious_phrase)),
        np.full(n, -1 if rendering.dialect is None
                else _DIALECT_FAMILIES.index(rendering.dialect)),
    )
    return text


# --------------------------------------------------------------------------- relabelling


def relabel(posts: pd.DataFrame, seed: int, *, annotator_bias: float = 0.0,
            annotator_noise: float = 0.01, annotator_miss_rate: float = 0.1,
            stream: str = "posts") -> pd.DataFrame:
    """The same posts labelled by annotators with other settings.

    The annotators' "threat" label of a post is drawn last, from the post's own uniform, its
    true intent and its markers. The same posts under other annotators' settings are these
    posts with that label drawn again: equal, column for column, to :func:`generate_posts`
    with the same people, ``seed``, window and ``stream`` and the new settings, at a
    fraction of the cost (nothing is rendered). Every other column is shared with
    ``posts``' own, which must not be changed.

    Parameters
    ----------
    posts : DataFrame
        Posts from :func:`generate_posts` with the same ``seed`` and ``stream``.
    seed : int
    annotator_bias, annotator_noise, annotator_miss_rate : float
        The new annotators' settings (as :func:`generate_posts` takes them).
    stream : str

    Returns
    -------
    DataFrame
        ``posts`` with ``annotator_threat`` drawn under the new settings.
    """
    _check_rates(annotator_bias=annotator_bias, annotator_noise=annotator_noise,
                 annotator_miss_rate=annotator_miss_rate)
    missing = [c for c in ("person_id", "post_index", "true_threat", *_MARKER_COLUMNS)
               if c not in posts.columns]
    if missing:
        raise PostInputError(f"posts lack the columns {missing}; pass posts from "
                             "generate_posts(...)")
    noise = PostNoise(person_keys(seed, posts["person_id"].to_numpy(dtype=np.int64), stream),
                      posts["post_index"].to_numpy())
    markers = {c: posts[c].to_numpy(dtype=bool) for c in _MARKER_COLUMNS}
    labels = annotate_threats(posts["true_threat"].to_numpy(dtype=bool), markers,
                              noise.uniform("annotator_threat"), annotator_bias,
                              annotator_noise, annotator_miss_rate)
    # A shallow copy: the text and every other column are the posts' own arrays.
    out = posts.copy(deep=False)
    out["annotator_threat"] = labels
    return out


# --------------------------------------------------------------------------- retopicking


#: Columns of a post that its topic decides; :func:`retopic` may change only these.
TOPIC_COLUMNS = ("topic", "sentiment", "arabic_or_islamic_terms", "pro_palestinian_terms",
                 "text", "annotator_threat", "annotator_sentiment")


def retopic(posts: pd.DataFrame, people: pd.DataFrame, seed: int, from_topic: str,
            to_topic: str, *, annotator_bias: float = 0.0, annotator_noise: float = 0.01,
            annotator_miss_rate: float = 0.1, stream: str = "posts") -> pd.DataFrame:
    """The same posts, with every post on ``from_topic`` written on ``to_topic`` instead.

    A speech counterfactual: each changed post keeps its author, index, writing style,
    religious phrase, dialect marker, template position and every uniform it drew (so its
    fillers and hashtag choice follow the same noise); only what the topic decides changes
    (:data:`TOPIC_COLUMNS`). Annotator labels are redrawn with the same uniforms and settings,
    so they change only where the post's markers do. Posts on other topics are returned
    unchanged, bit for bit.

    Parameters
    ----------
    posts : DataFrame
        Posts from :func:`generate_posts` with the same ``seed`` and ``stream``.
    people : DataFrame
        A table holding every author of ``posts``.
    seed : int
    from_topic, to_topic : str
        Topics of ``vocabulary.TOPICS`` other than ``"threat"``.
    annotator_bias, annotator_noise, annotator_miss_rate : float
        The annotation settings the posts were generated with.
    stream : str

    Returns
    -------
    DataFrame
        A copy of ``posts`` with the changed posts rewritten.
    """
    for name, topic in (("from_topic", from_topic), ("to_topic", to_topic)):
        if topic not in vocab.TOPICS[:-1]:
            raise PostInputError(f"{name} {topic!r} is not an ordinary topic; choose one of "
                                 f"{', '.join(vocab.TOPICS[:-1])}")
    _check_rates(annotator_bias=annotator_bias, annotator_noise=annotator_noise,
                 annotator_miss_rate=annotator_miss_rate)
    out = posts.copy()
    rows = np.flatnonzero((posts["topic"] == from_topic).to_numpy())
    if rows.size == 0:
        return out
    changed = posts.iloc[rows]
    position = pd.Index(people["person_id"]).get_indexer(changed["person_id"])
    if (position < 0).any():
        raise PostInputError("some posts' authors are not in the people table")
    authors = author_profiles(people.iloc[np.unique(position)], seed)
    local = np.searchsorted(np.unique(position), position)
    noise = PostNoise(person_keys(seed, changed["person_id"].to_numpy(dtype=np.int64), stream),
                      changed["post_index"].to_numpy())
    religion = authors.religion[local]
    topic = np.full(rows.size, vocab.TOPICS.index(to_topic))
    content = _Content(topic=topic, variant=_pick(noise.uniform("template"), _N_VARIANTS),
                       noise=noise, religion=religion)
    style = pd.Categorical(changed["style"], categories=vocab.STYLES).codes.astype(np.int64)
    phrase_religion = np.where(changed["religious_phrase"].to_numpy(dtype=bool), religion, 0)
    dialect = np.where(changed["dialect_marker"].to_numpy(dtype=bool),
                       authors.dialect_family[local], -1)
    text, sentiment, arabic_slots = _render(content, style, authors.name_family[local],
                                            phrase_religion, dialect)
    markers = identity_markers(style, phrase_religion, dialect, topic, arabic_slots)
    threat = changed["true_threat"].to_numpy(dtype=bool)
    annotator_threat = annotate_threats(threat, markers, noise.uniform("annotator_threat"),
                                        annotator_bias, annotator_noise, annotator_miss_rate)
    random_sentiment = _pick(noise.uniform("annotator_sentiment_pick"), len(vocab.SENTIMENTS))
    annotator_sentiment = np.where(
        noise.uniform("annotator_sentiment") < SENTIMENT_LABEL_NOISE, random_sentiment,
        sentiment)
    values = {
        "topic": pd.Categorical.from_codes(topic, vocab.TOPICS),
        "sentiment": pd.Categorical.from_codes(sentiment, vocab.SENTIMENTS),
        **markers,
        "text": pd.array(text, dtype="str"),
        "annotator_threat": annotator_threat,
        "annotator_sentiment": pd.Categorical.from_codes(annotator_sentiment, vocab.SENTIMENTS),
    }
    for column in TOPIC_COLUMNS:
        out.iloc[rows, out.columns.get_loc(column)] = values[column]
    return out
