"""Babel X-style sentiment and intent scoring of social-media posts, with persistent search.

Three parts, as public reporting describes the real tool:

1. a keyword flagger with a "terrorism-related" lexicon (keyword searches);
2. a learned text classifier: hashed word and word-pair features with logistic regression
   (fitted by stochastic gradient descent),
   giving each post a sentiment (negative / neutral / positive) and a threat probability,
   trained on labels from (possibly biased) annotators;
3. a person-level flag under *persistent search*: a person is flagged when any of their
   pulled-in posts is flagged, and how many posts are pulled in grows with how closely their
   group is watched, so the same per-post error compounds with volume.

See ``babel_x.md`` for its card.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from synthetic.systems.ahead import Pending, WorkAhead
from synthetic.systems.base import read_card
from synthetic.systems.memo import RecentResults, content_key
from synthetic.threads import map_in_threads, thread_parts

#: Featurised posts and fitted models of this process, by content (enough for the worlds of
#: one replicate): attribution worlds and replicates featurise the same posts and fit the same
#: corpus again where a knob leaves them unchanged.
FEATURES = RecentResults(max_entries=16)
FITS = RecentResults(max_entries=24)
#: Features that fits asked for ahead will read, by the key :data:`FEATURES` keeps them under
#: (a few: the fits of one corpus are asked for one after another).
FEATURES_AHEAD = RecentResults(max_entries=4)
#: At most this many fits are asked for ahead when a run starts: each holds its corpus until
#: it is fitted, and fits asked for beyond what :data:`FITS` keeps would be forgotten before
#: they are taken (and done twice). A run with more replicates fits the rest when it needs them.
FITS_AHEAD = 12
#: The thread that fits the models asked for ahead (:meth:`BabelXScorer.fit_ahead`).
#: Stochastic gradient descent runs outside Python's global lock, so a fit there takes the
#: second core while this thread goes on.
FIT_THREAD = WorkAhead("babel-x fits")
#: Keyword hits of recent texts, by the texts and the lexicon (read-only arrays).
KEYWORD_HITS = RecentResults(max_entries=16)
#: The distinct texts of recent posts and each post's code into them (:func:`distinct_texts`),
#: by the texts: every world and replicate scores the same posts again.
DISTINCT_TEXTS = RecentResults(max_entries=8)
#: The words of recent texts (:func:`_text_words`), by the texts: worlds that switch the
#: lexicon search the same texts' words again.
TEXT_WORDS = RecentResults(max_entries=2)

#: Words of violent intent that no ordinary post of the synthetic vocabulary uses: the neutral
#: lexicon, the off position of the lexicon's bias.
NEUTRAL_KEYWORDS = ("weapon", "explosive", "hurt", "revenge")
#: Words of war news that ordinary political speech uses ("stop the bombing of Gaza", "an
#: attack on working families"), which a keyword search reads as threats.
NEWS_KEYWORDS = ("attack", "bomb")
#: Identity, religious and solidarity words that such lists carry.
IDENTITY_KEYWORDS = ("jihad", "martyr", "shaheed", "intifada", "gaza")
#: A "terrorism-related" lexicon of the kind keyword searches use, as reported. Each entry
#: matches words that start with it ("bomb" matches "bombing"), in any case. It mixes words of
#: violence with words that mostly appear in religious, political and solidarity speech, as
#: such lists do.
DEFAULT_KEYWORDS = (
    "attack", "bomb", "weapon", "explosive", "hurt", "revenge", "jihad", "martyr", "shaheed",
    "intifada", "gaza",
)
#: Lexicons by name: ``"reported"`` (the default above) and ``"neutral"`` (threat words only:
#: no identity or solidarity words, and none of the war-news words ordinary speech uses).
LEXICONS: dict[str, tuple[str, ...]] = {
    "reported": DEFAULT_KEYWORDS,
    "neutral": NEUTRAL_KEYWORDS,
}
SENTIMENTS = ("negative", "neutral", "positive")
#: Posts per featurisation chunk when scoring in parallel.
CHUNK_POSTS = 100_000


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array``, which a cache hands out again, made read-only."""
    array.setflags(write=False)
    return array


