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
    fisher = defined & ~use_z & (pooled > 0) & (pooled < 1)
    if fisher.any():
        # Each cell truncated to a whole count on its own (clustered audits pass effective,
        # fractional counts), as the table of one test would be.
        cells = [x1[fisher], n1[fisher] - x1[fisher], x2[fisher], n2[fisher] - x2[fisher]]
        p_values[fisher] = fisher_exact_p_values(*(c.astype(np.int64) for c in cells))
    return p_values


def fisher_exact_p_values(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
                          ) -> np.ndarray:
    """Fisher's exact two-sided p-values of the 2x2 tables ``[[a, b], [c, d]]``, elementwise.

    The same computation as :func:`scipy.stats.fisher_exact` (SciPy 1.17's two-sided
    algorithm: hypergeometric tails on each side of the mode, the far tail found by binary
    search) done on every table at once, so a grouping's many small groups cost one call per
    step of the search instead of one test each; the p-values are the same floats.

    Parameters
    ----------
    a, b, c, d : numpy.ndarray of int
        The cells of each table (non-negative, broadcast together).

    Returns
    -------
    numpy.ndarray of float
    """
    a, b, c, d = np.broadcast_arrays(*(np.asarray(x, dtype=np.int64) for x in (a, b, c, d)))
    hypergeom = stats.hypergeom
    row1, row2, column = a + b, c + d, a + c
    total = row1 + row2
    p_values = np.ones(a.shape)
    # A row or column of zeros: no evidence at all (p = 1), as SciPy returns.
    live = (row1 > 0) & (row2 > 0) & (column > 0) & (b + d > 0)
    if not live.any():
        return p_values
    a, row1, column, total = a[live], row1[live], column[live], total[live]
    mode = ((column + 1) * (row1 + 1) / (total + 2)).astype(np.int64)
    exact = hypergeom.pmf(a, total, row1, column)
    at_mode = hypergeom.pmf(mode, total, row1, column)
    gamma = 1 + 1e-14
    out = np.empty(len(a))
    at_top = np.abs(exact - at_mode) / np.maximum(exact, at_mode) <= 1e-14
    out[at_top] = 1.0
    below = ~at_top & (a < mode)
    above = ~at_top & ~below
    near = np.where(below, hypergeom.cdf(a, total, row1, column),
                    hypergeom.sf(a - 1, total, row1, column))
    # Where the far end of the support is already more likely than the table, the far tail
    # adds nothing.
    far_end = np.where(below, hypergeom.pmf(column, total, row1, column),
                       hypergeom.pmf(0, total, row1, column))
    alone = (below | above) & (far_end > exact * gamma)
    out[alone] = near[alone]
    search = (below | above) & ~alone
    if search.any():
        index = np.flatnonzero(search)
        left = below[index]
        n, k, m = total[index], row1[index], column[index]
        sign = np.where(left, -1.0, 1.0)  # the pmf made ascending over the range
        low = np.where(left, mode[index], 0)
        high = np.where(left, m, mode[index])
        guess = _binary_search(
            lambda x, rows: sign[rows] * hypergeom.pmf(x, n[rows], k[rows], m[rows]),
            sign * exact[index] * gamma, low, high)
        far = np.where(left, hypergeom.sf(guess, n, k, m), hypergeom.cdf(guess, n, k, m))
        out[index] = near[index] + far
    p_values[live] = np.minimum(out, 1.0)
    return p_values


def _binary_search(values, target: np.ndarray, low: np.ndarray, high: np.ndarray
                   ) -> np.ndarray:
    """For each row, the index ``i`` in ``[low, high]`` with ``values(i) <= target <
    values(i + 1)``, where ``values`` ascends over the range: SciPy's search, every row at
    once. ``values(x, rows)`` evaluates the rows ``rows`` at ``x``."""
    low, high = low.copy(), high.copy()
    found = np.full(len(low), -1, dtype=np.int64)
    open_rows = low < high
    while open_rows.any():
        rows = np.flatnonzero(open_rows)
        middle = low[rows] + (high[rows] - low[rows]) // 2
        value = values(middle, rows)
        less, more = value < target[rows], value > target[rows]
        low[rows[less]] = middle[less] + 1
        high[rows[more]] = middle[more] - 1
        equal = rows[~less & ~more]
        found[equal] = middle[~less & ~more]
        open_rows[equal] = False
        open_rows &= low < high
    rest = np.flatnonzero(found < 0)
    if len(rest):
        at_low = values(low[rest], rest) <= target[rest]
        found[rest] = np.where(at_low, low[rest], low[rest] - 1)
    return found


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
