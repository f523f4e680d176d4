"""Synthetic posts: columns, determinism, chunk invariance, labels, restyling, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthetic.population import generate
from synthetic.posts import (
    POST_COLUMNS,
    TOPIC_COLUMNS,
    PostInputError,
    Rendering,
    author_profiles,
    generate_posts,
    post_counts,
    relabel,
    restyle,
    retopic,
)
from synthetic.posts import vocabulary as vocab

SEED = 31
MONTHS = 4.0


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    mechanisms = {"surveillance_intensity": {"strength": 1.0,
                                             "targets": ["region:Middle East and North Africa"]}}
    return generate("us_visa_holders", 8_000, seed=SEED, mechanisms=mechanisms).people


@pytest.fixture(scope="module")
def posts(people) -> pd.DataFrame:
    return generate_posts(people, SEED, months=MONTHS, threat_rate=0.01, annotator_bias=2.0)


def assert_same_posts(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Column by column (pandas' assert_frame_equal is slow on long text columns)."""
    assert list(left.columns) == list(right.columns)
    differing = [c for c in left.columns
                 if not np.array_equal(left[c].to_numpy(dtype=object),
                                       right[c].to_numpy(dtype=object))]
    assert not differing, differing


def test_posts_have_every_column_in_order(posts):
    assert tuple(posts.columns) == POST_COLUMNS
    assert posts["text"].str.len().min() > 10
    assert set(posts["topic"].cat.categories) == set(vocab.TOPICS)
    assert posts["true_threat"].dtype == bool and posts["annotator_threat"].dtype == bool


def test_post_counts_follow_observed_activity(people, posts):
    counts = post_counts(people, SEED, MONTHS)
    assert counts.sum() == len(posts)
    per_person = posts.groupby("person_id").size().reindex(people["person_id"], fill_value=0)
    assert np.array_equal(per_person.to_numpy(), counts)
    watched = people["surveillance_coverage"].to_numpy() > 0.3
    # Persistent search reads more of the posts of the people it watches more closely.
    assert counts[watched].mean() > 1.3 * counts[~watched].mean()


def test_posts_are_sorted_and_indexed_per_person(posts):
    keys = posts[["person_id", "post_index"]].to_numpy()
    assert np.all(np.diff(keys[:, 0]) >= 0)
    first = np.r_[True, keys[1:, 0] != keys[:-1, 0]]
    assert np.all(keys[first, 1] == 0)
    assert np.all(keys[~first, 1] == keys[np.flatnonzero(~first) - 1, 1] + 1)


def test_same_seed_same_posts_other_seed_other_posts(people, posts):
    again = generate_posts(people, SEED, months=MONTHS, threat_rate=0.01, annotator_bias=2.0)
    assert_same_posts(again, posts)
    other = generate_posts(people, SEED + 1, months=MONTHS, threat_rate=0.01, annotator_bias=2.0)
    assert not other["text"].head(500).equals(posts["text"].head(500))


def test_a_persons_posts_do_not_depend_on_who_else_is_generated(people, posts):
    # Chunks that cut through a block, in reverse order: each person's posts are unchanged.
    rows = np.array_split(np.arange(len(people))[::-1], 5)
    parts = [generate_posts(people.iloc[chunk], SEED, months=MONTHS, threat_rate=0.01,
                            annotator_bias=2.0) for chunk in rows]
    joined = pd.concat(parts).sort_values(["person_id", "post_index"]).reset_index(drop=True)
    assert_same_posts(joined, posts)


def test_text_has_variety(posts):
    assert posts["text"].nunique() > 0.5 * len(posts)
    assert set(posts["style"].unique()) == set(vocab.STYLES)


def test_genuine_threats_have_the_same_rate_in_every_region(people, posts):
    region = people.set_index("person_id").loc[posts["person_id"], "region_of_origin"]
    table = pd.crosstab(region.to_numpy(), posts["true_threat"].to_numpy())
    assert stats.chi2_contingency(table)[1] > 0.001


