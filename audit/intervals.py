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
    low = np.where(trials > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(trials > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
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
    ``min_defined`` of them are defined the interval is NaN, as it would say little.
    """
    alpha = 1 - confidence
    defined = ~np.isnan(resamples)
    share = defined.mean(axis=0) if len(resamples) else np.zeros(resamples.shape[1:])
    with np.errstate(invalid="ignore"), ignore_nan_warnings():
        low, high = np.nanquantile(resamples, [alpha / 2, 1 - alpha / 2], axis=0)
    enough = share >= min_defined
    return np.where(enough, low, np.nan), np.where(enough, high, np.nan)


@contextlib.contextmanager
def ignore_nan_warnings() -> Iterator[None]:
    """Silence numpy's warnings for all-NaN slices: such slices are NaN by design here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
