"""Every group rate and every summary measure agrees with fairlearn's MetricFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from audit import audit
from audit.metrics import RATE_NAMES
from tests.audit.tables import random_decisions

TOLERANCE = 1e-12


def _share(numerator: np.ndarray, denominator: np.ndarray) -> float:
    total = int(np.sum(denominator))
    return np.nan if total == 0 else float(np.sum(numerator)) / total


#: Our metric name -> a (y_true, y_pred) -> float function from fairlearn or scikit-learn.
REFERENCE_METRICS = {
    "n": count,
    "prevalence": lambda t, d: float(np.mean(t)),
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "tnr": true_negative_rate,
    "ppv": lambda t, d: precision_score(t, d, zero_division=np.nan),
    "npv": lambda t, d: _share((t == 0) & (d == 0), d == 0),
    "fdr": lambda t, d: _share((t == 0) & (d == 1), d == 1),
    "for": lambda t, d: _share((t == 1) & (d == 0), d == 0),
    "accuracy": accuracy_score,
}

#: Denominator of each rate, counted by hand: where it is 0 the rate is undefined.
DENOMINATORS = {
    "prevalence": lambda t, d: len(t),
    "selection_rate": lambda t, d: len(t),
    "accuracy": lambda t, d: len(t),
    "tpr": lambda t, d: int(np.sum(t == 1)),
    "fnr": lambda t, d: int(np.sum(t == 1)),
    "fpr": lambda t, d: int(np.sum(t == 0)),
    "tnr": lambda t, d: int(np.sum(t == 0)),
    "ppv": lambda t, d: int(np.sum(d == 1)),
    "fdr": lambda t, d: int(np.sum(d == 1)),
    "npv": lambda t, d: int(np.sum(d == 0)),
    "for": lambda t, d: int(np.sum(d == 0)),
}

#: Every rate again, NaN where undefined, so MetricFrame's spreads skip undefined groups as ours.
NAN_AWARE_RATES = {
    "prevalence": lambda t, d: _share(t == 1, np.ones_like(t)),
    "selection_rate": lambda t, d: _share(d == 1, np.ones_like(t)),
    "tpr": lambda t, d: _share((t == 1) & (d == 1), t == 1),
    "fpr": lambda t, d: _share((t == 0) & (d == 1), t == 0),
    "fnr": lambda t, d: _share((t == 1) & (d == 0), t == 1),
    "tnr": lambda t, d: _share((t == 0) & (d == 0), t == 0),
    "ppv": lambda t, d: _share((t == 1) & (d == 1), d == 1),
    "npv": REFERENCE_METRICS["npv"],
    "fdr": REFERENCE_METRICS["fdr"],
    "for": REFERENCE_METRICS["for"],
    "accuracy": lambda t, d: _share(t == d, np.ones_like(t)),
}

GROUPINGS = {"nationality": ["nationality"], "nationality × sex": ["nationality", "sex"]}


def _metric_frame(frame: pd.DataFrame, metrics: dict, columns: list[str]) -> MetricFrame:
    return MetricFrame(
        metrics=metrics, y_true=frame["y"].to_numpy(), y_pred=frame["d"].to_numpy(),
        sensitive_features=frame[columns] if len(columns) > 1 else frame[columns[0]],
    )


def _by_label(by_group: pd.DataFrame) -> pd.DataFrame:
    """MetricFrame's (Multi)Index of groups as our labels, 'CHN × F'."""
    labels = [" × ".join(map(str, key)) if isinstance(key, tuple) else str(key)
              for key in by_group.index]
    return by_group.set_axis(labels, axis=0)


