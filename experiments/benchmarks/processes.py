"""Real servers for benchmarks and tests: separate processes on 127.0.0.1, stopped whole.

A scheduler, a worker or ``bias-audit serve`` is started in a process group of its own, with
its output in a log file, so that stopping it also stops what it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (so a user's own server is untouched)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start ``command`` in ``cwd`` in a new session, its output and errors going to ``log``."""
    with log.open("wb") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop a process and everything it started (its process group): politely, then not."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
