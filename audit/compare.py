"""Paired comparisons: the same people under two decisions, group by group.

Before and after a change to a system, with and without a bias mechanism, two thresholds: the
people are the same, so a rate's change rests on the people whose decision changed (the
discordant pairs), and its interval must use the pairing. Treating the two decision sets as
independent samples would make every interval too wide, or, with few changes, meaningless.

Everything comes from counts per (group, true label, decision a, decision b): one
``bincount`` over the rows.

>>> from audit import compare                                                  # doctest: +SKIP
>>> change = compare(frame, "nationality", "y", "before", "after")
>>> change.table.query("metric == 'fpr'")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from audit.counts import count_cells
from audit.disclosure import COMPLEMENTARY, add_flags, protect_margin
from audit.engine import DEFAULT_SUPPRESS_BELOW
from audit.errors import AuditInputError
from audit.intervals import (
    DEFAULT_CONFIDENCE,
    mover_difference,
    paired_difference_interval,
)
from audit.metrics import RATES
from audit.significance import holm
from audit.tables import withhold_suppressed
from audit.validation import binary_indicator, check_columns, group_codes, missing_mask

#: Rates whose denominator does not depend on the decision, so that both decision sets are
#: judged on the same people: their change is a paired difference.
PAIRED_RATES: tuple[str, ...] = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "accuracy")

COMPARISON_COLUMNS: tuple[str, ...] = (
    "grouping", "group", "metric", "n", "value_a", "value_b", "change", "change_ci_low",
    "change_ci_high", "only_a", "only_b", "p_value", "p_holm", "reference",
    "disparity_a", "disparity_b", "disparity_change", "disparity_change_ci_low",
    "disparity_change_ci_high", "flags",
)


@dataclass
class Comparison:
    """The change from decision a to decision b, per group and rate.

    Attributes
    ----------
    table : DataFrame
        One row per (grouping, group, metric) with :data:`COMPARISON_COLUMNS`: each decision
        set's rate, the change ``b - a`` with Newcombe's paired score interval, the people
        selected only under a and only under b, McNemar's exact p-value (Holm-adjusted over
        every group's change), and the change in the gap to the reference group with its interval.
    settings : dict
        The columns compared, the confidence and the reference per grouping.
    """

    table: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Shown as written: suppressed groups and their complements blank.
        focus = withhold_suppressed(self.table[self.table["metric"] == "fpr"])
        return (f"Comparison({self.settings.get('decision_a')!r} -> "
                f"{self.settings.get('decision_b')!r}, {len(self.table)} rows)\n"
                + focus[["grouping", "group", "value_a", "value_b", "change",
                         "change_ci_low", "change_ci_high"]].head(20).to_string(index=False))


def compare(
    frame: pd.DataFrame,
    groups: str | Sequence[str],
    y_true: str,
    decision_a: str,
    decision_b: str,
    reference: Mapping[str, str] | None = None,
    *,
    positive_label: object | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    metrics: Sequence[str] = PAIRED_RATES,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
) -> Comparison:
    """Compare two decisions on the same people, group by group.

    Parameters
    ----------
    frame : DataFrame
        One row per person.
    groups : str or sequence of str
        Grouping columns, each audited alone.
    y_true : str
        Binary column with the outcome both decisions claim to predict.
    decision_a, decision_b : str
        Binary columns: the decision before and after (or without and with) a change.
    reference : mapping, optional
        Reference group per grouping column; default the largest group.
    positive_label : object, optional
        The value counting as positive, when the columns are not boolean or 0/1.
    confidence : float
        Nominal coverage of every interval.
    metrics : sequence of str
        Rates to compare, among :data:`PAIRED_RATES`.
    suppress_below : int
        Groups of fewer people (and rates over fewer people) are flagged ``suppressed``, and
        further groups ``suppressed;complementary`` so that no subtraction recovers them
        (:mod:`audit.disclosure`); every table writer of the project
        (:func:`audit.tables.withhold_suppressed`) leaves their figures blank.

    Returns
    -------
    Comparison

    Raises
    ------
    AuditInputError
        For a missing column, missing values, a non-binary column or an unknown metric.
    """
    groups = [groups] if isinstance(groups, str) else list(groups)
    if not groups:
        raise AuditInputError("groups: give at least one group column")
    unknown = [m for m in metrics if m not in PAIRED_RATES]
    if unknown:
        raise AuditInputError(
            f"metrics: {unknown[0]!r} cannot be compared pairwise (its denominator depends on "
            f"the decision); choose from {', '.join(PAIRED_RATES)}")
    if not 0 < confidence < 1:
        raise AuditInputError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    used = [*groups, y_true, decision_a, decision_b]
    check_columns(frame, used, {**{g: "groups" for g in groups}, y_true: "y_true",
                                decision_a: "decision_a", decision_b: "decision_b"})
    if missing_mask(frame, used).any():
        raise AuditInputError(f"missing values in {used}; drop those rows before comparing")
    truth = binary_indicator(frame[y_true], y_true, "y_true", positive_label)
    a = binary_indicator(frame[decision_a], decision_a, "decision_a", positive_label)
    b = binary_indicator(frame[decision_b], decision_b, "decision_b", positive_label)
    # (true label, decision a) and decision b as one code: counts per (group, t, a, b).
    pair = truth.astype(np.int64) * 2 + a
    tables = []
    references = dict(reference or {})
    for column in groups:
        codes, labels = group_codes(frame[column], column)
        counts = count_cells(codes.astype(np.int64) * 4 + pair, np.zeros(len(pair), bool), b,
                             len(labels) * 4).reshape(len(labels), 2, 2, 2, 2)[..., 0, :]
        tables.append(_compare_grouping(column, labels, counts, references.get(column),
                                        confidence, list(metrics), suppress_below))
    return Comparison(
        table=pd.concat(tables, ignore_index=True)[list(COMPARISON_COLUMNS)],
        settings={"y_true": y_true, "decision_a": decision_a, "decision_b": decision_b,
                  "confidence": confidence, "groupings": groups, "reference": references},
    )


def _compare_grouping(name: str, labels: list[str], counts: np.ndarray, wanted: str | None,
                      confidence: float, metrics: list[str],
                      suppress_below: int = DEFAULT_SUPPRESS_BELOW) -> pd.DataFrame:
    """Rows for one grouping; ``counts[group, true label, decision a, decision b]``."""
    sizes = counts.sum(axis=(1, 2, 3))
    if wanted is not None and wanted not in labels:
        raise AuditInputError(
            f"reference group {wanted!r} does not occur in {name!r}; its groups are: "
            + ", ".join(repr(label) for label in labels[:30]))
    ref = labels.index(wanted) if wanted is not None else int(np.argmax(sizes))
    rows = []
    for metric in metrics:
        # Which people the rate is over (its denominator's true labels) and, for each true
        # label, which decision it counts: every paired rate is a share of people with given
        # true labels whose decision is the counted one (positive for a selection or a false
        # positive, negative for a miss; accuracy counts each label's own).
        spec = RATES[metric]
        labels_in = sorted({t for t, _ in spec.denominator})
        over = np.zeros_like(counts[:, 0])  # (group, a, b): a and b "counted" or not
        for label in labels_in:
            part = counts[:, label]
            over = over + (part if (label, 1) in spec.numerator else part[:, ::-1, ::-1])
        both, only_a, only_b, neither = (over[:, 1, 1], over[:, 1, 0], over[:, 0, 1],
                                         over[:, 0, 0])
        n = over.sum(axis=(1, 2)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            value_a, value_b = (both + only_a) / n, (both + only_b) / n
        change = value_b - value_a
        low, high = paired_difference_interval(both, only_a, only_b, neither, confidence)
        discordant = only_a + only_b
        p_value = np.where(discordant > 0,
                           stats.binom.cdf(np.minimum(only_a, only_b), discordant, 0.5) * 2,
                           1.0)
        p_value = np.where(n > 0, np.minimum(p_value, 1.0), np.nan)
        disparity_a, disparity_b = value_a - value_a[ref], value_b - value_b[ref]
        # The groups are independent of each other, so the change in a group's gap to the
        # reference combines the two paired changes' intervals (MOVER).
        d_low, d_high = mover_difference(change, change[ref], (low, high),
                                         (low[ref], high[ref]))
        d_low[ref] = d_high[ref] = np.nan
        flags = np.where(n == 0, "undefined", np.where(discordant == 0, "no_change", ""))
        flags = np.array([f if i != ref else ";".join(filter(None, [f, "reference"]))
                          for i, f in enumerate(flags)], dtype=object)
        rows.append(pd.DataFrame({
            "grouping": name, "group": labels, "metric": metric, "n": n,
            "value_a": value_a, "value_b": value_b, "change": change,
            "change_ci_low": low, "change_ci_high": high,
            "only_a": only_a.astype(np.int64), "only_b": only_b.astype(np.int64),
            "p_value": p_value, "p_holm": holm(p_value), "reference": labels[ref],
            "disparity_a": disparity_a, "disparity_b": disparity_b,
            "disparity_change": disparity_b - disparity_a,
            "disparity_change_ci_low": d_low, "disparity_change_ci_high": d_high,
            "flags": flags,
        }))
    table = pd.concat(rows, ignore_index=True)
    # Small groups and their complements (audit.disclosure): a group's counts under one
    # metric, or the others' against a total, must not give a small one back.
    per_metric = np.stack([frame["n"].to_numpy() for frame in rows], axis=1)
    primary_size = (sizes > 0) & (sizes < suppress_below)
    primary = (per_metric > 0) & (per_metric < suppress_below)
    withheld = _protect_paired(sizes, per_metric, primary_size, primary, metrics,
                               suppress_below, ref)
    flat = withheld.T.ravel()  # rows are metric by metric, groups within each
    if flat.any():
        first = (primary | primary_size[:, None]).T.ravel()
        extra = [("suppressed",) if first[i] else ("suppressed", COMPLEMENTARY)
                 for i in np.flatnonzero(flat)]
        table.loc[flat, "flags"] = [add_flags(f, *e) for f, e in
                                    zip(table.loc[flat, "flags"], extra, strict=True)]
    return table


def _protect_paired(sizes: np.ndarray, per_metric: np.ndarray, size_withheld: np.ndarray,
                    withheld: np.ndarray, metrics: list[str], suppress_below: int,
                    ref: int) -> np.ndarray:
    """Which (group, metric) figures of a paired comparison are withheld.

    A metric over the people of some true outcome gives back any other metric over the same
    people, so within a group a withheld metric withholds every metric whose people include
    some of its own; across groups, each metric's withheld groups are protected as a margin
    (:func:`audit.disclosure.protect_margin`). A withheld size withholds the whole group.
    """
    outcomes = [{t for t, _ in RATES[m].denominator} for m in metrics]
    size_out, _, _ = protect_margin(sizes, size_withheld, size_withheld, suppress_below, ref)
    out = withheld | size_out[:, None]
    changed = True
    while changed:
        changed = False
        for g in range(len(sizes)):
            hidden = set().union(*[outcomes[k] for k in np.flatnonzero(out[g])]) if out[g].any() \
                else set()
            grow = np.array([bool(outcomes[k] & hidden) for k in range(len(metrics))])
            if (grow & ~out[g]).any():
                out[g] |= grow
                changed = True
        for k in range(len(metrics)):
            _, column, _ = protect_margin(per_metric[:, k], np.zeros(len(sizes), dtype=bool),
                                          out[:, k], suppress_below, ref)
            if (column != out[:, k]).any():
                out[:, k] = column
                changed = True
    return out
