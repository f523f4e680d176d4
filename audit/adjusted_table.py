"""The adjusted table of an audit: one row per (group, rate) of a grouping, compared with the
grouping's reference within strata, with the strata left out and flags said in every row.

The estimators are :mod:`audit.adjusted`'s; this module turns a count array over (group,
stratum, true label, decision) into the rows of :data:`audit.result.ADJUSTED_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.adjusted import HETEROGENEITY_ALPHA, stratified_gap
from audit.metrics import RATE_NAMES, rate_parts
from audit.result import ADJUSTED_COLUMNS, ADJUSTED_COUNT_COLUMNS

#: Joins the names of the strata a comparison leaves out.
LEFT_OUT_SEPARATOR = "; "
#: Intervals whose zero width would claim certainty: blanked and flagged ``no_interval``.
_INTERVALS = (("adjusted_ratio_ci_low", "adjusted_ratio_ci_high"),
              ("adjusted_diff_ci_low", "adjusted_diff_ci_high"),
              ("standardised_ci_low", "standardised_ci_high"),
              ("composition_ci_low", "composition_ci_high"),
              ("within_ci_low", "within_ci_high"))


def _join_flags(parts: Sequence[np.ndarray]) -> np.ndarray:
    stacked = np.stack(parts, axis=-1).reshape(-1, len(parts))
    return np.array([";".join(p for p in row if p) for row in stacked], dtype=object)


def adjusted_rows(
    counts: np.ndarray,
    group_labels: Sequence[str],
    stratum_labels: Sequence[str],
    *,
    grouping: str,
    reference: str,
    view: str,
    adjust_for: str,
    confidence: float,
    min_count: int,
    suppress_below: int,
    design_effects: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every group of one grouping against its reference, for every rate, within strata.

    Parameters
    ----------
    counts : ndarray of int, shape ``(n_groups, n_strata, 2, 2)``
        Counts per group, stratum, true label and decision; groups and strata nobody
        belongs to are dropped here, as the plain audit drops empty groups.
    group_labels, stratum_labels : sequence of str
        Labels along the first two axes.
    grouping, reference, view, adjust_for : str
        The grouping's name, its reference group, and the labels of the view and of the
        stratifying columns written in every row.
    confidence, min_count, suppress_below
        As for :func:`audit.audit`.
    design_effects : ndarray, shape ``(n_groups, n_rates)``, optional
        The plain audit's design effects per group and rate (clustered rows). A comparison
        uses the larger of its group's and its reference's, a conservative choice: Wald
        variances are multiplied by it (see :func:`audit.adjusted.stratified_gap`).

    Returns
    -------
    DataFrame
        Columns :data:`audit.result.ADJUSTED_COLUMNS`, one row per (group, rate), the
        reference left out; groups in label order, rates in :data:`audit.metrics.RATE_NAMES`
        order.
    """
    sizes = counts.sum(axis=(1, 2, 3))
    present = np.flatnonzero(sizes)
    occupied = np.flatnonzero(counts.sum(axis=(0, 2, 3)))
    counts = counts[present][:, occupied]
    sizes = sizes[present]
    labels = [group_labels[i] for i in present]
    strata = np.array([stratum_labels[i] for i in occupied], dtype=object)
    ref = labels.index(reference)
    n_groups, n_rates = len(labels), len(RATE_NAMES)

    numerator, denominator = rate_parts(counts)  # (group, stratum, rate)
    events, totals = np.moveaxis(numerator, 1, -1), np.moveaxis(denominator, 1, -1)
    deff = (np.ones((n_groups, n_rates)) if design_effects is None
            else np.asarray(design_effects, dtype=np.float64)[present])
    pair_deff = np.maximum(deff, deff[ref])
    gap = stratified_gap(events, totals, events[ref], totals[ref], confidence, pair_deff)

    common = (totals > 0) & (totals[ref] > 0)
    left_out = (~common).sum(axis=-1)
    n_group = totals.sum(axis=-1)
    n_reference = np.broadcast_to(totals[ref].sum(axis=-1), n_group.shape)
    no_common = gap.strata_used == 0
    composition = np.where(no_common, np.nan, gap.composition)
    within = np.where(no_common, np.nan, gap.within)
    one_sided = np.where(no_common, np.nan, gap.one_sided)
    crude_diff = gap.crude_diff
    share = np.divide(composition, crude_diff, out=np.full(composition.shape, np.nan),
                      where=(crude_diff != 0) & ~np.isnan(crude_diff))
    comp_low, comp_high, within_low, within_high = (
        np.where(no_common, np.nan, x) for x in (gap.composition_low, gap.composition_high,
                                                 gap.within_low, gap.within_high))
    names = np.empty((n_groups, n_rates), dtype=object)
    for g in range(n_groups):
        for m in range(n_rates):
            names[g, m] = LEFT_OUT_SEPARATOR.join(strata[~common[g, m]])

    group_size = sizes[:, None] * np.ones((1, n_rates))
    with np.errstate(invalid="ignore"):
        heterogeneous = gap.homogeneity_p < HETEROGENEITY_ALPHA
    flags = [
        np.where(n_group == 0, "undefined", ""),
        np.where(n_reference == 0, "reference_undefined", ""),
        np.where((group_size < min_count) | ((n_group > 0) & (n_group < min_count)),
                 "small_n", ""),
        np.where((group_size < suppress_below) | ((n_group > 0) & (n_group < suppress_below)),
                 "suppressed", ""),
        np.where(no_common & (n_group > 0) & (n_reference > 0), "no_common_stratum", ""),
        np.where(np.isnan(gap.ratio) & ~np.isnan(gap.diff), "ratio_undefined", ""),
        np.where(np.isinf(gap.ratio_high), "unbounded", ""),
        np.where(heterogeneous, "heterogeneous", ""),
        np.where(~np.isnan(composition) & np.isnan(share), "share_undefined", ""),
    ]
    columns = {
        "grouping": grouping, "group": np.repeat(labels, n_rates),
        "reference": reference, "metric": np.tile(RATE_NAMES, n_groups), "view": view,
        "adjust_for": adjust_for, "strata_used": gap.strata_used, "strata_left_out": left_out,
        "n_group": n_group, "n_reference": n_reference, "group_rate": gap.group_rate,
        "reference_rate": gap.reference_rate, "crude_ratio": gap.crude_ratio,
        "adjusted_ratio": gap.ratio, "adjusted_ratio_ci_low": gap.ratio_low,
        "adjusted_ratio_ci_high": gap.ratio_high, "adjusted_odds_ratio": gap.odds_ratio,
        "crude_diff": crude_diff, "adjusted_diff": gap.diff,
        "adjusted_diff_ci_low": gap.diff_low, "adjusted_diff_ci_high": gap.diff_high,
        "standardised_rate": gap.standardised, "standardised_ci_low": gap.standardised_low,
        "standardised_ci_high": gap.standardised_high, "composition_part": composition,
        "composition_ci_low": comp_low, "composition_ci_high": comp_high,
        "within_part": within, "within_ci_low": within_low, "within_ci_high": within_high,
        "one_sided_part": one_sided, "composition_share": share,
        "homogeneity_p": gap.homogeneity_p, "design_effect": pair_deff,
        "strata_left_out_names": names, "flags": _join_flags(flags).reshape(n_groups, n_rates),
    }
    keep = np.repeat(np.arange(n_groups) != ref, n_rates)
    frame = pd.DataFrame({
        name: (np.full(n_groups * n_rates, value, dtype=object) if isinstance(value, str)
               else np.asarray(value).reshape(-1))[keep]
        for name, value in columns.items()})
    frame = frame.astype({c: np.int64 for c in ADJUSTED_COUNT_COLUMNS})
    return _flag_frozen_intervals(frame)[list(ADJUSTED_COLUMNS)].reset_index(drop=True)


def _flag_frozen_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank intervals of zero width (they would claim certainty) and flag ``no_interval``."""
    frozen = np.zeros(len(frame), dtype=bool)
    for low_name, high_name in _INTERVALS:
        low = frame[low_name].to_numpy(dtype=np.float64, copy=True)
        high = frame[high_name].to_numpy(dtype=np.float64, copy=True)
        stuck = ~np.isnan(low) & (low == high)
        frozen |= stuck
        low[stuck] = high[stuck] = np.nan
        frame[low_name], frame[high_name] = low, high
    flags = frame["flags"].to_numpy(dtype=object, copy=True)
    flags[frozen] = [f"{f};no_interval" if f else "no_interval" for f in flags[frozen]]
    frame["flags"] = flags
    return frame
