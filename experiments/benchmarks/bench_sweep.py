"""Benchmark: a 100-point sweep at 100,000 people per point, with one and with two workers.

The grid is the label-bias blind-spot sweep widened to 20 strengths times 5 seeds. Each
point is a full run without figures (population, mechanisms, training, decisions, two audits
with 400 bootstrap resamples, tables and manifest), timed with each point's attribution knob
worlds (``[sweep] attribution = true``) and without them (``false``), so the per-point cost
of the worlds shows. Printed, not asserted::

    python -m experiments.benchmarks.bench_sweep [--size 100000] [--jobs 1 2]
        [--attribution on off]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.config import builtin_experiments, read_experiment_data, set_dotted
from experiments.sweeps.runner import run_sweep, sweep_points


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
    parser.add_argument("--attribution", nargs="+", choices=["on", "off"], default=["on", "off"],
                        help="time the points with their knob worlds (on), without (off), or both")
    args = parser.parse_args()
    data = hundred_point_sweep(args.size)
    n_points = len(sweep_points(data))
    rows = []
    for worlds in args.attribution:
        data["sweep"]["attribution"] = worlds == "on"
        for jobs in args.jobs:
            directory = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
            start = time.perf_counter()
            run_sweep(data, Path("label_bias_blind_spot.toml"), directory / "sweep", jobs=jobs)
            seconds = time.perf_counter() - start
            shutil.rmtree(directory)
            rows.append((worlds, jobs, seconds))
            print(f"done: attribution {worlds}, --jobs {jobs}", flush=True)
    print(f"\n{n_points} points × {args.size:,} people")
    print(f"{'attribution':>11} {'jobs':>5} {'wall time':>12} {'per point':>10} {'speed-up':>9}")
    for worlds, jobs, seconds in rows:
        first = next(s for w, _, s in rows if w == worlds)
        print(f"{worlds:>11} {jobs:>5} {seconds:>10.1f} s {seconds / n_points:>8.2f} s "
              f"{first / seconds:>8.2f}×")
    for jobs in args.jobs:
        timed = {w: s for w, j, s in rows if j == jobs}
        if len(timed) == 2:
            print(f"--jobs {jobs}: per point {timed['on'] / n_points:.2f} s with the knob worlds, "
                  f"{timed['off'] / n_points:.2f} s without ({timed['on'] / timed['off']:.1f}×)")


if __name__ == "__main__":
    main()
