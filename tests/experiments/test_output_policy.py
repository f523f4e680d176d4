"""One output policy for every command: nothing a user has is lost, nothing is left half-written.

Each test reproduces a defect found by probing the command line (a working folder emptied by
``--out . --force``, an input replaced by its results, a partial folder after Ctrl-C, a run
that fails on a read-only folder only after all its work, names and sizes that escape their
limits) and holds the property that fixes it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments.engine.runner as runner
from audit.result import AuditResult
from experiments.cli import main
from experiments.config import parse_config
from tests.experiments.conftest import immigration_os_data

AUDIT_FILES = {"metrics.csv", "summary.csv", "metrics.json", "report.md", "report.html",
                "manifest.json"}


def _one_line_error(capsys, command: str, pattern: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith(f"bias-audit {command}: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working folder holding a decisions file, notes and a sub-folder, as users' do."""
    work = tmp_path / "work"
    work.mkdir()
    rng = np.random.default_rng(1)
    n = 240
    pd.DataFrame({"g": np.tile(["a", "b", "c"], n // 3), "y": rng.integers(0, 2, n),
                  "d": rng.integers(0, 2, n)}).to_csv(work / "base.csv", index=False)
    (work / "notes.txt").write_text("my notes", encoding="utf-8")
    (work / "sub").mkdir()
    (work / "sub" / "keep.txt").write_text("keep", encoding="utf-8")
    (tmp_path / "sibling.txt").write_text("next to the working folder", encoding="utf-8")
    monkeypatch.chdir(work)
    return work


def _audit(out: str, *extra: str, file: str = "base.csv") -> list[str]:
    return ["audit", file, "--group", "g", "--y-true", "y", "--y-pred", "d", "--n-boot", "20",
            "--out", out, "--quiet", *extra]


# --- audit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("out", "pattern"), [
    (".", r"--out '\.' is the working folder"),
    ("..", r"--out '\.\.' is a folder that holds the working folder"),
    ("base.csv", r"--out 'base.csv' is the input file 'base.csv'"),
])
def test_force_never_replaces_the_working_folder_its_parent_or_the_input(
    workdir, capsys, out, pattern
):
    before = _snapshot(workdir.parent)
    assert main(_audit(out, "--force")) == 2
    _one_line_error(capsys, "audit", pattern)
    assert _snapshot(workdir.parent) == before


def test_force_never_replaces_a_folder_that_holds_the_input(workdir, capsys):
    before = _snapshot(workdir)
    (workdir / "data").mkdir()
    (workdir / "data" / "base.csv").write_bytes((workdir / "base.csv").read_bytes())
    assert main(_audit("data", "--force", file="data/base.csv")) == 2
    _one_line_error(capsys, "audit", r"--out 'data' holds the input file 'data/base.csv'")
    assert (workdir / "data" / "base.csv").read_bytes() == before["base.csv"]


def test_force_replaces_only_a_folder_this_tool_wrote(workdir, capsys):
    assert main(_audit("results")) == 0
    assert {p.name for p in (workdir / "results").iterdir()} == AUDIT_FILES
    assert main(_audit("results", "--force")) == 0  # ours: replaced
    (workdir / "results" / "figures").mkdir()
    (workdir / "results" / "figures" / "mine.png").write_bytes(b"not ours")
    capsys.readouterr()
    assert main(_audit("results", "--force")) == 2
    _one_line_error(capsys, "audit", r"holds files this tool did not write "
                                     r"\('figures/mine.png'\)")
    assert (workdir / "results" / "figures" / "mine.png").read_bytes() == b"not ours"


def test_a_failed_forced_audit_keeps_the_old_result_and_leaves_nothing_partial(
    workdir, monkeypatch
):
    assert main(_audit("results")) == 0
    before = _snapshot(workdir / "results")

    def breaks_after_one_file(self, directory, *args, **kwargs):
        Path(directory, "summary.csv").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setattr(AuditResult, "write", breaks_after_one_file)
    with pytest.raises(RuntimeError, match="disk full"):
        main(_audit("results", "--force"))
    assert _snapshot(workdir / "results") == before
    assert sorted(p.name for p in workdir.iterdir()) == ["base.csv", "notes.txt", "results",
                                                         "sub"]


