"""Benchmark: the audit with comparisons adjusted for 20 strata against the plain audit.

The table has N rows, 30 nationalities with Zipf-like sizes, 2 sexes and 20 regions
(categorical columns); each nationality has its own mix of regions and decisions depend on the
region, so composition matters. Two things are timed on the same table:

- ``plain``: the full audit for nationality, sex and nationality × sex;
- ``adjusted``: the same with ``adjust_for=["region"]``: every nationality and sex compared
  with its reference within regions, for every rate (Mantel-Haenszel ratio and difference with
  their intervals, direct standardisation, homogeneity test, Kitagawa decomposition with a
  bootstrap of the counts, 1,000 resamples).

Printed, not asserted::

    python -m experiments.benchmarks.bench_adjusted [--sizes 1e6 1e7] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from audit import audit

N_NATIONALITIES = 30
N_REGIONS = 20
SEXES = ("F", "M")


def synthetic_table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Decisions by nationality (Zipf-like sizes), sex and region (a mix per nationality)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, N_NATIONALITIES + 1)
    nationality = rng.choice(N_NATIONALITIES, size=n_rows, p=weights / weights.sum())
    # Each nationality leans towards its own regions: a shifted, skewed region mix.
    lean = rng.random(n_rows) ** (1 + nationality / 10)
    region = np.minimum((lean * N_REGIONS).astype(np.int64), N_REGIONS - 1)
    sex = rng.integers(0, len(SEXES), size=n_rows)
    y_true = rng.random(n_rows) < np.linspace(0.05, 0.4, N_REGIONS)[region]
    selection = np.where(y_true, 0.7, 0.05 + 0.01 * region + 0.02 * sex)
    y_pred = rng.random(n_rows) < selection
    return pd.DataFrame({
        "nationality": pd.Categorical.from_codes(
            nationality, [f"N{i:02d}" for i in range(N_NATIONALITIES)]),
        "sex": pd.Categorical.from_codes(sex, list(SEXES)),
        "region": pd.Categorical.from_codes(region, [f"R{i:02d}" for i in range(N_REGIONS)]),
        "y_true": y_true,
        "y_pred": y_pred,
    })


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def format_seconds(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7],
                        help="numbers of rows (default: 1e6 1e7)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    args = parser.parse_args(argv)

    def run(frame: pd.DataFrame, adjust_for: list[str] | None) -> object:
        return audit(frame, groups=["nationality", "sex"], y_true="y_true", y_pred="y_pred",
                     n_boot=1000, random_state=0, adjust_for=adjust_for)

    rows = []
    for size in args.sizes:
        n_rows = int(size)
        frame = synthetic_table(n_rows)
        run(frame.head(1000), ["region"])  # warm-up: imports and first-call costs
        plain = median_seconds(lambda f=frame: run(f, None), args.repeats)
        adjusted = median_seconds(lambda f=frame: run(f, ["region"]), args.repeats)
        rows.append([f"{n_rows:,}", format_seconds(plain), format_seconds(adjusted),
                     format_seconds(adjusted - plain), f"{adjusted / plain:.2f}×"])
        print(f"done: {n_rows:,} rows", flush=True)

    header = ["rows", "plain audit", "adjusted audit", "adjustment costs", "adjusted / plain"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print()
    print(f"Medians of {args.repeats} runs; {N_REGIONS} regions as strata, 30 nationalities "
          "and 2 sexes compared with their references for every rate.")
    print("Target: adjusted / plain <= 2× at 1e7 rows.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