def _ours(frame: pd.DataFrame) -> pd.DataFrame:
    return audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d", n_boot=20).table


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_every_rate_equals_metricframe_where_defined_and_is_nan_undefined_elsewhere(
    seed, grouping
):
    frame = random_decisions(seed)
    expected = _by_label(_metric_frame(frame, REFERENCE_METRICS, GROUPINGS[grouping]).by_group)
    denominators = _by_label(_metric_frame(frame, DENOMINATORS, GROUPINGS[grouping]).by_group)
    table = _ours(frame)
    ours = table[table["grouping"] == grouping]

    assert sorted(ours["group"].unique()) == sorted(expected.index)
    undefined_seen = set()
    for metric in REFERENCE_METRICS:
        rows = ours[ours["metric"] == metric].set_index("group").loc[expected.index]
        if metric == "n":
            np.testing.assert_array_equal(rows["value"], expected[metric].astype(float))
            continue
        denominator = denominators[metric].to_numpy()
        np.testing.assert_array_equal(rows["denominator"], denominator)
        undefined = denominator == 0
        undefined_seen |= {metric} if undefined.any() else set()
        assert rows["value"][undefined].isna().all()
        assert all("undefined" in f.split(";") for f in rows["flags"][undefined])
        assert not any("undefined" in f.split(";") for f in rows["flags"][~undefined])
        np.testing.assert_allclose(
            rows["value"][~undefined].astype(float),
            expected[metric][~undefined].astype(float), rtol=0, atol=TOLERANCE,
        )
    # The table is built so that every kind of undefined rate occurs.
    if grouping == "nationality × sex":
        assert undefined_seen == {"tpr", "fnr", "fpr", "tnr", "ppv", "fdr", "npv", "for"}
    else:
        assert {"tpr", "fnr", "fpr", "tnr"} <= undefined_seen


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_max_min_difference_and_min_max_ratio_equal_metricframe_between_groups(seed, grouping):
    frame = random_decisions(seed)
    reference = _metric_frame(frame, NAN_AWARE_RATES, GROUPINGS[grouping])
    # Every group with a defined rate takes part (no minimum size), as in MetricFrame.
    result = audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d", n_boot=20,
                   min_count=1, suppress_below=1)
    summary = result.summary[result.summary["grouping"] == grouping].set_index(
        ["measure", "metric"])["value"]
    difference = reference.difference(method="between_groups")
    ratio = reference.ratio(method="between_groups")
    for metric in RATE_NAMES:
        assert summary["max_min_difference", metric] == pytest.approx(
            difference[metric], abs=TOLERANCE)
        assert summary["min_max_ratio", metric] == pytest.approx(ratio[metric], abs=TOLERANCE)
    overall = reference.overall
    for metric in RATE_NAMES:
        assert summary["overall", metric] == pytest.approx(overall[metric], abs=TOLERANCE)


def _fully_defined_decisions(seed: int) -> pd.DataFrame:
    """Random decisions in which every group has both labels and both decisions."""
    frame = random_decisions(seed, n_rows=3000)
    rng = np.random.default_rng(seed + 100)
    frame["y"] = (rng.random(len(frame)) < 0.4).astype(np.int64)
    frame["d"] = (rng.random(len(frame)) < np.where(frame["y"] == 1, 0.7, 0.3)).astype(np.int64)
    return frame


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("grouping", list(GROUPINGS))
def test_equalized_odds_and_demographic_parity_equal_fairlearn(seed, grouping):
    frame = _fully_defined_decisions(seed)
    columns = GROUPINGS[grouping]
    features = frame[columns] if len(columns) > 1 else frame[columns[0]]
    y, d = frame["y"].to_numpy(), frame["d"].to_numpy()
    result = audit(frame, groups=["nationality", "sex"], y_true="y", y_pred="d", n_boot=20,
                   min_count=1, suppress_below=1)
    summary = result.summary[result.summary["grouping"] == grouping].set_index("measure")

    expected = {
        "equalized_odds_difference": equalized_odds_difference(
            y, d, sensitive_features=features),
        "demographic_parity_difference": demographic_parity_difference(
            y, d, sensitive_features=features),
        "demographic_parity_ratio": demographic_parity_ratio(y, d, sensitive_features=features),
    }
    for measure, value in expected.items():
        assert summary.loc[measure, "value"] == pytest.approx(value, abs=TOLERANCE), measure
    rates = _metric_frame(frame, {"tpr": true_positive_rate, "fpr": false_positive_rate},
                          columns)
    expected_eo_ratio = rates.ratio(method="between_groups").min()
    assert summary.loc["equalized_odds_ratio", "value"] == pytest.approx(
        expected_eo_ratio, abs=TOLERANCE)
