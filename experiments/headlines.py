"""Headline findings: three to five sentences a policy team could quote, each with its
interval and the number of people behind it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from audit import AuditResult
from audit.engine import grouping_name

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig
    from experiments.systems.base import SystemRun

SIGNIFICANCE = 0.05


def share(value: float) -> str:
    """A share as a percentage with sensible precision (more digits for small shares)."""
    if value is None or not math.isfinite(value):
        return "—"
    percent = 100 * value
    digits = 2 if percent < 1 else 1
    return f"{percent:.{digits}f}%"


def _has_flag(rows: pd.DataFrame, *names: str) -> pd.Series:
    """Whether each row's ``;``-joined flags include any of ``names`` (whole tokens)."""
    tokens = rows["flags"].fillna("").astype(str).str.split(";")
    return tokens.map(lambda flags: any(name in flags for name in names))


def _usable(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows a headline may quote: defined, large enough, and not the reference itself."""
    return rows[~_has_flag(rows, "small_n", "suppressed", "undefined", "reference")]


def disparity_headline(
    result: AuditResult, grouping: str, metric: str, harm: str, population_word: str
) -> tuple[str, str] | None:
    """The most significant, largest gap in ``metric`` from the reference group, in words.

    The gap is a ratio when the reference group's rate is above zero, else a difference in
    percentage points. Returns the sentence and the group it names, or None when the grouping
    is not audited.
    """
    rows = result.table[(result.table["grouping"] == grouping) & (result.table["metric"] == metric)]
    if rows.empty:
        return None
    reference = rows["reference"].iloc[0]
    reference_row = rows[rows["group"] == reference].iloc[0]
    candidates = _usable(rows)
    # A headline names a group harmed more than the reference, never one harmed less.
    significant = candidates[(candidates["p_holm"] < SIGNIFICANCE)
                             & (candidates["difference"] > 0)]
    if significant.empty:
        return (
            f"By {grouping}, no group was {harm} significantly more often than "
            f"{population_word} {reference} (Holm-adjusted p ≥ {SIGNIFICANCE} or a lower rate "
            f"for all {len(candidates)} groups compared; n = "
            f"{int(reference_row['denominator']):,} in the reference group).",
            reference,
        )
    def interval(low: float, high: float, scale: float = 1.0) -> str:
        if not (math.isfinite(low) and math.isfinite(high)):
            return "no interval, as a rate of 0% or 100% cannot vary under resampling"
        return f"95% CI {scale * low:.1f}–{scale * high:.1f}"

    if reference_row["value"] > 0:
        top = significant.loc[significant["ratio"].idxmax()]
        gap = (f"at {top['ratio']:.1f} times the rate of {population_word} {reference} "
               f"({share(top['value'])} against {share(reference_row['value'])}; ratio "
               f"{interval(top['ratio_ci_low'], top['ratio_ci_high'])}")
    else:
        top = significant.loc[significant["difference"].idxmax()]
        gap = (f"at a rate of {share(top['value'])}, against none of {population_word} "
               f"{reference} (difference {100 * top['difference']:.1f} percentage points, "
               f"{interval(top['diff_ci_low'], top['diff_ci_high'], 100)}")
    return (
        f"{population_word.capitalize()} {top['group']} were {harm} {gap}; n = "
        f"{int(top['denominator']):,} and {int(reference_row['denominator']):,}).",
        str(top["group"]),
    )


def headlines(
    config: ExperimentConfig,
    views: dict[str, AuditResult],
    flips: pd.DataFrame,
    decisions: pd.DataFrame,
    system_run: SystemRun,
) -> list[str]:
    """Three to five quotable findings of a run, in a fixed order."""
    found: list[str] = list(system_run.headlines)
    truth, recorded = views["true"], views["recorded"]
    harm = system_run.error_phrase
    named_group = None
    named_grouping = None
    for grouping in config.audit.groupings[:2]:
        if len(grouping) != 1:
            continue
        name = grouping_name(grouping)
        word = "people from" if grouping[0] in ("nationality", "region_of_origin") else (
            f"people with {name}")
        sentence = disparity_headline(truth, name, "fpr", harm, word)
        if sentence is None:
            continue
        found.append(sentence[0])
        if named_group is None:
            named_group, named_grouping = sentence[1], name
    same_views = truth.table["numerator"].equals(recorded.table["numerator"]) and \
        truth.table["denominator"].equals(recorded.table["denominator"])
    if named_group is not None and not same_views:  # no recorded world: nothing to compare
        rows = recorded.table[(recorded.table["grouping"] == named_grouping)
                              & (recorded.table["metric"] == "fpr")
                              & (recorded.table["group"] == named_group)]
        truth_rows = truth.table[(truth.table["grouping"] == named_grouping)
                                 & (truth.table["metric"] == "fpr")
                                 & (truth.table["group"] == named_group)]
        if not rows.empty and "reference" not in str(rows.iloc[0]["flags"]):
            row, truth_row = rows.iloc[0], truth_rows.iloc[0]
            reference = recorded.table[(recorded.table["grouping"] == named_grouping)
                                       & (recorded.table["metric"] == "fpr")
                                       & (recorded.table["group"] == row["reference"])].iloc[0]
            by_ratio = math.isfinite(row["ratio"]) and math.isfinite(truth_row["ratio"])
            measure, column = ("ratio", "ratio") if by_ratio else ("difference", "difference")
            low, high = ("ratio_ci_low", "ratio_ci_high") if by_ratio else (
                "diff_ci_low", "diff_ci_high")
            if not row["p_holm"] < SIGNIFICANCE:
                verdict = ("a difference it cannot tell from chance; the records that train "
                           "the system also hide its errors")
            elif row[low] <= truth_row[column] <= row[high]:
                verdict = "so the records show much the same disparity"
            elif row[column] < truth_row[column]:
                verdict = "so the records that train the system also understate its errors"
            else:
                verdict = "so the records exaggerate the disparity"

            def gap(r: pd.Series, low: str = "", high: str = "") -> str:
                scale, unit = (1, "") if by_ratio else (100, " points")
                text = f"{scale * r[column]:.2f}{unit}"
                if low and math.isfinite(r[low]) and math.isfinite(r[high]):
                    text += f" (95% CI {scale * r[low]:.2f}–{scale * r[high]:.2f}"
                elif low:
                    text += " (no interval, as a rate of 0% or 100% cannot vary under resampling"
                return text

            found.append(
                f"An audit that sees only the recorded outcomes, as a real auditor would, puts "
                f"that {measure} for {named_group} at {gap(row, low, high)}; n = "
                f"{int(row['denominator']):,} and {int(reference['denominator']):,}, counted by "
                f"the records) against {gap(truth_row)} by the true outcome, {verdict}."
            )
    overall = truth.summary[(truth.summary["grouping"] == truth.groupings[0])
                            & (truth.summary["measure"] == "overall")
                            & (truth.summary["metric"] == "fdr")]
    if not overall.empty:
        row = overall.iloc[0]
        n_selected = int(decisions["decision"].sum())
        found.append(
            f"Of the {n_selected:,} held-out {system_run.unit} {system_run.decision_label}, "
            f"{share(row['value'])} "
            f"{'were' if system_run.unit == 'people' else 'involved'} people "
            f"{system_run.negative_phrase} "
            f"(95% CI {share(row['ci_low'])}–{share(row['ci_high'])}; n = {n_selected:,})."
        )
    if not flips.empty:
        first = flips[flips["intervention"] == flips["intervention"].iloc[0]]
        attribute, value = first["intervention"].iloc[0].split("=", 1)
        everyone = first[(first["grouping"] == attribute) & (first["group"] == "(all)")]
        if everyone.empty:
            everyone = first[first["group"] == "(all)"]
        row = everyone.iloc[0]
        by_group = _usable(first[(first["grouping"] == everyone.iloc[0]["grouping"])
                                 & (first["group"] != "(all)")])
        most = by_group.loc[by_group["flip_rate"].idxmax()] if not by_group.empty else None
        sentence = (
            f"Changing only a person's {attribute.replace('_', ' ')} to {value}, with "
            f"everything else about them held fixed, changed the decision for "
            f"{share(row['flip_rate'])} of held-out people (95% CI {share(row['ci_low'])}–"
            f"{share(row['ci_high'])}; n = {int(row['n']):,})"
        )
        if most is not None and most["flip_rate"] > 0:
            sentence += (f"; for people from {most['group']} it was {share(most['flip_rate'])} "
                         f"(95% CI {share(most['ci_low'])}–{share(most['ci_high'])}; "
                         f"n = {int(most['n']):,})")
        found.append(sentence + ".")
    return found[:5]
