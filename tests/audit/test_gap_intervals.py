"""Group-vs-reference intervals hold at rare rates; summaries, power and clusters behave."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from audit import audit, audit_counts
from audit.counts import CountTable
from audit.intervals import (
    mover_ratio_interval,
    newcombe_difference_interval,
    score_limits,
    wilson_interval,
)
from audit.power import detectable_gap
from audit.significance import compare_proportions
from tests.audit.tables import frame_from_counts

# Small groups against large references, rare to moderate rates, parity and a doubled rate.
GRID = list(itertools.product([30, 100, 300], [3000, 10000],
                              [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], [1, 2]))


def _flags(text: str) -> set[str]:
    return set(filter(None, text.split(";")))


def _coverage(n1, p1, n2, p2, rng, draws=4000):
    x1, x2 = rng.binomial(n1, p1, draws), rng.binomial(n2, p2, draws)
    d_low, d_high = newcombe_difference_interval(x1, n1, x2, n2)
    r_low, r_high = mover_ratio_interval(x1, n1, x2, n2)
    given = ~np.isnan(d_low) & ~np.isnan(r_low)
    difference, ratio = p1 - p2, p1 / p2
    return (np.mean((d_low <= difference) & (difference <= d_high)),
            np.mean((r_low <= ratio) & (ratio <= r_high)), given.mean())


def test_difference_and_ratio_intervals_cover_in_every_cell_of_a_rare_rate_grid():
    rng = np.random.default_rng(20261126)
    for n1, n2, p2, multiple in GRID:
        p1 = p2 * multiple
        difference, ratio, given = _coverage(n1, p1, n2, p2, rng)
        cell = (n1, n2, p2, multiple)
        assert given == 1.0, cell  # an interval in every audit, zero events included
        assert difference >= 0.93 and ratio >= 0.93, (cell, difference, ratio)
        if n1 * p1 >= 5:  # near nominal where the small group expects 5 events or more
            assert difference <= 0.97 and ratio <= 0.97, (cell, difference, ratio)


def test_the_engine_reports_the_closed_form_intervals():
    frame = frame_from_counts({"ref": (9000, 27, 500, 473), "small": (496, 0, 2, 2),
                               "mid": (280, 6, 10, 4)})
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=10,
                   reference={"group": "ref"})
    fpr = result.metric("fpr")
    for group, (fp, negatives) in {"small": (0, 496), "mid": (6, 286)}.items():
        low, high = newcombe_difference_interval(fp, negatives, 27, 9027)
        r_low, r_high = mover_ratio_interval(fp, negatives, 27, 9027)
        row = fpr.loc[group]
        assert row["diff_ci_low"] == pytest.approx(float(low))
        assert row["diff_ci_high"] == pytest.approx(float(high))
        assert row["ratio_ci_low"] == pytest.approx(float(r_low))
        assert row["ratio_ci_high"] == pytest.approx(float(r_high))
    # Zero events in the small group: still an interval, and one that can move.
    assert fpr.loc["small", "ratio_ci_low"] == 0 and fpr.loc["small", "ratio_ci_high"] > 1


def test_simultaneous_intervals_contain_the_marginal_ones_and_cover_jointly():
    rng = np.random.default_rng(3)
    n_groups, draws, p = 12, 3000, 0.02
    sizes = np.array([200] * n_groups)
    x = rng.binomial(sizes, p, (draws, n_groups))
    x_ref = rng.binomial(20000, p, (draws, 1))
    level = 1 - 0.05 / n_groups
    low, high = newcombe_difference_interval(x, sizes, x_ref, 20000, level, conservative=True)
    joint = np.all((low <= 0) & (0 <= high), axis=1).mean()
    assert joint >= 0.93
    frame = frame_from_counts({"ref": (19600, 400, 10, 10),
                               **{f"g{i}": (196 - i, 4 + i, 1, 1) for i in range(n_groups)}})
    table = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=10).metric("fpr")
    table = table.drop(index="ref")
    assert (table["sim_diff_ci_low"] <= table["diff_ci_low"]).all()
    assert (table["sim_diff_ci_high"] >= table["diff_ci_high"]).all()
    assert (table["sim_ratio_ci_high"] >= table["ratio_ci_high"]).all()


def test_detectable_gap_is_detected_with_about_80_percent_power():
    rng = np.random.default_rng(8)
    for n1, n2, p2 in [(200, 5000, 0.02), (60, 10000, 0.1), (1000, 1000, 0.3)]:
        difference, ratio = detectable_gap(n1, p2, n2)
        assert ratio == pytest.approx((p2 + difference) / p2)
        x1 = rng.binomial(n1, p2 + difference, 4000)
        x2 = rng.binomial(n2, p2, 4000)
        power = (compare_proportions(x1, n1, x2, n2) < 0.05).mean()
        assert 0.72 <= power <= 0.88, (n1, n2, p2, power)
    # bigger groups detect smaller gaps; a reference rate of 0 has no finite ratio
    assert detectable_gap(1000, 0.05, 5000)[0] < detectable_gap(100, 0.05, 5000)[0]
    assert np.isinf(detectable_gap(100, 0.0, 5000)[1])


def test_inconclusive_when_the_interval_holds_parity_and_the_four_fifths_boundary():
    frame = frame_from_counts({"ref": (9000, 1000, 500, 500), "few": (36, 4, 5, 5),
                               "many": (9000, 1000, 480, 520)})
    table = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=10,
                  reference={"group": "ref"}).metric("fpr")
    assert "inconclusive" in _flags(table.loc["few", "flags"])  # 40 people: cannot tell
    assert "inconclusive" not in _flags(table.loc["many", "flags"])  # tight around parity
    for _, row in table.drop(index="ref").iterrows():
        inside = row["ratio_ci_low"] <= 1 <= row["ratio_ci_high"] and (
            row["ratio_ci_low"] <= 0.8 or row["ratio_ci_high"] >= 1.25)
        assert ("inconclusive" in _flags(row["flags"])) == inside


def test_summaries_leave_out_tiny_groups_and_say_so():
    # A one-person group with a false positive would make every FPR spread 1 on its own. It
    # is withheld, and so is the next smallest group (its size would give the one back).
    frame = frame_from_counts({"a": (900, 100, 50, 50), "b": (850, 110, 50, 50),
                               "c": (400, 40, 30, 30), "one": (0, 1, 0, 0)})
    summary = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=50).summary
    rows = summary.set_index(["measure", "metric"])
    eo = rows.loc[("equalized_odds_difference", "tpr,fpr")]
    assert eo["value"] < 0.05
    assert eo["groups_compared"] == 2 and eo["groups_left_out"] == 2
    assert "suppressed" not in _flags(eo["flags"])
    fnr = rows.loc[("max_min_difference", "fnr")]
    assert fnr["groups_compared"] == 2


def test_summaries_never_claim_certainty_and_contain_their_estimate():
    rng = np.random.default_rng(1)
    sizes = rng.integers(40, 90, size=13)
    counts = np.zeros((13, 2, 2), np.int64)
    negatives = sizes - 10
    fp = rng.binomial(negatives, 0.3)
    counts[:, 0, 1], counts[:, 0, 0], counts[:, 1, 1], counts[:, 1, 0] = (
        fp, negatives - fp, 5, 5)
    table = CountTable(("g",), (tuple(f"g{i}" for i in range(13)),), counts)
    summary = audit_counts(table, [("g",)], n_boot=200).summary
    spreads = summary[summary["measure"] != "overall"].dropna(subset=["value"])
    withheld = spreads["ci_low"].isna()
    assert all("no_interval" in _flags(f) for f in spreads.loc[withheld, "flags"])
    shown = spreads[~withheld]
    assert (shown["ci_high"] > shown["ci_low"]).all()
    assert ((shown["ci_low"] <= shown["value"]) & (shown["value"] <= shown["ci_high"])).all()
    # every group has the same true FPR: the max-min gap is pure chance, a bias shown as such
    fpr_gap = spreads.set_index(["measure", "metric"]).loc[("max_min_difference", "fpr")]
    assert fpr_gap["bias"] > 0 and fpr_gap["ci_low"] == 0


def test_max_min_interval_covers_the_true_spread():
    rng = np.random.default_rng(2)
    true_rates = np.linspace(0.1, 0.3, 8)
    hits = 0
    for seed in range(60):
        negatives = np.full(8, 80)
        fp = rng.binomial(negatives, true_rates)
        counts = np.zeros((8, 2, 2), np.int64)
        counts[:, 0, 1], counts[:, 0, 0], counts[:, 1, 1] = fp, negatives - fp, 40
        table = CountTable(("g",), (tuple(f"g{i}" for i in range(8)),), counts)
        row = audit_counts(table, [("g",)], n_boot=20, random_state=seed).summary.set_index(
            ["measure", "metric"]).loc[("max_min_difference", "fpr")]
        hits += row["ci_low"] <= 0.2 <= row["ci_high"]
    assert hits / 60 >= 0.93


def test_no_unflagged_infinite_bound_and_no_zero_width_interval():
    frame = frame_from_counts({"big": (400, 0, 100, 0), "some": (70, 10, 15, 5),
                               "all": (0, 30, 0, 30)})
    table = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=20,
                  reference={"group": "big"}, score=None).table
    for low, high in [("ci_low", "ci_high"), ("diff_ci_low", "diff_ci_high"),
                      ("ratio_ci_low", "ratio_ci_high")]:
        lows, highs = table[low].astype(float), table[high].astype(float)
        assert not ((lows == highs) & lows.notna()).any()
        infinite = np.isinf(lows) | np.isinf(highs)
        assert all("unbounded" in _flags(f) for f in table.loc[infinite, "flags"])


def _posts(authors: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Posts whose flags cluster by author: each author has their own flag propensity."""
    group = np.where(authors % 2 == 0, "x", "y")
    propensity = rng.beta(0.5, 4.5, size=authors.max() + 1)
    flagged = rng.random(len(authors)) < propensity[authors]
    return pd.DataFrame({"group": group, "author": authors, "y": 0, "d": flagged.astype(int)})


