"""Complementary suppression: no withheld group can be recovered by subtraction.

Withholding a small group is not enough when other figures are published: the grouping's
total (the ``overall`` rows) minus the published groups gives it back. The rule here is the
one statistical agencies use for a table with a margin:

1. *Primary.* A group of fewer than ``suppress_below`` people is withheld whole (its size
   and every figure); a rate over fewer than ``suppress_below`` people is withheld.
2. *Complementary groups.* The groups withheld whole must be none, or at least two that
   hold at least ``suppress_below`` people together: while they are not, the smallest
   published group (the reference last) is withheld whole too. Subtraction from the totals
   then yields only a total over several groups and at least ``suppress_below`` people,
   never one group's figures.
3. *The margin.* Where no group is left to withhold (a grouping of one group, or every other
   group already withheld), the ``overall`` row is withheld, and it is the same row in every
   grouping. An ``overall`` rate over fewer than ``suppress_below`` people is withheld.

A figure withheld by rules 2 and 3 is flagged ``suppressed`` and ``complementary``. Spreads
across groups are taken over the published groups, and no gap to a reference is published
for a rate the reference withholds.

Every grouping is then checked exactly against the others by :mod:`audit.disclosure_check`.
What neither does: a rate withheld for its few people inside a published group (the miss
rate of a group with five true positives) can be computed back from the group's other rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.metrics import RATE_NAMES
from audit.tables import has_flag

#: The flag beside ``suppressed`` on a figure withheld to protect another one.
COMPLEMENTARY = "complementary"

#: Columns that compare a group with the reference: each gives the reference's rate back.
GAP_COLUMNS = ("difference", "diff_ci_low", "diff_ci_high", "ratio", "ratio_ci_low",
               "ratio_ci_high", "sim_diff_ci_low", "sim_diff_ci_high", "sim_ratio_ci_low",
               "sim_ratio_ci_high", "detectable_difference", "detectable_ratio", "p_value",
               "p_holm", "p_bh")


def protect_margin(
    sizes: np.ndarray,
    size_withheld: np.ndarray,
    breakdown_withheld: np.ndarray,
    suppress_below: int,
    reference: int | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Withhold further groups of one margin until no withheld one can be recovered from it.

    Parameters
    ----------
    sizes : numpy.ndarray
        People in each group of the margin (or behind one figure of each group).
    size_withheld : numpy.ndarray of bool
        Groups whose size is withheld (and so their every figure).
    breakdown_withheld : numpy.ndarray of bool
        Groups whose figure is withheld (a superset of ``size_withheld`` is enforced).
    suppress_below : int
        The suppression threshold.
    reference : int, optional
        The reference group's position: withheld last, since every published gap to it
        would give its rates back.

    Returns
    -------
    size_withheld, breakdown_withheld : numpy.ndarray of bool
        The two masks after the complementary rule (new arrays).
    exhausted : bool
        True when the rule ran out of groups to withhold: the margin itself must then be
        withheld.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    size_out = np.asarray(size_withheld, dtype=bool).copy()
    breakdown_out = np.asarray(breakdown_withheld, dtype=bool) | size_out
    exhausted = False
    # Sizes: the withheld groups' total is the margin minus the visible sizes.
    while size_out.any() and (size_out.sum() == 1 or sizes[size_out].sum() < suppress_below):
        pick = _smallest(sizes, ~size_out, reference)
        if pick is None:
            exhausted = True
            break
        size_out[pick] = True
        breakdown_out[pick] = True
    # Figures: withheld ones add up to the margin's minus the visible ones.
    while breakdown_out.any() and (breakdown_out.sum() == 1
                                   or sizes[breakdown_out].sum() < suppress_below):
        pick = _smallest(sizes, ~breakdown_out & (sizes > 0), reference)
        if pick is None:
            exhausted = True
            break
        breakdown_out[pick] = True
    return size_out, breakdown_out, exhausted


def protect_groups(
    sizes: np.ndarray,
    overall_denominators: np.ndarray,
    suppress_below: int,
    reference: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rules 1 to 3 of the module on one grouping: which groups and overall rates to withhold.

    Parameters
    ----------
    sizes : numpy.ndarray, shape (n_groups,)
        People in each group.
    overall_denominators : numpy.ndarray, shape (n_rates,)
        People behind each overall rate.
    suppress_below : int
        The suppression threshold.
    reference : int, optional
        The reference group's position, withheld last.

    Returns
    -------
    size_withheld : numpy.ndarray of bool, shape (n_groups,)
        Groups withheld whole: the small ones and their complements.
    overall_primary, overall_complementary : numpy.ndarray of bool, shape (n_rates,)
        Overall rates withheld for their few people, and the others withheld because no
        group was left to protect a small one.
    """
    small = np.asarray(sizes) < suppress_below
    size_withheld, _, exhausted = protect_margin(sizes, small, small, suppress_below,
                                                 reference)
    overall_denominators = np.asarray(overall_denominators)
    overall_primary = (overall_denominators > 0) & (overall_denominators < suppress_below)
    overall_complementary = ~overall_primary if exhausted else np.zeros_like(overall_primary)
    return size_withheld, overall_primary, overall_complementary


