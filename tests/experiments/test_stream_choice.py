"""``bias-audit audit`` streams a file by its table's size in memory, not its size on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.stream import table_memory_estimate
from experiments.cli import audit as audit_cli
from experiments.cli import main

ROWS = 6000


@pytest.fixture
def compressed(tmp_path):
    """A Parquet file that compresses to a small part of its table: long runs of one value."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "country": np.sort(rng.choice(["NA", "SYR", "AFG", "BRA"], size=ROWS)),
        "y": np.repeat([0, 1], ROWS // 2).astype(np.int64),
        "d": (rng.random(ROWS) < 0.2).astype(np.int64),
        "weight": np.ones(ROWS),
    })
    path = tmp_path / "decisions.parquet"
    frame.to_parquet(path, index=False, compression="zstd")
    return path


def test_estimate_reads_the_footer_and_exceeds_the_size_on_disk(compressed):
    estimate = table_memory_estimate(compressed)
    # three 8-byte columns and a text column: at least 24 bytes a row, whatever the disk holds
    assert estimate >= ROWS * 24
    assert estimate > 4 * compressed.stat().st_size


def test_estimate_of_a_csv_file_is_its_size(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("g,y,d\na,0,1\nb,1,0\n")
    assert table_memory_estimate(path) == path.stat().st_size


def _audit(path, out, *flags):
    return main(["audit", str(path), "--group", "country", "--y-true", "y", "--y-pred", "d",
                 "--n-boot", "30", "--out", str(out), *flags])


def test_a_table_over_the_threshold_streams_without_a_flag(compressed, tmp_path, monkeypatch,
                                                           capsys):
    # Between the file's size on disk and its table's estimate: only the estimate streams it.
    threshold = (compressed.stat().st_size + table_memory_estimate(compressed)) // 2
    monkeypatch.setattr(audit_cli, "STREAM_FROM_BYTES", threshold)
    assert _audit(compressed, tmp_path / "streamed") == 0
    said = capsys.readouterr().err
    assert "streaming decisions.parquet in batches" in said
    assert "--no-stream reads it whole" in said

    assert _audit(compressed, tmp_path / "whole", "--no-stream") == 0
    assert "streaming" not in capsys.readouterr().err
    for name in ("metrics.csv", "summary.csv"):
        assert ((tmp_path / "streamed" / name).read_bytes()
                == (tmp_path / "whole" / name).read_bytes())


def test_a_table_under_the_threshold_is_read_whole(compressed, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(audit_cli, "STREAM_FROM_BYTES", table_memory_estimate(compressed) + 1)
    assert _audit(compressed, tmp_path / "out") == 0
    assert "streaming" not in capsys.readouterr().err
