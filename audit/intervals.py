"""Uncertainty: Wilson intervals for rates, and a bootstrap that resamples counts, not rows.

The bootstrap draws, for each intersectional cell, a multinomial sample of the cell's size
from the cell's observed (true label, decision) proportions. Cell sizes stay fixed, as the
group sizes of an audit are fixed by design, and every coarser grouping is a sum of resampled
cells, so one draw serves every grouping. Its cost does not depend on the number of rows.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

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
    # A multinomial draw as a chain of binomials: category k takes a binomial share of what
    # the categories before it left. numpy draws binomials for a whole array at once, where
    # its multinomial loops over cells; the result has the same distribution.
    draws = np.zeros((n_boot, *flat.shape), dtype=np.int64)
    remaining = np.broadcast_to(totals, (n_boot, len(totals))).copy()
    left = totals.astype(np.float64)
    for k in range(flat.shape[1] - 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(left > 0, flat[:, k] / left, 0.0)
        draws[..., k] = rng.binomial(remaining, np.clip(share, 0.0, 1.0))
        remaining -= draws[..., k]
        left -= flat[:, k]
    draws[..., -1] = remaining
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


def nan_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """The mean along ``axis`` of the values that are not NaN; NaN where all are.

    The very numbers of ``np.nanmean`` (the same sums and division), without its warning for
    an all-NaN slice, which is NaN by design here. Silencing that warning would take a
    warnings filter, which is the whole process's: an audit running on one thread would
    change what another thread sees, and the two could leave the filter changed after both.
    """
    values = np.asarray(values)
    defined = ~np.isnan(values)
    total = np.where(defined, values, 0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.true_divide(total, defined.sum(axis=axis, dtype=np.intp))


#: Events (or non-events) up to which a Wilson limit is replaced by the exact one where lower.
SMALL_COUNT = 3


def score_limits(
    successes: np.ndarray,
    trials: np.ndarray,
    confidence: float | np.ndarray = DEFAULT_CONFIDENCE,
    conservative: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson limits with the exact limit at 1 to 3 events, as the blocks of score intervals.

    Wilson's lower limit is too high at 1 to 3 events out of many trials (Brown, Cai and
    DasGupta 2001): with a true rate of 0.3% in 30 people, a single event puts it above the
    truth, and a difference or ratio interval built on it misses one time in ten. There the
    Clopper-Pearson limit, when further out, replaces it (and symmetrically for the upper
    limit at 1 to 3 non-events). Intervals built on these limits stay at or above nominal
    coverage at rare rates, conservatively so when fewer than one event is expected.

    Parameters
    ----------
    successes, trials : array_like
        Broadcastable counts (they may be fractional effective counts).
    confidence : float or array_like
        Nominal coverage; an array broadcasts against the counts.
    conservative : bool
        Take the wider of the Wilson and the exact limit at every count. Simultaneous
        (Bonferroni) intervals use it: at levels such as 99.6% Wilson's tails are too short
        well beyond three events, and a family of intervals then misses jointly too often.

    Returns
    -------
    low, high : ndarray
        NaN where there are no trials.
    """
    x, n = _broadcast_counts(successes, trials)
    low, high = wilson_interval(x, n, confidence)
    alpha = np.broadcast_to(1 - np.asarray(confidence, dtype=np.float64), x.shape)
    few = (x >= 1) & ((x <= SMALL_COUNT) | conservative) & (n > 0)
    few_misses = (n - x >= 1) & ((n - x <= SMALL_COUNT) | conservative) & (n > 0)
    # Clopper-Pearson limits are beta quantiles; computed only where they may replace Wilson's.
    low, high = low.copy(), high.copy()
    low[few] = np.fmin(low[few], special.betaincinv(x[few], n[few] - x[few] + 1,
                                                    alpha[few] / 2))
    high[few_misses] = np.fmax(high[few_misses], special.betaincinv(
        x[few_misses] + 1, n[few_misses] - x[few_misses], 1 - alpha[few_misses] / 2))
    return low, high


