"""Input a user can fix is refused with a message that says how, through Python and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit import AuditInputError, audit
from experiments.cli import main

OUTPUT_FILES = {"metrics.csv", "summary.csv", "metrics.json", "report.md", "report.html",
                "manifest.json"}


def _with_missing(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"y": float})
    frame.loc[[3, 50, 77], "y"] = np.nan
    return frame


def _with_identifier(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(person=[f"p{i % 60:02d}" for i in range(len(frame))])


def _with_score(frame: pd.DataFrame) -> pd.DataFrame:
    score = np.linspace(0, 1, len(frame))
    score[[5, 9]] = [1.5, -0.25]
    return frame.assign(score=score)


def _with_three_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[:4, "y"] = 2
    return frame


# id -> (frame transform, Python keyword changes, CLI argument changes, message pattern). A
# pattern with {name} holds a parameter: Python names it, the command line gives its flag.
BAD_INPUTS = {
    "column_not_found": (
        None, {"groups": ["nationalty"]}, {"--group": "nationalty"},
        r"column 'nationalty' \(given as {groups}\) not found; did you mean 'nationality'\?",
    ),
    "non_binary_label": (
        _with_three_labels, {}, {},
        r"column 'y' \({y_true}\) is not binary 0/1: distinct values 0, 1, 2; "
        r"pass {positive_label}",
    ),
    "missing_values": (
        _with_missing, {}, {},
        r"missing values: 'y' has 3 missing values \(3 rows in all\); pass {dropna}",
    ),
    "no_rows": (
        lambda frame: frame.iloc[:0], {}, {}, r"the table has no rows; nothing to audit",
    ),
    "too_many_groups": (
        _with_identifier, {"groups": ["person"], "max_groups": 50},
        {"--group": "person", "--max-groups": "50"},
        r"group column 'person' has 60 distinct values \(limit 50\): it is probably an "
        r"identifier.*raise {max_groups} if you mean it",
    ),
    "score_outside_unit_interval": (
        _with_score, {"score": "score"}, {"--score": "score"},
        r"score column 'score' \({score}\) must lie in \[0, 1\]; 2 values lie outside "
        r"\(min -0\.25, max 1\.5\)",
    ),
    "unknown_reference_group": (
        None, {"reference": {"nationality": "XXX"}}, {"--reference": "nationality=XXX"},
        r"reference group 'XXX' does not occur in 'nationality'; its groups are: "
        r"'AFG', 'BRA', 'CHN', 'DEU', 'ERI', 'FRA'",
    ),
    "positive_label_absent": (
        None, {"positive_label": "refused"}, {"--positive-label": "refused"},
        r"positive label 'refused' does not occur in column 'y' \({y_true}\); its values are "
        r"0, 1",
    ),
}

API_DEFAULTS = {"groups": ["nationality", "sex"], "y_true": "y", "y_pred": "d", "n_boot": 20}

#: How a message names each parameter: in Python, and on the command line.
PYTHON_NAMES = {"groups": "groups", "y_true": "y_true", "score": "score",
                "positive_label": "positive_label=VALUE", "dropna": r"dropna=True",
                "max_groups": "max_groups"}
CLI_NAMES = {"groups": "--group", "y_true": "--y-true", "score": "--score",
             "positive_label": "--positive-label VALUE", "dropna": "--dropna",
             "max_groups": "--max-groups"}


def _pattern(template: str, names: dict[str, str]) -> str:
    for key, name in names.items():
        template = template.replace("{" + key + "}", re.escape(name))
    return template


def _cli_args(path: Path, out: Path, changes: dict[str, str]) -> list[str]:
    options = {"--group": "nationality", "--y-true": "y", "--y-pred": "d", "--n-boot": "20",
               "--out": str(out), **changes}
    args = ["audit", str(path)]
    for option, value in options.items():
        args += [option, value]
    return args


def _expect_cli_error(capsys, args: list[str], pattern: str) -> str:
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert lines[0].startswith("bias-audit audit: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_by_the_python_api_with_a_message_naming_the_fix(decisions, case):
    transform, changes, _, pattern = BAD_INPUTS[case]
    frame = transform(decisions) if transform else decisions
    with pytest.raises(AuditInputError, match=_pattern(pattern, PYTHON_NAMES)) as caught:
        audit(frame, **{**API_DEFAULTS, **changes})
    assert " --" not in str(caught.value)  # Python is told parameters, never flags


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_by_the_cli_in_one_line_with_exit_code_2(
    decisions, case, tmp_path, capsys
):
    transform, _, changes, pattern = BAD_INPUTS[case]
    frame = transform(decisions) if transform else decisions
    path = tmp_path / "decisions.csv"
    frame.to_csv(path, index=False)
    line = _expect_cli_error(capsys, _cli_args(path, tmp_path / "out", changes),
                             _pattern(pattern, CLI_NAMES))
    assert "y_true" not in line and "dropna=" not in line  # the command is told its flags
    assert not (tmp_path / "out").exists()


def test_group_column_over_the_default_limit_of_10_000_is_refused():
    frame = pd.DataFrame({"person": np.arange(10_001), "y": 0, "d": 1})
    with pytest.raises(AuditInputError, match=r"10,001 distinct values \(limit 10,000\)"):
        audit(frame, groups=["person"], y_true="y", y_pred="d")


def test_missing_file_is_refused(tmp_path, capsys):
    path = tmp_path / "missing.csv"
    _expect_cli_error(capsys, _cli_args(path, tmp_path / "out", {}),
                      rf"file '{re.escape(str(path))}' not found")


def test_unreadable_parquet_file_is_refused(tmp_path, capsys):
    path = tmp_path / "decisions.parquet"
    path.write_bytes(b"\x00\x01garbage, not parquet\xff" * 20)
    _expect_cli_error(capsys, _cli_args(path, tmp_path / "out", {}),
                      rf"cannot read '{re.escape(str(path))}': \S")


def test_parquet_file_is_audited(decisions, tmp_path, capsys):
    path = tmp_path / "decisions.parquet"
    decisions.to_parquet(path)
    assert main(_cli_args(path, tmp_path / "out", {})) == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUT_FILES


def test_existing_output_folder_is_refused_without_force_and_replaced_with_it(
    decisions, tmp_path, capsys
):
    path = tmp_path / "decisions.csv"
    decisions.to_csv(path, index=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    # A folder holding a file this tool did not write is never replaced, --force or not.
    for extra in ([], ["--force"]):
        _expect_cli_error(capsys, [*_cli_args(path, out, {}), *extra],
                          r"output '.*out' already exists and holds files this tool did not "
                          r"write \('notes.txt'\); choose another --out")
        assert (out / "notes.txt").read_text() == "mine"

    ours = tmp_path / "ours"
    assert main(_cli_args(path, ours, {})) == 0
    capsys.readouterr()
    _expect_cli_error(capsys, _cli_args(path, ours, {}),
                      r"output '.*ours' already exists and is not empty; choose another --out "
                      r"or pass --force")
    assert main([*_cli_args(path, ours, {}), "--force"]) == 0
    assert {p.name for p in ours.iterdir()} == OUTPUT_FILES
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"report: {ours / 'report.md'}" in captured.out


def test_cli_writes_the_four_output_files_with_the_audit_in_them(decisions, tmp_path, capsys):
    path = tmp_path / "decisions.csv"
    decisions.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main([*_cli_args(path, out, {}), "--group", "sex"]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUT_FILES
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["grouping"]) == {"nationality", "sex", "nationality × sex"}
    summary = pd.read_csv(out / "summary.csv")
    assert "equalized_odds_difference" in set(summary["measure"])
    assert "## By nationality × sex" in (out / "report.md").read_text(encoding="utf-8")
    assert '"table"' in (out / "metrics.json").read_text(encoding="utf-8")


def test_positive_label_reads_string_labels_like_refused_and_granted(decisions, tmp_path, capsys):
    words = decisions.replace({"y": {1: "refused", 0: "granted"},
                               "d": {1: "refused", 0: "granted"}})
    expected = audit(decisions, **API_DEFAULTS)
    result = audit(words, **API_DEFAULTS, positive_label="refused")
    pd.testing.assert_frame_equal(result.table, expected.table)

    with pytest.raises(AuditInputError,
                       match=r"distinct values 'granted', 'refused'; pass positive_label="):
        audit(words, **API_DEFAULTS)

    numbers_path, words_path = tmp_path / "numbers.csv", tmp_path / "words.csv"
    decisions.to_csv(numbers_path, index=False)
    words.to_csv(words_path, index=False)
    assert main(_cli_args(numbers_path, tmp_path / "numbers", {})) == 0
    assert main(_cli_args(words_path, tmp_path / "words",
                          {"--positive-label": "refused"})) == 0
    assert (tmp_path / "numbers" / "metrics.csv").read_bytes() == (
        tmp_path / "words" / "metrics.csv").read_bytes()


def test_dropna_drops_rows_with_missing_values_and_says_how_many(decisions, tmp_path, capsys):
    frame = _with_missing(decisions)
    result = audit(frame, **API_DEFAULTS, dropna=True)
    assert result.settings["n_dropped"] == 3
    assert result.settings["n_rows"] == len(frame) - 3
    assert result.counts[0].n_rows == len(frame) - 3

    path = tmp_path / "decisions.csv"
    frame.to_csv(path, index=False)
    assert main([*_cli_args(path, tmp_path / "out", {}), "--dropna"]) == 0
    captured = capsys.readouterr()
    assert "dropped 3 rows with missing values" in captured.out
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert f"Rows audited: {len(frame) - 3:,} (3 rows with missing values dropped)" in report
