"""Uncertainty: Wilson intervals for rates, and a bootstrap that resamples counts, not rows.

The bootstrap draws, for each intersectional cell, a multinomial sample of the cell's size
from the cell's observed (true label, decision) proportions. Cell sizes stay fixed, as the
group sizes of an audit are fixed by design, and every coarser grouping is a sum of resampled
cells, so one draw serves every grouping. Its cost does not depend on the number of rows.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
from scipy import stats

DEFAULT_N_BOOT = 1000
DEFAULT_CONFIDENCE = 0.95


def check_random_state(random_state: None | int | np.random.Generator) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a Generator (one place resolves it)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, trials : array_like
        Broadcastable counts; where ``trials`` is 0 the interval is NaN.
    confidence : float
        Nominal coverage, for example 0.95.

    Returns
    -------
    low, high : ndarray
    """
    successes = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / trials
        denominator = 1 + z**2 / trials
        centre = (p + z**2 / (2 * trials)) / denominator
        half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denominator
    # At 0 and at n successes the bounds are exactly 0 and 1; rounding would leave them a hair
    # inside, and the interval would miss its own estimate.
    low = np.where(successes == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(successes == trials, 1.0, np.clip(centre + half, 0.0, 1.0))
    low = np.where(trials > 0, low, np.nan)
    high = np.where(trials > 0, high, np.nan)
    return low, high


def resample_cells(
    counts: np.ndarray, n_boot: int, rng: np.random.Generator, category_axes: int = 2
) -> np.ndarray:
    """Multinomial bootstrap of a count array, cell by cell.

    Parameters
    ----------
    counts : ndarray of int, shape ``(*cells, *categories)``
        The trailing ``category_axes`` axes are resampled jointly within each cell: the default
        2 resamples the (true label, decision) confusion table of every cell.
    n_boot : int
        Number of resamples.
    rng : Generator
    category_axes : int
        How many trailing axes hold the categories.

    Returns
    -------
    ndarray of int64, shape ``(n_boot, *counts.shape)``
    """
    counts = np.asarray(counts, dtype=np.int64)
    flat = counts.reshape(-1, int(np.prod(counts.shape[counts.ndim - category_axes :])))
    totals = flat.sum(axis=1)
    occupied = np.flatnonzero(totals)  # empty cells stay empty: no draws spent on them
    draws = np.zeros((n_boot, *flat.shape), dtype=np.int64)
    if len(occupied):
        probabilities = flat[occupied] / totals[occupied, None]
        draws[:, occupied] = rng.multinomial(
            totals[occupied], probabilities, size=(n_boot, len(occupied))
        )
    return draws.reshape(n_boot, *counts.shape)


def percentile_interval(
    resamples: np.ndarray, confidence: float = DEFAULT_CONFIDENCE, min_defined: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 of bootstrap resamples.

    Resamples in which the statistic is undefined (NaN) are left out; where fewer than
    ``min_defined`` of them are defined the interval is NaN, as it would say little. The
    quantiles interpolate linearly between order statistics, as :func:`numpy.nanquantile`
    does, but for every column at once: a partial sort where every resample is defined, a
    full sort (NaN last) elsewhere.
    """
    alpha = 1 - confidence
    resamples = np.asarray(resamples, dtype=np.float64)
    shape = resamples.shape[1:]
    n = len(resamples)
    if n == 0:
        return np.full(shape, np.nan), np.full(shape, np.nan)
    # One row per statistic, resamples along the row: sorting and partitioning contiguous
    # rows is several times faster than working down strided columns.
    rows = np.ascontiguousarray(resamples.reshape(n, -1).T)
    defined = n - np.isnan(rows).sum(axis=1)
    quantiles = (alpha / 2, 1 - alpha / 2)
    bounds = np.full((2, rows.shape[0]), np.nan)
    complete = defined == n
    if complete.any():
        # Partition at the two inner order statistics only; the outer neighbours are then
        # the largest value left of the lower one and the smallest right of the upper one.
        low_position, high_position = ((n - 1) * q for q in quantiles)
        low_below, high_below = int(np.floor(low_position)), int(np.floor(high_position))
        low_above, high_above = min(low_below + 1, n - 1), min(high_below + 1, n - 1)
        if complete.all():
            part = rows
            part.partition(sorted({low_above, high_below}), axis=1)
        else:
            part = np.partition(rows[complete], sorted({low_above, high_below}), axis=1)
        low_lower = part[:, :low_above].max(axis=1) if low_below < low_above else part[:, low_above]
        high_upper = (part[:, high_below + 1:].min(axis=1) if high_above > high_below
                      else part[:, high_below])
        bounds[0, complete] = _interpolate(low_lower, part[:, low_above], low_position - low_below)
        bounds[1, complete] = _interpolate(part[:, high_below], high_upper,
                                           high_position - high_below)
    partial = ~complete & (defined >= max(min_defined * n, 1))
    if partial.any():
        ordered = np.sort(rows[partial], axis=1)  # NaN sorts last
        count = defined[partial]
        for i, q in enumerate(quantiles):
            position = (count - 1) * q
            below = np.floor(position).astype(np.int64)
            above = np.minimum(below + 1, count - 1)
            lower = np.take_along_axis(ordered, below[:, None], axis=1)[:, 0]
            upper = np.take_along_axis(ordered, above[:, None], axis=1)[:, 0]
            bounds[i, partial] = _interpolate(lower, upper, position - below)
    return bounds[0].reshape(shape), bounds[1].reshape(shape)


def _interpolate(lower: np.ndarray, upper: np.ndarray, fraction: np.ndarray | float
                 ) -> np.ndarray:
    """Linear interpolation between order statistics that keeps infinities intact."""
    with np.errstate(invalid="ignore"):
        return np.where((np.asarray(fraction) == 0) | (lower == upper), lower,
                        lower + fraction * (upper - lower))


@contextlib.contextmanager
def ignore_nan_warnings() -> Iterator[None]:
    """Silence numpy's warnings for all-NaN slices: such slices are NaN by design here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