def keyword_pattern(keywords: Sequence[str]) -> str:
    """A case-insensitive regular expression matching words that start with any keyword.

    Returned as text so that pandas can hand it to its vectorised (Arrow) regex engine.
    """
    cleaned = [k.strip() for k in keywords]
    if not cleaned or any(not k for k in cleaned):
        raise ValueError("keywords must be a non-empty list of non-empty words")
    alternatives = "|".join(re.escape(k) for k in sorted(set(cleaned), key=len, reverse=True))
    return rf"(?i)\b(?:{alternatives})"


def keyword_hits(texts: Iterable[str] | pd.Series, keywords: Sequence[str]) -> np.ndarray:
    """Whether each text contains a word starting with one of ``keywords``.

    A keyword without a space cannot match across a space, so a text hits exactly when one of
    its space-separated words does: each distinct word is searched once (posts repeat a small
    vocabulary), instead of every text. Keywords with a space are searched text by text.
    """
    pattern = keyword_pattern(keywords)
    series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype="str")
    words = None if any(" " in k for k in keywords) else TEXT_WORDS.get(
        content_key("text_words", series), lambda: _text_words(series))
    if words is None:
        if series.dtype != "str":
            series = series.astype("str")
        return series.str.contains(pattern, regex=True).to_numpy(dtype=bool)
    starts, code, distinct = words
    compiled = re.compile(pattern)
    word_hit = np.array([compiled.search(w) is not None for w in distinct], dtype=bool)
    if not len(series):
        return np.zeros(0, dtype=bool)
    # Every text has at least one word (an empty text is one empty word): a text hits where
    # any of its consecutive words does.
    return np.logical_or.reduceat(word_hit[code], starts)


def _text_words(texts: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """:func:`_space_words` held compactly: where each text's words start, each word's code
    (2 bytes where the distinct words are at most 65,536, as posts' words are, else 4) and
    the distinct words.

    Texts are split in blocks of :data:`FEATURE_BLOCK`, which bounds the memory of the
    split, two blocks at a time on two threads (Arrow splits and numbers a block's words
    without holding the interpreter); the blocks' distinct words are numbered together, by
    first appearance, in the blocks' order, so the result does not depend on the threads.
    """
    blocks = map_in_threads(_block_words, [texts.iloc[start:start + FEATURE_BLOCK]
                                           for start in range(0, len(texts), FEATURE_BLOCK)],
                            "words")
    if any(block is None for block in blocks):
        return None
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint16), []
    words_before = np.cumsum([0] + [len(code) for _, code, _ in blocks[:-1]])
    encoded = pa.chunked_array([block_words for _, _, block_words in blocks]).dictionary_encode()
    # Every chunk's codes index the last chunk's dictionary (a chunk's is all of it, or the
    # words up to that chunk, in the same order), as the posts' texts are numbered.
    distinct = encoded.chunks[-1].dictionary
    code_type = np.uint16 if len(distinct) <= 2**16 else np.int32
    merged = np.concatenate([chunk.indices.to_numpy()[code].astype(code_type)
                             for chunk, (_, code, _) in zip(encoded.chunks, blocks, strict=True)])
    return (np.concatenate([starts + before for (starts, _, _), before
                            in zip(blocks, words_before, strict=True)]),
            merged, distinct.to_pylist())


def _block_words(block: pd.Series) -> tuple[np.ndarray, np.ndarray, pa.LargeStringArray] | None:
    """One block's part of :func:`_text_words`: where each text's words start (within the
    block), each word's code among the block's distinct words, and those words; None as
    :func:`_space_words`. Only what is kept is returned: the word-by-word rows are dropped
    here, on the block's thread."""
    words = _space_words(block, as_list=False)
    if words is None:
        return None
    row, code, distinct = words
    return (np.searchsorted(row, np.arange(len(block))), code.astype(np.int32),
            distinct)


#: The token pattern of scikit-learn's text vectorisers (words of two characters or more).
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")
#: Texts featurised per block, which bounds the memory of :func:`hashed_features`.
FEATURE_BLOCK = 250_000


