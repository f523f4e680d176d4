"""Readable renderings of an :class:`~audit.result.AuditResult`: Markdown and terminal text.

Each figure carries its interval and the number of people it rests on; cells under the
suppression threshold are withheld, as statistical agencies withhold them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from audit.metrics import EXPLANATIONS

if TYPE_CHECKING:
    from audit.result import AuditResult

#: Metrics shown per group in reports; every metric is in metrics.csv.
REPORT_METRICS: tuple[str, ...] = ("selection_rate", "fpr", "fnr", "ppv")


def percent(value: float, digits: int = 1) -> str:
    """A rate as a percentage, or an em dash when undefined."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.{digits}f}%"


def number(value: float, digits: int = 2) -> str:
    """A number with fixed decimals; infinity and NaN spelled out."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def p_value(value: float) -> str:
    """A p-value as readers expect it: ``<0.001`` below a thousandth."""
    if value is None or not math.isfinite(value):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def rate_with_interval(row: pd.Series) -> str:
    """``12.3% (11.8–12.9)``, or why there is no number."""
    flags = str(row.get("flags") or "")
    if "suppressed" in flags:
        return "suppressed"
    if "undefined" in flags:
        return "undefined"
    return f"{percent(row['value'])} ({percent(row['ci_low'])}–{percent(row['ci_high'])})"


def ratio_with_interval(row: pd.Series) -> str:
    """``1.42 (1.30–1.55)`` for a ratio to the reference group."""
    flags = str(row.get("flags") or "")
    if "reference" in flags.split(";"):
        return "reference"
    if "suppressed" in flags or "undefined" in flags:
        return "—"
    if row["ratio"] is None or not math.isfinite(row["ratio"]):
        return "— (reference rate is 0)"
    if "no_gap_interval" in flags.split(";"):
        return f"{number(row['ratio'])} (no interval: a rate of 0% or 100%)"
    return f"{number(row['ratio'])} ({number(row['ratio_ci_low'])}–{number(row['ratio_ci_high'])})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; pipes inside cells are escaped."""

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def grouping_table(result: AuditResult, grouping: str,
                   metrics: Sequence[str] = REPORT_METRICS) -> str:
    """One Markdown table for a grouping: each group's size, rates and ratios to reference."""
    table = result.table[result.table["grouping"] == grouping]
    sizes = table[table["metric"] == "n"].set_index("group")
    header = ["group", "n"]
    for metric in metrics:
        title = EXPLANATIONS[metric][0]
        header += [title, f"{title}: ratio to reference; p (Holm)"]
    header.append("notes")
    rows = []
    for group, size in sizes.iterrows():
        suppressed = "suppressed" in str(size["flags"])
        cells = [group, "<10" if suppressed else f"{int(size['value']):,}"]
        notes = set(filter(None, str(size["flags"]).split(";")))
        for metric in metrics:
            row = table[(table["metric"] == metric) & (table["group"] == group)]
            if row.empty:
                cells += ["—", "—"]
                continue
            row = row.iloc[0]
            ratio = ratio_with_interval(row)
            if ratio not in ("reference", "—"):
                ratio += f"; p {p_value(row['p_holm'])}"
            cells += [rate_with_interval(row), ratio]
            notes |= set(filter(None, str(row["flags"]).split(";"))) - {"reference"}
        cells.append(", ".join(sorted(notes)))
        rows.append(cells)
    return markdown_table(header, rows)


def summary_table(result: AuditResult, grouping: str) -> str:
    """Markdown table of the per-grouping measures for the headline metrics."""
    summary = result.summary[result.summary["grouping"] == grouping]
    wanted = summary[
        summary["measure"].isin(["equalized_odds_difference", "demographic_parity_ratio"])
        | (summary["measure"].isin(["max_min_difference", "min_max_ratio"])
           & summary["metric"].isin(REPORT_METRICS))
    ]
    rows = []
    for _, row in wanted.iterrows():
        rows.append([
            row["measure"].replace("_", " "),
            row["metric"],
            f"{number(row['value'], 3)} ({number(row['ci_low'], 3)}–{number(row['ci_high'], 3)})",
            str(row["groups_compared"]),
        ])
    return markdown_table(["measure", "metric", "value (95% interval)", "groups compared"], rows)


def explanations_block(metrics: Sequence[str] = REPORT_METRICS) -> str:
    """One plain-language line per metric shown."""
    return "\n".join(f"- **{EXPLANATIONS[m][0]}**: {EXPLANATIONS[m][1]}." for m in metrics)


def markdown_report(result: AuditResult, title: str = "Audit") -> str:
    """The whole Markdown report for an audit result."""
    settings = result.settings
    confidence = int(round(100 * settings.get("confidence", 0.95)))
    parts = [
        f"# {title}",
        "",
        f"Rows audited: {settings.get('n_rows', result.counts[0].n_rows):,}"
        + (f" ({settings['n_dropped']:,} rows with missing values dropped)"
           if settings.get("n_dropped") else "")
        + f". True outcome: `{settings.get('y_true')}`; decision: `{settings.get('y_pred')}`"
        + (f"; score: `{settings['score']}`" if settings.get("score") else "") + ".",
        "",
        "## What the numbers mean",
        "",
        explanations_block(),
        "",
        f"Each rate is followed by its {confidence}% Wilson interval. The ratio compares a "
        f"group's rate with the reference group's (the largest group unless chosen); its "
        f"{confidence}% interval comes from {settings.get('n_boot', 1000):,} bootstrap resamples "
        "of the counts. p (Holm) tests whether the group's rate differs from the reference's, "
        "adjusted for the number of groups compared (Holm); metrics.csv also has the "
        "Benjamini-Hochberg adjustment. Max-min differences across many groups are biased "
        "upward (the largest of several noisy gaps), so read them with their intervals. "
        "Groups with fewer than "
        f"{settings.get('min_count', 30)} people behind a rate are marked small_n; under "
        f"{settings.get('suppress_below', 10)} the rate is suppressed. four_fifths marks a "
        "selection rate below 0.8 or above 1.25 times the reference's. no_gap_interval marks a "
        "comparison with a rate of exactly 0% or 100%, whose counts cannot vary under the "
        "bootstrap, so no interval is claimed for its ratio or difference. A rate with no one in "
        "its denominator (a false positive rate in a group with no true negatives, say) is "
        "undefined, never zero.",
    ]
    for grouping in result.groupings:
        reference = result.table.loc[result.table["grouping"] == grouping, "reference"].iloc[0]
        parts += [
            "",
            f"## By {grouping}",
            "",
            f"Reference group: {reference}.",
            "",
            grouping_table(result, grouping),
            "",
            "Across groups:",
            "",
            summary_table(result, grouping),
        ]
    parts += ["", "Every metric for every group, with intervals and tests, is in metrics.csv.", ""]
    return "\n".join(parts)
