"""Readable renderings of an :class:`~audit.result.AuditResult`: Markdown and terminal text.

Each figure carries its interval and the number of people it rests on; cells under the
suppression threshold are withheld, as statistical agencies withhold them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from audit.controls import visible
from audit.metrics import EXPLANATIONS
from audit.tables import has_flag, withhold_suppressed


class AuditResult(Protocol):
    """What a rendering reads of an :class:`audit.result.AuditResult` (which imports this
    module to render itself, so the renderings name only the attributes they use)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    settings: dict[str, Any]

    @property
    def groupings(self) -> list[str]: ...

#: Metrics shown per group in reports; every metric is in metrics.csv.
REPORT_METRICS: tuple[str, ...] = ("selection_rate", "fpr", "fnr", "ppv")


def percent(value: float, digits: int = 1) -> str:
    """A rate as a percentage, or an em dash when undefined."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.{digits}f}%"


#: How every report prints an interval with no end on a side (flag ``unbounded``) and one
#: that was withheld (flag ``no_interval``); audit/glossary.py states the convention.
NO_UPPER_BOUND, NO_LOWER_BOUND, WITHHELD = "no upper bound", "no lower bound", "withheld"


def bounds(low: float | None, high: float | None, shown: Callable[[float], str],
           separator: str = "–") -> str:
    """An interval's ends in the one convention of every report.

    ``0.12–0.34``; ``0.12, no upper bound`` where the upper end is infinite (and likewise
    below); ``withheld`` where an end is missing (an interval withheld as ``no_interval``,
    or never computed). An infinite end is never printed as a number.
    """
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return WITHHELD
    if math.isinf(low) and math.isinf(high):
        return f"{NO_LOWER_BOUND} and {NO_UPPER_BOUND}"
    if math.isinf(high):
        return f"{shown(low)}, {NO_UPPER_BOUND}"
    if math.isinf(low):
        return f"{NO_LOWER_BOUND}, {shown(high)}"
    return f"{shown(low)}{separator}{shown(high)}"


def points(value: float, low: float, high: float, *, undefined: str = "—") -> str:
    """A change in percentage points with its interval, in the one convention of every report.

    An interval of zero width around the estimate is withheld, not printed as certain: it
    arises when no one's decision differs between the worlds compared, and then no interval
    says how much a decision could have moved.
    """
    if value is None or not math.isfinite(value):
        return undefined
    if (low is not None and high is not None and math.isfinite(low) and math.isfinite(high)
            and low == high):
        return f"{100 * value:+.2f} (interval {WITHHELD}: no decision differs)"
    interval = bounds(low, high, lambda x: f"{100 * x:+.2f}", separator=" to ")
    return f"{100 * value:+.2f} ({interval})"


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
    flags = row.get("flags")
    if has_flag(flags, "suppressed"):
        return "suppressed"
    if has_flag(flags, "undefined"):
        return "undefined"
    return f"{percent(row['value'])} ({percent(row['ci_low'])}–{percent(row['ci_high'])})"


def ratio_with_interval(row: pd.Series) -> str:
    """``1.42 (1.30–1.55)`` for a ratio to the reference group.

    An infinite upper end says "no upper bound"; a ratio whose interval holds both parity
    and the four-fifths boundary adds "the data cannot tell".
    """
    flags = str(row.get("flags") or "").split(";")
    if "reference" in flags:
        return "reference"
    if "suppressed" in flags or "undefined" in flags:
        return "—"
    if row["ratio"] is None or not math.isfinite(row["ratio"]):
        return "— (reference rate is 0)"
    text = f"{number(row['ratio'])} ({bounds(row['ratio_ci_low'], row['ratio_ci_high'], number)})"
    if "inconclusive" in flags:
        text += "; the data cannot tell"
    return text


def interval_explanation(settings: dict) -> str:
    """What the intervals, tests and flags of an audit table mean, in one paragraph."""
    level = f"{round(100 * settings.get('confidence', 0.95))}%"
    return (
        f"Each rate is followed by its {level} Wilson interval. The ratio compares a group's "
        f"rate with the reference group's (the largest group unless chosen); its {level} "
        "interval is a closed-form score interval (MOVER-R on score limits; the difference "
        "to the reference, in metrics.csv, has Newcombe's hybrid score interval), which "
        "holds its coverage at rare rates and is given with zero events too. Where the "
        "reference rate is 0 the ratio's interval has no upper bound (flag unbounded); an "
        "interval resampling cannot move is withheld (flag no_interval). \"the data cannot "
        "tell\" marks a "
        "ratio whose interval holds both parity and the four-fifths boundary (0.8 or 1.25): a "
        "high p-value there is no evidence of equal treatment. p (Holm) tests whether the "
        "group's rate differs from the reference's, adjusted for the number of groups "
        "compared; metrics.csv also has the Benjamini-Hochberg adjustment, intervals made "
        "simultaneous over the groups (for a group picked as the most extreme), and the "
        "smallest gap the audit could detect with 80% power. Groups with fewer than "
        f"{settings.get('min_count', 30)} people behind a rate are marked small_n and left out "
        f"of the comparisons across groups; under {settings.get('suppress_below', 10)} the "
        "rate is suppressed. four_fifths marks a selection rate below 0.8 or above 1.25 times "
        "the reference's. A rate with no one in its denominator (a false positive rate in a "
        "group with no true negatives, say) is undefined, never zero. Across groups, a "
        "max-min gap is biased upward by chance (the largest of several noisy gaps): its "
        "estimated bias is shown beside it, and its interval is a conservative projection of "
        "simultaneous intervals of the groups compared."
    ) + _unchecked(settings)


def _unchecked(settings: dict) -> str:
    """The groupings whose count table was too large for the exact check across groupings."""
    names = settings.get("disclosure_unchecked") or []
    if not names:
        return ""
    listed = ", ".join(markdown_text(str(name)) for name in names)
    return (f" The groupings {listed} have too many cells for the exact check of withheld "
            "groups across groupings: each is protected against its own total only.")


def spread_cells(row: pd.Series) -> list[str]:
    """Value with interval, estimated bias, groups compared and left out, for a summary row.

    A difference of rates is printed in percentage points and a ratio as a ratio, the units
    every other table of a report uses."""
    if not math.isfinite(row["value"]):
        return ["— (fewer than two groups large enough)", "—", str(row["groups_compared"]),
                str(row.get("groups_left_out", 0))]
    if "difference" in str(row.get("measure", "")):
        def shown_as(v: float) -> str:
            return f"{100 * v:.1f}"

        unit, signed = " points", (lambda v: f"{100 * v:+.1f}")
    else:
        def shown_as(v: float) -> str:
            return number(v, 3)

        unit, signed = "", (lambda v: f"{v:+.3f}")
    if math.isfinite(row["ci_low"]):
        shown = (f"{shown_as(row['value'])}{unit} ({shown_as(row['ci_low'])}–"
                 f"{shown_as(row['ci_high'])})")
    else:
        shown = (f"{shown_as(row['value'])}{unit} (interval {WITHHELD}: the data leave it no "
                 "room to vary)")
    bias = row.get("bias")
    return [shown, "—" if bias is None or not math.isfinite(bias) else signed(bias) + unit,
            str(row["groups_compared"]), str(row.get("groups_left_out", 0))]


def spread_header(confidence: float = 0.95) -> list[str]:
    """Header of a table of spreads across groups (see :func:`spread_cells`), whose
    intervals are at ``confidence``."""
    return [f"value ({100 * confidence:g}% interval)", "bias from chance", "groups compared",
            "groups left out (too small)"]


#: Characters that can start Markdown or HTML markup inside a line (data text never starts a
#: line: it follows "# ", "## By " or "| "), and how data text spells them. Backslash escapes
#: where CommonMark and Python-Markdown both honour them; HTML character references for the
#: rest, which every renderer shows as the plain character. "(", "!" and the like start
#: nothing once "[" is escaped; "_" is handled apart (see :func:`markdown_text`).
_MARKDOWN_ESCAPES = str.maketrans({
    **{c: "\\" + c for c in "\\`*{}[]#"},
    "<": "&lt;", ">": "&gt;", "|": "&#124;", "~": "&#126;", "$": "&#36;",
    "^": "&#94;", "=": "&#61;", "\n": " ", "\r": " ", "\t": " ",
})
#: An underscore that could open or close emphasis: one not between two letters or digits
#: (inside a word, as in ``region_of_origin``, CommonMark and Python-Markdown keep it).
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
#: An ampersand that could start a character reference (``&lt;``, ``&#60;``); one before a
#: space, as in "Latin America & Caribbean", starts nothing.
_ENTITY_AMPERSAND = re.compile(r"&(?=[#\w])")


def markdown_text(text: object) -> str:
    """Data-derived text (a group, a column, a file name) made inert in Markdown.

    Every character that can start markup inside a line (emphasis, links, images, code,
    raw HTML, entities, table cells, strike-through, maths, attribute lists, a heading's
    closing hashes) is escaped, and line breaks become spaces, so a group named
    ``<script>`` or ``[x](javascript:...)`` renders as exactly that text. Underscores inside
    a word stay as they are, so ``no_positives`` reads as written.
    """
    # Control characters (an escape sequence in a group name) are spelled out, not obeyed.
    text = _ENTITY_AMPERSAND.sub("&amp;", visible(text)).translate(_MARKDOWN_ESCAPES)
    return _EMPHASIS_UNDERSCORE.sub(r"\\_", text)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; pipes inside cells are escaped.

    Cells are the caller's text; data-derived text must go through :func:`markdown_text`.
    """

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


