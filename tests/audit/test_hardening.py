"""What a user's file goes through, hardened: nothing leaked, nothing injected, nothing misread.

Each test reproduces a defect found by probing the command line with hostile but realistic
input, and holds the property that fixes it.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import tracemalloc
from pathlib import Path

import markdown
import numpy as np
import pandas as pd
import pytest

from audit import AuditInputError, audit
from audit.report import grouping_table, markdown_text
from audit.tables import csv_text, neutralise_formulas
from audit.validation import EMPTY_LABEL, memory_estimate
from experiments.cli import main

OUTPUT_FILES = {"metrics.csv", "summary.csv", "metrics.json", "report.md", "report.html",
                "manifest.json"}
#: Figures a reader could use to recover a withheld cell.
FIGURES = ["value", "ci_low", "ci_high", "numerator", "denominator", "difference",
           "diff_ci_low", "diff_ci_high", "ratio", "ratio_ci_low", "ratio_ci_high", "p_value"]


def _read_back(path: Path) -> pd.DataFrame:
    """Our CSV as a careful reader reads it: only empty fields are missing."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _two_groups_and_one_person(seed: int = 3, size: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "g": np.repeat(["large", "other"], size),
        "y": rng.integers(0, 2, 2 * size),
        "d": rng.integers(0, 2, 2 * size),
        "score": rng.random(2 * size),
    })
    person = pd.DataFrame({"g": ["solo"], "y": [1], "d": [1], "score": [0.97]})
    return pd.concat([frame, person], ignore_index=True)


def _cli(path: Path, out: Path, *extra: str, group: str = "g") -> list[str]:
    return ["audit", str(path), "--group", group, "--y-true", "y", "--y-pred", "d",
            "--n-boot", "20", "--out", str(out), "--quiet", *extra]


def _one_line_error(capsys, pattern: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


# --- disclosure: suppression applies to every written table --------------------------------


def test_a_one_person_group_is_withheld_from_metrics_csv_and_json(tmp_path):
    result = audit(_two_groups_and_one_person(), ["g"], "y", "d", score="score", n_boot=20)
    result.write(tmp_path)
    metrics = _read_back(tmp_path / "metrics.csv")
    solo = metrics[metrics["group"] == "solo"]
    assert len(solo) > 5
    shown = [c for c in FIGURES if c in metrics.columns]
    assert solo[shown].isna().all().all(), solo[shown]
    # flags say the cell is withheld and nothing about its counts ("undefined" would tell
    # that the person has no negative outcome)
    assert solo["flags"].str.contains("suppressed").all()
    assert not solo["flags"].str.contains("undefined|four_fifths|no_gap").any()
    # the grouping total (the denominator of every size row) would give the group's size
    assert metrics.loc[metrics["metric"] == "n", "denominator"].isna().all()
    records = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert records["settings"]["suppressed_cells_withheld"] is True
    for row in records["table"]:
        if row["group"] == "solo":
            assert all(row[c] is None for c in shown), row
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    solo_line = next(line for line in report.splitlines() if line.startswith("| solo |"))
    assert "undefined" not in solo_line and "<10" in solo_line


def test_large_groups_keep_their_figures(tmp_path):
    result = audit(_two_groups_and_one_person(), ["g"], "y", "d", n_boot=20)
    metrics = _read_back(Path(result.to_csv(tmp_path / "metrics.csv")))
    large = metrics[(metrics["group"] == "large") & (metrics["metric"] != "n")]
    assert large["value"].notna().all() and large["numerator"].notna().all()


def test_no_suppress_publishes_withheld_cells_and_says_so_in_the_manifest(tmp_path, capsys):
    path = tmp_path / "decisions.csv"
    _two_groups_and_one_person().to_csv(path, index=False)
    assert main(_cli(path, tmp_path / "private", "--no-suppress")) == 0
    assert main(_cli(path, tmp_path / "public")) == 0
    private = _read_back(tmp_path / "private" / "metrics.csv")
    public = _read_back(tmp_path / "public" / "metrics.csv")
    solo = private[(private["group"] == "solo") & (private["metric"] == "n")]
    assert solo["value"].tolist() == [1.0]
    assert public.loc[public["group"] == "solo", "value"].isna().all()
    for folder, withheld in (("private", False), ("public", True)):
        manifest = json.loads((tmp_path / folder / "manifest.json").read_text())
        assert manifest["suppressed_cells_withheld"] is withheld
        assert manifest["tool"] == "bias-audit-sandbox"
        assert set(manifest["files"]) == OUTPUT_FILES - {"manifest.json"}


# --- injection: CSV formulas and Markdown markup ---------------------------------------------

HOSTILE_GROUPS = ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+1+2", "-2+3",
                  "@SUM(A1)", "\tTAB", "\rCR", "-1", "plain"]


