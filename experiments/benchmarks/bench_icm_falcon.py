"""Benchmark: the ICM/FALCON link analysis over one million people and their edges.

Run ``python -m experiments.benchmarks.bench_icm_falcon [--people N]``. Generates the people
(with label-biased enforcement records; timed apart, as generation is not part of the target),
builds the social graph (households, co-workers, neighbours, phone contacts, with homophily by
origin and language), draws the tip line and scores and flags everyone (two sparse
matrix-vector products). Prints the time of each stage, the number of edges, the total of graph
building and scoring, and the peak resident memory. The target is one million people and their
edges in under 60 s on a 2-core machine. Tests never assert timings.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from synthetic.networks import build_graph
from synthetic.population import generate
from synthetic.systems.icm_falcon import LinkAnalysis, enforcement_records, tip_line

MECHANISMS = {"label_bias": {"strength": 1.0, "targets": ["region:Latin America and Caribbean"]}}


def peak_memory_gb() -> float:
    """Peak resident set size of this process, in GB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    """Generate the people, build the graph, score it, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args(argv)
    if args.people < 1_000:
        parser.error("--people: give at least 1000 people, like --people 1000000")

    started = time.perf_counter()
    people = generate("us_visa_holders", args.people, args.seed, mechanisms=MECHANISMS).people
    generated = time.perf_counter()
    graph = build_graph(people, args.seed, homophily_origin=0.8, homophily_language=0.5)
    built = time.perf_counter()
    tips = tip_line(people, args.seed, tip_bias=3.0,
                    targets=["region:Middle East and North Africa"])
    flagged, _ = LinkAnalysis(capacity=0.02).flag(graph, enforcement_records(people), tips)
    scored = time.perf_counter()

    print(f"people:               {args.people:,}")
    print(f"edges:                {sum(graph.edges.values()):,} "
          f"({', '.join(f'{k} {v:,}' for k, v in graph.edges.items())})")
    print(f"generate people:      {generated - started:6.2f} s (not part of the target)")
    print(f"build graph:          {built - generated:6.2f} s")
    print(f"tips, score and flag: {scored - built:6.2f} s ({int(flagged.sum()):,} flagged)")
    print(f"graph + scoring:      {scored - generated:6.2f} s (target: under 60 s)")
    print(f"peak memory:          {peak_memory_gb():6.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
