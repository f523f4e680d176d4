"""Sweep verdicts rest on the seeds' pooled intervals: a change is stated only when the
intervals compared are apart; otherwise the report says the data cannot tell. The pooled
interval covers the mean of the design near its nominal level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.pooling import pool_random_effects, pool_seeds, seed_interval
from experiments.config import builtin_experiments, parse_config, read_experiment_data
from experiments.sweeps.report import answer_question, knobs_off_paragraph


def capacity_config():
    return parse_config(read_experiment_data(builtin_experiments()["capacity"]))


def summary(intervals: list[tuple[float, float, float]], seeds: int = 3) -> pd.DataFrame:
    """Summary rows of the capacity sweep's focus: pooled ratio, low and high per capacity."""
    capacities = [0.01, 0.02, 0.05, 0.1, 0.2][: len(intervals)]
    return pd.DataFrame({
        "system.capacity": capacities, "view": "true", "grouping": "region_of_origin",
        "group": "Latin America and Caribbean", "metric": "fpr", "reference": "South Asia",
        "ratio_pooled": [i[0] for i in intervals], "ratio_pooled_low": [i[1] for i in intervals],
        "ratio_pooled_high": [i[2] for i in intervals], "ratio_flags": "", "seeds": seeds,
    })


def test_seed_interval_is_student_t():
    low, high = seed_interval(2.0, 1.0, 4)
    assert (low, high) == pytest.approx((2.0 - 3.182446 / 2, 2.0 + 3.182446 / 2), abs=1e-5)
    assert all(v != v for v in seed_interval(2.0, 1.0, 1))  # NaN: one seed has no interval


def test_a_share_interval_over_seeds_never_goes_below_zero():
    low, high = seed_interval(1.9, 2.0, 3, lowest=0.0)
    assert low == 0.0 and high == pytest.approx(1.9 + 4.302653 * 2.0 / 3**0.5, abs=1e-5)


def test_separated_intervals_state_the_change():
    text = answer_question(capacity_config(), summary([(3.0, 2.6, 3.4), (1.5, 1.3, 1.7)]))
    assert "smaller at the largest capacity than at the smallest" in text
    assert "k = 0.01: 3.00 (2.60 to 3.40)" in text and "to South Asia" in text


def test_overlapping_intervals_say_the_data_cannot_tell():
    text = answer_question(capacity_config(), summary([(3.0, 2.0, 4.5), (2.5, 1.6, 3.9)]))
    assert "data cannot tell" in text and "smaller at the largest" not in text


def test_unbounded_and_withheld_pooled_intervals_are_never_printed_as_certain():
    rows = summary([(3.0, 1.2, float("inf")), (2.5, float("nan"), float("nan"))])
    rows["ratio_flags"] = ["unbounded", "no_interval"]
    text = answer_question(capacity_config(), rows)
    assert "k = 0.01: 3.00 (1.20, no upper bound)" in text
    assert "k = 0.02: 2.50 (interval withheld)" in text
    assert "inf" not in text and "∞" not in text and "cannot tell" in text


def test_blind_spot_says_the_data_cannot_tell_when_the_interval_holds_one_and_two():
    config = parse_config(read_experiment_data(builtin_experiments()["label-bias-blind-spot"]))
    rows = pd.concat([summary([(1.6, 0.8, 3.1)]), summary([(1.5, 0.9, 2.4)])],
                     ignore_index=True)
    rows = rows.rename(columns={"system.capacity": "mechanisms.label_bias.strength"})
    rows["mechanisms.label_bias.strength"] = 1.0
    rows["view"] = ["true", "recorded"]
    text = answer_question(config, rows)
    assert "At strength 1, the true ratio's interval holds both 1 and 2: the data cannot tell"\
        in text
    assert "do not show a twofold disparity" in text


def _simulated_seeds(rng, groups: int, seeds: int, between_sd: float):
    """Per-seed estimates of a true mean 0: seed-to-seed variation plus each run's sampling."""
    within_sd = np.sqrt(rng.uniform(0.7, 1.3, (groups, seeds)))
    estimates = (rng.normal(0, between_sd, (groups, seeds))
                 + rng.normal(0, 1, (groups, seeds)) * within_sd)
    return np.repeat(np.arange(groups), seeds), estimates.ravel(), within_sd.ravel()


