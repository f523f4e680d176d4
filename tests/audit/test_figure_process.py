"""Figures drawn by a forked helper as well as by this process (audit.figure_process).

The helper is forked only from a process with no second Python thread, which a pytest worker
is not (it talks to its controller on a thread of its own); each test that needs a helper runs
a script as a process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from audit.figure_process import FigureCall, FigureHelper, draw_figures, start_drawing

ROOT = Path(__file__).resolve().parents[2]

#: What every script starts with: a slow call that says which process made it, and a call
#: that fails, both in the script's own module, which the forked helper shares.
PRELUDE = """
import json, os, sys, time
from audit.figure_process import FigureCall, FigureHelper, draw_figures, start_drawing

def who(index, pause=0.05):
    time.sleep(pause)
    return [index, os.getpid()]

def fails(index):
    raise KeyError(f"figure {index}")
"""


def run_script(body: str, tmp_path: Path) -> dict:
    """Run PRELUDE + ``body`` as a process of its own; it prints one JSON line."""
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_helper_is_forked_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert FigureHelper.start() is None
    finally:
        stop.set()
        thread.join()


def test_without_a_helper_every_call_is_made_here_in_order() -> None:
    calls = [FigureCall(divmod, (7, d)) for d in (1, 2, 0, 3)]
    outcomes = draw_figures(calls)
    assert outcomes[0] == (7, 0) and outcomes[1] == (3, 1) and outcomes[3] == (2, 1)
    assert isinstance(outcomes[2], ZeroDivisionError)  # returned, not raised
    assert start_drawing([]).result() == []


def test_the_helper_and_this_process_share_the_calls_and_keep_their_order(
        tmp_path: Path) -> None:
    result = run_script("""
        helper = FigureHelper.start()
        assert helper is not None
        calls = [FigureCall(who, (i,)) for i in range(24)] + [FigureCall(fails, (24,))]
        with helper:
            outcomes = draw_figures(calls, helper)
            again = draw_figures([FigureCall(who, (i,)) for i in range(6)], helper)
        error = outcomes.pop()
        print(json.dumps({"outcomes": outcomes, "again": again, "me": os.getpid(),
                          "error": [type(error).__name__, str(error)]}))
    """, tmp_path)
    assert [index for index, _ in result["outcomes"]] == list(range(24))
    drawers = {pid for _, pid in result["outcomes"]}
    assert result["me"] in drawers and len(drawers) == 2  # both took some
    assert [index for index, _ in result["again"]] == list(range(6))  # a second list too
    assert result["error"] == ["KeyError", "'figure 24'"]


def test_calls_the_helper_took_but_never_answered_are_made_here(tmp_path: Path) -> None:
    result = run_script("""
        import signal
        helper = FigureHelper.start()
        calls = [FigureCall(who, (i, 0.02)) for i in range(4)]
        # The helper dies halfway through a call that it took.
        calls.insert(1, FigureCall(os.kill, (helper._process.pid, signal.SIGKILL)))
        pending = start_drawing(calls, helper)
        outcomes = pending.result()
        helper.close()
        print(json.dumps({"outcomes": [o for o in outcomes if isinstance(o, list)],
                          "me": os.getpid(), "alive": helper.alive()}))
    """, tmp_path)
    assert [index for index, _ in result["outcomes"]] == list(range(4))
    assert result["alive"] is False


def test_calls_that_cannot_reach_the_helper_are_made_here(tmp_path: Path) -> None:
    result = run_script("""
        helper = FigureHelper.start()
        with helper:
            # A lambda cannot be sent to another process.
            outcomes = draw_figures([FigureCall(lambda i: [i, os.getpid()], (i,))
                                     for i in range(5)], helper)
        print(json.dumps({"pids": sorted({pid for _, pid in outcomes}), "me": os.getpid()}))
    """, tmp_path)
    assert result["pids"] == [result["me"]]


def test_a_stopped_drawing_leaves_the_helper_ended(tmp_path: Path) -> None:
    result = run_script("""
        helper = FigureHelper.start()
        pending = start_drawing([FigureCall(who, (i, 0.5)) for i in range(6)], helper)
        time.sleep(0.2)
        pending.stop()
        print(json.dumps({"alive": helper.alive()}))
        helper.close()
    """, tmp_path)
    assert result["alive"] is False


@pytest.mark.parametrize("experiment", ["detention-rca"])
def test_a_run_with_the_helper_draws_the_same_figures(
        experiment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run in a process of its own forks the helper, which draws some of the figures;
    every file but the manifest is the bytes of a run drawn in one process."""
    script = f"""
        from pathlib import Path

        import audit.figure_process as figure_process
        from experiments.config import load_config
        from experiments.engine.runner import run_experiment

        outcome = figure_process.FigureCall.outcome

        def recorded(call):
            path = outcome(call)
            (Path(str(path)).parent / f".drawn-{{Path(str(path)).name}}").write_text(
                str(os.getpid()))
            return path

        figure_process.FigureCall.outcome = recorded
        config, path = load_config("{experiment}", {{"population.size": 3000}})
        run_experiment(config, path, out=Path(sys.argv[1]), force=True)
        print(json.dumps({{"me": os.getpid()}}))
    """
    with_helper = tmp_path / "with"
    body = textwrap.dedent(script)
    (tmp_path / "script.py").write_text(PRELUDE + body, encoding="utf-8")
    done = subprocess.run([sys.executable, str(tmp_path / "script.py"), str(with_helper)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    me = json.loads(done.stdout.strip().splitlines()[-1])["me"]
    marks = sorted((with_helper / "figures").glob(".drawn-*"))
    drawers = {mark.read_text() for mark in marks}
    assert str(me) in drawers and len(drawers) == 2  # the helper drew some of them
    for mark in marks:
        mark.unlink()

    from experiments.config import load_config
    from experiments.engine import runner

    class NoHelper:
        @staticmethod
        def start() -> None:
            return None

    monkeypatch.setattr(runner, "FigureHelper", NoHelper)  # every figure drawn here
    config, path = load_config(experiment, {"population.size": 3000})
    alone = tmp_path / "alone"
    runner.run_experiment(config, path, out=alone, force=True)
    files = sorted(p.relative_to(with_helper) for p in with_helper.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(alone) for p in alone.rglob("*") if p.is_file())
    assert any(f.suffix == ".png" for f in files)
    for name in files:
        if name.name in ("manifest.json", "report.md", "report.html"):
            continue  # they name the run's id and time
        assert (with_helper / name).read_bytes() == (alone / name).read_bytes(), name


def test_a_run_that_fails_while_the_helper_draws_leaves_no_folder(tmp_path: Path) -> None:
    """The run's folder is removed when it fails, and the helper, stopped first, writes
    nothing into it afterwards."""
    result = run_script(f"""
        import time
        from pathlib import Path

        import audit.figure_process as figure_process
        from experiments.config import load_config
        from experiments.engine import runner

        outcome = figure_process.FigureCall.outcome

        def slow(call):
            time.sleep(0.3)
            return outcome(call)

        def broken(*args, **kwargs):
            time.sleep(0.5)  # the helper is drawing meanwhile
            raise RuntimeError("tables broke")

        figure_process.FigureCall.outcome = slow
        runner.table_files = broken
        config, path = load_config("detention-rca", {{"population.size": 3000}})
        parent = Path({str(tmp_path / "results")!r})
        try:
            runner.run_experiment(config, path, out=parent / "run")
        except RuntimeError as error:
            message = str(error)
        time.sleep(1.5)  # long enough for a figure or two, had the helper gone on
        left = sorted(str(p.relative_to(parent)) for p in parent.rglob("*"))
        print(json.dumps({{"message": message, "left": left}}))
    """, tmp_path)
    assert result == {"message": "tables broke", "left": []}