def test_formula_like_text_is_inert_in_every_csv_and_kept_in_json(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 40 * len(HOSTILE_GROUPS)
    column = "=cmd|' /C calc'!A0"
    frame = pd.DataFrame({column: np.tile(HOSTILE_GROUPS, 40), "y": rng.integers(0, 2, n),
                          "d": rng.integers(0, 2, n)})
    path = tmp_path / "hostile.parquet"
    frame.to_parquet(path)
    assert main(_cli(path, tmp_path / "out", group=column)) == 0
    for name in ("metrics.csv", "summary.csv"):
        with open(tmp_path / "out" / name, encoding="utf-8", newline="") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        risky = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")
                 or (c.startswith("-") and not re.fullmatch(r"-[\d.]+(e-?\d+)?", c))]
        assert not risky, (name, risky)
    metrics = _read_back(tmp_path / "out" / "metrics.csv")
    assert {f"'{g}" for g in HOSTILE_GROUPS if g not in ("-1", "plain")} | {"-1", "plain"} \
        == set(metrics["group"].astype(str))
    assert set(metrics["grouping"]) == {f"'{column}"}
    # numeric columns stay numbers, negative ones included
    assert metrics["difference"].dtype == np.float64 and (metrics["difference"] < 0).any()
    records = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert {row["group"] for row in records["table"]} == set(HOSTILE_GROUPS)


def test_neutralising_leaves_numbers_and_plain_numeric_text_alone():
    frame = pd.DataFrame({"x": [-1.5, 2.0], "t": ["-3", "=1+1"], "c": pd.Categorical(["a", "@b"])})
    safe = neutralise_formulas(frame)
    assert safe["x"].tolist() == [-1.5, 2.0]
    assert safe["t"].tolist() == ["-3", "'=1+1"]
    assert safe["c"].tolist() == ["a", "'@b"]
    assert frame["t"].tolist() == ["-3", "=1+1"]  # the caller's frame is not changed
    assert csv_text(frame).splitlines()[0] == "x,t,c"


MARKUP_GROUPS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                 "[link](javascript:alert(1))", "**bold** _it_ `code`", "# heading", "a|b",
                 "&lt;entity&gt;", "![img](http://x/y.png)"]


def test_markup_in_group_and_column_names_renders_as_text(tmp_path):
    rng = np.random.default_rng(9)
    n = 30 * len(MARKUP_GROUPS)
    frame = pd.DataFrame({"<b>col</b>": np.tile(MARKUP_GROUPS, 30),
                          "y`x": rng.integers(0, 2, n), "d": rng.integers(0, 2, n)})
    result = audit(frame, ["<b>col</b>"], "y`x", "d", n_boot=20)
    text = result.to_markdown(title="Audit of <i>file</i>.csv")
    html = markdown.markdown(text, extensions=["tables"])
    for made_by_data in ("<script", "<img", "<b>", "<i>", "<a ", "<strong>bold",
                         "<em>it", "<code>", "<h1>heading", "<h1>Audit of <i>"):
        assert made_by_data not in html, made_by_data
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[link](javascript:alert(1))" in html
    # every group is its own table row: a pipe in a name does not add a column
    rows = [line for line in text.splitlines() if line.startswith("| ") and " | 30 | " in line]
    assert len(rows) == len(MARKUP_GROUPS)
    assert len({line.count(" | ") for line in rows}) == 1


