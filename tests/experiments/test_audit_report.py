"""``bias-audit audit`` reports as completely as ``run``: an HTML report with figures and
country names, per-metric notes, a three-line finding that fits a terminal, and data text
that stays inert in every format."""

from __future__ import annotations

import csv
import re

import html5lib
import numpy as np
import pandas as pd
import pytest

from audit import audit
from audit.report import grouping_rows, headline_gap
from experiments.cli import main
from experiments.reports.audit_report import finding_lines, terminal_text
from tests.audit.tables import frame_from_counts

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://example.invalid","click")'
ESCAPE = "\x1b[31mred\x1b[0m"


def _counts() -> pd.DataFrame:
    """IND is the reference; MEX's FPR is about five times IND's on 400 negatives, while its
    FNR rests on 20 positives and cannot tell parity from a material gap."""
    return frame_from_counts({
        "IND": (2000, 100, 30, 70),
        "MEX": (300, 100, 6, 14),
        "NGA": (900, 60, 20, 40),
    })


def _cells(result, grouping: str, label: str) -> dict[str, str]:
    header, rows = grouping_rows(result, grouping)
    (row,) = [row for row in rows if row[0] == label]
    return dict(zip(header, row, strict=True))


def test_each_metric_keeps_its_own_notes():
    result = audit(_counts(), ["group"], "y", "d", n_boot=20)
    mexico = _cells(result, "group", "Mexico (MEX)")
    assert mexico["False positive rate: ratio to reference; p (Holm)"].startswith("5.")
    assert "inconclusive" not in mexico["FPR notes"]
    assert "inconclusive" in mexico["FNR notes"] and "small_n" in mexico["FNR notes"]
    # the Markdown report has the same columns
    report = result.to_markdown()
    line = next(line for line in report.splitlines() if line.startswith("| Mexico (MEX) |"))
    assert line.count("|") == len(_cells(result, "group", "Mexico (MEX)")) + 1


def test_the_most_extreme_gap_carries_the_simultaneous_interval():
    result = audit(_counts(), ["group"], "y", "d", n_boot=20)
    gap = headline_gap(result)
    row = result.table.query("metric == @gap['metric'] and group == @gap['group']").iloc[0]
    assert gap["picked"] == "most extreme" and gap["group"] == "MEX" and gap["metric"] == "fpr"
    assert (gap["ci_low"], gap["ci_high"]) == (row["sim_ratio_ci_low"], row["sim_ratio_ci_high"])
    assert row["sim_ratio_ci_low"] < row["ratio_ci_low"]
    named = headline_gap(result, focus=("group", "NGA"))
    nga = result.table.query("metric == 'fpr' and group == 'NGA'").iloc[0]
    assert named["picked"] == "named in advance"
    assert (named["ci_low"], named["ci_high"]) == (nga["ratio_ci_low"], nga["ratio_ci_high"])
    lines = finding_lines(result)
    assert len(lines) == 3 and all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("False positive rate: Mexico (MEX) is 5.")
    assert "simultaneous 95% interval" in lines[1] and "most extreme of 3 groups" in lines[1]
    assert lines[2].startswith("n = 400 truly negative people")


@pytest.fixture
def hostile_folder(tmp_path, monkeypatch):
    """An audit of a file whose group names are markup, a formula and a terminal escape."""
    monkeypatch.chdir(tmp_path)
    frame = _counts()
    frame["group"] = frame["group"].replace({"NGA": SCRIPT, "MEX": FORMULA})
    rng = np.random.default_rng(0)
    frame["sex"] = np.where(rng.random(len(frame)) < 0.5, "F", ESCAPE)
    frame.to_csv(tmp_path / "decisions.csv", index=False)
    return tmp_path


def test_the_command_writes_html_with_figures_and_prints_a_short_finding(hostile_folder,
                                                                          capsys):
    code = main(["audit", "decisions.csv", "--group", "group", "--group", "sex", "--y-true", "y",
                 "--y-pred", "d", "--n-boot", "20", "--out", "out"])
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert "\x1b" not in out and "|" not in out  # no escape sequences, no Markdown tables
    assert lines[0].startswith("False positive rate: ")
    assert lines[3] == "report: out/report.md"
    assert "out/report.html" in lines[4]
    html = (hostile_folder / "out" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 3  # one figure per grouping
    assert "India (IND)" in html
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    document = html5lib.parse(html, namespaceHTMLElements=False)
    scripts = [element.text or "" for element in document.iter("script")]
    assert len(scripts) == 1 and "alert(1)" not in scripts[0]  # only the sorting script
    assert not document.findall(".//a")  # the formula became no link
    with open(hostile_folder / "out" / "metrics.csv", encoding="utf-8", newline="") as handle:
        groups = {row["group"] for row in csv.DictReader(handle)}
    assert "'" + FORMULA in groups and FORMULA not in groups


def test_quiet_prints_only_the_report(hostile_folder, capsys):
    assert main(["audit", "decisions.csv", "--group", "group", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "20", "--out", "out", "--quiet"]) == 0
    assert capsys.readouterr().out == "report: out/report.md\n"


def test_focus_leads_with_the_named_comparison_or_names_the_groups(hostile_folder, capsys):
    assert main(["audit", "decisions.csv", "--group", "group", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "20", "--out", "out", "--focus", "group=XXX"]) == 2
    assert "not among the 3 groups" in capsys.readouterr().err
    assert main(["audit", "decisions.csv", "--group", "group", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "20", "--out", "out", "--focus", "group=IND"]) == 2
    assert "the reference group of 'group'" in capsys.readouterr().err
    frame = pd.read_csv("decisions.csv")
    frame["group"] = frame["group"].replace({SCRIPT: "NGA"})
    frame.to_csv("plain.csv", index=False)
    assert main(["audit", "plain.csv", "--group", "group", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "20", "--out", "named", "--focus", "group=NGA",
                 "--focus-metric", "selection_rate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Selection rate: Nigeria (NGA) is ")
    assert "named in advance with --focus" in lines[1]
    report = (hostile_folder / "named" / "report.md").read_text(encoding="utf-8")
    assert re.search(r"## Headline finding\n\nSelection rate of Nigeria \(NGA\)", report)


def test_terminal_text_removes_control_characters_and_shortens():
    assert terminal_text(ESCAPE) == "?[31mred?[0m"
    assert terminal_text("x" * 40, 10) == "x" * 9 + "…"


def test_a_group_named_like_a_formula_keeps_its_figure(tmp_path, monkeypatch):
    # Two dollar signs make matplotlib read a text as a formula: one that does not parse
    # once cost the grouping its figure, and the report blamed suppressed rates.
    monkeypatch.chdir(tmp_path)
    frame = _counts()
    frame["group"] = frame["group"].replace({"NGA": "$\\frac{$", "MEX": "US$ 5 to US$ 9"})
    frame.to_csv("decisions.csv", index=False)
    assert main(["audit", "decisions.csv", "--group", "group", "--y-true", "y", "--y-pred",
                 "d", "--n-boot", "20", "--out", "out", "--quiet"]) == 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 1
    assert "No figure" not in html