def test_threats_are_generic(posts):
    threats = posts.loc[posts["true_threat"], "text"].str.lower()
    assert len(threats) > 50
    for word in ("jihad", "intifada", "shaheed", "martyr", "gaza", "palestin", "islam"):
        assert not threats.str.contains(word).any(), word


@pytest.mark.parametrize("bias", [0.0, 2.0])
def test_annotator_false_labels_follow_the_bias_knob(people, bias):
    posts = generate_posts(people, SEED, months=MONTHS, annotator_bias=bias, annotator_noise=0.02)
    harmless = posts[~posts["true_threat"]]
    marked = (harmless["arabic_or_islamic_terms"] | harmless["code_switched"]
              | harmless["pro_palestinian_terms"]).to_numpy()
    labels = harmless["annotator_threat"].to_numpy()
    table = pd.crosstab(marked, labels)
    p_value = stats.chi2_contingency(table)[1]
    if bias == 0:
        assert p_value > 0.001
        assert abs(labels.mean() - 0.02) < 0.004
    else:
        assert labels[marked].mean() > 2 * labels[~marked].mean()
        assert p_value < 1e-6


def test_markers_match_the_text(posts):
    arabizi = posts[posts["style"] == "arabizi"]
    assert (arabizi["language"] == "Arabic (transliterated)").all()
    assert arabizi["arabic_or_islamic_terms"].all()
    palestine = posts[posts["topic"] == "solidarity_palestine"]
    assert palestine["pro_palestinian_terms"].all()
    assert palestine["text"].str.contains("Gaza|Palestin|Ghazze|Falasteen|falasteen").mean() > 0.6


def test_restyling_a_plain_post_as_itself_gives_its_own_text(people, posts):
    authors = author_profiles(people, SEED)
    anglo = pd.Series(authors.name_family == list(vocab.NAME_FAMILIES).index("anglo"),
                      index=people["person_id"])
    plain = posts[(posts["style"] == "english") & ~posts["religious_phrase"]
                  & ~posts["dialect_marker"] & anglo.loc[posts["person_id"]].to_numpy()]
    assert len(plain) > 1000
    text = restyle(plain, people, SEED, Rendering("English (baseline)"))
    assert np.array_equal(text, plain["text"].to_numpy(dtype=object))


def test_restyling_keeps_content_and_changes_style(people, posts):
    sample = posts[~posts["true_threat"]].head(2000)
    spanish = restyle(sample, people, SEED, Rendering("Spanish", style="spanish"))
    switched = restyle(sample, people, SEED, Rendering("Arabic", style="english_arabic"))
    base = restyle(sample, people, SEED, Rendering("English (baseline)"))
    assert (spanish != base).mean() > 0.95
    # Code-switching keeps the English core text: only openers and tails change.
    cores = [b.split(" ", 2)[-1][:15] in s for b, s in zip(base, switched, strict=True)]
    assert np.mean(cores) > 0.6


def test_bad_input_names_the_problem(people):
    with pytest.raises(PostInputError, match="months must"):
        generate_posts(people, SEED, months=0)
    with pytest.raises(PostInputError, match="annotator_bias"):
        generate_posts(people, SEED, annotator_bias=9)
    with pytest.raises(PostInputError, match="observed_posts_per_month"):
        generate_posts(people.drop(columns="observed_posts_per_month"), SEED)
    with pytest.raises(PostInputError, match="lacks the columns"):
        generate_posts(people.drop(columns="dialect"), SEED)


