"""Paired counts find each pattern of decisions across worlds by packed words, in the order
and with the counts that comparing rows element by element gives."""

from __future__ import annotations

import numpy as np
import pytest

from audit.paired import _distinct_patterns, paired_counts


@pytest.mark.parametrize("width", [1, 7, 8, 63, 64, 65, 66, 129])
def test_patterns_match_unique_rows(width):
    rng = np.random.default_rng(width)
    for n in (1, 9, 3_000):
        bits = rng.random((n, width)) < rng.random(width) * 0.2
        bits[:, : min(2, width)] = rng.random((n, min(2, width))) < 0.5
        unique, inverse = np.unique(bits, axis=0, return_inverse=True)
        ours, our_inverse = _distinct_patterns(bits)
        assert np.array_equal(ours, unique)
        assert np.array_equal(our_inverse, inverse.reshape(-1))


def test_paired_counts_add_up_by_group_and_pattern():
    rng = np.random.default_rng(3)
    n, worlds = 5_000, 65
    groups = rng.choice(["b", "a", "c"], n)
    decisions = rng.random((n, worlds)) < 0.1
    truth = rng.random(n) < 0.3
    paired = paired_counts(groups, decisions, {"y_true": truth}, group_order=["c", "a"])
    assert paired.groups == ("c", "a")
    assert paired.counts.sum() == int(np.isin(groups, ["c", "a"]).sum())
    for g, name in enumerate(paired.groups):
        mine = groups == name
        # Each world's decisions per group come back from the patterns and their counts.
        assert np.array_equal(paired.counts[g] @ paired.decisions, decisions[mine].sum(axis=0))
        assert paired.counts[g] @ paired.labels[:, 0] == truth[mine].sum()


def test_groups_are_compared_as_text_and_decisions_as_bits():
    # Labels are converted to text once per distinct label: 1 and "1" are one group, as
    # converting each person's label gives; 0/1 integers count as booleans; other values
    # are refused.
    groups = np.array([1, "1", "a", 2.5, None], dtype=object)
    numbers = np.array([1.0, 1.0, np.nan, 2.5, np.nan])
    decisions = np.array([1, 0, 1, 1, 0])
    paired = paired_counts(groups, decisions)
    assert paired.groups == ("1", "2.5", "None", "a")
    assert paired.sizes().tolist() == [2, 1, 1, 1]
    as_bool = paired_counts(groups.astype(str), decisions.astype(bool))
    assert np.array_equal(as_bool.counts, paired.counts)
    with pytest.raises(Exception, match="0/1 or boolean"):
        paired_counts(groups, np.array([1, 0, 2, 1, 0]))
    with pytest.raises(Exception, match="0/1 or boolean"):
        paired_counts(groups, np.array([1.0, 0.0, np.nan, 1.0, 0.0]))
    # Numbers are converted once per distinct value, to the same texts.
    assert paired_counts(numbers, decisions).groups == tuple(sorted({str(v) for v in
                                                                     numbers.astype(str)}))
    assert paired_counts(numbers, decisions).sizes().tolist() == [2, 1, 2]
