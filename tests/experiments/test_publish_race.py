"""Nothing lost when two things happen at once: the output is checked again at publish time.

A file or a folder that appears at the target while a command works is never removed, with
``--force`` or without; of two commands aimed at one folder one publishes and the other is
refused in one line; two commands without ``--out`` started in the same second get two
folders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import experiments.engine.runner as runner
from experiments.cli import main
from experiments.config import parse_config
from experiments.errors import UsageError
from tests.experiments.conftest import immigration_os_data

BIAS_AUDIT = Path(sys.executable).with_name("bias-audit")


def _tiny_csv(folder: Path) -> Path:
    rows = ["g,y,d"] + [f"{g},{i % 2},{(i // 2) % 2}" for i in range(24) for g in "ab"]
    path = folder / "tiny.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _audit_args(out: str | None, *extra: str) -> list[str]:
    return ["audit", "tiny.csv", "--group", "g", "--y-true", "y", "--y-pred", "d",
            "--n-boot", "10", "--quiet", *(["--out", out] if out else []), *extra]


def _complete(folder: Path) -> bool:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return all((folder / name).is_file() for name in manifest["files"])


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    _tiny_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_line(capsys, pattern: str) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert pattern in err, err
    return err


def _arrives_during_the_audit(monkeypatch, make):
    """Run ``make()`` after the results are computed and before they are published."""
    import experiments.reports.audit_report as audit_report

    original = audit_report.write_audit_html

    def and_meanwhile(*args, **kwargs):
        original(*args, **kwargs)
        make()

    monkeypatch.setattr(audit_report, "write_audit_html", and_meanwhile)


@pytest.mark.parametrize("force", [False, True])
def test_a_file_put_in_the_folder_during_an_audit_is_kept(workdir, monkeypatch, capsys, force):
    if force:
        assert main(_audit_args("results")) == 0
    before = {p.name: p.read_bytes() for p in (workdir / "results").glob("*")} if force else {}

    def user_writes():
        (workdir / "results").mkdir(exist_ok=True)
        (workdir / "results" / "mine.txt").write_text("my notes", encoding="utf-8")

    _arrives_during_the_audit(monkeypatch, user_writes)
    assert main(_audit_args("results", *(["--force"] if force else []))) == 2
    _one_line(capsys, "--out 'results' received files this tool did not write while this "
                      "command ran ('mine.txt')")
    assert (workdir / "results" / "mine.txt").read_text(encoding="utf-8") == "my notes"
    for name, content in before.items():
        assert (workdir / "results" / name).read_bytes() == content
    assert not [p for p in workdir.iterdir() if p.name.startswith(".")]


def test_a_file_put_at_the_target_during_an_audit_is_kept(workdir, monkeypatch, capsys):
    _arrives_during_the_audit(
        monkeypatch, lambda: (workdir / "results").write_text("a file", encoding="utf-8"))
    assert main(_audit_args("results", "--force")) == 2
    _one_line(capsys, "--out 'results' became a file or a link while this command ran")
    assert (workdir / "results").read_text(encoding="utf-8") == "a file"


def test_another_audit_published_meanwhile_is_kept_without_force(workdir, monkeypatch, capsys):
    import experiments.cli.audit as audit_cmd

    # Between this audit's start and its end, a second audit publishes to the same folder.
    _arrives_during_the_audit(monkeypatch, lambda: None)
    original = audit_cmd.publish
    raced = []

    def second_command_first(staging, out, force=False, **kwargs):
        if not raced:
            raced.append(True)
            twin = staging.with_name(".partial-twin")
            twin.mkdir()
            for file in staging.iterdir():
                (twin / file.name).write_bytes(file.read_bytes())
            original(twin, out)
        return original(staging, out, force, **kwargs)

    monkeypatch.setattr(audit_cmd, "publish", second_command_first)
    assert main(_audit_args("results")) == 2
    _one_line(capsys, "--out 'results' was written by another command while this one ran")
    assert _complete(workdir / "results")
    assert not [p for p in workdir.iterdir() if p.name.startswith(".")]


def test_an_audit_that_fails_leaves_no_claimed_default_folder(workdir, monkeypatch):
    import experiments.reports.audit_report as audit_report

    monkeypatch.setattr(audit_report, "write_audit_html",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError, match="disk full"):
        main(_audit_args(None))
    assert sorted(p.name for p in workdir.iterdir()) == ["tiny.csv"]


@pytest.fixture(scope="module")
def computed():
    data = immigration_os_data(**{"population.size": 600, "audit.n_boot": 10,
                                  "counterfactual.interventions": []})
    config = parse_config(data)
    return config, runner.compute_run(config, attribution=False)


def test_two_runs_started_in_one_second_get_two_folders(workdir, monkeypatch, computed):
    config, done = computed
    monkeypatch.setattr(runner, "compute_run", lambda *a, **k: done)
    monkeypatch.setattr(runner, "make_run_id", lambda seed: f"20260101-000000-s{seed}")
    first = runner.run_experiment(config, Path("x.toml"), results_dir=workdir, report=False)
    second = runner.run_experiment(config, Path("x.toml"), results_dir=workdir, report=False)
    assert first.directory != second.directory
    assert second.directory.name == first.directory.name + "-2"
    assert second.manifest["run_id"] == second.directory.name
    assert _complete(first.directory) and _complete(second.directory)


def test_a_run_aimed_at_a_folder_another_run_took_meanwhile_is_refused(workdir, monkeypatch,
                                                                      computed):
    config, done = computed
    target = workdir / "same"

    def another_run_finishes_first(*args, **kwargs):
        monkeypatch.setattr(runner, "compute_run", lambda *a, **k: done)
        runner.run_experiment(config, Path("x.toml"), out=target, report=False)
        return done

    monkeypatch.setattr(runner, "compute_run", another_run_finishes_first)
    with pytest.raises(UsageError, match="--out '.*same' was written by another command"):
        runner.run_experiment(config, Path("x.toml"), out=target, report=False)
    assert _complete(target)
    assert not [p for p in workdir.iterdir() if p.name.startswith(".")]


def test_parallel_audits_never_lose_a_result(tmp_path):
    """Real processes, started together, several times: two aimed at one ``--out`` (one
    publishes, the other is refused in one line) and two without ``--out`` (two folders)."""
    for attempt in range(2):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        _tiny_csv(folder)
        commands = [_audit_args("same"), _audit_args("same"), _audit_args(None),
                    _audit_args(None)]
        running = [subprocess.Popen([str(BIAS_AUDIT), *args], cwd=folder, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for args in commands]
        finished = [(p.wait(timeout=120), p.stderr.read()) for p in running]
        for process in running:
            process.stdout.close()
            process.stderr.close()
        same = sorted(finished[:2])
        assert [code for code, _ in same] == [0, 2], same
        refusal = same[1][1]
        assert len(refusal.splitlines()) == 1 and "'same'" in refusal, refusal
        assert _complete(folder / "same")
        assert [code for code, _ in finished[2:]] == [0, 0], finished
        defaults = sorted(p for p in folder.iterdir() if p.name.startswith("audit-results-"))
        assert len(defaults) == 2 and all(_complete(p) for p in defaults)
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]
