"""The report of ``bias-audit audit``: the headline gap, what the numbers mean, and per
grouping its table, spreads and a figure of rates with intervals, as self-contained HTML;
and the few lines the command prints.

Everything here that came from the audited file (group labels, column names, the file's
name) is attacker-controlled text: the HTML renderer escapes it (Jinja2 autoescaping), and
the terminal lines replace control characters and shorten it to fit 80 columns.
"""

from __future__ import annotations

import tempfile
import textwrap
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from audit import AuditResult
from audit.figures import NothingToDraw, plot_rates_by_group
from audit.metrics import EXPLANATIONS
from audit.names import label_with_names
from audit.report import (
    DENOMINATOR_WORDS,
    REPORT_METRICS,
    grouping_rows,
    headline_gap,
    headline_sentence,
    interval_explanation,
    number,
    summary_rows,
)
from experiments.writing.document import (
    Bullets,
    Details,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
)

#: Rates drawn per grouping.
FIGURE_METRICS = ("selection_rate", "fpr", "fnr")
#: Width of the terminal output.
TERMINAL_WIDTH = 80
#: Longest group label or column name printed to the terminal, before "…".
TERMINAL_LABEL = 28


def build_audit_document(result: AuditResult, title: str, figure_dir: Path,
                         focus: tuple[str, str] | None = None, focus_metric: str = "fpr",
                         input_name: str | None = None) -> Document:
    """The audit's report as document blocks; figures are drawn into ``figure_dir``.

    Figures are embedded in the HTML, so ``figure_dir`` may be a temporary folder.
    """
    settings = result.settings
    confidence = settings.get("confidence", 0.95)
    document = Document(title)
    facts = (f"{settings.get('n_rows', 0):,} rows audited"
             + (f" ({settings['n_dropped']:,} rows with missing values dropped)"
                if settings.get("n_dropped") else "")
             + (f" from {input_name}" if input_name else "")
             + f". True outcome: column “{settings.get('y_true')}”; decision: column "
             f"“{settings.get('y_pred')}”"
             + (f"; score: column “{settings['score']}”" if settings.get("score") else "")
             + ".")
    document.add(Paragraph(facts))
    gap = headline_gap(result, focus, focus_metric)
    document.add(Heading("Headline finding"))
    if gap is None:
        document.add(Paragraph("No group could be compared with its reference: every group "
                               "is too small, or every rate undefined."))
    else:
        document.add(Paragraph(headline_sentence(gap, label_with_names, confidence)))
        if gap["picked"] == "most extreme":
            document.add(Paragraph(
                "No comparison was named in advance (--focus), so the report leads with the "
                "gap whose interval lies farthest from parity among each grouping's most "
                "extreme group on the false positive, false negative and selection rates. A "
                "group picked after looking needs an interval that holds for whichever group "
                "is picked: the simultaneous one (Bonferroni over the grouping's groups), "
                "wider than the interval in the tables below."))
    document.add(Details("What the numbers mean", [
        Bullets([f"{EXPLANATIONS[m][0]}: {EXPLANATIONS[m][1]}." for m in REPORT_METRICS]),
        Paragraph(interval_explanation(settings)),
        Paragraph("Each rate has its own notes column: a note (small_n, inconclusive, "
                  "unbounded...) belongs to that rate alone. Every column and flag is "
                  "described in audit/glossary.py."),
    ], open=True))
    for index, grouping in enumerate(result.groupings):
        document.add(Details(f"By {grouping}",
                             _grouping_blocks(result, grouping, figure_dir / f"rates_{index}.png"),
                             open=index == 0))
    document.add(Paragraph(
        "Every metric for every group, with every interval and test, is in metrics.csv; "
        "spreads across groups in summary.csv; how the audit ran in manifest.json. In the "
        "tables here every column sorts when its header is clicked."))
    return document