def _smallest(sizes: np.ndarray, candidates: np.ndarray, reference: int | None) -> int | None:
    """The smallest candidate group (the first of equals), the reference only if no other."""
    candidates = np.asarray(candidates, dtype=bool)
    others = candidates.copy()
    if reference is not None:
        others[reference] = False
    pool = others if others.any() else candidates
    if not pool.any():
        return None
    positions = np.flatnonzero(pool)
    return int(positions[np.argmin(np.asarray(sizes)[positions])])


def add_flags(flags: object, *extra: str) -> str:
    """``flags`` (``;``-separated) with each of ``extra`` added once, in order."""
    parts = [f for f in str(flags or "").split(";") if f] if isinstance(flags, str) else []
    for flag in extra:
        if flag not in parts:
            parts.append(flag)
    return ";".join(parts)


def without_reference_gaps(frame: pd.DataFrame, metrics: set[str]) -> pd.DataFrame:
    """No gap to a reference that withholds a rate (its rate minus the gap would give it
    back): the gap columns of those metrics are blanked and flagged ``reference_withheld``."""
    rows = frame["metric"].isin(list(metrics)).to_numpy()
    if not rows.any():
        return frame
    frame = frame.copy()
    columns = [c for c in GAP_COLUMNS if c in frame.columns]
    frame.loc[rows, columns] = np.nan
    frame.loc[rows, "flags"] = [add_flags(f, "reference_withheld")
                                for f in frame.loc[rows, "flags"]]
    return frame


def flag_withheld(frame: pd.DataFrame, grouping: str, labels: list[str],
                  size_withheld: np.ndarray, rate_withheld: np.ndarray) -> pd.DataFrame:
    """``frame`` with the rows of ``grouping`` the masks withhold flagged ``suppressed``.

    Rows not already suppressed are flagged ``suppressed;complementary``. A withheld size
    withholds every row of its group; a withheld rate its own row.
    """
    group = frame["group"].astype(str).to_numpy(dtype=object)
    metric = frame["metric"].to_numpy(dtype=object)
    in_grouping = (frame["grouping"] == grouping).to_numpy()
    whole = {labels[i] for i in np.flatnonzero(size_withheld)}
    cells = {(labels[g], RATE_NAMES[k]) for g, k in zip(*np.nonzero(rate_withheld),
                                                          strict=True)}
    chosen = in_grouping & np.array([g in whole or (g, m) in cells
                                     for g, m in zip(group, metric, strict=True)], dtype=bool)
    return _flag_complementary(frame, chosen)


def _flag_complementary(frame: pd.DataFrame, chosen: np.ndarray) -> pd.DataFrame:
    """``frame`` with the ``chosen`` rows not yet suppressed flagged
    ``suppressed;complementary`` (a copy; the input when no row changes)."""
    flags = frame["flags"].to_numpy(dtype=object)
    chosen = chosen & ~np.array([has_flag(f, "suppressed") for f in flags], dtype=bool)
    if not chosen.any():
        return frame
    frame = frame.copy()
    frame.loc[chosen, "flags"] = [add_flags(f, "suppressed", COMPLEMENTARY)
                                  for f in flags[chosen]]
    return frame


def protect_across(summary: pd.DataFrame) -> pd.DataFrame:
    """The ``overall`` row is the same in every grouping: a rate one grouping withholds
    from it is withheld in all (rule 3 of the module).

    Parameters
    ----------
    summary : pandas.DataFrame
        The audit's summary (``grouping``, ``measure``, ``metric``, ``flags``), each grouping
        protected on its own.

    Returns
    -------
    pandas.DataFrame
        A copy with the further ``overall`` rows flagged (the input when nothing changes).
    """
    overall = (summary["measure"] == "overall").to_numpy()
    if not overall.any():
        return summary
    flags = summary["flags"].to_numpy(dtype=object)
    metric = summary["metric"].to_numpy(dtype=object)
    withheld = {m for m, f in zip(metric[overall], flags[overall], strict=True)
                if has_flag(f, "suppressed")}
    return _flag_complementary(summary, overall & np.isin(metric, list(withheld)))
