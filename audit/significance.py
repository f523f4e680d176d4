"""Tests of each group's rate against the reference group's, with multiple-comparison control.

A two-sided two-proportion z-test (pooled variance) where every expected cell count of the
2x2 table is at least 5; Fisher's exact test where any is smaller. Holm's step-down
(family-wise error) and Benjamini-Hochberg's step-up (false discovery rate) adjustments run
over the groups of one grouping, one metric at a time.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: Expected cell count below which Fisher's exact test replaces the z-test.
MIN_EXPECTED_FOR_Z = 5.0


def compare_proportions(
    successes: np.ndarray, trials: np.ndarray, ref_successes: np.ndarray, ref_trials: np.ndarray
) -> np.ndarray:
    """Two-sided p-values for each proportion against a reference proportion.

    All arguments broadcast together. Where either side has no trials the p-value is NaN.
    """
    x1, n1, x2, n2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (successes, trials, ref_successes, ref_trials))
    )
    p_values = np.full(x1.shape, np.nan)
    defined = (n1 > 0) & (n2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        expected = np.minimum.reduce(
            [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)]
        )
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (x1 / n1 - x2 / n2) / se
    use_z = defined & (expected >= MIN_EXPECTED_FOR_Z)
    p_values[use_z] = 2 * stats.norm.sf(np.abs(z[use_z]))
    # Both rates 0 (or both 1): no evidence of a difference at all.
    p_values[defined & ((pooled == 0) | (pooled == 1))] = 1.0
    for index in zip(*np.nonzero(defined & ~use_z & (pooled > 0) & (pooled < 1)), strict=True):
        table = [[x1[index], n1[index] - x1[index]], [x2[index], n2[index] - x2[index]]]
        p_values[index] = stats.fisher_exact(np.asarray(table, dtype=np.int64))[1]
    return p_values


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values over the last axis; NaN entries are left out."""
    return _adjust(p_values, _holm_1d)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) over the last axis; NaNs left out."""
    return _adjust(p_values, _bh_1d)


def _adjust(p_values: np.ndarray, method) -> np.ndarray:
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p_values.shape, np.nan)
    flat_in = p_values.reshape(-1, p_values.shape[-1])
    flat_out = adjusted.reshape(-1, p_values.shape[-1])
    for row_in, row_out in zip(flat_in, flat_out, strict=True):
        defined = ~np.isnan(row_in)
        if defined.any():
            row_out[defined] = method(row_in[defined])
    return adjusted


def _holm_1d(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def _bh_1d(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")[::-1]
    stepped = np.minimum.accumulate(p[order] * m / np.arange(m, 0, -1))
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out
