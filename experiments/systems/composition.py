"""Composition or mechanism: each focus comparison adjusted for the strata it declares, and
the sentence that reports it.

A focus comparison (``[[audit.focus]]``) names ``adjust_for``: the columns whose mix differs
between its two groups and which the system reads (region for a speech comparison, visa type
or language where a profile makes them differ by origin). This module asks the instrument
(:func:`audit.audit_adjusted`, the ``adjusted`` table of :func:`audit.audit` alone) for the
crude and the adjusted comparison of each, by the true and by the recorded outcome, and
gathers them into the run's ``adjusted.csv``;
:func:`composition_sentence` states one row of it for a reader: crude beside adjusted, and how
much of the gap is who is in each group. The runner and the adapters whose own headlines quote
a focus comparison both use it, so a headline and adjusted.csv always agree.
"""

from __future__ import annotations

import math

import pandas as pd

from audit import audit_adjusted
from audit.result import ADJUSTED_COLUMNS
from experiments.config import ExperimentConfig
from experiments.writing.claims import Claim, Ledger, from_row, setting

#: The run's views: which outcome column each audits (as in the runner).
VIEWS = {"true": "y_true", "recorded": "y_recorded"}
#: Columns of adjusted.csv: the focus comparison's label, then the instrument's columns.
COLUMNS = ["label", *ADJUSTED_COLUMNS]


def focus_adjusted(config: ExperimentConfig, decisions: pd.DataFrame,
                   cluster: str | None = None) -> pd.DataFrame:
    """Crude and stratum-adjusted comparisons of every focus comparison that adjusts.

    Parameters
    ----------
    config : ExperimentConfig
        The experiment; its ``audit.focus`` entries with ``adjust_for`` are computed.
    decisions : DataFrame
        The run's decisions table (grouping and ``adjust_for`` columns, ``y_true``,
        ``y_recorded``, ``decision``).
    cluster : str, optional
        The decisions' cluster column, as the run's audits use it.

    Returns
    -------
    DataFrame
        One row per (focus comparison, view, metric), columns :data:`COLUMNS`; no rows when
        no focus comparison adjusts.
    """
    settings = config.audit
    parts = []
    for focus in settings.focus:
        if not focus.adjust_for:
            continue
        reference = focus.reference or settings.reference.get(focus.grouping, "")
        for view, outcome in VIEWS.items():
            # The adjusted comparisons alone: the plain audit's bootstrap and checks, which
            # they do not read, are the run's own audits' to do.
            rows = audit_adjusted(
                decisions, [[focus.grouping]], outcome, "decision",
                list(focus.adjust_for),
                reference={focus.grouping: reference} if reference else None,
                intersections=False, confidence=settings.confidence,
                min_count=settings.min_count, suppress_below=settings.suppress_below,
                cluster=cluster, adjust_view=view,
            )
            rows = rows[(rows["group"].astype(str) == focus.group)
                        & rows["metric"].isin(focus.metrics)]
            parts.append(rows.assign(label=focus.label or f"{focus.group} ({focus.grouping})"))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(parts, ignore_index=True)[COLUMNS]
    # People are counted in whole numbers; the instrument's table carries them as floats.
    for column in ("n_group", "n_reference"):
        table[column] = table[column].round().astype("Int64")
    return table


#: How a stratum column reads in a sentence ("within region of origin").
STRATUM_WORDS = {
    "region_of_origin": "region of origin",
    "visa_type": "visa type",
    "first_language": "first language",
    "posted_palestine_solidarity": "whether they posted in support of Palestinian rights",
    "skin_tone": "skin tone band",
    "accent_group": "accent",
    "interpreter": "whether they were interviewed through an interpreter",
}


def strata_words(adjust_for: str) -> str:
    """The strata of an ``adjust_for`` entry (``"region_of_origin × visa_type"``) in words."""
    return " and ".join(STRATUM_WORDS.get(c, c.replace("_", " "))
                        for c in str(adjust_for).split(" × "))


def _flags(row: pd.Series) -> set[str]:
    return {f for f in str(row.get("flags", "") or "").split(";") if f}


#: Key columns of an adjusted.csv row.
ADJUSTED_KEYS = ("label", "view", "metric")


