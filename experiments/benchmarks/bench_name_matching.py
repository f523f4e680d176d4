"""Benchmark: screening a million travellers against a 10,000-entry watchlist.

Run ``python -m experiments.benchmarks.bench_name_matching [--size N] [--list-size M]``.
Generates the travellers (profile ``air_travellers``), draws their names and the watchlist,
and times the matcher's search (part similarities between distinct spellings, blocking on the
family name, best score per listed year of birth). Prints each stage's wall time, the number of
distinct traveller names, the referral rate and the peak resident memory. The target is 1e6
travellers against 10,000 entries in under 60 s. Tests never assert timings.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from experiments.systems.name_matching import TARGETED_SHARES
from synthetic.names import load_name_pools
from synthetic.population import generate
from synthetic.systems.name_matching import WatchlistMatcher, list_shares, screen


def peak_memory_gb() -> float:
    """Peak resident set size of this process, in GB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    """Screen one population and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--list-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2006)
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    people = generate("air_travellers", args.size, args.seed).people
    generated = time.perf_counter()
    pools = load_name_pools()
    origin = pools.origin_codes(people["name_origin"].to_numpy())
    birth_year = 2025 - people["age"].to_numpy(dtype=np.int64)
    screening = screen(pools, origin, people["person_id"].to_numpy(), args.seed,
                       birth_year=birth_year, list_size=args.list_size,
                       shares=list_shares("targeted", TARGETED_SHARES, origin, pools))
    passport = screening.passport_strings(pools)
    drawn = time.perf_counter()
    matcher = WatchlistMatcher(threshold=args.threshold).fit(
        *screening.list_strings(pools), screening.watchlist["birth_year"])
    score = matcher.score(*passport, birth_year)
    scored = time.perf_counter()
    distinct = len(pd.DataFrame(dict(zip("gmf", passport, strict=True))).drop_duplicates())
    print(
        f"travellers={args.size:,} list entries={args.list_size:,} "
        f"distinct traveller names={distinct:,}\n"
        f"  generate population: {generated - start:.1f} s\n"
        f"  draw names and watchlist: {drawn - generated:.1f} s\n"
        f"  match (fit + score): {scored - drawn:.1f} s "
        f"({args.size / max(scored - drawn, 1e-9) / 1e6:.2f} M travellers/s)\n"
        f"  total: {scored - start:.1f} s\n"
        f"  referred at threshold {args.threshold:g}: {np.mean(score >= args.threshold):.2%}\n"
        f"  peak resident memory: {peak_memory_gb():.2f} GB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
