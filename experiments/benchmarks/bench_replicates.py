"""Benchmark: the cost of replicates of a system's own randomness, per added replicate.

Run ``python -m experiments.benchmarks.bench_replicates [--size N] [--replicates 1 5 10]``.
Runs the flagship (Catch and Revoke) and iBorderCtrl with each number of replicates on the
same people, without attribution, and prints each run's wall time and the time per added
replicate as a ratio to the run of one replicate: a ratio well below 1 means the replicates
reuse what does not change between them (the population, the training split, the people's
posts and their features); a ratio near 1 means each replicate costs a whole run. Tests never
assert timings.
"""

from __future__ import annotations

import argparse
import time
import tomllib

from experiments.config import CATALOGUE_DIR, parse_config
from experiments.engine.runner import compute_run

#: The systems measured: the flagship learns from an annotated corpus, iBorderCtrl from a pilot.
SYSTEMS = ("catch_and_revoke", "iborderctrl")


def timed_run(stem: str, size: int, replicates: int, n_boot: int) -> float:
    """Wall time of one run of a shipped experiment with ``replicates`` replicates."""
    data = tomllib.loads((CATALOGUE_DIR / f"{stem}.toml").read_text(encoding="utf-8"))
    data["population"]["size"] = size
    data["audit"]["n_boot"] = n_boot
    data["experiment"]["replicates"] = replicates
    config = parse_config(data)
    started = time.perf_counter()
    compute_run(config, attribution=False)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Time each system at each number of replicates and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--replicates", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    args = parser.parse_args(argv)
    counts = sorted(set(args.replicates) | {1})

    print(f"{'system':18s} {'replicates':>10s} {'seconds':>9s} {'per added':>10s} "
          f"{'ratio to first':>15s}")
    for stem in args.systems:
        first = None
        for count in counts:
            seconds = timed_run(stem, args.size, count, args.n_boot)
            if first is None:
                first = seconds
                print(f"{stem:18s} {count:10d} {seconds:9.1f} {'':>10s} {'':>15s}",
                      flush=True)
                continue
            added = (seconds - first) / (count - 1)
            print(f"{stem:18s} {count:10d} {seconds:9.1f} {added:10.2f} {added / first:15.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
