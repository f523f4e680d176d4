"""Random small tables with hostile names and shapes, through the audit API and the CLI.

Whatever the table, the outcome is one of two: a complete results folder, or a one-line error
with exit code 2 (an :class:`AuditInputError` from Python). Never a traceback, never a partial
folder, never a staging folder left behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audit import AuditInputError, audit
from experiments.cli import main

AUDIT_FILES = {"metrics.csv", "summary.csv", "metrics.json", "report.md", "report.html",
                "manifest.json"}
API_FILES = AUDIT_FILES - {"manifest.json", "report.html"}

HOSTILE_TEXT = ["NA", "None", "nan", "", " ", "=1+2", "+cmd", "-1", "@x", "<b>x</b>",
                "[l](javascript:x)", "a|b", "x\ny", "\rz", "\tt", "GBR", "(empty)", "ü", "'q"]
names = st.one_of(st.sampled_from(["g", "y", "d", "=g", "<g>", "NA", "g,h", "g\nh", " g"]),
                  st.text(alphabet="gyd=<|_ \n", min_size=1, max_size=4))
group_values = st.one_of(st.sampled_from(HOSTILE_TEXT), st.integers(-3, 3))
labels = st.one_of(st.sampled_from([0, 1]), st.sampled_from([0, 1, 2, "yes", None]))


@st.composite
def hostile_tables(draw):
    n_rows = draw(st.integers(0, 24))
    # hostile names, distinct most of the time so that some tables get all the way through
    group = draw(names)
    truth = draw(st.one_of(st.sampled_from(["y", "=y", "<y>", "y|t", "None"]), names))
    decision = draw(st.one_of(st.sampled_from(["d", "@d", "[d](x)", "-d", "nan"]), names))
    columns = {group: draw(st.lists(group_values, min_size=n_rows, max_size=n_rows))}
    binary = draw(st.sampled_from([True, True, True, False]))
    for name in (truth, decision):
        values = st.sampled_from([0, 1]) if binary else labels
        column = draw(st.lists(values, min_size=n_rows, max_size=n_rows))
        if name in columns:  # a repeated name: the file gets the column twice
            return group, truth, decision, _with_repeat(columns, name, column), False
        columns[name] = column
    frame = pd.DataFrame(columns)
    parquet = draw(st.booleans()) and frame[group].map(type).nunique() <= 1
    return group, truth, decision, frame, parquet and not frame.empty


def _with_repeat(columns: dict, name: str, column: list) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    repeated = pd.DataFrame({name: column})
    return pd.concat([frame, repeated], axis=1)


def _check_folder(out: Path, expected: set[str]) -> None:
    assert {p.name for p in out.iterdir()} == expected
    with open(out / "metrics.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len({len(row) for row in rows}) == 1  # every row as wide as the header
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# ")


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_tables())
def test_cli_gives_a_complete_folder_or_one_line_and_exit_code_2(table):
    group, truth, decision, frame, parquet = table
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = folder / ("data.parquet" if parquet else "data.csv")
        if parquet:
            frame.to_parquet(path)
        else:
            frame.to_csv(path, index=False)
        out = folder / "out"
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            # OPTION=VALUE, as a user passes a value that starts with "-"
            code = main(["audit", str(path), f"--group={group}", f"--y-true={truth}",
                         f"--y-pred={decision}", "--n-boot", "10", "--out", str(out),
                         "--quiet"])
        err = stderr.getvalue()
        event(f"exit code {code}")
        assert code in (0, 2), err
        if code == 0:
            _check_folder(out, AUDIT_FILES)
            manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            assert set(manifest["files"]) == AUDIT_FILES - {"manifest.json"}
        else:
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("bias-audit audit: error: "), err
            assert not out.exists()
        assert "Traceback" not in err
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [path.name] + (["out"] if code == 0 else []))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_tables())
def test_api_gives_a_result_or_an_audit_input_error(table):
    group, truth, decision, frame, _ = table
    try:
        result = audit(frame, [group], truth, decision, n_boot=10)
    except AuditInputError as error:
        event("refused")
        assert "\n" not in str(error).strip() or "\n" in f"{group}{truth}{decision}"
        return
    with tempfile.TemporaryDirectory() as folder:
        result.write(Path(folder) / "out")
        _check_folder(Path(folder) / "out", API_FILES)
