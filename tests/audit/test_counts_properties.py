"""Counts are sufficient statistics: chunks add up to the whole, marginals equal direct counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import AuditInputError, count_table
from tests.audit.tables import random_decisions

NATIONALITY = ["AFG", "BRA", "CHN", "SYR"]
SEX = ["F", "M", "X"]
CATEGORIES = {"nationality": NATIONALITY, "sex": SEX}


@st.composite
def decision_tables(draw) -> pd.DataFrame:
    n_rows = draw(st.integers(min_value=1, max_value=120))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "nationality": rng.choice(NATIONALITY[: draw(st.integers(1, 4))], size=n_rows),
        "sex": rng.choice(SEX, size=n_rows),
        "y": rng.random(n_rows) < draw(st.floats(0, 1)),
        "d": rng.random(n_rows) < draw(st.floats(0, 1)),
        "score": rng.random(n_rows),
    })


def _count(frame: pd.DataFrame, groups=("nationality", "sex"), categories=CATEGORIES):
    return count_table(frame, list(groups), "y", "d", "score", categories=categories,
                       score_bins=20)


@settings(max_examples=60, deadline=None)
@given(table=decision_tables(), n_chunks=st.integers(min_value=1, max_value=7))
def test_counts_of_chunks_sum_to_counts_of_the_whole(table, n_chunks):
    chunks = np.array_split(np.arange(len(table)), min(n_chunks, len(table)))
    parts = [_count(table.iloc[rows]) for rows in chunks]
    whole = _count(table)
    assert sum(parts) == whole
    assert sum(parts).n_rows == len(table)
    np.testing.assert_allclose(sum(parts).score_sums, whole.score_sums, rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(table=decision_tables())
def test_marginals_of_the_intersection_equal_direct_counts(table):
    whole = _count(table)
    for columns in (["nationality"], ["sex"], ["sex", "nationality"]):
        direct = _count(table, groups=columns,
                        categories={c: CATEGORIES[c] for c in columns})
        assert whole.marginal(columns) == direct


def test_marginals_of_a_random_table_equal_direct_counts_without_fixed_categories():
    frame = random_decisions(seed=3)
    whole = count_table(frame, ["nationality", "sex"], "y", "d")
    for column in ("nationality", "sex"):
        assert whole.marginal([column]) == count_table(frame, [column], "y", "d")
    by_group = frame.groupby(["nationality", "y", "d"]).size()
    counts = whole.marginal(["nationality"]).counts
    for (nationality, y, d), size in by_group.items():
        index = whole.categories[0].index(nationality)
        assert counts[index, y, d] == size


def test_chunks_counted_with_their_own_categories_cannot_be_added():
    frame = random_decisions(seed=1)
    first = count_table(frame[frame["nationality"] == "AFG"], ["nationality"], "y", "d")
    second = count_table(frame[frame["nationality"] == "BRA"], ["nationality"], "y", "d")
    with pytest.raises(AuditInputError, match="pass the same categories= to count_table"):
        first + second


def test_values_outside_given_categories_are_refused():
    frame = random_decisions(seed=1)
    with pytest.raises(AuditInputError, match=r"column 'nationality' has values not in the given"):
        count_table(frame, ["nationality"], "y", "d", categories={"nationality": ["AFG"]})
