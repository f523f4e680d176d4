"""Benchmark: time and peak memory to generate a synthetic population.

Run ``python -m experiments.benchmarks.bench_population [--size N] [--profile NAME]``. Prints
the wall time of generation (model and mechanisms), the rate in people per second and the peak
resident memory of the process. The target is 10 million people in under 30 s and under 4 GB.
Tests never assert timings.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from synthetic.population import generate

MECHANISMS_ON = {
    "label_bias": {"strength": 1.0, "targets": ["region:Middle East and North Africa"]},
    "measurement_bias": {"strength": 1.0, "targets": ["region:South Asia"]},
    "surveillance_intensity": {"strength": 1.0, "targets": ["region:Latin America and Caribbean"]},
    "representation_bias": {"strength": 1.0, "targets": ["region:Sub-Saharan Africa"]},
}


def peak_memory_gb() -> float:
    """Peak resident set size of this process, in GB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    """Generate one population and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--profile", default="us_visa_holders")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-mechanisms", action="store_true", help="all mechanisms off")
    args = parser.parse_args(argv)

    mechanisms = None if args.no_mechanisms else MECHANISMS_ON
    start = time.perf_counter()
    population = generate(args.profile, args.size, args.seed, mechanisms=mechanisms)
    elapsed = time.perf_counter() - start
    frame_gb = population.people.memory_usage(deep=True).sum() / 1024**3
    print(
        f"profile={args.profile} size={args.size:,} "
        f"mechanisms={'off' if mechanisms is None else 'on'}\n"
        f"  generate: {elapsed:.1f} s ({args.size / elapsed / 1e6:.2f} M people/s)\n"
        f"  frame: {population.people.shape[1]} columns, {frame_gb:.2f} GB\n"
        f"  peak resident memory: {peak_memory_gb():.2f} GB",
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
