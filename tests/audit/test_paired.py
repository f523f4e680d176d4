"""Paired comparisons across worlds: counts by hand, exact additivity, interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.errors import AuditInputError
from audit.paired import (
    compare_views,
    group_rates,
    monte_carlo_error,
    one_at_a_time_weights,
    paired_counts,
    permutation_weights,
    shapley_weights,
    world_contrasts,
)

# Six people, two groups, two worlds; y_true is each person's true label.
GROUPS = ["A", "A", "A", "B", "B", "B"]
DECISIONS = np.array([[0, 1], [0, 1], [1, 1], [0, 0], [0, 1], [1, 1]], dtype=bool)
TRUTH = np.array([0, 0, 1, 0, 0, 1], dtype=bool)


def test_hand_counts_of_patterns():
    paired = paired_counts(GROUPS, DECISIONS, labels={"y_true": TRUTH})
    assert paired.groups == ("A", "B")
    patterns = {tuple(np.r_[d, y].astype(int)): paired.counts[:, i]
                for i, (d, y) in enumerate(zip(paired.decisions, paired.labels, strict=True))}
    assert patterns[(0, 1, 0)].tolist() == [2, 1]  # off, on, negative
    assert patterns[(1, 1, 1)].tolist() == [1, 1]
    assert patterns[(0, 0, 0)].tolist() == [0, 1]
    rates, n = group_rates(paired, "fpr")
    assert n.tolist() == [2, 2]
    np.testing.assert_allclose(rates, [[0.0, 1.0], [0.0, 0.5]])
    selection, _ = group_rates(paired, "selection_rate")
    np.testing.assert_allclose(selection, [[1 / 3, 1.0], [1 / 3, 2 / 3]])


def test_chunks_add_up():
    whole = paired_counts(GROUPS, DECISIONS, {"y_true": TRUTH}, group_order=["A", "B"])
    parts = [paired_counts(GROUPS[i:j], DECISIONS[i:j], {"y_true": TRUTH[i:j]},
                           group_order=["A", "B"]) for i, j in ((0, 2), (2, 6))]
    merged = parts[0] + parts[1]
    np.testing.assert_array_equal(group_rates(merged, "fpr")[0], group_rates(whole, "fpr")[0])
    assert merged.counts.sum() == 6


def test_gap_in_each_world_by_hand():
    paired = paired_counts(GROUPS, DECISIONS, labels={"y_true": TRUTH})
    result = world_contrasts(paired, {"A": 1, "B": -1}, np.eye(2), metric="fpr", n_boot=50,
                             random_state=0)
    np.testing.assert_allclose(result.estimate, [0.0, 0.5])
    assert result.denominators == {"A": 2, "B": 2}


@pytest.mark.parametrize("n_switches", [1, 2, 3, 5])
def test_shapley_rows_add_up_to_all_on_minus_all_off(n_switches):
    weights = shapley_weights(n_switches)
    values = np.random.default_rng(n_switches).normal(size=2**n_switches)
    total = (weights @ values).sum()
    assert total == pytest.approx(values[-1] - values[0], abs=1e-12)


def test_shapley_of_an_additive_game_is_each_switch_own_effect():
    effects = np.array([0.3, -0.1, 0.05])
    worlds = np.arange(8)
    values = np.array([effects[[(w >> i) & 1 == 1 for i in range(3)]].sum() for w in worlds])
    np.testing.assert_allclose(shapley_weights(3) @ values, effects, atol=1e-12)


def test_permutation_estimate_is_additive_and_close_to_exact():
    rng = np.random.default_rng(3)
    values = rng.normal(size=2**6)
    worlds, per_order = permutation_weights(6, 400, random_state=1)
    estimate = per_order.mean(axis=0) @ values[worlds]
    assert estimate.sum() == pytest.approx(values[-1] - values[0], abs=1e-12)
    exact = shapley_weights(6) @ values
    error = monte_carlo_error(per_order, values[worlds])
    assert np.all(np.abs(estimate - exact) < 5 * error + 1e-12)


def test_one_at_a_time_weights():
    weights = one_at_a_time_weights(2)
    np.testing.assert_array_equal(weights, [[0, 0, -1, 1], [0, -1, 0, 1]])


def test_contrast_additivity_holds_in_every_resample():
    rng = np.random.default_rng(5)
    n = 3000
    groups = rng.choice(["A", "B"], n)
    decisions = rng.random((n, 8)) < 0.2
    paired = paired_counts(groups, decisions, {"y_true": rng.random(n) < 0.3})
    weights = np.vstack([np.eye(8)[[0]], shapley_weights(3), np.eye(8)[[7]]])
    result = world_contrasts(paired, {"A": 1, "B": -1}, weights, metric="fpr", n_boot=200,
                             random_state=1)
    assert result.estimate[0] + result.estimate[1:4].sum() == pytest.approx(
        result.estimate[4], abs=1e-12)
    np.testing.assert_allclose(result.resamples[:, 0] + result.resamples[:, 1:4].sum(axis=1),
                               result.resamples[:, 4], atol=1e-12)


def test_interval_of_a_paired_change_covers_near_nominal():
    """Two worlds that share most decisions: the change in a gap between groups has a known
    value; its 90% interval should cover it in about 90% of simulated populations."""
    rng = np.random.default_rng(11)
    n_sim, n = 300, 800
    p_off = {"A": 0.10, "B": 0.10}
    p_extra = {"A": 0.08, "B": 0.02}  # world 1 adds decisions on top of world 0's
    truth = p_extra["A"] - p_extra["B"]
    covered = 0
    for _ in range(n_sim):
        groups = np.where(rng.random(n) < 0.5, "A", "B")
        base = rng.random(n) < np.where(groups == "A", p_off["A"], p_off["B"])
        extra = rng.random(n) < np.where(groups == "A", p_extra["A"], p_extra["B"]) / (
            1 - np.where(groups == "A", p_off["A"], p_off["B"]))
        paired = paired_counts(groups, np.column_stack([base, base | extra]))
        result = world_contrasts(paired, {"A": 1, "B": -1}, [[-1, 1]], n_boot=300,
                                 confidence=0.9, random_state=rng)
        covered += result.ci_low[0] <= truth <= result.ci_high[0]
    assert 0.85 <= covered / n_sim <= 0.95


def test_paired_interval_is_narrower_than_unpaired():
    rng = np.random.default_rng(2)
    n = 5000
    groups = rng.choice(["A", "B"], n)
    base = rng.random(n) < 0.2
    shifted = base | (rng.random(n) < 0.01)
    paired = paired_counts(groups, np.column_stack([base, shifted]))
    change = world_contrasts(paired, {"A": 1}, [[-1, 1]], n_boot=400, random_state=0)
    level = world_contrasts(paired, {"A": 1}, [[0, 1]], n_boot=400, random_state=0)
    assert change.ci_high[0] - change.ci_low[0] < 0.5 * (level.ci_high[0] - level.ci_low[0])


def test_compare_views_by_hand_and_ratio_bounds():
    groups = np.repeat(["A", "R"], 400)
    rng = np.random.default_rng(4)
    decision = rng.random(800) < np.where(groups == "A", 0.3, 0.1)
    truth = np.zeros(800, dtype=bool)
    recorded = decision & (groups == "A") & (rng.random(800) < 0.5)  # records excuse errors
    paired = paired_counts(groups, decision, {"y_true": truth, "y_recorded": recorded})
    result = compare_views(paired, "A", "R", metric="fpr", n_boot=300, random_state=0)
    fpr = {v: {g: decision[(groups == g) & ~lab].mean() for g in ("A", "R")}
           for v, lab in (("y_true", truth), ("y_recorded", recorded))}
    expected = {v: fpr[v]["A"] / fpr[v]["R"] for v in fpr}
    assert result.disparity["y_true"][0] == pytest.approx(expected["y_true"])
    assert result.disparity["y_recorded"][0] == pytest.approx(expected["y_recorded"])
    ratio, low, high = result.comparison
    assert ratio == pytest.approx(expected["y_recorded"] / expected["y_true"])
    assert low < ratio < high < 1  # the records understate the disparity, clearly


def test_bad_input_is_named():
    with pytest.raises(AuditInputError, match="decisions has 2 rows"):
        paired_counts(["A"], np.zeros((2, 2), dtype=bool))
    paired = paired_counts(GROUPS, DECISIONS)
    with pytest.raises(AuditInputError, match="needs the label 'y_true'"):
        world_contrasts(paired, {"A": 1}, np.eye(2), metric="fpr")
    with pytest.raises(AuditInputError, match="group 'C'"):
        world_contrasts(paired, {"C": 1}, np.eye(2))
    with pytest.raises(AuditInputError, match="2 worlds"):
        world_contrasts(paired, {"A": 1}, np.eye(3))


def test_identical_worlds_give_contrasts_of_exactly_zero():
    rng = np.random.default_rng(8)
    n = 500
    base = rng.random(n) < 0.3
    paired = paired_counts(rng.choice(["A", "B"], n), np.column_stack([base] * 8),
                           {"y_true": rng.random(n) < 0.4})
    result = world_contrasts(paired, {"A": 1, "B": -1}, shapley_weights(3), metric="fpr",
                             n_boot=100, random_state=0)
    assert (result.estimate == 0).all() and (result.ci_low == 0).all()
    assert (result.ci_high == 0).all()


def _counts_reading_every_text(groups, decisions, labels, group_order=None):
    """paired_counts as it reads groups by definition: each person's group as its text."""
    texts = np.asarray(groups).astype(str)
    order = tuple(sorted(set(texts.tolist()))) if group_order is None else tuple(group_order)
    keep = np.isin(texts, order)
    bits = np.column_stack([decisions, *labels.values()])[keep]
    patterns, inverse = np.unique(bits, axis=0, return_inverse=True)
    code = np.array([order.index(t) for t in texts[keep]], dtype=np.int64)
    counts = np.zeros((len(order), len(patterns)), dtype=np.int64)
    np.add.at(counts, (code, inverse.ravel()), 1)
    return order, patterns, counts


