"""Paired comparisons of two decisions on the same people agree with hand counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from audit import AuditInputError, compare
from audit.intervals import paired_difference_interval


def _people(rows: list[tuple[str, int, int, int, int]]) -> pd.DataFrame:
    """People from (group, true label, decision a, decision b, how many)."""
    parts = [pd.DataFrame({"group": [g] * k, "y": [t] * k, "a": [a] * k, "b": [b] * k})
             for g, t, a, b, k in rows]
    return pd.concat(parts, ignore_index=True)


TINY = _people([
    # group x: 10 negatives: 2 flagged by both, 1 by a only, 4 by b only, 3 by neither
    ("x", 0, 1, 1, 2), ("x", 0, 1, 0, 1), ("x", 0, 0, 1, 4), ("x", 0, 0, 0, 3),
    ("x", 1, 1, 1, 5),
    # group r (reference, larger): 20 negatives, 1 by a only, 1 by b only, 18 by neither
    ("r", 0, 1, 0, 1), ("r", 0, 0, 1, 1), ("r", 0, 0, 0, 18), ("r", 1, 0, 1, 4),
])


def test_fpr_change_matches_hand_counts_and_mcnemar():
    table = compare(TINY, "group", "y", "a", "b").table.set_index(["group", "metric"])
    x = table.loc[("x", "fpr")]
    assert x["n"] == 10
    assert x["value_a"] == pytest.approx(3 / 10) and x["value_b"] == pytest.approx(6 / 10)
    assert x["change"] == pytest.approx(0.3)
    assert (x["only_a"], x["only_b"]) == (1, 4)
    exact = mcnemar([[2, 1], [4, 3]], exact=True).pvalue
    assert x["p_value"] == pytest.approx(exact)
    low, high = paired_difference_interval(2, 1, 4, 3)
    assert (x["change_ci_low"], x["change_ci_high"]) == pytest.approx((float(low), float(high)))
    assert x["reference"] == "r"
    r = table.loc[("r", "fpr")]
    assert r["change"] == 0 and "reference" in r["flags"]
    assert x["disparity_change"] == pytest.approx(0.3 - 0.0)
    assert x["disparity_change_ci_low"] < 0.3 < x["disparity_change_ci_high"]
    # TNR is FPR's complement: the same people, the opposite change
    assert table.loc[("x", "tnr"), "change"] == pytest.approx(-0.3)
    # true positives: x's five were selected under both decisions
    tpr = table.loc[("x", "tpr")]
    assert tpr["change"] == 0 and "no_change" in tpr["flags"]


def test_paired_interval_covers_near_nominal():
    rng = np.random.default_rng(6)
    n, draws = 150, 4000
    probabilities = [0.05, 0.02, 0.08, 0.85]  # both, only a, only b, neither
    cells = rng.multinomial(n, probabilities, size=draws)
    low, high = paired_difference_interval(*cells.T)
    truth = probabilities[2] - probabilities[1]
    coverage = np.mean((low <= truth) & (truth <= high))
    assert 0.93 <= coverage <= 0.975


def test_identical_decisions_change_nothing():
    same = TINY.assign(b=TINY["a"])
    table = compare(same, "group", "y", "a", "b").table
    assert (table["change"].fillna(0) == 0).all()
    assert (table["p_value"].dropna() == 1).all()


def test_bad_input_names_the_parameter():
    with pytest.raises(AuditInputError, match="'ppv' cannot be compared pairwise"):
        compare(TINY, "group", "y", "a", "b", metrics=["ppv"])
    with pytest.raises(AuditInputError, match="decision_b"):
        compare(TINY, "group", "y", "a", "after")
    with pytest.raises(AuditInputError, match="reference group 'zz'"):
        compare(TINY, "group", "y", "a", "b", reference={"group": "zz"})


def test_three_way_decisions_are_audited_per_level_and_cut_off():
    from audit.levels import audit_levels

    frame = pd.DataFrame({
        "g": ["p"] * 6 + ["q"] * 4,
        "y": [0, 0, 0, 1, 1, 0, 0, 0, 1, 0],
        "stream": ["green", "amber", "red", "red", "amber", "green", "green", "green", "red",
                   "amber"],
    })
    result = audit_levels(frame, "g", "y", "stream", ["green", "amber", "red"], n_boot=10,
                          min_count=1, suppress_below=0)
    shares = result.shares.set_index(["group", "level"])
    assert shares.loc[("p", "red"), "count"] == 2 and shares.loc[("p", "red"), "n"] == 6
    assert shares.loc[("q", "green"), "share"] == pytest.approx(0.5)
    assert set(result.cutoffs) == {"at least amber", "red"}
    at_least_amber = result.cutoffs["at least amber"].metric("selection_rate")
    assert at_least_amber.loc["p", "value"] == pytest.approx(4 / 6)
    red_fpr = result.cutoffs["red"].metric("fpr")
    assert red_fpr.loc["p", "value"] == pytest.approx(1 / 4)
    with pytest.raises(AuditInputError, match="'blue'"):
        audit_levels(frame.assign(stream="blue"), "g", "y", "stream", ["green", "red"])


def test_paired_accuracy_counts_each_true_label_own_decision():
    rng = np.random.default_rng(1)
    n = 2_000
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], n), "y": rng.random(n) < 0.3,
                          "before": rng.random(n) < 0.2, "after": rng.random(n) < 0.4})
    table = compare(frame, "g", "y", "before", "after", metrics=["accuracy"]).table
    for group, rows in frame.groupby("g"):
        row = table[table["group"] == group].iloc[0]
        assert row["value_a"] == pytest.approx((rows["y"] == rows["before"]).mean())
        assert row["value_b"] == pytest.approx((rows["y"] == rows["after"]).mean())
        changed = (rows["y"] == rows["before"]) != (rows["y"] == rows["after"])
        assert row["only_a"] + row["only_b"] == changed.sum()
