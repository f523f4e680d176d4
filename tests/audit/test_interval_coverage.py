"""Intervals cover the truth about as often as they claim to, on simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from audit import CountTable, audit_counts
from audit.intervals import wilson_interval

SIZES = (50, 200, 1000)
PROPORTIONS = (0.1, 0.3, 0.5)
DRAWS_PER_COMBINATION = 20_000


def test_wilson_interval_covers_the_true_proportion_about_95_percent_of_the_time():
    """Coverage averaged over all nine (n, p) combinations lies in [0.93, 0.97].

    Wilson coverage oscillates with n and p (at n=50, p=0.1 it is 0.970 exactly), so each
    combination alone is only held to the looser [0.92, 0.98].
    """
    rng = np.random.default_rng(20240601)
    coverages = []
    for n in SIZES:
        for p in PROPORTIONS:
            successes = rng.binomial(n, p, size=DRAWS_PER_COMBINATION)
            low, high = wilson_interval(successes, np.full(successes.shape, n), 0.95)
            coverages.append(np.mean((low <= p) & (p <= high)))
    coverages = np.array(coverages)
    assert 0.93 <= coverages.mean() <= 0.97, coverages
    assert ((0.92 <= coverages) & (coverages <= 0.98)).all(), coverages


def test_wilson_coverage_is_near_nominal_at_other_confidence_levels():
    rng = np.random.default_rng(7)
    successes = rng.binomial(1000, 0.3, size=DRAWS_PER_COMBINATION)
    for confidence in (0.8, 0.9, 0.99):
        low, high = wilson_interval(successes, np.full(successes.shape, 1000), confidence)
        coverage = np.mean((low <= 0.3) & (0.3 <= high))
        assert coverage == pytest.approx(confidence, abs=0.015)


def _cell_probabilities(prevalence: float, tpr: float, fpr: float) -> np.ndarray:
    """(TN, FP, FN, TP) probabilities of one group."""
    negative, positive = 1 - prevalence, prevalence
    return np.array([negative * (1 - fpr), negative * fpr, positive * (1 - tpr), positive * tpr])


def test_bootstrap_interval_of_fpr_difference_covers_the_true_difference():
    """Share of 400 simulated audits whose 95% interval holds the true difference."""
    rng = np.random.default_rng(11)
    sizes = {"reference": 600, "other": 300}
    probabilities = {
        "reference": _cell_probabilities(prevalence=0.4, tpr=0.7, fpr=0.2),
        "other": _cell_probabilities(prevalence=0.3, tpr=0.6, fpr=0.3),
    }
    true_difference = 0.3 - 0.2
    n_datasets, covered = 400, 0
    for dataset in range(n_datasets):
        counts = np.stack([
            rng.multinomial(sizes[g], probabilities[g]).reshape(2, 2) for g in sizes
        ])
        table = CountTable(("group",), (tuple(sizes),), counts)
        result = audit_counts(table, n_boot=400, random_state=dataset)
        row = result.metric("fpr").loc["other"]
        assert row["reference"] == "reference"
        covered += row["diff_ci_low"] <= true_difference <= row["diff_ci_high"]
    assert 0.92 <= covered / n_datasets <= 0.98
