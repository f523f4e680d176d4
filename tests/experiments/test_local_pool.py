"""A run's replicates in worker processes on this machine (``--jobs``), and further
replicates that compute only what is read of them.

The workers are real processes (joblib's loky executor), started by the command itself: the
tables must equal a run in one process byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from experiments.cli import main
from experiments.config import parse_config
from experiments.engine.attribution import world_config
from experiments.engine.runner import group_columns, train_split
from experiments.systems.contract import decisions_only, own_findings
from synthetic.population import generate

from .cli_errors import one_line_error
from .conftest import shipped_data

#: iBorderCtrl, small: three pilots' replicates, each with its attribution worlds.
SMALL_RUN = ["iborderctrl", "--size", "3000", "--replicates", "3", "--set", "audit.n_boot=50"]


def test_replicates_in_two_worker_processes_equal_one_process(tmp_path):
    environment = {**os.environ, "BIAS_AUDIT_JOBS": ""}  # --jobs alone decides
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "run", *SMALL_RUN, "--jobs", "2",
         "--out", str(tmp_path / "workers")],
        capture_output=True, text=True, timeout=600, check=False, env=environment)
    assert done.returncode == 0, done.stderr
    assert "replicates 2 to 3 in 2 worker processes" in done.stderr
    assert main(["run", *SMALL_RUN, "--jobs", "1", "--quiet",
                 "--out", str(tmp_path / "one")]) == 0
    workers, one = tmp_path / "workers", tmp_path / "one"
    names = sorted(p.name for p in one.iterdir()
                   if p.suffix in (".csv", ".parquet") or p.name == "claims.json")
    assert {"replicates.csv", "attribution.csv", "claims.json"} <= set(names)
    for name in names:
        assert (workers / name).read_bytes() == (one / name).read_bytes(), name


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], r"--jobs must be 1 or more processes, got 0"),
])
def test_bad_jobs_is_refused_in_one_line(tmp_path, capsys, args, message):
    assert main(["run", *SMALL_RUN, *args, "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "run", message)
    assert not (tmp_path / "out").exists()


def test_bad_jobs_variable_is_named_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BIAS_AUDIT_JOBS", "two")
    assert main(["run", *SMALL_RUN, "--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "run", r"the environment variable BIAS_AUDIT_JOBS must be a whole "
                                  r"number of processes \(1 or more\), got 'two'")


@pytest.mark.parametrize("stem", ["catch_and_revoke", "babel_x"])
def test_a_further_replicate_decides_and_acts_in_worlds_as_the_full_run(stem):
    # Further replicates skip the system's own report tables; what the runner reads of them
    # (the decisions and the worlds' decisions) must not change.
    from experiments.config.registry import system_adapter

    data = shipped_data(stem, 3_000, n_boot=20)
    if "training_posts" in data["system"]:
        data["system"]["training_posts"] = 5_000  # a small corpus: the same code path
    config = parse_config(data)
    people = generate(config.population.profile, config.population.size,
                      config.experiment.seed,
                      mechanisms={n: m.model_dump() for n, m in config.mechanisms.items()}
                      ).people
    train = train_split(len(people), config.split.train_fraction, config.experiment.seed)
    columns = group_columns(config)
    run = system_adapter(config.experiment.system).run
    full = run(config, people, train, columns)
    assert own_findings()
    with decisions_only():
        assert not own_findings()
        lean = run(config, people, train, columns)
    assert own_findings()
    pd.testing.assert_frame_equal(lean.decided.table, full.decided.table)
    assert full.decided.extra_tables and not lean.decided.extra_tables
    world = world_config(config, config.attribution.knobs, 0)  # every knob off
    np.testing.assert_array_equal(lean.hooks.decide_world(world, people)["decision"],
                                  full.hooks.decide_world(world, people)["decision"])


def _square(value: int) -> int:
    return value * value


def _pause(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def _die() -> None:
    os._exit(3)  # a worker killed midway (out of memory, say)


def test_tasks_waiting_for_a_worker_can_be_dropped():
    from experiments.engine.pool import LocalPool

    pool = LocalPool(1)
    try:
        assert pool.submit(_square, 2).result(timeout=120) == 4  # the worker is up
        running = pool.submit(_pause, 1.0)
        waiting = [pool.submit(_square, k) for k in range(3)]
        pool.cancel()
        assert all(handle.cancelled() for handle in waiting)
        assert running.result(timeout=120) == 1.0  # the one a worker took still ends
        assert pool.submit(_square, 4).result(timeout=120) == 16
    finally:
        pool.close()


def test_a_dead_worker_fails_its_task_and_those_waiting_instead_of_hanging():
    from experiments.engine.pool import LocalPool

    pool = LocalPool(1)
    try:
        assert pool.submit(_square, 3).result(timeout=120) == 9
        dead = pool.submit(_die)
        after = [pool.submit(_square, k) for k in range(3)]
        for handle in (dead, *after):
            with pytest.raises(Exception, match="(?i)worker|broken|terminat"):
                handle.result(timeout=120)
        assert not pool.settled()
    finally:
        pool.close(kill=True)


#: A child process: a worker sends half a result and stops there; the pool is then closed
#: with its workers killed. Prints "closed" once the close returns.
HALF_SENT_RESULT = """
import gc, os, struct, sys, threading, time
from pathlib import Path

from experiments.engine.pool import LocalPool


def half_sent(marker):
    # The worker's end of the result pipe: the header of a 1 MB message and 1 kB of it,
    # as a worker killed while sending its result leaves them.
    from joblib.externals.loky.backend.queues import SimpleQueue

    queue = next(o for o in gc.get_objects() if isinstance(o, SimpleQueue))
    os.write(queue._writer.fileno(), struct.pack("!i", 1 << 20) + b"x" * 1024)
    Path(marker).write_text("sent")
    time.sleep(600)


if __name__ == "__main__":
    marker = Path(sys.argv[1])
    pool = LocalPool(1)
    pool.submit(half_sent, str(marker))
    while not marker.exists():
        time.sleep(0.01)
    time.sleep(0.2)  # the executor's thread is reading the message
    closing = threading.Thread(target=lambda: pool.close(kill=True), daemon=True)
    closing.start()
    closing.join(timeout=60)
    print("hung" if closing.is_alive() else "closed", flush=True)
    os._exit(0)
"""


def test_workers_killed_halfway_through_a_result_do_not_hang_the_close(tmp_path):
    script = tmp_path / "half_sent.py"
    script.write_text(HALF_SENT_RESULT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "sent")],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.stdout.strip() == "closed", (done.stdout, done.stderr[-2000:])
