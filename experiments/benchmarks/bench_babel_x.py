"""Benchmark: one million synthetic posts generated, featurised and scored by the Babel X mimic.

Run ``python -m experiments.benchmarks.bench_babel_x [--posts N] [--jobs J]``. Generates enough
people for ``N`` pulled-in posts, writes the posts (text assembled from templates, annotator
labels), trains the classifier on a separate annotated corpus (timed apart: training is not
part of the target), then featurises the posts (hashed words and word pairs, ``J`` processes),
scores them (threat probability, sentiment, keyword flagger) and aggregates them per person
under persistent search. Prints the time of each stage, the total of generation, featurisation
and scoring, and the peak resident memory. The target is one million posts in under 60 s on a
2-core machine. Tests never assert timings.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from synthetic.population import generate
from synthetic.posts import generate_posts
from synthetic.systems.babel_x import BabelXScorer, keyword_hits, persistent_search

MECHANISMS = {"surveillance_intensity": {"strength": 1.0,
                                         "targets": ["region:Middle East and North Africa"]}}
#: Posts pulled in per person and month, roughly, in the us_visa_holders profile.
POSTS_PER_PERSON_MONTH = 2.5


def peak_memory_gb() -> float:
    """Peak resident set size of this process, in GB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main(argv: list[str] | None = None) -> int:
    """Generate, featurise and score the posts, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--months", type=float, default=3.0)
    parser.add_argument("--training-posts", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1, help="processes for featurising")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    stages: dict[str, float] = {}

    def timed(name: str, started: float) -> None:
        stages[name] = time.perf_counter() - started

    size = int(args.posts / (POSTS_PER_PERSON_MONTH * args.months) * 1.1)
    start = time.perf_counter()
    people = generate("us_visa_holders", size, args.seed, mechanisms=MECHANISMS).people
    timed("population", start)

    start = time.perf_counter()
    posts = generate_posts(people, args.seed, months=args.months, annotator_bias=1.0)
    posts = posts.iloc[:args.posts]
    timed("generate posts", start)

    corpus_people = people.iloc[: max(1, size // 4)]
    rate = corpus_people["observed_posts_per_month"].sum()
    corpus = generate_posts(corpus_people, args.seed, months=args.training_posts / rate,
                            threat_rate=0.02, annotator_bias=1.0, stream="corpus")
    start = time.perf_counter()
    system = BabelXScorer(n_jobs=args.jobs).fit(
        corpus["text"], corpus["annotator_threat"].to_numpy(),
        corpus["annotator_sentiment"].astype(str).to_numpy())
    timed("train (not in total)", start)

    start = time.perf_counter()
    features = system.featurise(posts["text"].tolist())
    timed("featurise", start)

    start = time.perf_counter()
    probability = system.threat_probability(features)
    sentiment = system.sentiment(features)
    hits = keyword_hits(posts["text"], system.keywords)
    flagged = system.combine(hits, probability >= system.threshold)
    searched = persistent_search(people["person_id"].to_numpy(), posts["person_id"].to_numpy(),
                                 flagged, probability)
    timed("score and search", start)

    total = stages["generate posts"] + stages["featurise"] + stages["score and search"]
    print(f"posts={len(posts):,} from {size:,} people over {args.months:g} months; "
          f"training corpus {len(corpus):,} posts; featurising with {args.jobs} process(es)")
    for name, seconds in stages.items():
        print(f"  {name:<36} {seconds:6.1f} s")
    print(f"  {'total (generate, featurise, score)':<36} {total:6.1f} s "
          f"({len(posts) / total / 1e3:.0f} k posts/s)")
    print(f"  flagged posts {flagged.mean():.2%}, keyword hits {hits.mean():.2%}, "
          f"negative sentiment {np.mean(sentiment == 'negative'):.2%}, "
          f"people flagged {searched['flagged'].mean():.2%}")
    print(f"  peak resident memory: {peak_memory_gb():.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
