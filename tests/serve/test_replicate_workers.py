"""The sandbox's runs send their further replicates to worker processes it keeps warm between
runs: the tables are the same bytes as one process writes, a run stopped midway leaves fresh
workers for the next, and a system that fits ahead on a second core keeps its replicates."""

from __future__ import annotations

import secrets
import signal
import time
from pathlib import Path

import pytest

from experiments.config import load_config, parse_config
from experiments.engine.runner import run_experiment
from experiments.serve.jobs import JobQueue, replicates_in_workers
from tests.experiments.conftest import same_table_bytes, shipped_data
from tests.serve.conftest import call, start_server, stop_server

SIZE = 3_000


def _config(replicates: int = 3, size: int = SIZE):
    return parse_config(shipped_data("visa_streaming", size, n_boot=50,
                                     replicates=replicates))


def _wait(job, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while job.pending and time.time() < deadline:
        time.sleep(0.05)
    assert not job.pending, job.public()


@pytest.mark.parametrize(("name", "expected"), [
    ("visa-streaming", True), ("iborderctrl", True), ("immigration-os", True),
    ("babel-x", False), ("catch-and-revoke", False),  # they fit ahead on a second core
    ("name-matching", False),  # one replicate: nothing to send
])
def test_which_runs_send_replicates_to_workers(name, expected):
    assert replicates_in_workers(load_config(name)[0]) is expected


def test_pooled_page_runs_write_the_bytes_of_one_process(tmp_path):
    alone = run_experiment(_config(), Path("visa_streaming.toml"), out=tmp_path / "alone",
                           attribution=True)
    queue = JobQueue(tmp_path / "results", replicate_workers=2)
    try:
        assert queue.replicate_workers == 2
        first = queue.submit("tab", "visa-streaming", _config(), Path("visa_streaming.toml"),
                             True, {})
        _wait(first)
        assert first.status == "done", first.error
        assert any("2 worker processes" in m for m in first.messages), first.messages
        assert same_table_bytes(alone.directory, first.target)
        # The same workers take the next run, with the same result.
        workers = queue._pool.executor
        second = queue.submit("tab", "visa-streaming", _config(), Path("visa_streaming.toml"),
                              True, {})
        _wait(second)
        assert second.status == "done", second.error
        assert queue._pool.executor is workers
        same_table_bytes(alone.directory, second.target)
    finally:
        queue.shutdown(timeout=30)


def test_a_run_stopped_midway_leaves_fresh_workers_for_the_next(tmp_path):
    queue = JobQueue(tmp_path / "results", replicate_workers=2)
    try:
        # Stopped once the second replicate is in, with many more still to compute (each
        # takes about as long as the first replicate's audits in this process).
        stopped = queue.submit("tab", "visa-streaming", _config(replicates=40, size=20_000),
                               Path("visa_streaming.toml"), False, {})
        deadline = time.time() + 120
        while not any("replicate 2 of 40: waiting" in m for m in stopped.messages):
            assert time.time() < deadline and stopped.pending, stopped.public()
            time.sleep(0.02)
        old_pool = queue._pool
        queue.cancel(stopped.id, "tab")
        _wait(stopped)
        assert not any("replicate 40 of 40" in m for m in stopped.messages)
        assert stopped.status == "cancelled"
        # The stopped run's workers are let go once it has ended, and fresh ones started.
        deadline = time.time() + 60
        while queue._pool is old_pool and time.time() < deadline:
            time.sleep(0.05)
        assert queue._pool is not old_pool
        assert not list((tmp_path / "results").glob("*/.partial-*"))
        after = queue.submit("tab", "visa-streaming", _config(), Path("visa_streaming.toml"),
                             True, {})
        _wait(after)
        assert after.status == "done", after.error
        alone = run_experiment(_config(), Path("visa_streaming.toml"),
                               out=tmp_path / "alone", attribution=True)
        same_table_bytes(alone.directory, after.target)
    finally:
        queue.shutdown(timeout=30)


def _children(pid: int) -> set[int]:
    """Every process started by ``pid`` and by its children (Linux's /proc)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            for child in map(int, task.read_text().split()):
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_stopping_the_server_stops_its_workers_midway_through_a_run(tmp_path):
    running = start_server(tmp_path)
    token = secrets.token_hex(16)
    try:
        status, job = call(running, "POST", "/api/experiments/visa-streaming/runs",
                           {"population.size": 60_000}, token)
        assert status == 202, job
        deadline = time.time() + 120
        while not any("worker" in m for m in call(
                running, "GET", f"/api/jobs/{job['id']}", token=token)[1]["messages"]):
            assert time.time() < deadline
            time.sleep(0.1)
        workers = _children(running.process.pid)
        assert len(workers) >= 2  # the replicate workers (and loky's resource tracker)
        running.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        running.process.wait(timeout=90)
    finally:
        if running.process.poll() is None:
            stop_server(running.process)
    deadline = time.time() + 10
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]
