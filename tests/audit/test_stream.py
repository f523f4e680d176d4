"""Audits in pieces (file batches, Dask partitions) equal the in-memory audit exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit import audit
from audit.counts import count_table
from audit.errors import AuditInputError
from audit.stream import audit_dask, audit_file, audit_pieces, merge_tables


def _decisions(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # Rows sorted by country, so later batches bring groups earlier ones never saw; "NA"
    # (Namibia) and "None" are group names, not missing values.
    country = np.sort(rng.choice(["AFG", "BRA", "NA", "None", "SYR", "ZWE"], size=n))
    return pd.DataFrame({
        "country": country,
        "sex": rng.choice(["F", "M"], size=n),
        "y": (rng.random(n) < 0.3).astype(int),
        "d": (rng.random(n) < 0.2).astype(int),
        "score": np.round(rng.random(n), 3),
    })


def _split(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    return [frame.iloc[rows] for rows in np.array_split(np.arange(len(frame)), parts)]


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.summary, b.summary)


def test_merged_batches_equal_the_whole_counts():
    frame = _decisions()
    parts = [count_table(piece, ["country", "sex"], "y", "d")
             for piece in _split(frame, 7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merge_tables(merged, part)
    assert merged == count_table(frame, ["country", "sex"], "y", "d")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_audited_in_batches_equals_the_in_memory_audit(tmp_path, suffix):
    frame = _decisions()
    path = tmp_path / f"decisions{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=500)
    seen = []
    streamed = audit_file(path, ["country", "sex"], "y", "d", score="score", batch_rows=500,
                          n_boot=50, progress=seen.append)
    assert len(seen) >= 3 and sum(seen) == len(frame)
    whole = audit(frame, ["country", "sex"], "y", "d", score="score", n_boot=50)
    _assert_same(streamed, whole)
    assert {"NA", "None"} <= set(streamed.table["group"])


def test_pieces_with_missing_values_drop_the_same_rows(tmp_path):
    frame = _decisions()
    frame.loc[::97, "y"] = np.nan
    pieces = _split(frame, 5)
    streamed = audit_pieces(pieces, ["country"], "y", "d", n_boot=20, dropna=True)
    whole = audit(frame, ["country"], "y", "d", n_boot=20, dropna=True)
    _assert_same(streamed, whole)
    assert streamed.settings["n_dropped"] == whole.settings["n_dropped"] > 0


def test_dask_partitions_are_counted_apart_and_summed():
    dd = pytest.importorskip("dask.dataframe")
    frame = _decisions()
    ddf = dd.from_pandas(frame, npartitions=6)
    result = audit_dask(ddf, ["country", "sex"], "y", "d", score="score", n_boot=50)
    _assert_same(result, audit(frame, ["country", "sex"], "y", "d", score="score", n_boot=50))


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "decisions.parquet"
    _decisions().to_parquet(path)
    with pytest.raises(AuditInputError, match="'nationality' not found"):
        audit_file(path, ["nationality"], "y", "d")



def test_arrow_memory_stays_flat_over_the_batches_of_a_parquet_file(tmp_path):
    """Memory held by Arrow does not grow with the batches of a file read so far.

    The file is larger than the 32 MB a pre-buffered read coalesces at once, so a reader that
    kept the bytes of every row group it had read would hold tens of MB more at the end.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    n, batch = 8_000_000, 400_000
    table = pa.table({
        "country": pa.array(rng.choice(["AFG", "BRA", "SYR"], size=n)),
        "y": pa.array(rng.random(n) < 0.3), "d": pa.array(rng.random(n) < 0.2),
        "score": pa.array(rng.random(n))})  # random doubles: about 64 MB that do not compress
    path = tmp_path / "decisions.parquet"
    pq.write_table(table, path, row_group_size=batch)
    del table
    held = []
    audit_file(path, ["country"], "y", "d", score="score", batch_rows=batch, n_boot=10,
               progress=lambda rows: held.append(pa.total_allocated_bytes()))
    assert len(held) == n // batch
    assert held[-1] - held[1] < 8_000_000, held
