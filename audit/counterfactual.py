"""Counterfactual flip rates: how often a decision changes between a person and their twin.

Given each person's decision and their twin's decision, the flip rate of a group is the share
of its members whose decision differs. What the twin changed decides what the rate measures:
a twin with another nationality and everything that follows from it regenerated measures a
total effect; a twin in which only the attribute and the proxies a system sees change, the rest
held at the person's own values, measures a direct effect. The instrument counts flips either
way; the caller names the effect. A system that does not depend on the attribute, directly or
through proxies, has a direct flip rate of zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.errors import AuditInputError
from audit.intervals import DEFAULT_CONFIDENCE, wilson_interval
from audit.validation import check_columns, group_codes

FLIP_COLUMNS = (
    "grouping", "group", "n", "flips", "flip_rate", "ci_low", "ci_high",
    "flips_to_selected", "flips_to_not_selected", "flags",
)


def flip_rates(
    frame: pd.DataFrame,
    groups: Sequence[str],
    decision: str,
    counterfactual_decision: str,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    suppress_below: int = 10,
    min_count: int = 30,
) -> pd.DataFrame:
    """Share of each group whose decision flips between the factual and counterfactual world.

    Parameters
    ----------
    frame : DataFrame
        One row per person with both decisions.
    groups : sequence of str
        Grouping columns, each audited alone (the factual values, not the twin's).
    decision, counterfactual_decision : str
        Boolean columns: the decision for the person and for their twin.
    confidence : float
        Level of the Wilson intervals.
    suppress_below, min_count : int
        Groups smaller than these are flagged ``suppressed`` and ``small_n``.

    Returns
    -------
    DataFrame
        One row per (grouping, group) plus one ``(all)`` row per grouping, with the flip rate,
        its Wilson interval and how many flips went each way.
    """
    check_columns(frame, [*groups, decision, counterfactual_decision],
                  {decision: "decision", counterfactual_decision: "counterfactual decision"})
    factual = frame[decision].to_numpy(dtype=bool)
    twin = frame[counterfactual_decision].to_numpy(dtype=bool)
    if len(factual) == 0:
        raise AuditInputError("no rows to compare; nothing to measure flips on")
    to_selected = ~factual & twin
    to_not_selected = factual & ~twin
    parts = []
    for column in groups:
        codes, labels = group_codes(frame[column], column)
        if (codes < 0).any():
            raise AuditInputError(f"group column {column!r} has missing values")
        k = len(labels)
        n = np.bincount(codes, minlength=k)
        up = np.bincount(codes, weights=to_selected, minlength=k).astype(np.int64)
        down = np.bincount(codes, weights=to_not_selected, minlength=k).astype(np.int64)
        keep = n > 0
        labels = [label for label, kept in zip(labels, keep, strict=True) if kept]
        n, up, down = n[keep], up[keep], down[keep]
        labels.append("(all)")
        n, up, down = (np.append(a, a.sum()) for a in (n, up, down))
        flips = up + down
        low, high = wilson_interval(flips, n, confidence)
        flags = [";".join(f for f in ("small_n" if size < min_count else "",
                                      "suppressed" if size < suppress_below else "") if f)
                 for size in n]
        parts.append(pd.DataFrame({
            "grouping": column, "group": labels, "n": n, "flips": flips,
            "flip_rate": flips / n, "ci_low": low, "ci_high": high,
            "flips_to_selected": up, "flips_to_not_selected": down, "flags": flags,
        }))
    return pd.concat(parts, ignore_index=True)[list(FLIP_COLUMNS)]
