"""Benchmark: the full audit against a bare ``numpy.bincount`` pass and fairlearn's MetricFrame.

The table has N rows, 30 nationalities with Zipf-like sizes and 2 sexes (categorical columns),
and boolean true labels and decisions. Three things are timed on the same table:

- ``audit``: this engine's full audit for nationality, sex and nationality × sex: every rate,
  differences and ratios to the reference with closed-form score intervals (Wilson, Newcombe,
  MOVER-R), simultaneous intervals, detectable gaps, spreads across groups with their
  projected intervals and bootstrap bias (200 resamples), and the tests with Holm and
  Benjamini-Hochberg adjustments;
- ``bincount``: one ``numpy.bincount`` over ``cell * 4 + y_true * 2 + y_pred`` from the
  precomputed categorical codes, the floor any counting method has to pay;
- ``MetricFrame``: fairlearn's MetricFrame with six rate metrics and no intervals, by
  nationality and by nationality × sex (only up to 1e6 rows: above that it takes minutes; at
  1e6 it runs once).

Printed, not asserted::

    python -m experiments.benchmarks.bench_audit [--sizes 1e5 1e6 1e7] [--repeats 3]
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
SEXES = ("F", "M")
#: MetricFrame is timed only up to this many rows, and only once from 1e6 rows on.
METRICFRAME_MAX_ROWS = 1_000_000
METRICFRAME_SINGLE_RUN_FROM = 1_000_000


def synthetic_table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """Decisions with a true label per person, by nationality (Zipf-like sizes) and sex."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, N_NATIONALITIES + 1)
    weights /= weights.sum()
    nationality_codes = rng.choice(N_NATIONALITIES, size=n_rows, p=weights)
    sex_codes = rng.integers(0, len(SEXES), size=n_rows)
    base_rate = np.linspace(0.1, 0.4, N_NATIONALITIES)[nationality_codes]
    y_true = rng.random(n_rows) < base_rate
    selection = np.where(y_true, 0.7, 0.1 + 0.1 * sex_codes + 0.005 * nationality_codes)
    y_pred = rng.random(n_rows) < selection
    labels = [f"N{i:02d}" for i in range(N_NATIONALITIES)]
    return pd.DataFrame({
        "nationality": pd.Categorical.from_codes(nationality_codes, labels),
        "sex": pd.Categorical.from_codes(sex_codes, list(SEXES)),
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


def time_audit(frame: pd.DataFrame, repeats: int) -> float:
    """The full audit: three groupings, every metric, intervals, tests."""
    return median_seconds(
        lambda: audit(frame, groups=["nationality", "sex"], y_true="y_true", y_pred="y_pred",
                      n_boot=1000, random_state=0),
        repeats,
    )


def time_bincount(frame: pd.DataFrame, repeats: int) -> float:
    """One bincount over the intersection cells, codes precomputed."""
    cell = (frame["nationality"].cat.codes.to_numpy().astype(np.int64) * len(SEXES)
            + frame["sex"].cat.codes.to_numpy())
    y_true = frame["y_true"].to_numpy()
    y_pred = frame["y_pred"].to_numpy()
    n_cells = N_NATIONALITIES * len(SEXES)

    def count() -> np.ndarray:
        key = cell * 4
        key += y_true.view(np.uint8) * 2
        key += y_pred.view(np.uint8)
        return np.bincount(key, minlength=n_cells * 4)

    return median_seconds(count, repeats)


def time_metricframe(frame: pd.DataFrame, columns: list[str], repeats: int) -> float:
    """fairlearn's MetricFrame with six rate metrics and no intervals."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )

    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "tnr": true_negative_rate,
        "count": count,
    }
    y_true = frame["y_true"].to_numpy().astype(np.int64)
    y_pred = frame["y_pred"].to_numpy().astype(np.int64)
    features = frame[columns] if len(columns) > 1 else frame[columns[0]]
    return median_seconds(
        lambda: MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred,
                            sensitive_features=features).by_group,
        repeats,
    )


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "skipped"
    if seconds < 1:
        return f"{1000 * seconds:.1f} ms"
    return f"{seconds:.2f} s"


def format_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:,.1f}×"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7],
                        help="numbers of rows (default: 1e5 1e6 1e7)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    args = parser.parse_args(argv)

    rows = []
    for size in args.sizes:
        n_rows = int(size)
        frame = synthetic_table(n_rows)
        audit(frame.head(1000), groups=["nationality", "sex"], y_true="y_true",
              y_pred="y_pred", n_boot=10)  # warm-up: imports and first-call costs
        audit_seconds = time_audit(frame, args.repeats)
        bincount_seconds = time_bincount(frame, max(args.repeats, 5))
        mf_nationality = mf_intersection = None
        if n_rows <= METRICFRAME_MAX_ROWS:
            mf_repeats = 1 if n_rows >= METRICFRAME_SINGLE_RUN_FROM else args.repeats
            mf_nationality = time_metricframe(frame, ["nationality"], mf_repeats)
            mf_intersection = time_metricframe(frame, ["nationality", "sex"], mf_repeats)
        mf_total = None if mf_nationality is None else mf_nationality + mf_intersection
        rows.append([
            f"{n_rows:,}",
            format_seconds(audit_seconds),
            format_seconds(bincount_seconds),
            format_seconds(mf_nationality),
            format_seconds(mf_intersection),
            format_ratio(None if mf_nationality is None else mf_nationality / audit_seconds),
            format_ratio(None if mf_total is None else mf_total / audit_seconds),
            format_ratio(audit_seconds / bincount_seconds),
        ])
        print(f"done: {n_rows:,} rows", flush=True)

    header = ["rows", "audit (3 groupings, all)", "bincount", "MetricFrame nat",
              "MetricFrame nat×sex", "MF nat / audit", "MF nat+nat×sex / audit",
              "audit / bincount"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print()
    print(f"Medians of {args.repeats} runs (bincount: of {max(args.repeats, 5)}); MetricFrame "
          f"once from {METRICFRAME_SINGLE_RUN_FROM:,} rows and skipped above "
          f"{METRICFRAME_MAX_ROWS:,} rows (minutes per run). MetricFrame computes six rates "
          "without intervals; the audit computes eleven rates and group sizes for three "
          "groupings with closed-form and simultaneous intervals, detectable gaps, spreads "
          "with their bias, and adjusted tests.")
    print("Targets: MetricFrame / audit >= 300× at 1e6 rows; audit / bincount <= 3× at 1e7.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