def test_ctrl_c_while_writing_leaves_no_folder(workdir, monkeypatch, capsys):
    def interrupted(self, directory, *args, **kwargs):
        Path(directory, "summary.csv").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(AuditResult, "write", interrupted)
    assert main(_audit("results")) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in workdir.iterdir()) == ["base.csv", "notes.txt", "sub"]


def test_an_output_under_a_file_is_refused_before_reading(workdir, capsys, monkeypatch):
    import experiments.cli.audit as audit_cmd

    monkeypatch.setattr(audit_cmd, "read_table", lambda *a, **k: pytest.fail("read the input"))
    assert main(_audit("notes.txt/out")) == 2
    _one_line_error(capsys, "audit", r"cannot write under 'notes.txt'.*'notes.txt' is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not bind the superuser")
def test_a_read_only_folder_is_refused_before_reading(workdir, capsys):
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(_audit("locked/out")) == 2
        _one_line_error(capsys, "audit", r"cannot write under 'locked/out'.*permission denied")
    finally:
        locked.chmod(0o755)


# --- run --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def computed():
    """One small computed run (population, decisions, audits), reused by the writing tests."""
    data = immigration_os_data(**{"population.size": 3_000, "audit.n_boot": 50,
                                  "counterfactual.interventions": []})
    config = parse_config(data)
    return config, runner.compute_run(config, attribution=False)


def _no_work(*args, **kwargs):
    pytest.fail("work started before the output was checked")


@pytest.mark.parametrize(("args", "pattern"), [
    (["--out", ".", "--force"], r"--out '\.' is the working folder"),
    (["--out", "..", "--force"], r"--out '\.\.' is a folder that holds the working folder"),
    (["--out", "notes.txt", "--force"], r"--out 'notes.txt' is a file, not a folder"),
    (["--results-dir", "notes.txt/results"],
     r"cannot write under 'notes.txt/results/immigration-os'.*is a file, not a folder; "
     r"choose another --results-dir"),
])
def test_run_checks_its_output_before_any_work(workdir, capsys, monkeypatch, args, pattern):
    monkeypatch.setattr(runner, "compute_run", _no_work)
    before = _snapshot(workdir)
    assert main(["run", "immigration-os", "--size", "2000", *args]) == 2
    _one_line_error(capsys, "run", pattern)
    assert _snapshot(workdir) == before


