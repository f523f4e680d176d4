"""One line for every bad input, and nothing from data that a renderer or a terminal obeys.

Each test runs the command as a user would, in a temporary folder: late bad rows in a
streamed file, parts of a Dask data set that disagree, damaged manifests given to
``compare``, and titles and group names carrying markup or escape sequences.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import markdown
import pandas as pd
import pytest

from experiments.cli import main
from experiments.writing.document import Bullets, Document, Heading, Paragraph, Table
from tests.experiments.cli_errors import one_line_error

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
           "<svg onload=alert(1)>", "[click](javascript:alert(1))",
           "[click](JaVa&#115;cript:alert(1))", "clear\x1b[2Jscreen"]


def _live(rendered_html: str) -> list[str]:
    """Markup that a browser would run in a page rendered from Markdown."""
    found = re.findall(r"<\s*(script|img|svg|iframe)\b", rendered_html, flags=re.I)
    found += re.findall(r"href=\"\s*(?:javascript|data|vbscript):", rendered_html, flags=re.I)
    return found + (["ESC"] if "\x1b" in rendered_html else [])


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _audit(file: str, *extra: str) -> list[str]:
    return ["audit", file, "--group", "g", "--y-true", "y", "--y-pred", "d", "--n-boot", "10",
            "--quiet", *extra]


@pytest.mark.parametrize(("late", "pattern"), [
    ('b,"x,y",1,2,3', r"cannot read 'late.csv' as CSV|cannot read late.csv as CSV"),
    ("b,7,1", r"column 'y' \(--y-true\) is not binary"),
])
def test_a_bad_row_after_the_first_batch_isone_line_error(workdir, capsys, late, pattern):
    rows = ["g,y,d", *[f"a,{i % 2},{i % 3 % 2}" for i in range(300)], late,
            *["b,1,0"] * 20]
    (workdir / "late.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(_audit("late.csv", "--stream", "--batch-rows", "100", "--out", "o")) == 2
    one_line_error(capsys, "audit", pattern)
    assert not (workdir / "o").exists()


class _HereClient:
    """Stands for a Dask client: the work runs on Dask's local scheduler in this process."""

    def as_current(self):
        return contextlib.nullcontext()

    def close(self):
        pass


@pytest.fixture
def local_dask(monkeypatch):
    pytest.importorskip("dask.dataframe")
    import experiments.sweeps.runner as sweeps

    monkeypatch.setattr(sweeps, "connect_dask", lambda address: _HereClient())


def test_dask_parts_that_disagree_areone_line_error(workdir, capsys, local_dask):
    parts = workdir / "parts"
    parts.mkdir()
    good = pd.DataFrame({"g": ["a", "b"] * 30, "y": [0, 1] * 30, "d": [1, 0] * 30})
    good.to_parquet(parts / "p1.parquet")
    good.drop(columns="d").to_parquet(parts / "p2.parquet")
    assert main(_audit("parts/*.parquet", "--dask", "tcp://here:8786", "--out", "o")) == 2
    one_line_error(capsys, "audit", r"a part of 'parts/\*.parquet' lacks the column")
    (parts / "p2.parquet").unlink()
    good.assign(y=[0, 1] * 29 + [7, 7]).to_parquet(parts / "p3.parquet")
    assert main(_audit("parts/*.parquet", "--dask", "tcp://here:8786", "--out", "o")) == 2
    one_line_error(capsys, "audit", r"column 'y' \(--y-true\) is not binary")
    assert main(_audit("nothing/*.parquet", "--dask", "tcp://here:8786", "--out", "o")) == 2
    one_line_error(capsys, "audit", r"--dask: no file matches 'nothing/\*.parquet'")


@pytest.mark.parametrize("content", ["{", "[1, 2]", '{"files": [1]}', "\xff"])
def test_compare_refuses_a_damaged_manifest_inone_line_error(workdir, capsys, content):
    for name in ("a", "b"):
        (workdir / name).mkdir()
        (workdir / name / "manifest.json").write_bytes(content.encode("latin-1"))
    assert main(["compare", "a", "b", "--out", "c"]) == 2
    one_line_error(capsys, "compare", r"is not a manifest this tool wrote")


def test_compare_refuses_two_audit_folders(workdir, capsys):
    rows = ["g,y,d", *[f"{g},{i % 2},{i // 2 % 2}" for i in range(40) for g in "ab"]]
    (workdir / "x.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for out in ("one", "two"):
        assert main(_audit("x.csv", "--out", out)) == 0
    capsys.readouterr()
    assert main(["compare", "one", "two", "--out", "c"]) == 2
    one_line_error(capsys, "compare", r"'one' is the folder of an audit of a file, not of a run")


def test_report_markdown_runs_nothing_from_titles_or_labels():
    document = Document(HOSTILE[0]).add(
        Heading(HOSTILE[1]), Paragraph(" ".join(HOSTILE)), Bullets(HOSTILE),
        Table(["group", "value"], [[label, "1"] for label in HOSTILE], caption=HOSTILE[3]),
        Paragraph("p < 0.05 for groups of <10 people; see [the table](metrics.csv)"))
    text = document.to_markdown()
    rendered = markdown.markdown(text, extensions=["tables"])
    assert _live(rendered) == []
    assert "\x1b" not in text and "\\x1b[2J" in text
    # Intended Markdown and plain comparisons survive.
    assert '<a href="metrics.csv">the table</a>' in rendered
    assert "p &lt; 0.05 for groups of &lt;10 people" in rendered


def test_audit_of_hostile_group_names_prints_and_writes_them_inert(workdir, capsys):
    rows = ["g,y,d"] + [f'"{label}",{i % 2},{i // 2 % 2}'
                        for label in HOSTILE for i in range(30)]
    (workdir / "h.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["audit", "h.csv", "--group", "g", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "10", "--out", "o"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    report = Path("o/report.md").read_text(encoding="utf-8")
    assert "\x1b" not in report
    assert _live(markdown.markdown(report, extensions=["tables"])) == []
    manifest = json.loads(Path("o/manifest.json").read_text(encoding="utf-8"))
    assert "report.md" in manifest["files"]


def test_a_gzipped_tsv_is_read_with_tabs(workdir, capsys):
    import gzip

    rows = ["g\ty\td", *[f"{g}\t{i % 2}\t{i // 2 % 2}" for i in range(40) for g in "ab"]]
    with gzip.open(workdir / "x.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(rows) + "\n")
    assert main(_audit("x.tsv.gz", "--out", "o")) == 0
    sizes = pd.read_csv(workdir / "o" / "metrics.csv").query("metric == 'n'")
    assert dict(zip(sizes["group"], sizes["value"], strict=True)) == {"a": 40, "b": 40}


def test_a_0_1_column_may_be_the_group_and_the_outcome(workdir, capsys):
    rows = ["y,d", *[f"{i % 2},{i // 2 % 2}" for i in range(80)]]
    (workdir / "x.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["audit", "x.csv", "--group", "y", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "10", "--quiet", "--out", "o"]) == 0
