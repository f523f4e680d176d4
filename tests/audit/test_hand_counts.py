"""Every rate of a tiny table, counted by hand, and Wilson intervals against statsmodels."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from audit import audit, count_table
from audit.intervals import wilson_interval
from tests.audit.tables import frame_from_counts

# Group "a": TN=2, FP=1, FN=2, TP=3 (8 rows). Group "b": TN=9, FP=0, FN=0, TP=1 (10 rows).
TINY = {"a": (2, 1, 2, 3), "b": (9, 0, 0, 1)}

EXPECTED_A = {
    "n": (8, 18),
    "prevalence": (5, 8), "selection_rate": (4, 8), "accuracy": (5, 8),
    "tpr": (3, 5), "fnr": (2, 5), "fpr": (1, 3), "tnr": (2, 3),
    "ppv": (3, 4), "fdr": (1, 4), "npv": (2, 4), "for": (2, 4),
}
EXPECTED_B = {
    "n": (10, 18),
    "prevalence": (1, 10), "selection_rate": (1, 10), "accuracy": (10, 10),
    "tpr": (1, 1), "fnr": (0, 1), "fpr": (0, 9), "tnr": (9, 9),
    "ppv": (1, 1), "fdr": (0, 1), "npv": (9, 9), "for": (0, 9),
}


@pytest.fixture
def tiny_result():
    # Hand counts check the arithmetic: nothing withheld (suppression has its own tests).
    return audit(frame_from_counts(TINY), groups=["group"], y_true="y", y_pred="d", n_boot=50,
                 suppress_below=0)


def test_count_table_of_tiny_table_holds_the_hand_counts():
    table = count_table(frame_from_counts(TINY), ["group"], "y", "d")
    assert table.categories == (("a", "b"),)
    # counts[group, true label, decision]
    np.testing.assert_array_equal(table.counts, [[[2, 1], [2, 3]], [[9, 0], [0, 1]]])
    assert table.n_rows == 18


@pytest.mark.parametrize(("group", "expected"), [("a", EXPECTED_A), ("b", EXPECTED_B)])
def test_every_rate_of_tiny_table_equals_hand_count(tiny_result, group, expected):
    rows = tiny_result.table[tiny_result.table["group"] == group].set_index("metric")
    assert set(rows.index) == set(expected)
    for metric, (numerator, denominator) in expected.items():
        if metric == "n":
            assert rows.loc["n", "value"] == numerator
            assert rows.loc["n", "denominator"] == denominator
            continue
        assert rows.loc[metric, "numerator"] == numerator, metric
        assert rows.loc[metric, "denominator"] == denominator, metric
        assert rows.loc[metric, "value"] == float(Fraction(numerator, denominator)), metric


def test_differences_and_ratios_compare_with_the_largest_group(tiny_result):
    rows = tiny_result.table.set_index(["group", "metric"])
    assert (tiny_result.table["reference"] == "b").all()
    assert rows.loc[("a", "selection_rate"), "difference"] == pytest.approx(0.5 - 0.1)
    assert rows.loc[("a", "selection_rate"), "ratio"] == pytest.approx(5.0)
    assert rows.loc[("a", "tpr"), "ratio"] == pytest.approx(0.6)
    # The reference's own false positive rate is 0: ratios to it are undefined, not infinite.
    assert np.isnan(rows.loc[("a", "fpr"), "ratio"])
    assert "ratio_undefined" in rows.loc[("a", "fpr"), "flags"].split(";")
    assert rows.loc[("b", "selection_rate"), "difference"] == 0
    assert np.isnan(rows.loc[("b", "selection_rate"), "p_value"])


def test_wilson_intervals_of_tiny_table_equal_statsmodels_and_contain_the_rate(tiny_result):
    rates = tiny_result.table[tiny_result.table["metric"] != "n"]
    low, high = proportion_confint(rates["numerator"].to_numpy(), rates["denominator"].to_numpy(),
                                   alpha=0.05, method="wilson")
    np.testing.assert_allclose(rates["ci_low"], low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rates["ci_high"], high, rtol=0, atol=1e-12)
    assert (rates["ci_low"] <= rates["value"]).all()
    assert (rates["value"] <= rates["ci_high"]).all()


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_wilson_interval_equals_statsmodels_over_all_counts(confidence):
    trials = np.repeat([1, 2, 7, 30, 101, 1000], [2, 3, 8, 31, 102, 1001])
    successes = np.concatenate([np.arange(n + 1) for n in (1, 2, 7, 30, 101, 1000)])
    low, high = wilson_interval(successes, trials, confidence)
    expected_low, expected_high = proportion_confint(successes, trials, alpha=1 - confidence,
                                                     method="wilson")
    np.testing.assert_allclose(low, expected_low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, expected_high, rtol=0, atol=1e-12)


def test_wilson_interval_is_nan_without_trials():
    low, high = wilson_interval(np.array([0, 1]), np.array([0, 2]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.5 < high[1] < 1


def test_overall_row_of_summary_counts_every_group(tiny_result):
    overall = tiny_result.summary.query("measure == 'overall'").set_index("metric")["value"]
    frame = pd.DataFrame(frame_from_counts(TINY))
    assert overall["prevalence"] == pytest.approx(frame["y"].mean())
    assert overall["selection_rate"] == pytest.approx(frame["d"].mean())
    assert overall["fpr"] == pytest.approx(1 / 12)
