"""AUC and expected calibration error per group, against scikit-learn and a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from audit import audit

TOLERANCE = 1e-12


def _scored_table(seed: int, grid: int | None, n_rows: int = 1500) -> pd.DataFrame:
    """Scores on the grid k/grid (or continuous when grid is None); one group is all negative."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c", "only_negatives"], size=n_rows, p=[0.4, 0.3, 0.2, 0.1])
    y = (rng.random(n_rows) < 0.35) & (group != "only_negatives")
    raw = np.clip(rng.normal(np.where(y, 0.6, 0.4), 0.2), 0, 1)
    score = rng.random(n_rows) if grid is None else np.floor(raw * grid).clip(0, grid - 1) / grid
    return pd.DataFrame({"group": group, "y": y, "d": score >= 0.5, "score": score})


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("grid", [1000, 100])
def test_auc_per_group_equals_roc_auc_score_when_scores_lie_on_the_bin_grid(seed, grid):
    frame = _scored_table(seed, grid)
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", score="score",
                   score_bins=grid, n_boot=20)
    auc = result.metric("auc")
    for group, rows in frame.groupby("group"):
        if group == "only_negatives":
            assert np.isnan(auc.loc[group, "value"])
            assert "undefined" in auc.loc[group, "flags"].split(";")
            continue
        expected = roc_auc_score(rows["y"], rows["score"])
        assert auc.loc[group, "value"] == pytest.approx(expected, abs=TOLERANCE)
        assert auc.loc[group, "ci_low"] <= auc.loc[group, "value"] <= auc.loc[group, "ci_high"]


def _hand_ece(y: np.ndarray, score: np.ndarray, n_bins: int = 10) -> float:
    bins = np.minimum(np.floor(score * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            total += inside.sum() * abs(score[inside].mean() - y[inside].mean())
    return total / len(y)


@pytest.mark.parametrize("seed", range(3))
def test_ece_per_group_equals_hand_computation_over_ten_equal_width_bins(seed):
    frame = _scored_table(seed, grid=None)
    result = audit(frame, groups=["group"], y_true="y", y_pred="d", score="score", n_boot=50)
    ece = result.metric("ece")
    for group, rows in frame.groupby("group"):
        expected = _hand_ece(rows["y"].to_numpy(float), rows["score"].to_numpy())
        assert ece.loc[group, "value"] == pytest.approx(expected, abs=TOLERANCE)
        assert ece.loc[group, "ci_low"] <= ece.loc[group, "ci_high"]