@pytest.mark.parametrize("text_dtype", ["str", "category"])
def test_relabelled_posts_are_the_posts_drawn_under_those_annotators(people, posts, text_dtype):
    drawn = posts if text_dtype == "str" else generate_posts(
        people, SEED, months=MONTHS, threat_rate=0.01, annotator_bias=2.0,
        text_dtype=text_dtype)
    for annotators in ({"annotator_bias": 0.0}, {"annotator_bias": 4.5, "annotator_noise": 0.2,
                                                 "annotator_miss_rate": 0.3}):
        wanted = generate_posts(people, SEED, months=MONTHS, threat_rate=0.01,
                                text_dtype=text_dtype, **annotators)
        relabelled = relabel(drawn, SEED, **annotators)
        assert_same_posts(relabelled, wanted)
        assert relabelled.dtypes.equals(wanted.dtypes)
        assert (relabelled["annotator_threat"] != drawn["annotator_threat"]).any()
    # Relabelled back, the posts are the ones drawn; the posts given are left as they were.
    assert_same_posts(relabel(relabel(drawn, SEED), SEED, annotator_bias=2.0), drawn)
    assert_same_posts(drawn, generate_posts(people, SEED, months=MONTHS, threat_rate=0.01,
                                            annotator_bias=2.0, text_dtype=text_dtype))


def test_relabel_draws_from_the_named_stream_and_refuses_bad_input(posts):
    # Another stream's uniforms: other labels (the caller must name the posts' own stream).
    other = relabel(posts, SEED, annotator_bias=2.0, stream="elsewhere")
    assert (other["annotator_threat"] != posts["annotator_threat"]).any()
    with pytest.raises(PostInputError, match="annotator_noise"):
        relabel(posts, SEED, annotator_noise=1.5)
    with pytest.raises(PostInputError, match="code_switched"):
        relabel(posts.drop(columns="code_switched"), SEED)


def test_only_people_who_speak_for_palestinian_rights_post_on_it(people, posts):
    speakers = set(people.loc[people["palestine_solidarity"], "person_id"])
    on_topic = set(posts.loc[posts["topic"] == vocab.SOLIDARITY_TOPIC, "person_id"])
    assert on_topic and on_topic <= speakers


def test_speech_share_follows_origin_and_protest():
    people = generate("us_visa_holders", 60_000, seed=SEED).people
    by_region = people.groupby("region_of_origin", observed=True)["palestine_solidarity"].mean()
    assert by_region["Middle East and North Africa"] > 4 * by_region["East Asia and Pacific"]
    by_protest = people.groupby("protest_participation")["palestine_solidarity"].mean()
    assert by_protest[True] > 2 * by_protest[False]


def test_retopic_to_the_same_topic_changes_nothing(people, posts):
    same = retopic(posts, people, SEED, "solidarity_palestine", "solidarity_palestine",
                   annotator_bias=2.0)
    assert_same_posts(same, posts)


def test_retopic_rewrites_only_what_the_topic_decides(people, posts):
    twin = retopic(posts, people, SEED, "solidarity_palestine", "solidarity_other",
                   annotator_bias=2.0)
    rewritten = (posts["topic"] == "solidarity_palestine").to_numpy()
    assert rewritten.any() and (twin.loc[rewritten, "topic"] == "solidarity_other").all()
    for column in POST_COLUMNS:
        factual, other = posts[column].to_numpy(dtype=object), twin[column].to_numpy(dtype=object)
        assert np.array_equal(factual[~rewritten], other[~rewritten]), column
        if column not in TOPIC_COLUMNS:
            assert np.array_equal(factual[rewritten], other[rewritten]), column
    assert not twin.loc[rewritten, "pro_palestinian_terms"].any()


def test_retopic_to_a_threat_is_refused(people, posts):
    with pytest.raises(PostInputError, match="to_topic 'threat' is not an ordinary topic"):
        retopic(posts, people, SEED, "solidarity_palestine", "threat")