def _space_words(texts: Sequence[str] | pd.Series, *, as_list: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, list[str] | pa.LargeStringArray] | None:
    """Every text split at its spaces: each word's text row, its code, and the distinct words
    (a list, or with ``as_list=False`` the Arrow array).

    None when the texts cannot be held as UTF-8 (a lone surrogate): the caller falls back to
    its text-by-text path, which fails on them as it always did.
    """
    try:
        # A Series of Arrow-backed text converts without a Python string per text.
        array = pa.array(texts.array if isinstance(texts, pd.Series) else texts)
        array = array.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return None
    if array.null_count:
        return None
    split = pc.split_pattern(array, " ")
    counts = np.diff(split.offsets.to_numpy())
    encoded = split.flatten().dictionary_encode()
    row = np.repeat(np.arange(len(array)), counts)
    return (row, encoded.indices.to_numpy().astype(np.int64),
            encoded.dictionary.to_pylist() if as_list else encoded.dictionary)


def _hash_indices(features: list[str], n_features: int) -> np.ndarray:
    """Column of each feature string, by the very hasher scikit-learn's vectoriser uses."""
    if not features:
        return np.zeros(0, dtype=np.int64)
    hashed = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False,
                           dtype=np.float32).transform([[f] for f in features])
    return np.asarray(hashed.indices, dtype=np.int64)


def hashed_features(texts: Sequence[str] | pd.Series, n_features: int) -> sparse.csr_matrix:
    """Hashed, L2-normalised word and word-pair counts, equal to those of scikit-learn's
    ``HashingVectorizer(n_features, ngram_range=(1, 2), alternate_sign=False, norm="l2",
    dtype=float32)``, entry for entry.

    The vectoriser lower-cases a text and takes its runs of two or more word characters, then
    adjacent pairs of them. A space is no word character, so a text's tokens are its
    space-separated words' tokens in order, and lower-casing works word by word (Python's one
    context rule, a final sigma, stops at a space): each distinct word is tokenised once and
    each distinct token and pair hashed once; the counts are assembled with array operations
    and normalised by scikit-learn's own ``normalize``. Texts go in blocks of
    :data:`FEATURE_BLOCK`; a text that Arrow cannot hold falls back to the vectoriser.
    More than one block's texts are split in halves, featurised on two threads (each
    text's row is its own, so the matrix is the same).
    """
    texts = (texts.reset_index(drop=True) if isinstance(texts, pd.Series)
             else pd.Series(list(texts), dtype=object))
    parts = thread_parts(len(texts), FEATURE_BLOCK)
    if len(parts) == 1:
        return stack_rows(_hashed_feature_blocks(texts, n_features))
    halves = map_in_threads(
        lambda part: _hashed_feature_blocks(texts.iloc[part].reset_index(drop=True),
                                            n_features), parts, "features")
    return stack_rows([block for half in halves for block in half])


def stack_rows(blocks: list[sparse.csr_matrix]) -> sparse.csr_matrix:
    """``scipy.sparse.vstack(blocks, format="csr")``, the same arrays, with each block let go
    as soon as it is copied: ``blocks`` is emptied, so that the stack and every block are
    never held at once (over millions of texts, each is hundreds of MB).

    Blocks whose index arrays are not int32, or a stack too large for int32 indices, go to
    ``vstack`` itself."""
    if len(blocks) == 1:
        return blocks.pop()
    n_columns = blocks[0].shape[1]
    size = sum(block.data.size for block in blocks)
    if (max(size, n_columns) > np.iinfo(np.int32).max
            or any(block.indptr.dtype != np.int32 or block.indices.dtype != np.int32
                   or block.shape[1] != n_columns for block in blocks)):
        stacked = sparse.vstack(blocks, format="csr")
        blocks.clear()
        return stacked
    # As vstack fills its arrays: each block's data and indices one after the other, and
    # its row pointers moved on by the entries before it.
    data = np.empty(size, dtype=np.result_type(*(block.data for block in blocks)))
    indices = np.empty(size, dtype=np.int32)
    indptr = np.empty(sum(block.shape[0] for block in blocks) + 1, dtype=np.int32)
    rows = entries = 0
    before = np.int32(0)
    blocks.reverse()  # popped from the end, in order
    while blocks:
        block = blocks.pop()
        data[entries:entries + block.data.size] = block.data
        indices[entries:entries + block.indices.size] = block.indices
        entries += block.indices.size
        indptr[rows:rows + block.shape[0]] = block.indptr[:-1]
        indptr[rows:rows + block.shape[0]] += before
        rows += block.shape[0]
        before += block.indptr[-1]
        del block
    indptr[-1] = before
    return sparse.csr_matrix((data, indices, indptr), shape=(rows, n_columns))