def test_markdown_text_escapes_every_markup_character():
    hostile = "\\`*_{}[]()#+-.!<>&|~$^=\"\n"
    escaped = markdown_text(hostile)
    assert "\n" not in escaped and "<" not in escaped and ">" not in escaped
    rendered = markdown.markdown(escaped)
    assert rendered.startswith("<p>") and rendered.endswith("</p>")
    # what a browser shows is exactly the text, line break as a space
    assert html.unescape(rendered[3:-4]) == hostile.replace("\n", " ")


# --- reading: group names are text; only empty cells are missing --------------------------


def _na_names_frame(include_empty: bool) -> pd.DataFrame:
    names = ["NA", "None", "nan", "GBR"] + ([""] if include_empty else [])
    rng = np.random.default_rng(2)
    n = 40 * len(names)
    return pd.DataFrame({"g": np.tile(names, 40), "y": rng.integers(0, 2, n),
                         "d": rng.integers(0, 2, n)})


def test_na_none_and_nan_are_group_names_in_a_csv_file(tmp_path, capsys):
    path = tmp_path / "countries.csv"
    _na_names_frame(include_empty=False).to_csv(path, index=False)
    assert main(_cli(path, tmp_path / "out")) == 0
    metrics = _read_back(tmp_path / "out" / "metrics.csv")
    assert set(metrics["group"]) == {"NA", "None", "nan", "GBR"}
    assert (metrics.loc[metrics["metric"] == "n", "value"] == 40).all()
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    # an ISO 3166 alpha-3 code is shown with its country's name; "NA" is no such code
    for name in ("NA", "None", "nan", "United Kingdom (GBR)"):
        assert f"\n| {name} | 40 |" in report


def test_only_an_empty_cell_is_missing_in_a_csv_group_column(tmp_path, capsys):
    path = tmp_path / "countries.csv"
    _na_names_frame(include_empty=True).to_csv(path, index=False)
    assert main(_cli(path, tmp_path / "out")) == 2
    _one_line_error(capsys, r"'g' has 40 missing values \(40 rows in all\); pass --dropna")
    assert main(_cli(path, tmp_path / "out", "--dropna")) == 0
    metrics = _read_back(tmp_path / "out" / "metrics.csv")
    assert set(metrics["group"]) == {"NA", "None", "nan", "GBR"}


def test_an_empty_group_name_is_labelled_and_reads_back_as_that_label(tmp_path, capsys):
    path = tmp_path / "countries.parquet"
    _na_names_frame(include_empty=True).to_parquet(path)
    assert main(_cli(path, tmp_path / "out")) == 0
    metrics = _read_back(tmp_path / "out" / "metrics.csv")
    assert not metrics["group"].isna().any()
    assert set(metrics["group"]) == {"NA", "None", "nan", "GBR", EMPTY_LABEL}
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert f"\n| {markdown_text(EMPTY_LABEL)} | 40 |" in report


def test_an_empty_name_next_to_its_label_is_refused():
    frame = pd.DataFrame({"g": ["", EMPTY_LABEL] * 20, "y": [0, 1] * 20, "d": [1, 0] * 20})
    with pytest.raises(AuditInputError, match=r"column 'g' has different values that read as "
                                              r"the same group name"):
        audit(frame, ["g"], "y", "d", n_boot=10)


