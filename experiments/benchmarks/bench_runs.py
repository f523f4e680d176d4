"""Benchmark: every shipped experiment's default run, each as its own process, with its wall
time, peak memory and where the time goes (with ``--workers N``, each run with replicates
also with its further replicates in N worker processes, ``--jobs N``); the sandbox-size run
(10,000 people) with and without attribution (and, for a system that refuses so few
people, at the page's default size); and one run with its worlds on a 2-worker Dask
cluster against the same run in one process.

Each run is ``bias-audit run NAME --out FOLDER --quiet`` in a child process, as a user runs
it. The wall time includes Python's start-up and imports; the peak memory is the child's own
maximum resident set size (``ru_maxrss`` from ``os.wait4``, which counts numpy's memory, unlike
tracemalloc; with worker processes, the largest of the run's processes). The phases are the
runner's own (population, system, audit, worlds, replicates, remedies, report), read from
``phase_seconds`` in the run's manifest; with worker processes the replicates run while the
worlds do, and their time shows under "worlds". Printed, not asserted::

    python -m experiments.benchmarks.bench_runs [--only NAME ...] [--skip-national]
        [--workers 2] [--sandbox-size 10000] [--dask-experiment catch-and-revoke]
        [--no-dask]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from experiments.benchmarks.processes import free_port, start, stop
from experiments.config.experiment import CATALOGUE_DIR
from experiments.serve.controls import PAGE_DEFAULT_SIZE

#: The experiment at the national scale, whose target is its own (30 s and 2.5 GB).
NATIONAL = "catch-and-revoke-national"
#: The size a web page runs an experiment at.
SANDBOX_SIZE = 10_000
#: The runner's phases, in the order a run passes them.
PHASES = ("population", "system", "audit", "worlds", "replicates", "remedies", "report")


def shipped() -> list[str]:
    """The shipped experiments (not the sweeps), by name."""
    return [p.stem.replace("_", "-") for p in sorted(CATALOGUE_DIR.glob("*.toml"))]


def replicates_of(name: str) -> int:
    """The replicates a shipped experiment runs by default."""
    from experiments.config import load_config

    return load_config(name)[0].experiment.replicates


def timed_run(name: str, *options: str) -> dict:
    """``bias-audit run NAME OPTIONS`` in a child process: wall seconds, peak GB, phases."""
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as folder:
        out = Path(folder) / "run"
        command = [sys.executable, "-m", "experiments.cli", "run", name, "--out", str(out),
                   "--quiet", *options]
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Read before waiting: a child blocked on a full pipe would never end.
        errors = child.stderr.read().decode(errors="replace") if child.stderr else ""
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            return {"wall": wall, "peak_gb": float("nan"), "phases": {},
                    "failed": errors.strip().splitlines()[-1:] or [f"exit {code}"]}
        details = json.loads((out / "manifest.json").read_text())["details"]
    return {"wall": wall, "peak_gb": usage.ru_maxrss * 1024 / 1e9,  # ru_maxrss is in KiB
            "phases": details.get("phase_seconds", {}), "seconds": details.get("seconds")}


def _row(label: str, result: dict) -> str:
    if result.get("failed"):
        return f"{label:<34} failed: {result['failed'][0]}"
    phases = result["phases"]
    start_up = result["wall"] - (result.get("seconds") or 0.0)
    cells = "".join(f"{phases.get(p, 0.0):>11.1f}" for p in PHASES)
    return (f"{label:<34}{result['wall']:>8.1f}{result['peak_gb']:>8.2f}{start_up:>9.1f}"
            + cells)


def _header() -> str:
    return (f"{'run':<34}{'wall s':>8}{'peak GB':>8}{'start-up':>9}"
            + "".join(f"{p:>11}" for p in PHASES))


def dask_comparison(name: str) -> tuple[dict, dict]:
    """One run in a single process and with its worlds and replicates on a local cluster of
    a scheduler and two single-thread workers, each a process of its own."""
    dask = str(Path(sys.executable).parent / "dask")
    processes = []
    with tempfile.TemporaryDirectory(prefix="bench-runs-cluster-") as base:
        base_path = Path(base)
        scheduler_file = base_path / "scheduler.json"
        port = free_port()
        try:
            (base_path / "scheduler").mkdir()
            processes.append(start(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                base_path / "scheduler", base_path / "scheduler.log"))
            deadline = time.monotonic() + 60
            while not scheduler_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            for index in (1, 2):
                folder = base_path / f"worker{index}"
                folder.mkdir()
                processes.append(start(
                    [dask, "worker", "--scheduler-file", str(scheduler_file), "--host",
                     "127.0.0.1", "--nworkers", "1", "--nthreads", "1", "--no-nanny",
                     "--no-dashboard", "--local-directory", str(folder / "scratch")], folder,
                    folder / "log"))
            from distributed import Client

            address = f"tcp://127.0.0.1:{port}"
            with Client(address, timeout="30s", set_as_default=False) as client:
                client.wait_for_workers(2, timeout=60)
            on_cluster = timed_run(name, "--dask", address)
        finally:
            for process in reversed(processes):
                stop(process)
    return timed_run(name), on_cluster


def main() -> None:
    """Print the benchmark's tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these experiments only")
    parser.add_argument("--skip-national", action="store_true",
                        help=f"leave out {NATIONAL} (about a minute and 4 GB)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="also run each experiment with replicates with --jobs N, to "
                             "compare worker processes with one process")
    parser.add_argument("--sandbox-size", type=int, default=SANDBOX_SIZE,
                        help=f"people in the sandbox-size runs (default: {SANDBOX_SIZE:,})")
    parser.add_argument("--dask-experiment", default="catch-and-revoke",
                        help="the experiment run on a 2-worker cluster (default: the flagship)")
    parser.add_argument("--no-dask", dest="dask", action="store_false",
                        help="skip the cluster comparison")
    args = parser.parse_args()
    names = args.only or shipped()
    if args.skip_national:
        names = [n for n in names if n != NATIONAL]

    print(f"{os.cpu_count()} cores; each run a process of its own; seconds, and the peak "
          "resident memory of the process\n")
    print("default runs (attribution and default replicates)")
    print(_header(), flush=True)
    for name in names:
        default = timed_run(name)
        print(_row(name, default), flush=True)
        if args.workers and replicates_of(name) > 1:
            workers = timed_run(name, "--jobs", str(args.workers))
            print(_row(f"{name} --jobs {args.workers}", workers)
                  + f"   {workers['wall'] / default['wall']:.2f} of the time", flush=True)

    size = str(args.sandbox_size)
    print(f"\nsandbox-size runs ({args.sandbox_size:,} people)")
    print(_header(), flush=True)
    for name in (n for n in names if n != NATIONAL):
        with_worlds = timed_run(name, "--size", size)
        print(_row(f"{name}", with_worlds), flush=True)
        without = timed_run(name, "--size", size, "--no-attribution")
        print(_row(f"{name} --no-attribution", without), flush=True)
        if (with_worlds.get("failed") or without.get("failed")) and (
                args.sandbox_size < PAGE_DEFAULT_SIZE):
            # A system that cannot learn from so few people (CBP One's face model) is shown
            # at the size the sandbox page runs it at instead.
            page = str(PAGE_DEFAULT_SIZE)
            print(_row(f"{name} at {PAGE_DEFAULT_SIZE:,}", timed_run(name, "--size", page)),
                  flush=True)
            print(_row(f"{name} at {PAGE_DEFAULT_SIZE:,} --no-attribution",
                       timed_run(name, "--size", page, "--no-attribution")), flush=True)

    if args.dask:
        single, on_cluster = dask_comparison(args.dask_experiment)
        print(f"\n{args.dask_experiment}: one process against its worlds and replicates on "
              "2 Dask workers (scheduler, workers and client share this machine)")
        print(_header())
        print(_row("one process", single))
        print(_row("--dask, 2 workers", on_cluster))


if __name__ == "__main__":
    main()
