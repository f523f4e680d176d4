"""Benchmark: a 100-point sweep at 100,000 people per point, with one and with two workers.

The grid is the label-bias blind-spot sweep widened to 20 strengths times 5 seeds. Each
point is a full run without figures (population, mechanisms, training, decisions, two audits
with 400 bootstrap resamples, tables and manifest). Printed, not asserted::

    python -m experiments.benchmarks.bench_sweep [--size 100000] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.config import builtin_experiments, read_experiment_data, set_dotted
from experiments.sweep import run_sweep, sweep_points


def hundred_point_sweep(size: int) -> dict:
    """The blind-spot sweep with 20 label-bias strengths times 5 seeds."""
    data = read_experiment_data(builtin_experiments()["label-bias-blind-spot"])
    set_dotted(data, "population.size", size)
    strengths = [round(float(s), 3) for s in np.linspace(0, 1.9, 20)]
    data["sweep"]["grid"] = {"mechanisms.label_bias.strength": strengths}
    data["sweep"]["seeds"] = [1, 2, 3, 4, 5]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="people per point")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="workers to time")
    args = parser.parse_args()
    data = hundred_point_sweep(args.size)
    n_points = len(sweep_points(data))
    rows = []
    for jobs in args.jobs:
        directory = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
        start = time.perf_counter()
        run_sweep(data, Path("label_bias_blind_spot.toml"), directory / "sweep", jobs=jobs)
        seconds = time.perf_counter() - start
        shutil.rmtree(directory)
        rows.append((jobs, seconds))
        print(f"done: --jobs {jobs}", flush=True)
    print(f"\n{n_points} points × {args.size:,} people")
    print(f"{'jobs':>5} {'wall time':>12} {'per point':>10} {'speed-up':>9}")
    for jobs, seconds in rows:
        print(f"{jobs:>5} {seconds:>10.1f} s {seconds / n_points:>8.2f} s "
              f"{rows[0][1] / seconds:>8.2f}×")


if __name__ == "__main__":
    main()