def _hashed_feature_blocks(texts: pd.Series, n_features: int) -> list[sparse.csr_matrix]:
    """:func:`hashed_features` of ``texts`` (a Series with a default index) on this thread,
    as the matrices of its blocks of :data:`FEATURE_BLOCK` texts."""
    vectorizer = HashingVectorizer(n_features=n_features, ngram_range=(1, 2),
                                   alternate_sign=False, norm="l2", dtype=np.float32)
    if texts.empty:
        return [vectorizer.transform([])]  # scikit-learn's own message
    blocks = []
    vocabulary: dict[str, int] = {}
    token_column: list[int] = []
    pair_column: dict[int, int] = {}
    for start in range(0, len(texts), FEATURE_BLOCK):
        block = texts.iloc[start:start + FEATURE_BLOCK]
        words = _space_words(block)
        if words is None:
            blocks.append(vectorizer.transform(block.tolist()))
            continue
        row, code, distinct = words
        # Tokens of each distinct word, as ids into a vocabulary shared by the blocks.
        word_tokens = [[vocabulary.setdefault(t, len(vocabulary))
                        for t in TOKEN_PATTERN.findall(w.lower())] for w in distinct]
        if len(vocabulary) > len(token_column):
            names = list(vocabulary)[len(token_column):]
            token_column.extend(_hash_indices(names, n_features).tolist())
        per_word = np.array([len(t) for t in word_tokens], dtype=np.int64)
        flat = np.fromiter((i for t in word_tokens for i in t), dtype=np.int64,
                           count=int(per_word.sum()))
        first = np.cumsum(per_word) - per_word
        count = per_word[code]
        total = int(count.sum())
        # A ragged gather: the tokens of every word of every text, in order.
        position = np.repeat(first[code] - (np.cumsum(count) - count), count) + np.arange(total)
        tokens = flat[position]
        token_row = np.repeat(row, count)
        same = token_row[1:] == token_row[:-1]
        # A pair of token ids in one integer (ids stay far below 2**31).
        pair = (tokens[:-1][same] << 32) | tokens[1:][same]
        pair_codes, pair_values = pd.factorize(pair)
        new = [int(p) for p in pair_values if int(p) not in pair_column]
        if new:
            names = list(vocabulary)
            for p, column in zip(new, _hash_indices(
                    [f"{names[p >> 32]} {names[p & 0xFFFFFFFF]}" for p in new], n_features),
                    strict=True):
                pair_column[p] = int(column)
        columns = np.asarray(token_column, dtype=np.int64)
        pair_columns = np.array([pair_column[int(p)] for p in pair_values], dtype=np.int64)
        matrix = sparse.coo_matrix(
            (np.ones(total + len(pair_codes), dtype=np.float32),
             (np.concatenate([token_row, token_row[:-1][same]]),
              np.concatenate([columns[tokens], pair_columns[pair_codes]]))),
            shape=(len(block), n_features)).tocsr()
        matrix.sum_duplicates()  # and sorts each row's columns, as the vectoriser's hasher
        blocks.append(normalize(matrix, norm="l2", copy=False))
    return blocks


def _fit_inputs(texts: Sequence[str] | pd.Series, threat_labels: np.ndarray,
                sentiment_labels: np.ndarray | None
                ) -> tuple[pd.Series, np.ndarray, np.ndarray | None]:
    """A fit's texts as a Series, its threat labels as booleans, its sentiments as text."""
    texts = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    sentiments = None if sentiment_labels is None else np.asarray(sentiment_labels, dtype=str)
    return texts, np.asarray(threat_labels, dtype=bool), sentiments