#: Flags a metric's notes leave out: the ratio cell already says "reference".
_NOTE_SKIPPED = frozenset({"reference"})
#: Short metric names for column headers that must stay narrow.
SHORT_TITLES = {"selection_rate": "selection rate", "fpr": "FPR", "fnr": "FNR", "ppv": "PPV",
                "tpr": "TPR", "tnr": "TNR", "npv": "NPV", "fdr": "FDR", "for": "FOR",
                "accuracy": "accuracy", "prevalence": "prevalence", "auc": "AUC", "ece": "ECE"}


def grouping_rows(result: AuditResult, grouping: str,
                  metrics: Sequence[str] = REPORT_METRICS
                  ) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a grouping's table, as plain text (group labels unescaped).

    Per group: its size; per metric, the rate with its interval and the ratio to the
    reference with its interval and Holm p-value; then one notes column per metric, so each
    rate's flags stay with that rate (a group whose FNR is inconclusive keeps a clear FPR).
    Country codes among the labels are shown as "Mexico (MEX)". Suppressed cells are withheld
    as in the written tables (see :func:`audit.tables.withhold_suppressed`). The grouping's
    rows are read once into a lookup, so the table costs time in proportion to its number of
    groups.
    """
    from audit.names import label_with_names

    table = result.table[result.table["grouping"] == grouping]
    table = withhold_suppressed(table[table["metric"].isin(["n", *metrics])])
    shown = [c for c in ("group", "metric", "value", "ci_low", "ci_high", "ratio",
                         "ratio_ci_low", "ratio_ci_high", "p_holm", "flags") if c in table]
    records = [dict(zip(shown, row, strict=True))
               for row in zip(*(table[c].tolist() for c in shown), strict=True)]
    cells_by_key = {(row["group"], row["metric"]): row for row in records}
    below = result.settings.get("suppress_below", 10)
    header = ["group", "n"]
    for metric in metrics:
        title = EXPLANATIONS[metric][0]
        header += [title, f"{title}: ratio to reference; p (Holm)"]
    header += [f"{SHORT_TITLES.get(metric, metric)} notes" for metric in metrics]
    rows = []
    for size in (row for row in records if row["metric"] == "n"):
        group = size["group"]
        suppressed = "suppressed" in str(size["flags"]).split(";")
        # A group withheld beside a small one (complementary) is not itself small.
        beside = "complementary" in str(size["flags"]).split(";")
        cells = [label_with_names(group),
                 "withheld" if beside else f"<{below}" if suppressed
                 else f"{int(size['value']):,}"]
        notes = []
        for metric in metrics:
            row = cells_by_key.get((group, metric))
            if row is None:
                cells += ["—", "—"]
                notes.append("")
                continue
            ratio = ratio_with_interval(row)
            if ratio not in ("reference", "—"):
                ratio += f"; p {p_value(row['p_holm'])}"
            cells += [rate_with_interval(row), ratio]
            notes.append(", ".join(sorted(
                set(filter(None, str(row["flags"]).split(";"))) - _NOTE_SKIPPED)))
        rows.append(cells + notes)
    return header, rows


def grouping_table(result: AuditResult, grouping: str,
                   metrics: Sequence[str] = REPORT_METRICS) -> str:
    """One Markdown table for a grouping (see :func:`grouping_rows`), group labels escaped."""
    header, rows = grouping_rows(result, grouping, metrics)
    return markdown_table(header, [[markdown_text(row[0]), *row[1:]] for row in rows])


#: Rates a headline gap is sought among, in order of preference on a tie.
HEADLINE_METRICS: tuple[str, ...] = ("fpr", "fnr", "selection_rate")
#: Who is behind each rate's denominator, for "n = 217 truly negative people".
DENOMINATOR_WORDS = {"fpr": "truly negative people", "tnr": "truly negative people",
                     "fnr": "truly positive people", "tpr": "truly positive people",
                     "selection_rate": "people", "accuracy": "people", "prevalence": "people",
                     "ppv": "people selected", "fdr": "people selected",
                     "npv": "people not selected", "for": "people not selected"}


def headline_gap(result: AuditResult, focus: tuple[str, str] | None = None,
                 focus_metric: str = "fpr",
                 metrics: Sequence[str] = HEADLINE_METRICS) -> dict[str, Any] | None:
    """The one gap to lead with: the one named in advance, or else the most extreme.

    With ``focus`` (grouping, group) the gap is that group's ratio to its reference on
    ``focus_metric``, with the ordinary interval, as it was chosen before looking. Without,
    each grouping and rate's most extreme group (by ratio on a log scale, among groups with
    at least ``min_count`` people behind the rate; see :func:`audit.frame.most_extreme`) is
    a candidate, and the one whose simultaneous interval lies farthest from parity leads:
    as it was picked after looking, it carries the simultaneous interval
    (``sim_ratio_ci_*``). Returns None when no group can be compared.

    Returns
    -------
    dict or None
        grouping, group, reference, metric, ratio, ci_low, ci_high, n (people behind the
        group's rate), n_groups (groups of the grouping), p_holm, flags, and ``picked``:
        ``"named in advance"`` or ``"most extreme"``.
    """
    from audit.frame import most_extreme

    table = result.table
    if focus is not None:
        grouping, group = focus
        rows = table[(table["grouping"] == grouping) & (table["group"] == str(group))
                     & (table["metric"] == focus_metric)]
        if rows.empty:
            return None
        row = rows.iloc[0]
        return {"grouping": grouping, "group": row["group"], "reference": row["reference"],
                "metric": focus_metric, "ratio": row["ratio"], "ci_low": row["ratio_ci_low"],
                "ci_high": row["ratio_ci_high"], "n": row["denominator"],
                "n_groups": _n_groups(table, grouping), "p_holm": row["p_holm"],
                "flags": row["flags"], "picked": "named in advance"}
    best, best_key = None, None
    for grouping in result.groupings:
        for rank, metric in enumerate(metrics):
            pick = most_extreme(result, grouping, metric, ratio=True)
            if pick["group"] is None:
                continue
            low, high, ratio = pick["ci_low"], pick["ci_high"], pick["value"]
            with np.errstate(divide="ignore", invalid="ignore"):
                clear = max(np.log(low) if low > 0 else -np.inf,
                            -np.log(high) if high > 0 else np.inf, 0.0)
            key = (clear if np.isfinite(clear) else 0.0, abs(np.log(ratio)), -rank)
            if best_key is None or key > best_key:
                flags = table[(table["grouping"] == grouping) & (table["metric"] == metric)
                              & (table["group"] == pick["group"])]["flags"].iloc[0]
                best_key = key
                best = {"grouping": grouping, "group": pick["group"],
                        "reference": pick["reference"], "metric": metric, "ratio": ratio,
                        "ci_low": low, "ci_high": high, "n": pick["n"],
                        "n_groups": _n_groups(table, grouping), "p_holm": pick["p_holm"],
                        "flags": flags, "picked": "most extreme"}
    return best


def _n_groups(table: pd.DataFrame, grouping: str) -> int:
    return int(((table["grouping"] == grouping) & (table["metric"] == "n")).sum())


def headline_sentence(gap: dict[str, Any], label: Callable[[object], str] = str,
                      confidence: float = 0.95, text: Callable[[object], str] = str) -> str:
    """The headline gap in one sentence: value, interval, n and how it was picked.

    ``label`` renders a group label (``label_with_names`` for "Mexico (MEX)") and ``text``
    the grouping's name: each escapes data text for the sentence's format (Markdown), or
    leaves it for the renderer to escape (HTML).
    """
    level = f"{round(100 * confidence)}%"
    title = EXPLANATIONS[gap["metric"]][0]
    interval = bounds(gap["ci_low"], gap["ci_high"], number)
    if gap["picked"] == "most extreme":
        how = (f"simultaneous {level} interval {interval}, as this group was picked as the "
               f"most extreme of {gap['n_groups']:,} groups by {text(gap['grouping'])}")
    else:
        how = f"{level} interval {interval}; the comparison was named in advance"
    who = DENOMINATOR_WORDS.get(gap["metric"], "people")
    return (f"{title} of {label(gap['group'])} is {number(gap['ratio'])} times that of "
            f"{label(gap['reference'])} ({how}); n = {int(gap['n']):,} {who}.")


def summary_rows(result: AuditResult, grouping: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-grouping measures for the headline metrics (plain text
    built from numbers and measure names only)."""
    summary = result.summary[result.summary["grouping"] == grouping]
    wanted = summary[
        summary["measure"].isin(["equalized_odds_difference", "demographic_parity_ratio"])
        | (summary["measure"].isin(["max_min_difference", "min_max_ratio"])
           & summary["metric"].isin(REPORT_METRICS))
    ]
    rows = [[row["measure"].replace("_", " "), row["metric"], *spread_cells(row)]
            for _, row in wanted.iterrows()]
    return ["measure", "metric", *spread_header(result.settings.get("confidence", 0.95))], rows


def summary_table(result: AuditResult, grouping: str) -> str:
    """Markdown table of the per-grouping measures for the headline metrics."""
    return markdown_table(*summary_rows(result, grouping))


def explanations_block(metrics: Sequence[str] = REPORT_METRICS) -> str:
    """One plain-language line per metric shown."""
    return "\n".join(f"- **{EXPLANATIONS[m][0]}**: {EXPLANATIONS[m][1]}." for m in metrics)


def markdown_report(result: AuditResult, title: str = "Audit",
                    focus: tuple[str, str] | None = None, focus_metric: str = "fpr") -> str:
    """The whole Markdown report for an audit result.

    It leads with the headline gap (see :func:`headline_gap`; ``focus`` names the
    comparison chosen in advance), then explains the numbers, then gives one table per
    grouping. Country codes among the groups are shown as "Mexico (MEX)".
    """
    from audit.names import label_with_names

    settings = result.settings
    gap = headline_gap(result, focus, focus_metric)
    finding = ([] if gap is None else [
        "",
        "## Headline finding",
        "",
        headline_sentence(gap, lambda g: markdown_text(label_with_names(g)),
                          settings.get("confidence", 0.95), markdown_text),
    ])
    parts = [
        f"# {markdown_text(title)}",
        "",
        f"Rows audited: {settings.get('n_rows', result.counts[0].n_rows):,}"
        + (f" ({settings['n_dropped']:,} rows with missing values dropped)"
           if settings.get("n_dropped") else "")
        + f". True outcome: column {_quoted(settings.get('y_true'))}; decision: column "
        f"{_quoted(settings.get('y_pred'))}"
        + (f"; score: column {_quoted(settings['score'])}" if settings.get("score") else "")
        + ".",
        *finding,
        "",
        "## What the numbers mean",
        "",
        explanations_block(),
        "",
        interval_explanation(settings),
    ]
    for grouping in result.groupings:
        reference = result.table.loc[result.table["grouping"] == grouping, "reference"].iloc[0]
        parts += [
            "",
            f"## By {markdown_text(grouping)}",
            "",
            f"Reference group: {markdown_text(label_with_names(reference))}.",
            "",
            grouping_table(result, grouping),
            "",
            "Across groups:",
            "",
            summary_table(result, grouping),
        ]
    parts += ["", "Every metric for every group, with intervals and tests, is in metrics.csv.", ""]
    return "\n".join(parts)


def _quoted(name: object) -> str:
    """A column name in quotation marks, escaped (never in a code span, which escapes nothing)."""
    return f"“{markdown_text(name)}”"
