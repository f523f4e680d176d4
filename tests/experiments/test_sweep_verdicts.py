"""Sweep verdicts rest on intervals over seeds: a change is stated only when the intervals
compared are apart; otherwise the report says the seeds cannot tell."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.config import builtin_experiments, parse_config, read_experiment_data
from experiments.sweep_report import answer_question, knobs_off_paragraph, seed_interval


def capacity_config():
    return parse_config(read_experiment_data(builtin_experiments()["capacity"]))


def summary(means: list[float], sds: list[float], seeds: int = 3) -> pd.DataFrame:
    capacities = [0.01, 0.02, 0.05, 0.1, 0.2][: len(means)]
    return pd.DataFrame({
        "system.capacity": capacities, "view": "true", "grouping": "region_of_origin",
        "group": "Latin America and Caribbean", "metric": "fpr", "ratio_mean": means,
        "ratio_sd": sds, "seeds": seeds,
    })


def test_seed_interval_is_student_t():
    low, high = seed_interval(2.0, 1.0, 4)
    assert (low, high) == pytest.approx((2.0 - 3.182446 / 2, 2.0 + 3.182446 / 2), abs=1e-5)
    assert all(v != v for v in seed_interval(2.0, 1.0, 1))  # NaN: one seed has no interval


def test_a_ratio_interval_over_seeds_never_goes_below_zero():
    low, high = seed_interval(1.9, 2.0, 3, lowest=0.0)
    assert low == 0.0 and high == pytest.approx(1.9 + 4.302653 * 2.0 / 3**0.5, abs=1e-5)
    text = answer_question(capacity_config(), summary([1.9, 2.0], [2.0, 2.0]))
    assert "interval over seeds 0.00 to 6.87" in text and "seeds -" not in text


def test_separated_intervals_state_the_change():
    text = answer_question(capacity_config(), summary([3.0, 1.5], [0.1, 0.1]))
    assert "smaller at the largest capacity than at the smallest" in text


def test_overlapping_intervals_say_the_seeds_cannot_tell():
    text = answer_question(capacity_config(), summary([3.0, 2.5], [1.0, 1.0]))
    assert "cannot tell" in text and "smaller at the largest" not in text


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