@pytest.mark.parametrize("text_dtype", ["category", "str"])
def test_posts_generated_in_blocks_of_people_are_the_posts_of_one_block(people, monkeypatch,
                                                                       text_dtype):
    # Blocks bound the memory of the working arrays; the posts, their texts' numbering and
    # the categories' order must not depend on where the blocks fall.
    from synthetic.posts import generate as module

    whole = generate_posts(people, SEED, months=MONTHS, annotator_bias=1.0,
                           text_dtype=text_dtype)
    monkeypatch.setattr(module, "POST_BLOCK", 997)
    blocks = module._people_blocks(post_counts(people, SEED, MONTHS))
    assert len(blocks) > 10
    in_blocks = generate_posts(people, SEED, months=MONTHS, annotator_bias=1.0,
                               text_dtype=text_dtype)
    pd.testing.assert_frame_equal(in_blocks, whole, check_exact=True)
    if text_dtype == "category":
        assert list(in_blocks["text"].cat.categories) == list(whole["text"].cat.categories)
        assert in_blocks["text"].cat.categories.is_unique


def test_people_blocks_cover_everyone_once():
    from synthetic.posts.generate import POST_BLOCK, _people_blocks

    rng = np.random.default_rng(4)
    for counts in (np.zeros(0, dtype=np.int64), np.zeros(5, dtype=np.int64),
                   np.array([3 * POST_BLOCK, 0, 1]), rng.poisson(POST_BLOCK / 50, 400)):
        blocks = _people_blocks(counts)
        covered = np.concatenate([np.arange(len(counts))[b] for b in blocks])
        assert np.array_equal(covered, np.arange(len(counts)))
        assert all(b.stop > b.start for b in blocks) or len(counts) == 0


def _splitmix_whole(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on a whole array at once, as written in its definition."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@pytest.mark.parametrize("size", [0, 1, 5, 2**15, 2**15 + 1, 3 * 2**15 + 17])
def test_post_noise_in_chunks_equals_the_hash_of_the_whole_array(size):
    import zlib

    from synthetic.posts import generate as posts_generate

    rng = np.random.default_rng(size)
    keys = rng.integers(0, 2**63, size, dtype=np.uint64)
    post_index = rng.integers(0, 500, size)
    noise = posts_generate.PostNoise(keys, post_index)
    with np.errstate(over="ignore"):
        base = _splitmix_whole(keys + post_index.astype(np.uint64)
                               * np.uint64(0x9E3779B97F4A7C15))
    assert noise._base.tobytes() == base.tobytes()
    for variable in ("topic", "slot3", "pulled_in"):
        salt = np.uint64((zlib.crc32(variable.encode()) * 0x9E3779B97F4A7C15)
                         & 0xFFFFFFFFFFFFFFFF)
        whole = (_splitmix_whole(base ^ salt) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        uniform = noise.uniform(variable)
        assert uniform.dtype == np.float64 and uniform.tobytes() == whole.tobytes()
        # A pick from it, one size for all or one per post, across the chunks' edges.
        for sizes in (8, post_index % 7, (post_index % 7).astype(np.int32)):
            picked = posts_generate._pick(uniform, sizes)
            expected = np.minimum((uniform * sizes).astype(np.int64), np.asarray(sizes) - 1)
            assert picked.dtype == expected.dtype and np.array_equal(picked, expected)


def test_picks_by_author_in_small_blocks_equal_one_gather_of_every_post():
    from synthetic.posts import generate as posts_generate

    rng = np.random.default_rng(3)
    cdf = np.cumsum(rng.random((300, 12)), axis=1)
    cdf /= cdf[:, -1:]
    author = np.sort(rng.integers(0, 300, 3 * posts_generate._GATHER_BLOCK + 11))
    u = rng.random(len(author))
    u[:3] = [0.0, cdf[author[1], 4], 1 - 2**-53]  # on a step of the cumulative probability
    expected = np.minimum((u[:, None] >= cdf[author]).sum(axis=1), cdf.shape[1] - 1)
    assert np.array_equal(posts_generate._pick_by_author(u, cdf, author), expected)
