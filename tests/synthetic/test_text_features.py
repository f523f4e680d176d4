"""Word-by-word featurising and keyword search give exactly what text-by-text does; posts'
distinct texts, and selection of the top scores, are exactly what they were."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from synthetic.population import generate
from synthetic.posts import RENDERINGS, generate_posts, restyle
from synthetic.systems.babel_x import (
    DEFAULT_KEYWORDS,
    BabelXScorer,
    hashed_features,
    keyword_hits,
    keyword_pattern,
    stack_rows,
)
from synthetic.systems.base import CutOff, top_count

SEED = 11
N_FEATURES = 2**18


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate("us_international_students", 3_000, seed=SEED).people


@pytest.fixture(scope="module")
def posts(people) -> pd.DataFrame:
    return generate_posts(people, SEED, months=3.0, rate_column="posts_per_month",
                          threat_rate=0.05)


def vectorised(texts: list[str], n_features: int = N_FEATURES):
    """The reference: scikit-learn's vectoriser, text by text."""
    matrix = HashingVectorizer(n_features=n_features, ngram_range=(1, 2), alternate_sign=False,
                               norm="l2", dtype=np.float32).transform(texts)
    matrix.sort_indices()
    return matrix


def assert_same_matrix(ours, reference) -> None:
    assert ours.shape == reference.shape
    assert np.array_equal(ours.indptr, reference.indptr)
    assert np.array_equal(ours.indices, reference.indices)
    assert np.array_equal(ours.data, reference.data)  # bit for bit, float32


def all_styles(posts: pd.DataFrame, people: pd.DataFrame) -> list[str]:
    texts = posts["text"].tolist()
    for rendering in RENDERINGS:
        texts += restyle(posts.head(400), people, SEED, rendering).tolist()
    return texts


def test_features_equal_the_vectorisers_on_posts_in_every_style(posts, people, monkeypatch):
    texts = all_styles(posts, people)
    import synthetic.systems.babel_x as babel_x

    monkeypatch.setattr(babel_x, "FEATURE_BLOCK", 1_000)  # several blocks share a vocabulary
    assert_same_matrix(hashed_features(texts, N_FEATURES), vectorised(texts))
    assert_same_matrix(hashed_features(pd.Series(texts, dtype="str"), 2**10),
                       vectorised(texts, 2**10))


ODD_TEXTS = ["", " ", "a", "a b", "ab  cd\tef\ngh", "ΑΣ ΑΣ σ", "İstanbul İİ", "x_y __ 12 3",
             "Gaza's #intifada!!", "ß straße STRASSE", "é e\u0301 ﬁne", "  leading and trailing  ",
             "ǅemal ǆ", "١٢٣ عربي كلام"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
                min_size=1, max_size=30))
def test_features_equal_the_vectorisers_on_any_text(texts):
    assert_same_matrix(hashed_features(texts, 2**12), vectorised(texts, 2**12))


def test_features_of_odd_texts_and_a_text_arrow_cannot_hold():
    assert_same_matrix(hashed_features(ODD_TEXTS, N_FEATURES), vectorised(ODD_TEXTS))
    # Arrow cannot hold a lone surrogate: that block goes to the vectoriser itself.
    lone = ["a lone \ud800 surrogate", "bomb gaza"]
    assert_same_matrix(hashed_features(lone, N_FEATURES), vectorised(lone))


def test_the_scorer_featurises_with_the_same_numbers(posts):
    scorer = BabelXScorer(n_features=N_FEATURES)
    texts = posts["text"].tolist()
    assert_same_matrix(scorer.featurise(texts), scorer._vectorizer().transform(texts))


@pytest.mark.parametrize("keywords", [DEFAULT_KEYWORDS, ["ΣΑ", "é", "gaz"], ["holy war", "bomb"]])
def test_keyword_hits_equal_a_search_of_every_text(posts, people, keywords):
    texts = all_styles(posts, people) + ODD_TEXTS + ["a holy war", "holy  war", "Holy War!"]
    direct = pd.Series(texts, dtype=object).str.contains(keyword_pattern(keywords), regex=True)
    assert keyword_hits(texts, keywords).tolist() == direct.tolist()
    assert keyword_hits(pd.Series(texts, dtype="str"), keywords).tolist() == direct.tolist()


def test_posts_as_categories_hold_the_same_texts(people):
    kwargs = dict(months=2.0, rate_column="posts_per_month", annotator_bias=1.5)
    plain = generate_posts(people, SEED, **kwargs)
    compact = generate_posts(people, SEED, text_dtype="category", **kwargs)
    assert plain["text"].dtype == "str" and isinstance(compact["text"].dtype, pd.CategoricalDtype)
    assert compact["text"].cat.categories.is_unique
    assert np.array_equal(compact["text"].astype(str).to_numpy(),
                          plain["text"].to_numpy(dtype=object))
    pd.testing.assert_frame_equal(plain.drop(columns="text"), compact.drop(columns="text"))
    # A post's text is a function of the post alone: the same whoever else is generated.
    part = generate_posts(people.iloc[1000:1500], SEED, **kwargs)
    expected = plain[plain["person_id"].isin(people["person_id"].iloc[1000:1500])]
    assert part["text"].tolist() == expected["text"].tolist()


def stable_sort_selection(scores: np.ndarray, n: int) -> tuple[np.ndarray, CutOff]:
    """The reference: the top ``n`` of a stable sort, ties by position."""
    n = min(n, len(scores))
    selected = np.zeros(len(scores), dtype=bool)
    if n == 0:
        return selected, CutOff(float("inf"), -1)
    order = np.argsort(-scores, kind="stable")
    chosen = order[:n]
    selected[chosen] = True
    threshold = float(scores[order[n - 1]])
    return selected, CutOff(threshold, int(chosen[scores[chosen] == threshold].max()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=50), st.integers(0, 60))
def test_top_count_selects_as_a_stable_sort_does(values, n):
    scores = np.array(values, dtype=np.float64) / 4
    selected, cut = top_count(scores, n)
    expected, expected_cut = stable_sort_selection(scores, n)
    assert np.array_equal(selected, expected) and cut == expected_cut
    assert selected.sum() == min(n, len(scores))
    assert np.array_equal(cut.select(scores), selected)


def _random_block(rng: np.random.Generator, rows: int, density: float,
                  index_type: type = np.int32) -> sparse.csr_matrix:
    block = sparse.random(rows, 300, density=density, format="csr", dtype=np.float32,
                          random_state=rng)
    block.indices = block.indices.astype(index_type)
    block.indptr = block.indptr.astype(index_type)
    return block


@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_stacked_rows_equal_scipys_vstack_and_let_the_blocks_go(index_type):
    rng = np.random.default_rng(5)
    shapes = [(40, 0.05), (0, 0.1), (7, 0.0), (25, 0.3), (1, 1.0)]
    blocks = [_random_block(rng, rows, density, index_type) for rows, density in shapes]
    expected = sparse.vstack(blocks, format="csr")
    stacked = stack_rows(blocks)
    assert blocks == []  # every block let go
    assert type(stacked) is type(expected) and stacked.shape == expected.shape
    for name in ("data", "indices", "indptr"):
        mine, theirs = getattr(stacked, name), getattr(expected, name)
        assert mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes(), name
    single = [_random_block(rng, 9, 0.2)]
    kept = single[0]
    assert stack_rows(single) is kept and single == []
