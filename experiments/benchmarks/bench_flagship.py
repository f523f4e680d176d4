"""Benchmark: the flagship experiment (``catch-and-revoke``) at 60,000, 240,000 and 1,126,690
students, each in its own process, with its wall time, its peak memory and where the time goes.

Each size runs ``bias-audit run catch-and-revoke --size N`` as the command does (population,
posts, classifier, the 64 knob worlds of the attribution, two audits, report and figures) in a
child process; the peak memory is the child's own maximum resident set size (``ru_maxrss``
from ``os.wait4``), so sizes do not inherit each other's memory. The phases are the runner's
(generation, system, audit, attribution's worlds, report), and inside them the time spent
generating posts and in the classifier (training, featurising, keyword search), measured by
timing those functions in the child. Printed, not asserted::

    python -m experiments.benchmarks.bench_flagship [--sizes 60000 240000 1126690]
        [--experiment catch-and-revoke] [--no-attribution]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The sizes of the issue's targets: the default, four times it, and the US population of
#: international students (IIE Open Doors 2023/24).
SIZES = (60_000, 240_000, 1_126_690)
#: The runner's progress messages, by the phase they open.
PHASES = (("generating", "generation"), ("training and running", "system"),
          ("auditing", "audit"), ("deciding counterfactual", "twins"),
          ("attribution", "attribution worlds"), ("writing results", "report"))
#: Functions timed inside the phases: (module, attribute, label).
TIMED = (
    ("experiments.systems.catch_and_revoke", "generate_posts", "posts"),
    ("synthetic.systems.babel_x.BabelXScorer", "fit", "classifier"),
    ("synthetic.systems.babel_x.BabelXScorer", "featurise", "classifier"),
    ("experiments.systems.catch_and_revoke", "keyword_hits", "classifier"),
)


def _child(experiment: str, size: int, attribution: bool) -> None:
    """Run one experiment in this process and print its timings as one JSON line."""
    import importlib

    from synthetic.threads import arrow_allocates_by_malloc, one_allocation_arena

    # As the command does, before anything starts a thread.
    one_allocation_arena()
    arrow_allocates_by_malloc()

    from experiments.config import load_config
    from experiments.engine.runner import run_experiment

    seconds: dict[str, float] = {}
    state = {"phase": "setup", "since": time.perf_counter(), "inside": 0}

    def add(key: str, value: float) -> None:
        seconds[key] = seconds.get(key, 0.0) + value

    def progress(message: str) -> None:
        phase = next((name for prefix, name in PHASES if message.startswith(prefix)), None)
        if phase is None or phase == state["phase"]:
            return
        now = time.perf_counter()
        add(state["phase"], now - state["since"])
        state.update(phase=phase, since=now)

    def timed(function, label: str):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            # Only the outermost timed call counts (featurising inside fit is the classifier's).
            if state["inside"]:
                return function(*args, **kwargs)
            state["inside"] += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                state["inside"] -= 1
                add(f"{state['phase']}/{label}", time.perf_counter() - start)
        return wrapper

    for path, name, label in TIMED:
        module_path, _, owner = path.rpartition(".")
        try:
            holder = getattr(importlib.import_module(module_path), owner)
        except (ImportError, AttributeError):
            holder = importlib.import_module(path)
        setattr(holder, name, timed(getattr(holder, name), label))

    config, path = load_config(experiment, {"population.size": size})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-flagship-") as folder:
        run_experiment(config, path, out=Path(folder) / "run", progress=progress,
                       attribution=attribution)
    now = time.perf_counter()
    add(state["phase"], now - state["since"])
    print(json.dumps({"seconds": seconds, "total": now - started}))


def _run_size(experiment: str, size: int, attribution: bool) -> dict:
    """One size in a child process: its timings, wall time and peak memory."""
    command = [sys.executable, "-m", "experiments.benchmarks.bench_flagship", "--child",
               "--experiment", experiment, "--sizes", str(size)]
    if not attribution:
        command.append("--no-attribution")
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the run at {size:,} students failed (exit {child.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    result.update(wall=wall, peak_gb=usage.ru_maxrss * 1024 / 1e9)  # ru_maxrss is in KiB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="population sizes to run (default: 60000 240000 1126690)")
    parser.add_argument("--experiment", default="catch-and-revoke",
                        help="the experiment to time (default: the flagship)")
    parser.add_argument("--no-attribution", dest="attribution", action="store_false",
                        help="skip the knob worlds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.experiment, args.sizes[0], args.attribution)
        return
    results = {}
    for size in args.sizes:
        results[size] = _run_size(args.experiment, size, args.attribution)
        print(f"done: {size:,} students in {results[size]['wall']:.1f} s", flush=True)
    print(f"\n{args.experiment}, {os.cpu_count()} cores; wall time of the whole process and "
          "its peak resident memory")
    print(f"{'students':>10} {'wall time':>10} {'peak memory':>12}")
    for size, result in results.items():
        print(f"{size:>10,} {result['wall']:>8.1f} s {result['peak_gb']:>9.2f} GB")
    for result in results.values():
        result["seconds"]["python start-up and imports"] = result["wall"] - result["total"]
    phases = ["python start-up and imports",
              *(name for _, name in (("", "setup"), *PHASES))]
    print("\nwhere the time goes (seconds; posts and classifier are the parts of each phase "
          "spent generating posts and training, featurising and searching with the classifier)")
    print(f"{'phase':<30}" + "".join(f"{size:>12,}" for size in results))
    for phase in phases:
        rows = [(phase, phase)] + [(f"  of which {label}", f"{phase}/{label}")
                                   for label in ("posts", "classifier")]
        for title, key in rows:
            values = [result["seconds"].get(key) for result in results.values()]
            if all(v is None for v in values):
                continue
            print(f"{title:<30}" + "".join(f"{v or 0.0:>12.1f}" for v in values))


if __name__ == "__main__":
    main()