def test_a_failed_forced_run_keeps_the_old_run(workdir, monkeypatch, computed):
    config, done = computed
    monkeypatch.setattr(runner, "compute_run", lambda *a, **k: done)
    first = runner.run_experiment(config, Path("x.toml"), out=workdir / "run", report=False)
    before = _snapshot(first.directory)
    monkeypatch.setattr(runner, "build_manifest", lambda **k: (_ for _ in ()).throw(
        RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        runner.run_experiment(config, Path("x.toml"), out=workdir / "run", force=True,
                              report=False)
    assert _snapshot(workdir / "run") == before
    assert not [p for p in workdir.iterdir() if p.name.startswith(".")]


def test_run_tables_withhold_suppressed_cells_unless_asked_not_to(workdir, monkeypatch,
                                                                  computed):
    config, done = computed
    monkeypatch.setattr(runner, "compute_run", lambda *a, **k: done)
    public = runner.run_experiment(config, Path("x.toml"), out=workdir / "public", report=False)
    private = runner.run_experiment(config, Path("x.toml"), out=workdir / "private",
                                    report=False, suppress=False)
    read = {name: pd.read_csv(folder / "metrics.csv", keep_default_na=False, na_values=[""])
            for name, folder in (("public", public.directory), ("private", private.directory))}
    withheld = read["public"]["flags"].str.contains("suppressed")
    assert withheld.sum() > 0
    assert read["public"].loc[withheld, ["value", "numerator", "denominator"]].isna().all().all()
    shown = read["private"]["flags"].str.contains("suppressed") & (
        read["private"]["denominator"] > 0)
    assert read["private"].loc[shown, "value"].notna().all()
    for result, withheld_flag in ((public, True), (private, False)):
        manifest = json.loads((result.directory / "manifest.json").read_text())
        assert manifest["suppressed_cells_withheld"] is withheld_flag
        metrics = json.loads((result.directory / "metrics.json").read_text())
        assert metrics["views"]["true"]["settings"]["suppressed_cells_withheld"] is withheld_flag


# --- sweep and population ---------------------------------------------------------------------


def test_sweep_never_replaces_the_working_folder(workdir, capsys):
    before = _snapshot(workdir)
    assert main(["sweep", "label-bias-blind-spot", "--out", ".", "--force", "--quiet"]) == 2
    _one_line_error(capsys, "sweep", r"--out '\.' is the working folder")
    assert _snapshot(workdir) == before


@pytest.mark.parametrize(("args", "pattern"), [
    (["--size", "1000000000000", "--out", "p.csv"],
     r"--size 1,000,000,000,000 is more than 50,000,000 people"),
    (["--size", "10", "--seed", str(2**63 - 1), "--out", "p.csv"],
     r"--seed must be a whole number from 0 to 4294967295"),
    (["--size", "10", "--out", "sub.csv", "--force"], None),
    (["--size", "10", "--out", "bias.csv", "--force", "--mechanisms", "bias.csv"],
     r"--out 'bias.csv' is the input file 'bias.csv'"),
])
def test_population_sizes_seeds_and_outputs_are_checked(workdir, capsys, args, pattern):
    (workdir / "sub.csv").mkdir()
    (workdir / "bias.csv").write_text('[label_bias]\nstrength = 1.0\ntargets = ["MEX"]\n')
    pattern = pattern or r"--out 'sub.csv' is a folder; give a file name"
    before = _snapshot(workdir)
    assert main(["population", "us_visa_holders", *args]) == 2
    _one_line_error(capsys, "population", pattern)
    assert _snapshot(workdir) == before


# --- experiment files -------------------------------------------------------------------------


def _experiment_file(folder: Path, **tables: str) -> Path:
    lines = ['base = "immigration-os"']
    for table, body in tables.items():
        lines += [f"[{table.replace('__', '.')}]", body]
    path = folder / "mine.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["../../escaped-name", "/tmp/anywhere", "a/b", "..", ""])
def test_an_experiment_name_must_be_a_slug(workdir, capsys, name):
    path = _experiment_file(workdir, experiment=f"name = {json.dumps(name)}")
    assert main(["validate", str(path)]) == 2
    _one_line_error(capsys, "validate", r"experiment\.name: .*must be a short name")


@pytest.mark.parametrize("seed", [2**32, 2**63 - 1, 2**70])
def test_validate_and_run_refuse_the_same_seeds_before_any_work(
    workdir, capsys, monkeypatch, seed
):
    monkeypatch.setattr(runner, "compute_run", _no_work)
    path = _experiment_file(workdir, experiment=f"seed = {seed}")
    assert main(["validate", str(path)]) == 2
    message = _one_line_error(capsys, "validate", r"experiment\.seed: .*4294967295")
    assert main(["run", str(path)]) == 2
    assert _one_line_error(capsys, "run", r"experiment\.seed").split("error: ")[1] == \
        message.split("error: ")[1]
    assert main(["run", "immigration-os", "--seed", str(seed), "--out", "r"]) == 2
    _one_line_error(capsys, "run", r"experiment\.seed: .*4294967295")


def test_an_unknown_reference_group_is_refused_before_any_work(workdir, capsys, monkeypatch):
    monkeypatch.setattr(runner, "compute_run", _no_work)
    path = _experiment_file(workdir, audit__reference='nationality = "XXX"')
    assert main(["validate", str(path)]) == 2
    _one_line_error(capsys, "validate",
                    r"audit\.reference\.nationality: 'XXX' is not a nationality of profile")
    assert main(["run", str(path), "--out", "r"]) == 2
    _one_line_error(capsys, "run", r"audit\.reference\.nationality: 'XXX'")


@pytest.mark.parametrize("size", [1, 10])
def test_a_population_too_small_for_the_flagship_is_refused_in_one_line(workdir, capsys, size):
    assert main(["run", "--size", str(size), "--out", "tiny", "--quiet"]) == 2
    _one_line_error(capsys, "run", r"population\.size is too small for this system.*--size")
    assert not (workdir / "tiny").exists()


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_published_folders_follow_the_umask(tmp_path, mask):
    """A published results folder gets the mode the user's umask gives a new folder, not the
    private mode of its staging folder."""
    from experiments.engine.output import publish, staging_dir

    old = os.umask(mask)
    try:
        staging = staging_dir(tmp_path / "run")
        (staging / "metrics.csv").write_text("x\n", encoding="utf-8")
        published = publish(staging, tmp_path / "run")
    finally:
        os.umask(old)
    assert published.stat().st_mode & 0o777 == 0o777 & ~mask
