"""Group metrics as functions of the count array ``counts[..., true label, decision]``.

Every rate is a numerator over a denominator, both sums of the four cells of a confusion
table, so one tensor contraction computes all rates for every group at once, and for every
bootstrap resample at once. A rate whose denominator is zero is undefined: NaN, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RateMetric:
    """A rate defined by which confusion-table cells make its numerator and denominator."""

    name: str
    title: str
    explanation: str
    numerator: tuple[tuple[int, int], ...]
    denominator: tuple[tuple[int, int], ...]


# Cells are (true label, decision): TN = (0, 0), FP = (0, 1), FN = (1, 0), TP = (1, 1).
TN, FP, FN, TP = (0, 0), (0, 1), (1, 0), (1, 1)
ALL = (TN, FP, FN, TP)

RATE_METRICS: tuple[RateMetric, ...] = (
    RateMetric("prevalence", "Prevalence",
               "share of the group whose true outcome is positive", (FN, TP), ALL),
    RateMetric("selection_rate", "Selection rate",
               "share of the group the system selected (decided positive)", (FP, TP), ALL),
    RateMetric("tpr", "True positive rate",
               "of those truly positive, the share the system selected", (TP,), (FN, TP)),
    RateMetric("fpr", "False positive rate",
               "of those truly negative, the share the system selected in error", (FP,), (TN, FP)),
    RateMetric("fnr", "False negative rate",
               "of those truly positive, the share the system missed", (FN,), (FN, TP)),
    RateMetric("tnr", "True negative rate",
               "of those truly negative, the share the system left alone", (TN,), (TN, FP)),
    RateMetric("ppv", "Precision (PPV)",
               "of those selected, the share truly positive", (TP,), (FP, TP)),
    RateMetric("npv", "Negative predictive value",
               "of those not selected, the share truly negative", (TN,), (TN, FN)),
    RateMetric("fdr", "False discovery rate",
               "of those selected, the share truly negative", (FP,), (FP, TP)),
    RateMetric("for", "False omission rate",
               "of those not selected, the share truly positive", (FN,), (TN, FN)),
    RateMetric("accuracy", "Accuracy",
               "share of the group whose decision matches the true outcome", (TN, TP), ALL),
)
RATE_NAMES: tuple[str, ...] = tuple(m.name for m in RATE_METRICS)
RATES = {m.name: m for m in RATE_METRICS}

#: Plain-language explanations of every metric the engine reports, rates and the rest.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "n": ("Group size", "number of people in the group"),
    **{m.name: (m.title, m.explanation) for m in RATE_METRICS},
    "auc": ("AUC", "chance that a truly positive person gets a higher score than a truly "
                   "negative one (0.5 is no better than a coin)"),
    "ece": ("Expected calibration error", "average gap between the score and the observed "
                                          "share of positives, over ten score bins"),
}


def rate_parts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators of every rate.

    Parameters
    ----------
    counts : ndarray, shape ``(..., 2, 2)``

    Returns
    -------
    numerator, denominator : ndarray, shape ``(..., len(RATE_METRICS))``
    """
    counts = np.asarray(counts, dtype=np.float64)
    cells = {TN: counts[..., 0, 0], FP: counts[..., 0, 1], FN: counts[..., 1, 0],
             TP: counts[..., 1, 1]}
    sums: dict[tuple[tuple[int, int], ...], np.ndarray] = {}

    def total(parts: tuple[tuple[int, int], ...]) -> np.ndarray:
        if parts not in sums:  # each distinct sum of cells is computed once
            sums[parts] = sum(cells[p] for p in parts[1:]) + cells[parts[0]] if len(
                parts) > 1 else cells[parts[0]]
        return sums[parts]

    numerator = np.stack([total(m.numerator) for m in RATE_METRICS], axis=-1)
    denominator = np.stack([total(m.denominator) for m in RATE_METRICS], axis=-1)
    return numerator, denominator


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is zero."""
    numerator = np.asarray(numerator, dtype=np.float64)
    return np.divide(
        numerator, denominator, out=np.full(np.broadcast(numerator, denominator).shape, np.nan),
        where=np.asarray(denominator) > 0,
    )


def rates(counts: np.ndarray) -> np.ndarray:
    """Every rate in :data:`RATE_METRICS`, shape ``(..., len(RATE_METRICS))``; NaN if undefined."""
    numerator, denominator = rate_parts(counts)
    return safe_divide(numerator, denominator)


def auc_from_bins(score_counts: np.ndarray) -> np.ndarray:
    """Area under the ROC curve from counts per (true label, score bin).

    Scores in one bin count as ties (half credit), which is exact when every score lies on
    the bin grid and otherwise approximates the AUC to within the bin width's share of ties.

    Parameters
    ----------
    score_counts : ndarray, shape ``(..., 2, n_bins)``

    Returns
    -------
    ndarray, shape ``(...)``; NaN where a group has no positives or no negatives.
    """
    score_counts = np.asarray(score_counts, dtype=np.float64)
    negatives, positives = score_counts[..., 0, :], score_counts[..., 1, :]
    negatives_below = np.cumsum(negatives, axis=-1) - negatives
    concordant = (positives * (negatives_below + 0.5 * negatives)).sum(axis=-1)
    pairs = positives.sum(axis=-1) * negatives.sum(axis=-1)
    return safe_divide(concordant, pairs)


def calibration_bins(
    score_counts: np.ndarray, score_sums: np.ndarray, n_calibration_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coarsen fine score bins into calibration bins.

    Returns
    -------
    counts, positives, score_sum : ndarray, shape ``(..., n_calibration_bins)``
        Rows, true positives and summed scores per calibration bin.
    """
    n_bins = score_counts.shape[-1]
    if n_bins % n_calibration_bins:
        raise ValueError(f"{n_bins} score bins do not divide into {n_calibration_bins}")
    shape = (*score_counts.shape[:-1], n_calibration_bins, n_bins // n_calibration_bins)
    coarse_counts = score_counts.reshape(shape).sum(axis=-1)
    coarse_sums = score_sums.reshape(shape).sum(axis=-1)
    return (
        coarse_counts.sum(axis=-2),
        coarse_counts[..., 1, :],
        coarse_sums.sum(axis=-2),
    )


def expected_calibration_error(
    counts: np.ndarray, positives: np.ndarray, score_sum: np.ndarray
) -> np.ndarray:
    """ECE: size-weighted mean of |mean score - share positive| over calibration bins.

    Parameters are the outputs of :func:`calibration_bins`; NaN for an empty group.
    """
    counts = np.asarray(counts, dtype=np.float64)
    gap = np.abs(safe_divide(score_sum, counts) - safe_divide(positives, counts))
    weighted = np.where(counts > 0, gap * counts, 0.0).sum(axis=-1)
    return safe_divide(weighted, counts.sum(axis=-1))