@pytest.mark.parametrize("kind", ["categorical", "categorical with missing", "strings",
                                  "mixed objects", "integers"])
def test_every_kind_of_group_column_counts_each_persons_text(kind):
    # A categorical column is read by its codes and a column of texts by its distinct
    # values; the counts are those of reading each person's group as its text.
    rng = np.random.default_rng(7)
    n = 500
    names = np.array(["Middle East", "East Asia", "1", "nan"], dtype=object)
    picked = names[rng.integers(0, 4, n)]
    groups = {
        "categorical": pd.Series(pd.Categorical(picked, categories=["East Asia", "Middle East",
                                                                    "1", "nan", "unused"])),
        "categorical with missing": pd.Series(pd.Categorical(
            np.where(picked == "nan", None, picked), categories=["East Asia", "Middle East",
                                                                  "1"])),
        "strings": picked,
        # 1, 1.0 and "1" are one group to factorize but two texts ("1" and "1.0").
        "mixed objects": np.array([[1, 1.0, "1", None, np.nan][i % 5] for i in range(n)],
                                  dtype=object),
        "integers": rng.integers(0, 5, n),
    }[kind]
    decisions = rng.random((n, 3)) < 0.4
    labels = {"y_true": rng.random(n) < 0.3}
    for order in (None, ["East Asia", "1", "nan", "None", "1.0", "3"]):
        paired = paired_counts(groups, decisions, labels, group_order=order)
        expected_order, patterns, counts = _counts_reading_every_text(groups, decisions, labels,
                                                                      order)
        assert paired.groups == expected_order
        assert np.array_equal(np.column_stack([paired.decisions, paired.labels]), patterns)
        assert np.array_equal(paired.counts, counts)
