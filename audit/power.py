"""What an audit could have detected: the smallest gap to the reference found with given power.

A p-value of 1.000 does not say a group is treated fairly; it may only say the group is too
small for any gap to show. For each group and rate, this module gives the smallest rate above
the reference's that a two-sided test at the audit's level would detect with 80% power, given
the group's and the reference's sizes, as a difference and as a ratio. It uses Cohen's
arcsine transform, under which a proportion's variance does not depend on the proportion
itself, so the answer is closed-form and vectorised.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: Power at which the detectable gap is given.
DEFAULT_POWER = 0.8


def detectable_gap(
    trials: np.ndarray,
    ref_rate: np.ndarray,
    ref_trials: np.ndarray,
    confidence: float = 0.95,
    power: float = DEFAULT_POWER,
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest rate above the reference's that an audit of these sizes detects with ``power``.

    Parameters
    ----------
    trials : array_like
        Each group's denominator for the rate.
    ref_rate, ref_trials : array_like
        The reference group's rate and denominator; all three broadcast together.
    confidence : float
        The test's level is ``1 - confidence``, two-sided.
    power : float
        Probability of detecting a gap of the returned size.

    Returns
    -------
    difference, ratio : ndarray
        The detectable rate minus, and over, the reference rate. NaN where a size is zero or
        no rate up to 100% would be detected; the ratio is ``inf`` where the reference rate
        is 0 (any detectable rate is infinitely many times 0).
    """
    n1, p2, n2 = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                       for a in (trials, ref_rate, ref_trials)))
    z = stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = z * np.sqrt(1 / n1 + 1 / n2)
        angle = np.arcsin(np.sqrt(np.clip(p2, 0, 1))) + h / 2
        rate = np.sin(np.minimum(angle, np.pi / 2)) ** 2
        difference = rate - p2
        ratio = np.where(p2 > 0, rate / p2, np.inf)
    undetectable = ~np.isfinite(h) | (angle > np.pi / 2) | np.isnan(p2) | (n1 <= 0) | (n2 <= 0)
    return (np.where(undetectable, np.nan, difference),
            np.where(undetectable, np.nan, ratio))