class BabelXScorer(BaseEstimator):
    """Keyword flagger plus a learned sentiment-and-threat text classifier.

    Parameters
    ----------
    keywords : sequence of str
        The lexicon of the keyword flagger (prefix match, any case).
    threshold : float
        Threat probability at or above which the classifier flags a post.
    flag_rule : {"either", "classifier", "keywords"}
        What flags a post: a keyword hit or the classifier (``"either"``), or one alone.
    n_features : int
        Hashed feature space of words and word pairs.
    alpha : float
        L2 regularisation strength of both logistic regressions.
    class_weight : {"balanced"} or None
        ``"balanced"`` reweights the rare "threat" label, as vendors tune for recall.
    n_jobs : int
        Processes used to featurise large batches of posts.
    random_state : int or None
        Seeds the sentiment learner (stochastic gradient descent).

    Attributes
    ----------
    threat_model_ : SGDClassifier
        Logistic regression (log loss) of the annotators' "threat" label.
    sentiment_model_ : SGDClassifier or None
        Multinomial logistic regression of the annotators' sentiment label.
    training_posts_ : int
    training_threat_share_ : float
        Share of training posts labelled "threat" by the annotators.
    """

    card_name = "babel_x"

    def __init__(
        self,
        keywords: Sequence[str] = DEFAULT_KEYWORDS,
        threshold: float = 0.5,
        flag_rule: Literal["either", "classifier", "keywords"] = "either",
        n_features: int = 2**18,
        alpha: float = 1e-5,
        class_weight: Literal["balanced"] | None = "balanced",
        n_jobs: int = 1,
        random_state: int | None = 0,
    ) -> None:
        self.keywords = keywords
        self.threshold = threshold
        self.flag_rule = flag_rule
        self.n_features = n_features
        self.alpha = alpha
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _vectorizer(self) -> HashingVectorizer:
        return HashingVectorizer(n_features=self.n_features, ngram_range=(1, 2),
                                 alternate_sign=False, norm="l2", dtype=np.float32)

    def featurise(self, texts: Sequence[str] | pd.Series) -> sparse.csr_matrix:
        """Hashed, L2-normalised word and word-pair counts (those of :meth:`_vectorizer`,
        computed word by word by :func:`hashed_features`); parallel over chunks if asked."""
        texts = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
        key = content_key("features", self.n_features, texts)

        def compute() -> sparse.csr_matrix:
            ahead = FEATURES_AHEAD.peek(key)  # asked for by fit_ahead: taken, or done here
            return self._featurise(texts) if ahead is None else ahead.take()

        return FEATURES.get(key, compute)

    def _featurise(self, texts: pd.Series) -> sparse.csr_matrix:
        if self.n_jobs == 1 or len(texts) <= CHUNK_POSTS:
            return hashed_features(texts, self.n_features)
        chunks = [texts.iloc[i:i + CHUNK_POSTS] for i in range(0, len(texts), CHUNK_POSTS)]
        parts = Parallel(n_jobs=self.n_jobs)(delayed(hashed_features)(c, self.n_features)
                                             for c in chunks)
        return sparse.vstack(parts, format="csr")

    def fit(self, texts: Sequence[str] | pd.Series, threat_labels: np.ndarray,
            sentiment_labels: np.ndarray | None = None) -> BabelXScorer:
        """Learn the threat probability (and sentiment) from annotated posts.

        Parameters
        ----------
        texts : sequence of str
        threat_labels : array of bool
            The annotators' "threat" labels.
        sentiment_labels : array of str, optional
            The annotators' sentiment labels (``SENTIMENTS``); without them, no sentiment.
        """
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must lie strictly between 0 and 1, got {self.threshold}")
        if self.flag_rule not in ("either", "classifier", "keywords"):
            raise ValueError(f"flag_rule must be 'either', 'classifier' or 'keywords', got "
                             f"{self.flag_rule!r}")
        keyword_pattern(self.keywords)
        texts, labels, sentiments = _fit_inputs(texts, threat_labels, sentiment_labels)
        if labels.all() or not labels.any():
            raise ValueError("the threat labels have one class only; annotate more posts")

        def fit_here() -> tuple[SGDClassifier, SGDClassifier | None]:
            return self._fit_models(self.featurise(texts), labels, sentiments)

        key = self._fit_key(texts, labels, sentiments)
        if key is None:  # a fit drawn afresh (None) or from a shared generator is never reused
            self.threat_model_, self.sentiment_model_ = fit_here()
        else:
            models = FITS.get(key, fit_here)
            if isinstance(models, Pending):  # asked for ahead (fit_ahead)
                try:
                    models = models.take()
                except BaseException:
                    FITS.discard(key)
                    raise
                FITS.put(key, models)
            self.threat_model_, self.sentiment_model_ = models
        self.training_posts_ = int(len(texts))
        self.training_threat_share_ = float(labels.mean())
        return self

    def fit_ahead(self, texts: Sequence[str] | pd.Series, threat_labels: np.ndarray,
                  sentiment_labels: np.ndarray | None = None, *, urgent: bool = False) -> None:
        """Start, on a background thread, the fit that :meth:`fit` with these arguments will
        need; :meth:`fit` then takes its models (or fits at once if the thread has not begun).

        The models are the same wherever they are fitted. Nothing is started when ``fit``
        would not reuse a fit (``random_state`` not an integer), when the fit is already kept
        or asked for, or when the labels have one class (``fit`` says so itself).

        Parameters
        ----------
        texts, threat_labels, sentiment_labels
            As for :meth:`fit`.
        urgent : bool
            Put the fit before the fits already waiting on the thread.
        """
        texts, labels, sentiments = _fit_inputs(texts, threat_labels, sentiment_labels)
        if labels.all() or not labels.any():
            return
        key = self._fit_key(texts, labels, sentiments)
        if key is None or FITS.peek(key) is not None:
            return
        # A copy of the parameters; the thread touches no cache. Fits of one corpus under
        # other labels (another annotator setting) share its features.
        scorer = clone(self)
        features_key = content_key("features", self.n_features, texts)
        kept = FEATURES.peek(features_key)
        features = FEATURES_AHEAD.peek(features_key)
        if kept is None and features is None:
            features = FIT_THREAD.submit(lambda: hashed_features(texts, scorer.n_features),
                                         urgent=urgent)
            FEATURES_AHEAD.put(features_key, features)
        read = (lambda: kept) if kept is not None else features.take
        FITS.put(key, FIT_THREAD.submit(
            lambda: scorer._fit_models(read(), labels, sentiments), urgent=urgent))

    def _fit_key(self, texts: pd.Series, labels: np.ndarray,
                 sentiments: np.ndarray | None) -> bytes | None:
        """The digest a fit is kept under, None for a fit that is never reused."""
        if not isinstance(self.random_state, int | np.integer):
            return None
        # The keywords, threshold and flag rule do not enter the models: a world that changes
        # only those reuses the models fitted on the same corpus, labels and seed.
        return content_key("fit", self.n_features, self.alpha, self.class_weight,
                           self.random_state, texts, labels,
                           None if sentiments is None else pd.Series(sentiments))

    def _fit_models(self, features: sparse.csr_matrix, labels: np.ndarray,
                    sentiments: np.ndarray | None) -> tuple[SGDClassifier, SGDClassifier | None]:
        # Logistic loss fitted by stochastic gradient descent: the same model as
        # LogisticRegression, an order of magnitude faster on a million hashed columns.
        threat = SGDClassifier(
            loss="log_loss", alpha=self.alpha, class_weight=self.class_weight,
            random_state=self.random_state,
        ).fit(features, labels)
        sentiment = None
        if sentiments is not None:
            sentiment = SGDClassifier(
                loss="log_loss", alpha=self.alpha, random_state=self.random_state,
            ).fit(features, sentiments)
        return threat, sentiment

    def threat_probability(self, features: sparse.spmatrix) -> np.ndarray:
        """The classifier's probability that each post is a threat."""
        check_is_fitted(self, "threat_model_")
        # A copy: the column alone is kept, not both columns of predict_proba's array.
        return self.threat_model_.predict_proba(features)[:, 1].copy()

    def sentiment(self, features: sparse.spmatrix) -> np.ndarray:
        """The classifier's sentiment of each post (``SENTIMENTS``)."""
        check_is_fitted(self, "threat_model_")
        if self.sentiment_model_ is None:
            raise ValueError("fitted without sentiment labels; pass them to fit")
        return self.sentiment_model_.predict(features)

    def score_posts(self, texts: Sequence[str] | pd.Series) -> pd.DataFrame:
        """Score every post.

        Returns
        -------
        DataFrame
            ``keyword_hit``, ``threat_probability``, ``classifier_flag``, ``flagged`` (by
            ``flag_rule``) and, when learned, ``predicted_sentiment``; one row per text.
        """
        series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype="str")
        missing = np.flatnonzero(series.isna().to_numpy())
        if missing.size:
            raise ValueError(f"{missing.size:,} post(s) have no text (the first at row "
                             f"{missing[0]:,}); every post needs its text, even an empty one")
        # Posts repeat texts (a third of a search's posts share one with another): each
        # distinct text is featurised and scored once, and a post reads its text's
        # probability, the same number as scoring it on its own. The texts are looked up as
        # they are held (Arrow text by its buffers, not row by row).
        codes, distinct = distinct_texts(series)
        features = self.featurise(distinct)
        probability = self.threat_probability(features)[codes]
        hits = KEYWORD_HITS.get(content_key("keyword_hits", tuple(self.keywords), series),
                                lambda: _read_only(keyword_hits(series, self.keywords)))
        scored = pd.DataFrame({
            "keyword_hit": hits,
            "threat_probability": probability,
            "classifier_flag": probability >= self.threshold,
        })
        scored["flagged"] = self.combine(scored["keyword_hit"].to_numpy(),
                                         scored["classifier_flag"].to_numpy())
        if self.sentiment_model_ is not None:
            scored["predicted_sentiment"] = pd.Categorical(self.sentiment(features)[codes],
                                                           categories=SENTIMENTS)
        return scored

    def combine(self, keyword_hit: np.ndarray, classifier_flag: np.ndarray) -> np.ndarray:
        """A post's flag from its keyword hit and classifier flag, by ``flag_rule``."""
        if self.flag_rule == "keywords":
            return np.asarray(keyword_hit, dtype=bool)
        if self.flag_rule == "classifier":
            return np.asarray(classifier_flag, dtype=bool)
        return np.asarray(keyword_hit, dtype=bool) | np.asarray(classifier_flag, dtype=bool)

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