def test_repeated_column_names_are_refused_naming_them(tmp_path, capsys):
    path = tmp_path / "twice.csv"
    path.write_text("g,y,y,d\n" + "a,1,0,1\nb,0,1,0\n" * 20, encoding="utf-8")
    assert main(_cli(path, tmp_path / "out")) == 2
    _one_line_error(capsys, r"repeats the column name 'y'; rename the columns")
    assert not (tmp_path / "out").exists()
    frame = pd.DataFrame([[1, 0, 1, "a"]] * 20, columns=["y", "y", "d", "g"])
    with pytest.raises(AuditInputError, match=r"column name 'y' occur more than once"):
        audit(frame, ["g"], "y", "d", n_boot=10)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_link_to_a_device_is_refused_without_reading_it(tmp_path, capsys):
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    assert main(_cli(link, tmp_path / "out")) == 2
    _one_line_error(capsys, r"'.*zero.csv' is not a regular file \(a device, pipe or socket\)")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_waiting_on_it(tmp_path, capsys):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert main(_cli(fifo, tmp_path / "out")) == 2
    _one_line_error(capsys, r"is not a regular file")


@pytest.mark.parametrize(("option", "value", "pattern"), [
    ("--seed", "-1", r"--seed must be a whole number from 0, got -1"),
    ("--n-boot", "0", r"--n-boot must be a positive number of resamples, got 0"),
    ("--max-groups", "0", r"--max-groups must be at least 1, got 0"),
])
def test_bad_numbers_are_refused_in_one_line(tmp_path, capsys, option, value, pattern):
    path = tmp_path / "d.csv"
    _na_names_frame(False).to_csv(path, index=False)
    args = _cli(path, tmp_path / "out")
    args[args.index("--n-boot") + 1:args.index("--n-boot") + 1] = []
    assert main([*args, option, value]) == 2
    _one_line_error(capsys, pattern)


# --- resources: memory estimated before allocating; report linear in groups -----------------


def test_an_audit_that_would_not_fit_in_memory_is_refused_with_the_estimate(tmp_path, capsys):
    n = 2_000
    path = tmp_path / "many.csv"
    pd.DataFrame({"g": [f"g{i}" for i in range(n)], "y": np.arange(n) % 2,
                  "d": (np.arange(n) // 2) % 2}).to_csv(path, index=False)
    args = _cli(path, tmp_path / "out")
    args[args.index("--n-boot") + 1] = "10000000"
    assert main(args) == 2
    line = _one_line_error(capsys, r"would need about [\d,.]+ (GB|MB) of memory for its "
                                   r"bootstrap, more than .*--n-boot")
    assert "TB" not in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scored", [False, True])
def test_the_memory_estimate_covers_what_the_audit_allocates(scored):
    rng = np.random.default_rng(4)
    n_groups, n_boot, n = 300, 60, 3_000
    frame = pd.DataFrame({"g": rng.integers(0, n_groups, n).astype(str),
                          "y": rng.integers(0, 2, n), "d": rng.integers(0, 2, n),
                          "s": rng.random(n)})
    groups = frame["g"].nunique()
    tracemalloc.start()
    try:
        audit(frame, ["g"], "y", "d", "s" if scored else None, n_boot=n_boot)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = memory_estimate([[groups]], [[groups]], n_boot, scored)
    assert estimate >= peak - 5_000_000  # a few MB of fixed cost aside
    assert estimate < 20 * peak  # and not absurdly cautious


def test_report_rows_are_looked_up_not_filtered_once_per_group(monkeypatch):
    """The report reads a grouping's rows once: the work per group is a dictionary lookup."""
    calls = {"n": 0}
    original = pd.DataFrame.__getitem__

    def counting(self, key):
        calls["n"] += 1
        return original(self, key)

    counts = []
    for n_groups in (5, 60):
        frame = pd.DataFrame({"g": np.repeat([f"g{i}" for i in range(n_groups)], 12),
                              "y": [0, 1] * 6 * n_groups, "d": [0, 0, 1] * 4 * n_groups})
        result = audit(frame, ["g"], "y", "d", n_boot=10)
        calls["n"] = 0
        monkeypatch.setattr(pd.DataFrame, "__getitem__", counting)
        grouping_table(result, "g")
        monkeypatch.setattr(pd.DataFrame, "__getitem__", original)
        counts.append(calls["n"])
    assert counts[0] == counts[1], counts