def newcombe_difference_interval(
    successes: np.ndarray,
    trials: np.ndarray,
    ref_successes: np.ndarray,
    ref_trials: np.ndarray,
    confidence: float | np.ndarray = DEFAULT_CONFIDENCE,
    conservative: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for a difference of two independent proportions.

    The interval of ``p1 - p2`` is built from each proportion's score limits
    (:func:`score_limits`; Newcombe 1998, method 10). It is defined whenever both sides have
    trials, zero events included, and its coverage stays near nominal at rare rates, where a
    bootstrap of the counts cannot move.

    Parameters
    ----------
    successes, trials : array_like
        Counts of the group (``p1 = successes / trials``).
    ref_successes, ref_trials : array_like
        Counts of the reference (``p2``); all four broadcast together.
    confidence : float or array_like
        Nominal coverage.
    conservative : bool
        Build on :func:`score_limits` with ``conservative=True`` (for simultaneous intervals).

    Returns
    -------
    low, high : ndarray
        NaN where either side has no trials.
    """
    x1, n1, x2, n2 = _broadcast_counts(successes, trials, ref_successes, ref_trials)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = score_limits(x1, n1, confidence, conservative)
    l2, u2 = score_limits(x2, n2, confidence, conservative)
    return _mover_difference(p1 - p2, p1, l1, u1, p2, l2, u2)


def mover_ratio_interval(
    successes: np.ndarray,
    trials: np.ndarray,
    ref_successes: np.ndarray,
    ref_trials: np.ndarray,
    confidence: float | np.ndarray = DEFAULT_CONFIDENCE,
    conservative: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-R interval for a ratio of two independent proportions, on score limits.

    The method of variance estimates recovery for a ratio (Donner and Zou 2012) combines each
    proportion's score limits (:func:`score_limits`); among the closed forms tried it held
    nominal coverage in every cell of a grid of rare rates and small groups. It gives an
    interval with zero events in the group (its lower bound is then 0); where the reference
    has no events the upper bound is ``inf``: the data set no upper limit, which callers flag
    as ``unbounded``.

    Parameters are as for :func:`newcombe_difference_interval`.

    Returns
    -------
    low, high : ndarray
        NaN where either side has no trials. With no events on either side the ratio itself
        is 0/0, but the interval ``[0, inf)`` still says what the data allow.
    """
    x1, n1, x2, n2 = _broadcast_counts(successes, trials, ref_successes, ref_trials)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
    l1, u1 = score_limits(x1, n1, confidence, conservative)
    l2, u2 = score_limits(x2, n2, confidence, conservative)
    return mover_ratio_from_limits(p1, l1, u1, p2, l2, u2)


def mover_ratio_from_limits(p1: np.ndarray, l1: np.ndarray, u1: np.ndarray, p2: np.ndarray,
                            l2: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-R interval of ``p1 / p2`` from each proportion and its limits.

    For callers that already hold the limits (a grouping's groups against one of them);
    :func:`mover_ratio_interval` computes them from counts. NaN where either rate is NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        product = p1 * p2
        low_root = np.sqrt(np.maximum(product**2 - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2), 0))
        high_root = np.sqrt(np.maximum(product**2 - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2), 0))
        low = (product - low_root) / (u2 * (2 * p2 - u2))
        high = (product + high_root) / (l2 * (2 * p2 - l2))
    # A reference rate of 0 leaves the ratio without an upper limit; at 100% the formula's
    # denominators vanish for the lower bound, which is then the group rate's lower limit.
    high = np.where(l2 * (2 * p2 - l2) <= 0, np.inf, high)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(u2 * (2 * p2 - u2) <= 0, l1 / np.where(u2 > 0, u2, np.nan), low)
    low = np.where(p1 == 0, 0.0, np.maximum(low, 0.0))
    undefined = np.isnan(p1) | np.isnan(p2)
    return np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)


def newcombe_from_limits(p1: np.ndarray, l1: np.ndarray, u1: np.ndarray, p2: np.ndarray,
                         l2: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's interval of ``p1 - p2`` from each proportion and its limits."""
    return _mover_difference(p1 - p2, p1, l1, u1, p2, l2, u2)


def paired_difference_interval(
    both: np.ndarray,
    only_a: np.ndarray,
    only_b: np.ndarray,
    neither: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's score interval for the change ``p_b - p_a`` of two paired proportions.

    The same people are classified twice (decision a and decision b). Only the discordant
    counts move the difference; the interval combines each margin's Wilson limits with the
    correlation of the pairs (Newcombe 1998, paired method 10; the margins' limits are
    :func:`score_limits`, the correlation with Newcombe's correction of ``n / 2``), and
    keeps a width with no discordant pairs at all.

    Parameters
    ----------
    both, only_a, only_b, neither : array_like
        Counts of people positive under both decisions, under a only, under b only, under
        neither; they broadcast together.
    confidence : float
        Nominal coverage.

    Returns
    -------
    low, high : ndarray
        NaN where there is nobody.
    """
    n11, n10, n01, n00 = _broadcast_counts(both, only_a, only_b, neither)
    n = n11 + n10 + n01 + n00
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = (n11 + n10) / n, (n11 + n01) / n
        margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
        # Newcombe's correction of the pairs' correlation: a positive numerator is reduced by
        # n / 2 (never below 0), so pairs that never disagree do not make the interval
        # collapse onto the estimate (50/0/0/50 would otherwise give [0, 0]).
        cross = n11 * n00 - n10 * n01
        cross = np.where(cross > 0, np.maximum(cross - n / 2, 0.0), cross)
        phi = np.where(margins > 0, cross / np.sqrt(margins), 0.0)
    l_a, u_a = score_limits(n11 + n10, n, confidence)
    l_b, u_b = score_limits(n11 + n01, n, confidence)
    change = p_b - p_a
    with np.errstate(invalid="ignore"):
        below = np.sqrt(np.maximum(
            (p_b - l_b) ** 2 - 2 * phi * (p_b - l_b) * (u_a - p_a) + (u_a - p_a) ** 2, 0))
        above = np.sqrt(np.maximum(
            (u_b - p_b) ** 2 - 2 * phi * (u_b - p_b) * (p_a - l_a) + (p_a - l_a) ** 2, 0))
    return np.clip(change - below, -1, 1), np.clip(change + above, -1, 1)


def mover_difference(
    estimate: np.ndarray,
    ref_estimate: np.ndarray,
    limits: tuple[np.ndarray, np.ndarray],
    ref_limits: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Interval of ``estimate - ref_estimate`` for two independent estimates with intervals.

    The method of variance estimates recovery (Zou and Donner 2008) recovers each side's
    variance from its own interval, so asymmetric intervals (Wilson's, Newcombe's) keep
    their shape. Used for a change in a disparity: a group's change minus the reference's.
    """
    estimate, ref_estimate = np.asarray(estimate, float), np.asarray(ref_estimate, float)
    return _mover_difference(estimate - ref_estimate, estimate, *limits, ref_estimate,
                             *ref_limits)


def _mover_difference(difference, p1, l1, u1, p2, l2, u2):
    with np.errstate(invalid="ignore"):
        low = difference - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = difference + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def _broadcast_counts(*arrays: np.ndarray) -> list[np.ndarray]:
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))