def distinct_texts(texts: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each text's code into the distinct texts (read-only), and the distinct texts in order of
    first appearance; kept by the texts' content (:data:`DISTINCT_TEXTS`). A missing text,
    if any, is a distinct text of its own."""

    def compute() -> tuple[np.ndarray, pd.Series]:
        codes, uniques = pd.factorize(texts, use_na_sentinel=False)
        return _read_only(codes), pd.Series(uniques)

    return DISTINCT_TEXTS.get(content_key("distinct texts", texts), compute)


def persistent_search(
    people_ids: np.ndarray, post_person_ids: np.ndarray, post_flagged: np.ndarray,
    post_score: np.ndarray,
) -> pd.DataFrame:
    """Person-level result of persistent search: flagged if any pulled-in post is flagged.

    Parameters
    ----------
    people_ids : array of int
        The people searched, in the order wanted (unique).
    post_person_ids : array of int
        Author of each pulled-in post (every one among ``people_ids``).
    post_flagged : array of bool
    post_score : array of float
        Each post's threat probability.

    Returns
    -------
    DataFrame
        Aligned with ``people_ids``: ``posts_pulled_in``, ``posts_flagged``, ``flagged``
        (any post flagged) and ``max_threat_probability`` (0 with no post).
    """
    position = pd.Index(people_ids).get_indexer(post_person_ids)
    if (position < 0).any():
        raise ValueError("some posts' authors are not among the people searched")
    n = len(people_ids)
    pulled = np.bincount(position, minlength=n)
    flagged = np.bincount(position, weights=np.asarray(post_flagged, dtype=np.float64),
                          minlength=n)
    highest = np.zeros(n)
    np.maximum.at(highest, position, np.asarray(post_score, dtype=np.float64))
    return pd.DataFrame({
        "posts_pulled_in": pulled.astype(np.int64),
        "posts_flagged": flagged.astype(np.int64),
        "flagged": flagged > 0,
        "max_threat_probability": highest,
    })
