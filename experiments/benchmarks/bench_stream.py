"""Benchmark: audits of files larger than memory, and on a Dask cluster, against in memory.

A Parquet file of N rows × (nationality, label, decision, score) is written in chunks to a
temporary folder (never held in memory whole). Each measurement runs in a fresh process, so
its peak resident memory is its own:

- ``stream``: :func:`audit.stream.audit_file`, record batch by record batch;
- ``memory``: the file read whole with pandas, then :func:`audit.audit` (only up to 1e7 rows);
- ``dask``: :func:`audit.stream.audit_dask` on a 2-worker ``LocalCluster`` reading the file
  as partitions (only up to 1e7 rows).

Printed, not asserted::

    python -m experiments.benchmarks.bench_stream [--sizes 1e7 1e8] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

#: Rows written per chunk when making the file.
WRITE_CHUNK = 5_000_000
#: In-memory and Dask audits are measured only up to this many rows.
MEMORY_MAX_ROWS = 10_000_000
N_NATIONALITIES = 30

_MEASURE = r"""
import json, resource, sys, time
path, mode = sys.argv[1], sys.argv[2]
import pandas as pd
from audit import audit
from audit.stream import audit_dask, audit_file
start = time.perf_counter()  # imports are not the audit's time
if mode == "stream":
    result = audit_file(path, ["nationality"], "y_true", "y_pred", score="score")
elif mode == "memory":
    frame = pd.read_parquet(path)
    result = audit(frame, ["nationality"], "y_true", "y_pred", score="score")
else:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        start = time.perf_counter()
        result = audit_dask(dd.read_parquet(path), ["nationality"], "y_true", "y_pred",
                            score="score")
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "rows": int(result.settings["n_rows"])}))
"""


def write_table(path: Path, n_rows: int, seed: int = 0) -> None:
    """Write ``n_rows`` synthetic decisions to a Parquet file, chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = np.array([f"N{i:02d}" for i in range(N_NATIONALITIES)])
    weights = 1.0 / np.arange(1, N_NATIONALITIES + 1)
    weights /= weights.sum()
    rngs = [np.random.default_rng(s) for s in
            np.random.SeedSequence(seed).spawn(-(-n_rows // WRITE_CHUNK))]
    writer = None
    try:
        for i, rng in enumerate(rngs):
            size = min(WRITE_CHUNK, n_rows - i * WRITE_CHUNK)
            codes = rng.choice(N_NATIONALITIES, size=size, p=weights)
            y_true = rng.random(size) < np.linspace(0.1, 0.4, N_NATIONALITIES)[codes]
            score = np.clip(rng.normal(np.where(y_true, 0.6, 0.4), 0.2), 0, 1)
            table = pa.table({
                "nationality": pa.array(labels[codes]), "y_true": y_true,
                "y_pred": score > 0.55, "score": score,
            })
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=1_000_000)
    finally:
        if writer is not None:
            writer.close()


def measure(path: Path, mode: str) -> dict:
    """Time and peak memory of one audit of ``path`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path), mode],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7, 1e8])
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'rows':>12} {'mode':>7} {'seconds':>9} {'rows/s':>12} {'peak MB':>9}")
        for size in args.sizes:
            n_rows = int(size)
            path = folder / f"decisions-{n_rows}.parquet"
            if not path.exists():
                write_table(path, n_rows)
            modes = ["stream"] + (["memory", "dask"] if n_rows <= MEMORY_MAX_ROWS else [])
            timings = {}
            for mode in modes:
                timings[mode] = measure(path, mode)
                t = timings[mode]
                print(f"{n_rows:>12,} {mode:>7} {t['seconds']:>9.1f} "
                      f"{n_rows / t['seconds']:>12,.0f} {t['peak_mb']:>9,.0f}", flush=True)
            if "memory" in timings:
                for mode in ("stream", "dask"):
                    print(f"{'':>12} {mode} / memory: time "
                          f"{timings[mode]['seconds'] / timings['memory']['seconds']:.2f}x, "
                          f"peak {timings[mode]['peak_mb'] / timings['memory']['peak_mb']:.2f}x")


if __name__ == "__main__":
    main()