@pytest.mark.parametrize(("seeds", "between_sd"), [(2, 0.0), (3, 1.0), (5, 0.0), (5, 2.0)])
def test_pooled_interval_covers_the_true_mean_at_least_near_nominal(seeds, between_sd):
    rng = np.random.default_rng(seeds * 10 + int(between_sd))
    codes, estimates, within = _simulated_seeds(rng, 4000, seeds, between_sd)
    pooled = pool_random_effects(codes, estimates, within, 4000)
    coverage = ((pooled["low"] <= 0) & (pooled["high"] >= 0)).mean()
    assert coverage >= 0.94
    if seeds == 5 and between_sd == 2.0:  # between-seed variation dominates: near nominal
        assert coverage <= 0.97


def test_pooled_interval_narrows_as_seeds_are_added():
    rng = np.random.default_rng(7)
    widths = {}
    for seeds in (3, 5, 10):
        codes, estimates, within = _simulated_seeds(rng, 2000, seeds, 1.0)
        pooled = pool_random_effects(codes, estimates, within, 2000)
        widths[seeds] = float(np.median(pooled["high"] - pooled["low"]))
    assert widths[3] > widths[5] > widths[10]


def test_pool_seeds_reads_each_runs_interval_and_pools_ratios_on_the_log_scale():
    tidy = pd.DataFrame({
        "g": ["a"] * 3 + ["b"] * 3 + ["c"] * 2, "seed": [1, 2, 3] * 2 + [1, 2],
        "difference": [0.1, 0.12, 0.08, 0.1, 0.1, 0.1, 0.05, 0.02],
        "diff_ci_low": [0.05, 0.07, 0.03, 0.05, np.nan, 0.05, 0.0, -0.01],
        "diff_ci_high": [0.15, 0.17, 0.13, 0.15, np.nan, 0.15, 0.1, 0.05],
        "ratio": [2.0, 2.2, 1.8, 2.0, 2.0, 2.0, 0.0, 1.5],
        "ratio_ci_low": [1.5, 1.6, 1.3, 1.5, 1.5, 1.5, 0.0, 1.0],
        "ratio_ci_high": [2.7, 3.0, 2.5, 2.7, np.inf, 2.7, 3.0, 2.2],
    })
    out = pool_seeds(tidy, ["g"]).set_index("g")
    a = out.loc["a"]
    assert a["difference_pooled"] == pytest.approx(0.1, abs=1e-9)
    assert a["difference_pooled_low"] < 0.07 and a["difference_pooled_high"] > 0.13
    assert a["ratio_pooled"] == pytest.approx(np.exp(np.log([2.0, 2.2, 1.8]).mean()), rel=0.02)
    assert a["ratio_flags"] == "" and a["difference_flags"] == ""
    b = out.loc["b"]
    assert b["difference_flags"] == "no_interval" and np.isnan(b["difference_pooled_low"])
    assert b["ratio_flags"] == "unbounded" and b["ratio_pooled_high"] == np.inf
    c = out.loc["c"]  # a ratio of 0 has no log: not pooled rather than pooled without it
    assert c["ratio_flags"] == "undefined" and np.isnan(c["ratio_pooled"])
    assert c["difference_pooled_low"] >= -1


def test_knobs_off_paragraph_names_what_remains():
    config = capacity_config()
    table = pd.DataFrame({
        "system.capacity": [0.01, 0.01], "source": ["all knobs off", "as configured"],
        "mean": [0.02, 0.05], "sd": [0.001, 0.001], "seeds": [3, 3],
        "low": [0.015, 0.045], "high": [0.025, 0.055]})
    text = knobs_off_paragraph(config, table)
    assert "+2.00 (+1.50 to +2.50) with every knob off" in text
    assert "comes from the simulated population, not from a mechanism" in text
    assert "computed no world with every bias knob off" in knobs_off_paragraph(
        config, pd.DataFrame())