def composition_sentence(row: pd.Series, ledger: Ledger | None = None,
                         confidence: float = 0.95) -> str:
    """One adjusted comparison, for a reader: the adjusted ratio and gap beside the crude
    ones, and the share of the crude gap that is composition (who is in each group).

    Says "the data cannot tell" where no stratum holds both groups or an estimate is
    undefined, and names the strata the comparison left out. Every number is printed from a
    claim on the row's line of adjusted.csv, recorded in ``ledger``; ``confidence`` is the
    level of the run's intervals.
    """
    ledger = ledger if ledger is not None else Ledger()
    words = strata_words(row["adjust_for"])
    flags = _flags(row)
    if "suppressed" in flags:
        return ""
    if "no_common_stratum" in flags or int(row["strata_used"]) == 0:
        return (f"Within strata of {words}, the data cannot tell composition from mechanism: "
                "no stratum holds both groups, so who is in each group and how the system "
                "treats them cannot be separated.")

    def claim(id: str, value: str, ci: tuple[str, str] | None, style: str, unit: str,
              kind: str = "adjusted") -> Claim:
        return ledger.add(from_row(f"adjusted.{id}", row, source="adjusted.csv",
                                   keys=ADJUSTED_KEYS, value=value, ci=ci, n=None,
                                   style=style, unit=unit, interval_kind=kind))

    level = ledger.add(setting("adjusted.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    used = claim("strata_used", "strata_used", None, "count", "strata")
    claims = [level, used]
    ratio = claim("ratio", "adjusted_ratio", ("adjusted_ratio_ci_low",
                                              "adjusted_ratio_ci_high"), "ratio", "ratio")
    crude_ratio = claim("crude_ratio", "crude_ratio", None, "ratio", "ratio", "none")
    gap = claim("difference", "adjusted_diff", ("adjusted_diff_ci_low",
                                                "adjusted_diff_ci_high"),
                "signed_points", "percentage points")
    crude_gap = claim("crude_difference", "crude_diff", None, "signed_points",
                      "percentage points", "none")
    claims += [ratio, crude_ratio, gap, crude_gap]
    left_out = int(row["strata_left_out"])
    strata = f"{used.text()} strata held both groups"
    if left_out:
        dropped = claim("strata_left_out", "strata_left_out", None, "count", "strata")
        claims.append(dropped)
        strata += f", {dropped.text()} left out"
    if not ratio.has_interval and not math.isfinite(ratio.value):
        adjusted = "the adjusted ratio is undefined (no events in the reference's strata)"
    else:
        adjusted = f"the adjusted ratio is {ratio.text()} ({level.text()} CI {ratio.interval()})"
    crude = (f"against the crude {crude_ratio.text()}"
             if math.isfinite(row["crude_ratio"]) else "where the crude ratio is undefined")
    sentence = (f"Within strata of {words} ({strata}, Mantel-Haenszel), {adjusted}, {crude}; "
                f"the gap is {gap.text()} points ({gap.interval(' to ')}) against the crude "
                f"{crude_gap.text()}.")
    low, high = ratio.ci_low, ratio.ci_high
    share = row["composition_share"]
    if math.isfinite(share):
        part = claim("composition_part", "composition_part", ("composition_ci_low",
                                                              "composition_ci_high"),
                     "signed_points", "percentage points")
        # A share that rounds to nothing is printed as 0%, never as -0%.
        fraction = claim("composition_share", "composition_share", None, "percent0", "share",
                         "none")
        if abs(share) < 0.005:
            fraction.value = 0.0
        claims += [part, fraction]
        sentence += (f" Who is in each group (their mix of {words}) accounts for "
                     f"{part.text()} points of the crude gap ({part.interval(' to ')}), "
                     f"{fraction.text()} of it (Kitagawa).")
    crude_outside = (math.isfinite(row["crude_ratio"]) and math.isfinite(low)
                     and math.isfinite(high) and not low <= row["crude_ratio"] <= high)
    reversed_within = row["adjusted_diff"] * row["crude_diff"] < 0
    if crude_outside and math.isfinite(share) and share > 1 and reversed_within:
        sentence += (f" The whole crude gap is composition: within strata of {words} the gap "
                     "points the other way.")
    elif crude_outside and math.isfinite(share) and share > 0.5:
        sentence += (f" Most of the crude gap is composition, not how the system treats people "
                     f"of the same {words}.")
    elif crude_outside:
        sentence += " Part of the crude gap is composition; the adjusted interval excludes it."
    if math.isfinite(low) and math.isfinite(high) and low <= 1 <= high:
        sentence += f" Within strata of {words}, the data cannot tell the two groups apart."
    if "heterogeneous" in flags:
        homogeneity = claim("homogeneity_p", "homogeneity_p", None, "p", "p-value", "none")
        claims.append(homogeneity)
        sentence += (f" The gap differs between strata (homogeneity p = "
                     f"{homogeneity.text()}), so one adjusted figure summarises unlike "
                     "strata.")
    return ledger.sentence(sentence, claims)


def focus_row(adjusted: pd.DataFrame, focus: object, metric: str = "fpr",
              view: str = "true") -> pd.Series | None:
    """The adjusted.csv row of one focus comparison, metric and view, or None."""
    if adjusted is None or adjusted.empty:
        return None
    rows = adjusted[(adjusted["grouping"] == focus.grouping)
                    & (adjusted["group"].astype(str) == focus.group)
                    & (adjusted["metric"] == metric) & (adjusted["view"] == view)]
    return rows.iloc[0] if len(rows) else None
