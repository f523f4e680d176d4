"""Comparisons adjusted for composition: a group against its reference, stratum by stratum.

A crude gap between two groups mixes who is in each group (its stratum mix) with how each
stratum is treated. From the events and totals of one rate per stratum, in a group and in its
reference, this module computes:

- the Mantel-Haenszel risk ratio, with the Greenland-Robins (1985) variance of its log, and
  the Mantel-Haenszel risk difference, with Sato's (1989) variance. Both variances are
  consistent when strata are few and large and when they are many and sparse, so the
  intervals built on them hold in sparse strata (the difference's is a MOVER interval that
  keeps Sato's variance and takes its asymmetry from score limits; see
  :func:`stratified_gap`);
- the group's rate directly standardised to the reference's stratum mix;
- Cochran's Q test of one risk ratio common to every stratum;
- the Kitagawa (1955) decomposition of the crude difference into a composition part and a
  within-stratum part, with delta-method intervals under multinomial sampling of each
  side's counts (see :func:`kitagawa_standard_errors`).

Every function takes arrays whose last axis runs over strata and whose leading axes are any
batch (groups and rates, bootstrap resamples, simulated tables), so one call serves them all.
A stratum where either side has nobody (a zero denominator) holds no comparison: it is left
out of every Mantel-Haenszel sum, of the standardisation and of the test, and callers report
it. Where no stratum is common, every adjusted estimate is NaN: the data cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from audit.intervals import (
    DEFAULT_CONFIDENCE,
    mover_ratio_from_limits,
    newcombe_from_limits,
    score_limits,
    wilson_interval,
)

#: A homogeneity p-value below this flags the effect as ``heterogeneous`` across strata.
HETEROGENEITY_ALPHA = 0.05


@dataclass(frozen=True)
class StratifiedGap:
    """Adjusted comparisons of a group with its reference; every field has the batch shape.

    Attributes
    ----------
    strata_used : ndarray of int
        Strata where both sides have someone in the rate's denominator.
    group_rate, reference_rate : ndarray
        Crude rates over every stratum.
    crude_ratio, crude_diff : ndarray
        Their ratio and difference.
    ratio, ratio_low, ratio_high : ndarray
        Mantel-Haenszel risk ratio and its interval (Greenland-Robins variance of the log).
    odds_ratio : ndarray
        Mantel-Haenszel odds ratio.
    diff, diff_low, diff_high : ndarray
        Mantel-Haenszel risk difference and its interval (Sato's variance).
    diff_se : ndarray
        Square root of Sato's variance (times the design effect).
    standardised, standardised_low, standardised_high : ndarray
        The group's rate standardised to the reference's stratum mix (common strata), with a
        Wilson interval on the effective number of people.
    homogeneity_p : ndarray
        p-value of Cochran's Q test of a common risk ratio.
    composition, within, one_sided : ndarray
        Kitagawa parts of ``crude_diff`` (see :func:`kitagawa`).
    composition_low, composition_high, within_low, within_high : ndarray
        Their intervals (see :func:`kitagawa_standard_errors`).
    """

    strata_used: np.ndarray
    group_rate: np.ndarray
    reference_rate: np.ndarray
    crude_ratio: np.ndarray
    crude_diff: np.ndarray
    ratio: np.ndarray
    ratio_low: np.ndarray
    ratio_high: np.ndarray
    odds_ratio: np.ndarray
    diff: np.ndarray
    diff_low: np.ndarray
    diff_high: np.ndarray
    diff_se: np.ndarray
    standardised: np.ndarray
    standardised_low: np.ndarray
    standardised_high: np.ndarray
    homogeneity_p: np.ndarray
    composition: np.ndarray
    within: np.ndarray
    one_sided: np.ndarray
    composition_low: np.ndarray
    composition_high: np.ndarray
    within_low: np.ndarray
    within_high: np.ndarray


def _divide(numerator: np.ndarray, denominator: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``numerator / denominator``, ``fill`` where the denominator is not positive."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, dtype=np.float64),
                                                 np.asarray(denominator, dtype=np.float64))
    return np.divide(numerator, denominator, out=np.full(numerator.shape, fill),
                     where=denominator > 0)


def stratified_gap(
    events: np.ndarray,
    totals: np.ndarray,
    ref_events: np.ndarray,
    ref_totals: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    design_effect: float | np.ndarray = 1.0,
) -> StratifiedGap:
    """Adjusted comparisons of one rate between a group and its reference, over strata.

    Parameters
    ----------
    events, totals : array_like, shape ``(..., n_strata)``
        The group's numerator and denominator of the rate in each stratum.
    ref_events, ref_totals : array_like, broadcastable to the same shape
        The reference's.
    confidence : float
        Nominal coverage of every interval.
    design_effect : float or array_like of the batch shape
        Factor by which clustered rows inflate each variance (1 for independent rows); the
        variances of the difference and of the Kitagawa parts are multiplied by it, the
        effective numbers of people behind the score limits and Cochran's Q divided by it.

    Returns
    -------
    StratifiedGap
        NaN wherever the figure is undefined; never a division by zero.

    Notes
    -----
    With ``a, n1`` the group's events and people in stratum ``k``, ``b, n0`` the reference's
    and ``N = n1 + n0``, over the common strata (``n1 > 0`` and ``n0 > 0``):

    - ``RR = R / S`` with ``R = sum(a n0 / N)``, ``S = sum(b n1 / N)``;
      ``var(log RR) = sum((n1 n0 (a + b) - a b N) / N**2) / (R S)`` (Greenland-Robins), and
      the interval is ``exp(log RR -+ z se)``. Where the log is undefined (no events in the
      group: ``RR = 0``; none in the reference: ``RR = inf``) the interval is the MOVER-R
      one on the side limits below, as the plain audit's; with no events on either side the
      ratio is NaN and the interval ``[0, inf)``.
    - ``RD = sum((a n0 - b n1) / N) / W`` with ``W = sum(n1 n0 / N)``;
      ``var(RD) = (RD sum(P) + sum(Q)) / W**2`` with
      ``P = (n1**2 b - n0**2 a + n1 n0 (n0 - n1) / 2) / N**2`` and
      ``Q = (a (n0 - b) + b (n1 - a)) / (2 N)`` (Sato).
      ``RD = P1 - P0``, the difference of the sides' rates averaged with the weights
      ``n1 n0 / N``. A Wald interval on Sato's variance misses too often when the group has
      ten or so events (the binomial's skew), and collapses at zero events; so each side's
      rate gets score limits (:func:`audit.intervals.score_limits`) on its effective number
      of people (Kish's ``W**2 / sum(w**2 / n)``), both scaled by one factor so that the
      two sides' variances add up to Sato's, and the limits are combined by MOVER-D
      (Newcombe's method). Where Sato's variance is zero (no events at all) the Kish counts
      are used as they are.
    - Homogeneity: Cochran's Q of the stratum log risk ratios about their inverse-variance
      weighted mean, with 0.5 added to every cell of a stratum's 2x2 table holding a zero;
      strata without events on either side say nothing about a ratio and are left out of
      the test; ``Q`` is referred to chi-squared with (informative strata - 1) degrees of
      freedom, and the p-value is NaN with fewer than two informative strata.
    """
    a, n1, b, n0 = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64)
                                         for x in (events, totals, ref_events, ref_totals)))
    design_effect = np.asarray(design_effect, dtype=np.float64)
    z = stats.norm.ppf(0.5 + confidence / 2)
    common = (n1 > 0) & (n0 > 0)
    # Outside the common strata every term is set to zero, so the sums skip them.
    a, n1, b, n0 = (np.where(common, x, 0.0) for x in np.broadcast_arrays(a, n1, b, n0))
    all_a, all_n1, all_b, all_n0 = (np.asarray(x, dtype=np.float64) for x in (
        events, totals, ref_events, ref_totals))
    whole = np.broadcast_arrays(all_a, all_n1, all_b, all_n0)
    group_rate = _divide(whole[0].sum(axis=-1), whole[1].sum(axis=-1))
    reference_rate = _divide(whole[2].sum(axis=-1), whole[3].sum(axis=-1))
    strata_used = common.sum(axis=-1)
    any_common = strata_used > 0
    size = n1 + n0
    inverse = _divide(1.0, size, fill=0.0)

    # Mantel-Haenszel risk ratio and the Greenland-Robins variance of its log.
    r_sum = (a * n0 * inverse).sum(axis=-1)
    s_sum = (b * n1 * inverse).sum(axis=-1)
    gr_sum = ((n1 * n0 * (a + b) - a * b * size) * inverse**2).sum(axis=-1)
    both = (r_sum > 0) & (s_sum > 0)
    ratio = np.where(both, _divide(r_sum, s_sum), np.where(r_sum > 0, np.inf, 0.0))
    ratio = np.where(any_common & ((r_sum > 0) | (s_sum > 0)), ratio, np.nan)
    log_se = np.sqrt(_divide(gr_sum, r_sum * s_sum) * design_effect)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(np.where(both, ratio, 1.0))
    ratio_low = np.where(both, np.exp(log_ratio - z * log_se), 0.0)
    ratio_high = np.where(both, np.exp(log_ratio + z * log_se), np.inf)

    # Mantel-Haenszel odds ratio, with the same conventions at zero.
    ad = (a * (n0 - b) * inverse).sum(axis=-1)
    bc = (b * (n1 - a) * inverse).sum(axis=-1)
    odds_ratio = np.where((ad > 0) & (bc > 0), _divide(ad, bc),
                          np.where(ad > 0, np.inf, 0.0))
    odds_ratio = np.where(any_common & ((ad > 0) | (bc > 0)), odds_ratio, np.nan)

    # Mantel-Haenszel risk difference and Sato's variance.
    stratum_weight = n1 * n0 * inverse
    weight = stratum_weight.sum(axis=-1)
    diff = _divide(((a * n0 - b * n1) * inverse).sum(axis=-1), weight)
    p_sum = ((n1**2 * b - n0**2 * a + n1 * n0 * (n0 - n1) / 2) * inverse**2).sum(axis=-1)
    q_sum = ((a * (n0 - b) + b * (n1 - a)) * inverse / 2).sum(axis=-1)
    with np.errstate(invalid="ignore"):
        diff_variance = np.maximum(_divide(diff * p_sum + q_sum, weight**2), 0.0)
    diff_variance = diff_variance * design_effect
    diff_se = np.sqrt(diff_variance)
    rate1, rate0 = _divide(r_sum, weight), _divide(s_sum, weight)
    kish1 = _divide(weight**2, (stratum_weight**2 * _divide(1.0, n1, fill=0.0)).sum(axis=-1))
    kish0 = _divide(weight**2, (stratum_weight**2 * _divide(1.0, n0, fill=0.0)).sum(axis=-1))
    with np.errstate(invalid="ignore"):
        side_variance = (_divide(rate1 * (1 - rate1), kish1, fill=0.0)
                         + _divide(rate0 * (1 - rate0), kish0, fill=0.0))
    scale = np.where((diff_variance > 0) & (side_variance > 0),
                     _divide(side_variance, diff_variance), 1.0 / design_effect)
    limits1 = score_limits(np.nan_to_num(rate1) * kish1 * scale, kish1 * scale, confidence)
    limits0 = score_limits(np.nan_to_num(rate0) * kish0 * scale, kish0 * scale, confidence)
    diff_low, diff_high = newcombe_from_limits(rate1, *limits1, rate0, *limits0)
    mover_low, mover_high = mover_ratio_from_limits(rate1, *limits1, rate0, *limits0)
    ratio_low = np.where(any_common, np.where(both, ratio_low, mover_low), np.nan)
    ratio_high = np.where(any_common, np.where(both, ratio_high, mover_high), np.nan)

    # Direct standardisation to the reference's mix over the common strata.
    mix = _divide(n0, n0.sum(axis=-1, keepdims=True), fill=0.0)
    stratum_rate = _divide(a, n1, fill=0.0)
    standardised = np.where(any_common, (mix * stratum_rate).sum(axis=-1), np.nan)
    variance = (mix**2 * _divide(stratum_rate * (1 - stratum_rate), n1, fill=0.0)).sum(axis=-1)
    people = n1.sum(axis=-1)
    # Effective number of people (Korn and Graubard 1998): never more than were counted, and
    # all of them where the estimated variance is zero (every stratum rate at 0 or 1).
    with np.errstate(invalid="ignore"):
        effective = np.where(variance > 0, np.minimum(
            _divide(standardised * (1 - standardised), variance), people), people)
    effective = _divide(effective, design_effect * np.ones_like(effective))
    standardised_low, standardised_high = wilson_interval(
        np.nan_to_num(standardised) * effective, effective, confidence)

    homogeneity_p = _homogeneity_p(a, n1, b, n0, common, design_effect)
    composition, within, one_sided = kitagawa(events, totals, ref_events, ref_totals)
    composition_se, within_se = (np.sqrt(v * design_effect) for v in kitagawa_variances(
        events, totals, ref_events, ref_totals))
    return StratifiedGap(
        strata_used=strata_used, group_rate=group_rate, reference_rate=reference_rate,
        crude_ratio=np.where(np.isnan(group_rate) | np.isnan(reference_rate), np.nan,
                             _divide(group_rate, reference_rate)),
        crude_diff=group_rate - reference_rate,
        ratio=ratio, ratio_low=ratio_low, ratio_high=ratio_high, odds_ratio=odds_ratio,
        diff=diff, diff_low=diff_low, diff_high=diff_high, diff_se=diff_se,
        standardised=standardised,
        standardised_low=standardised_low, standardised_high=standardised_high,
        homogeneity_p=homogeneity_p, composition=composition, within=within,
        one_sided=one_sided, composition_low=composition - z * composition_se,
        composition_high=composition + z * composition_se, within_low=within - z * within_se,
        within_high=within + z * within_se,
    )


def _homogeneity_p(a: np.ndarray, n1: np.ndarray, b: np.ndarray, n0: np.ndarray,
                   common: np.ndarray, design_effect: np.ndarray) -> np.ndarray:
    """Cochran's Q test of a common risk ratio (see :func:`stratified_gap`, Notes)."""
    informative = common & (a + b > 0)
    zero_cell = (a == 0) | (a == n1) | (b == 0) | (b == n0)
    shift = np.where(informative & zero_cell, 0.5, 0.0)
    a_c, n1_c, b_c, n0_c = a + shift, n1 + 2 * shift, b + shift, n0 + 2 * shift
    safe = [np.where(informative, x, 1.0) for x in (a_c, n1_c, b_c, n0_c)]
    log_ratio = np.log(safe[0] / safe[1]) - np.log(safe[2] / safe[3])
    variance = 1 / safe[0] - 1 / safe[1] + 1 / safe[2] - 1 / safe[3]
    weight = np.where(informative, _divide(1.0, variance, fill=0.0), 0.0)
    total = weight.sum(axis=-1, keepdims=True)
    mean = _divide((weight * log_ratio).sum(axis=-1, keepdims=True), total, fill=0.0)
    q = (weight * (log_ratio - mean) ** 2).sum(axis=-1) / design_effect
    freedom = informative.sum(axis=-1) - 1
    return np.where(freedom >= 1, stats.chi2.sf(q, np.maximum(freedom, 1)), np.nan)


def _kitagawa_parts(
    events: np.ndarray, totals: np.ndarray, ref_events: np.ndarray, ref_totals: np.ndarray
) -> dict[str, np.ndarray]:
    """Shares, rates (the missing side's set to the observed one) and the stratum terms."""
    a, n1, b, n0 = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64)
                                         for x in (events, totals, ref_events, ref_totals)))
    total1 = n1.sum(axis=-1, keepdims=True)
    total0 = n0.sum(axis=-1, keepdims=True)
    share1, share0 = _divide(n1, total1, fill=0.0), _divide(n0, total0, fill=0.0)
    rate1, rate0 = _divide(a, n1), _divide(b, n0)
    rate1, rate0 = np.where(n1 > 0, rate1, rate0), np.where(n0 > 0, rate0, rate1)
    rate1, rate0 = np.nan_to_num(rate1), np.nan_to_num(rate0)  # strata nobody occupies
    return {
        "n1": n1, "n0": n0, "total1": total1, "total0": total0,
        "share1": share1, "share0": share0, "rate1": rate1, "rate0": rate0,
        "a": a, "b": b, "one_sided": ~((n1 > 0) & (n0 > 0)),
        "defined": (total1[..., 0] > 0) & (total0[..., 0] > 0),
        "composition": (share1 - share0) * (rate1 + rate0) / 2,
        "within": (rate1 - rate0) * (share1 + share0) / 2,
    }


def kitagawa(
    events: np.ndarray, totals: np.ndarray, ref_events: np.ndarray, ref_totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kitagawa decomposition of a crude difference of rates into composition and within.

    With ``s1, s0`` each side's share of its people in each stratum and ``p1, p0`` its
    stratum rates, ``crude = sum(s1 p1) - sum(s0 p0)`` splits exactly into
    ``composition = sum((s1 - s0) (p1 + p0) / 2)`` (who is in each group) and
    ``within = sum((p1 - p0) (s1 + s0) / 2)`` (how each stratum fares). In a stratum only one
    side occupies there is no within-stratum difference to measure: the missing rate is set
    to the observed one, so the stratum counts wholly in the composition part; that share of
    the composition part is returned as ``one_sided``.

    Parameters
    ----------
    events, totals, ref_events, ref_totals : array_like, shape ``(..., n_strata)``
        As for :func:`stratified_gap`.

    Returns
    -------
    composition, within, one_sided : ndarray of the batch shape
        ``composition + within`` equals the crude difference to float precision; NaN where
        either side has nobody at all.
    """
    parts = _kitagawa_parts(events, totals, ref_events, ref_totals)
    one_sided = np.where(parts["one_sided"], parts["composition"], 0.0)
    return tuple(np.where(parts["defined"], terms.sum(axis=-1), np.nan)  # type: ignore
                 for terms in (parts["composition"], parts["within"], one_sided))


def kitagawa_variances(
    events: np.ndarray, totals: np.ndarray, ref_events: np.ndarray, ref_totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Delta-method variances of the Kitagawa parts under multinomial sampling of the counts.

    Each side's people fall, as one multinomial of fixed size, into (stratum, event in the
    rate's denominator, non-event in it, outside it) cells; the sides are independent. The
    parts are smooth functions of those counts, so each variance is ``sum(g**2 x)`` over the
    cells of both sides, with ``x`` the count and ``g`` the part's derivative with respect to
    it (the multinomial's covariance term vanishes: the derivatives, weighted by the counts,
    add up to zero on each side). Stratum mixes vary as well as stratum rates, as in a
    bootstrap that resamples each group's counts over strata. Strata only one side occupies
    enter through that side's rate alone, as in :func:`kitagawa`.

    Returns
    -------
    composition_variance, within_variance : ndarray of the batch shape
        NaN where either side has nobody at all.
    """
    parts = _kitagawa_parts(events, totals, ref_events, ref_totals)
    share1, share0 = parts["share1"], parts["share0"]
    rate1, rate0 = parts["rate1"], parts["rate0"]
    one_sided = parts["one_sided"]
    middle, half_gap = (rate1 + rate0) / 2, (rate1 - rate0) / 2
    # Derivatives through the shares: a person added to stratum k moves every share.
    mix = {
        "composition": ((middle - (share1 * middle).sum(axis=-1, keepdims=True)),
                        -(middle - (share0 * middle).sum(axis=-1, keepdims=True))),
        "within": ((half_gap - (share1 * half_gap).sum(axis=-1, keepdims=True)),
                   (half_gap - (share0 * half_gap).sum(axis=-1, keepdims=True))),
    }
    # Derivatives through the rates: a one-sided stratum's rate stands for both sides.
    rate_weight = {
        "composition": (np.where(one_sided, 2.0, 1.0) * (share1 - share0) / 2,
                        np.where(one_sided, 2.0, 1.0) * (share1 - share0) / 2),
        "within": (np.where(one_sided, 0.0, 1.0) * (share1 + share0) / 2,
                   -np.where(one_sided, 0.0, 1.0) * (share1 + share0) / 2),
    }
    sides = ((parts["a"], parts["n1"], parts["total1"], rate1),
             (parts["b"], parts["n0"], parts["total0"], rate0))
    variances = []
    for part in ("composition", "within"):
        variance = 0.0
        for (hits, people, total, rate), shift, weight in zip(
                sides, mix[part], rate_weight[part], strict=True):
            through_mix = _divide(shift, total, fill=0.0)
            per_person = _divide(weight, people, fill=0.0)
            event = through_mix + per_person * (1 - rate)
            non_event = through_mix - per_person * rate
            variance = variance + (event**2 * hits + non_event**2 * (people - hits)).sum(axis=-1)
        variances.append(np.where(parts["defined"], variance, np.nan))
    return variances[0], variances[1]
