"""Ordered decisions with more than two outcomes, such as red, amber and green streaming.

A three-way decision is not one binary flag. It is audited as such: the share of each group
in each level, with Wilson intervals, and one binary audit per cut-off ("at least amber",
"red"), each with every rate, gap and interval of :func:`audit.audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.engine import DEFAULT_MIN_COUNT, DEFAULT_SUPPRESS_BELOW, audit
from audit.errors import AuditInputError
from audit.intervals import DEFAULT_CONFIDENCE, wilson_interval
from audit.result import AuditResult
from audit.validation import check_columns, group_codes


@dataclass
class LevelsResult:
    """What an audit of an ordered decision found.

    Attributes
    ----------
    shares : DataFrame
        One row per (grouping, group, level): ``n``, ``count``, ``share`` and its Wilson
        interval ``ci_low``, ``ci_high``, and ``flags`` (``small_n``, ``suppressed`` by the
        group's size, as in :func:`audit.audit`).
    cutoffs : dict of str to AuditResult
        ``"at least amber"`` for every level strictly between the lowest and the highest,
        and the highest level by its name (``"red"``), each a binary audit of "decision at
        or above the cut-off".
    """

    shares: pd.DataFrame
    cutoffs: dict[str, AuditResult]


def audit_levels(
    frame: pd.DataFrame,
    groups: str | Sequence[str],
    y_true: str,
    decision: str,
    levels: Sequence[str],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    **audit_options: object,
) -> LevelsResult:
    """Audit an ordered decision: shares per level and a binary audit per cut-off.

    Parameters
    ----------
    frame : DataFrame
        One row per person.
    groups : str or sequence of str
        Grouping columns (each alone, as in :func:`audit.audit` without intersections).
    y_true : str
        Binary true outcome, for the cut-offs' error rates.
    decision : str
        Column holding one of ``levels`` per row.
    levels : sequence of str
        The levels from least to most severe, e.g. ``["green", "amber", "red"]``.
    confidence : float
        Nominal coverage of every interval.
    **audit_options
        Passed to :func:`audit.audit` for each cut-off (reference, n_boot, ...).

    Returns
    -------
    LevelsResult
    """
    groups = [groups] if isinstance(groups, str) else list(groups)
    levels = [str(level) for level in levels]
    min_count = int(audit_options.get("min_count", DEFAULT_MIN_COUNT))  # type: ignore[arg-type]
    suppress_below = int(audit_options.get("suppress_below",  # type: ignore[arg-type]
                                           DEFAULT_SUPPRESS_BELOW))
    if len(levels) < 2 or len(set(levels)) != len(levels):
        raise AuditInputError(f"levels: give two or more distinct levels, got {levels}")
    check_columns(frame, [*groups, y_true, decision],
                  {**{g: "groups" for g in groups}, y_true: "y_true", decision: "decision"})
    rank = pd.Index(levels).get_indexer(frame[decision].astype(str))
    if (rank < 0).any():
        unknown = sorted(set(frame[decision].astype(str)[rank < 0]))[:5]
        raise AuditInputError(
            f"column {decision!r} holds {unknown}, which are not among levels {levels}")
    shares = []
    for column in groups:
        codes, labels = group_codes(frame[column], column)
        counts = np.bincount(codes * len(levels) + rank,
                             minlength=len(labels) * len(levels)).reshape(len(labels), -1)
        n = counts.sum(axis=1, keepdims=True)
        low, high = wilson_interval(counts, n, confidence)
        sizes = np.repeat(n[:, 0], len(levels))
        shares.append(pd.DataFrame({
            "grouping": column, "group": np.repeat(labels, len(levels)),
            "level": np.tile(levels, len(labels)), "n": sizes,
            "count": counts.ravel(), "share": (counts / np.maximum(n, 1)).ravel(),
            "ci_low": low.ravel(), "ci_high": high.ravel(),
            "flags": np.where(sizes < suppress_below, "small_n;suppressed",
                              np.where(sizes < min_count, "small_n", "")),
        }))
    top = len(levels) - 1
    cut_columns = {f"at least {levels[i]}": rank >= i for i in range(1, top)}
    cut_columns[levels[top]] = rank == top
    data = frame[[*groups, y_true]].copy()
    cutoffs = {}
    for name, selected in cut_columns.items():
        data["_selected"] = selected
        cutoffs[name] = audit(data, groups, y_true, "_selected", intersections=False,
                              confidence=confidence, **audit_options)
    return LevelsResult(pd.concat(shares, ignore_index=True), cutoffs)