def test_clustered_intervals_widen_and_equal_the_unclustered_with_one_post_each():
    rng = np.random.default_rng(4)
    authors = np.repeat(np.arange(400), 10)  # ten posts per author
    posts = _posts(authors, rng)
    plain = audit(posts, "group", "y", "d", n_boot=20).metric("fpr")
    clustered = audit(posts, "group", "y", "d", n_boot=20, cluster="author").metric("fpr")
    assert (clustered["design_effect"] > 2).all()
    width = clustered["ci_high"] - clustered["ci_low"]
    assert (width > 1.5 * (plain["ci_high"] - plain["ci_low"])).all()
    assert (clustered["value"] == plain["value"]).all()
    singles = _posts(np.arange(4000), rng)
    plain = audit(singles, "group", "y", "d", n_boot=20).table
    clustered = audit(singles, "group", "y", "d", n_boot=20, cluster="author").table
    assert (clustered.loc[clustered["metric"] != "n", "design_effect"] == 1).all()
    columns = ["ci_low", "ci_high", "diff_ci_low", "diff_ci_high", "ratio_ci_low",
               "ratio_ci_high", "p_value"]
    pd.testing.assert_frame_equal(plain[columns], clustered[columns])


def test_score_limits_widen_wilson_only_at_one_to_three_events():
    x = np.array([0, 1, 2, 3, 4, 30])
    low, high = score_limits(x, 300)
    w_low, w_high = wilson_interval(x, 300)
    assert (low[1:4] < w_low[1:4]).all()
    assert low[0] == w_low[0] and (low[4:] == w_low[4:]).all()
    assert (high == w_high).all()


def test_groups_may_be_given_as_one_column_name():
    frame = frame_from_counts({"a": (50, 10, 10, 30), "b": (40, 20, 10, 30)})
    one = audit(frame, groups="group", y_true="y", y_pred="d", n_boot=10)
    listed = audit(frame, groups=["group"], y_true="y", y_pred="d", n_boot=10)
    pd.testing.assert_frame_equal(one.table, listed.table)


def test_clustered_audit_of_an_integer_group_column():
    rng = np.random.default_rng(9)
    posts = _posts(np.repeat(np.arange(300), 4), rng)
    posts["tone"] = (posts["author"] % 3).astype(int)
    clustered = audit(posts, "tone", "y", "d", n_boot=20, cluster="author").metric("fpr")
    assert list(clustered.index) == ["0", "1", "2"]
    assert (clustered["design_effect"] >= 1).all()