def _grouping_blocks(result: AuditResult, grouping: str, figure_path: Path) -> list[object]:
    confidence = result.settings.get("confidence", 0.95)
    rows = result.table[result.table["grouping"] == grouping]
    reference = rows["reference"].iloc[0]
    header, body = grouping_rows(result, grouping)
    blocks: list[object] = [
        Paragraph(f"Reference group: {label_with_names(reference)}."),
        Table(header, body),
    ]
    spread_header, spread_body = summary_rows(result, grouping)
    if spread_body:
        blocks += [Paragraph("Across groups:"), Table(spread_header, spread_body)]
    groups = rows["group"].unique()
    labels = {g: terminal_text(label_with_names(g)) for g in groups}  # no control glyphs
    try:
        plot_rates_by_group(result.table, grouping, FIGURE_METRICS, figure_path,
                            labels=labels, title=f"Rates by {grouping}", confidence=confidence)
    except NothingToDraw:  # every rate undefined or suppressed: nothing to draw
        blocks.append(Paragraph("No figure: every rate is undefined or suppressed."))
    else:
        blocks.append(Figure(figure_path, f"Selection, false positive and false negative "
                                          f"rates by {grouping}, with {100 * confidence:g}% "
                                          "Wilson intervals "
                                          "(suppressed and undefined cells left out; the "
                                          "dashed line is the reference group)."))
    return blocks


def write_audit_html(result: AuditResult, path: Path, title: str,
                     focus: tuple[str, str] | None = None, focus_metric: str = "fpr",
                     input_name: str | None = None) -> Path:
    """Write the self-contained HTML report (figures embedded) at ``path``."""
    with tempfile.TemporaryDirectory(prefix="bias-audit-figures-") as folder:
        document = build_audit_document(result, title, Path(folder), focus, focus_metric,
                                        input_name)
        path.write_text(document.to_html(), encoding="utf-8")
    return path


# -- the terminal ------------------------------------------------------------------------------

def terminal_text(text: object, limit: int | None = None) -> str:
    """Data text made safe to print: control characters (escape sequences, line breaks)
    become ``?``, and text over ``limit`` characters ends in ``…``."""
    cleaned = "".join("?" if unicodedata.category(c).startswith("C") else c for c in str(text))
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return cleaned


def finding_lines(result: AuditResult, focus: tuple[str, str] | None = None,
                  focus_metric: str = "fpr") -> list[str]:
    """The headline gap in three lines of at most 80 columns: what, its interval and how it
    was picked, its n (with the rows audited)."""
    settings = result.settings
    level = f"{round(100 * settings.get('confidence', 0.95))}%"
    rows = f"{settings.get('n_rows', 0):,} rows audited" + (
        f" ({settings['n_dropped']:,} dropped)" if settings.get("n_dropped") else "")
    gap = headline_gap(result, focus, focus_metric)
    if gap is None:
        return ["No group could be compared with its reference (too small or undefined).",
                "Every group's figures are in the report.", rows + "."]

    def name(label: object) -> str:
        return terminal_text(label_with_names(label), TERMINAL_LABEL)

    metric = EXPLANATIONS[gap["metric"]][0]
    what = (f"{metric}: {name(gap['group'])} is {number(gap['ratio'])}× "
            f"{name(gap['reference'])}")
    low, high = number(gap["ci_low"]), number(gap["ci_high"])
    if gap["picked"] == "most extreme":
        how = (f"(simultaneous {level} interval {low}–{high}: the most extreme of "
               f"{gap['n_groups']:,} groups)")
    else:
        how = f"({level} interval {low}–{high}; named in advance with --focus)"
    who = DENOMINATOR_WORDS.get(gap["metric"], "people")
    by = terminal_text(gap["grouping"], 24)
    return [_fit(line) for line in (what, how, f"n = {int(gap['n']):,} {who}; by {by}; {rows}.")]


def _fit(line: str) -> str:
    return textwrap.shorten(line, TERMINAL_WIDTH, placeholder="…") if len(
        line) > TERMINAL_WIDTH else line


def file_lines(out: Path, written: Sequence[str]) -> list[str]:
    """Where the files are: the report first, then the tables beside it."""
    return [f"report: {out / 'report.md'}",
            f"        {out / 'report.html'} (figures inside)",
            "tables: " + ", ".join(written)]
