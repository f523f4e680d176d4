"""Nothing reads without bound: one memory guard for every audit path, a cap on a sweep's
points, and experiment files (``base =`` targets included) that must be small regular files.

Every guard is tested by its refusal, never by running out of memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import audit.validation as validation
from audit.errors import AuditInputError
from experiments.cli import main
from tests.experiments.cli_errors import one_line_error


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    n = 300
    pd.DataFrame({"g": rng.choice(list("abcdef"), n), "y": rng.integers(0, 2, n),
                  "d": rng.integers(0, 2, n)}).to_csv(tmp_path / "data.csv", index=False)
    return tmp_path


@pytest.fixture
def little_memory(monkeypatch):
    """A machine with 2 kB available: every bootstrap's estimate is over half of it."""
    monkeypatch.setattr(validation, "available_memory", lambda: 2_000)


@pytest.mark.parametrize("mode", [[], ["--stream"], ["--stream", "--batch-rows", "50"]])
def test_every_audit_path_refuses_a_bootstrap_over_the_memory_budget(
        workdir, capsys, little_memory, mode):
    args = ["audit", "data.csv", "--group", "g", "--y-true", "y", "--y-pred", "d",
            "--n-boot", "200", "--out", "out", "--quiet", *mode]
    assert main(args) == 2
    one_line_error(capsys, "audit", r"would need about [\d.,]+ (kB|MB|GB|bytes) of memory for its "
                               r"bootstrap, more than 1.0 kB")
    assert not (workdir / "out").exists()
    assert sorted(p.name for p in workdir.iterdir()) == ["data.csv"]


def test_the_dask_path_refuses_a_bootstrap_over_the_memory_budget(workdir, little_memory):
    dd = pytest.importorskip("dask.dataframe")
    from audit.stream import audit_dask

    frame = dd.from_pandas(pd.read_csv(workdir / "data.csv", dtype={"g": str}),
                           npartitions=3)
    with pytest.raises(AuditInputError, match=r"would need about .* of memory"):
        audit_dask(frame, groups=["g"], y_true="y", y_pred="d", n_boot=200)


SWEEP = """\
base = "immigration-os"
[sweep]
seeds = [{seeds}]
[sweep.grid]
"population.size" = [{sizes}]
"system.capacity" = [{capacities}]
"""


def test_a_sweep_with_too_many_points_is_refused_with_its_size(workdir, capsys):
    path = workdir / "huge.toml"
    path.write_text(SWEEP.format(
        seeds=", ".join(str(s) for s in range(1, 21)),
        sizes=", ".join(str(3000 + i) for i in range(30)),
        capacities=", ".join(f"0.{i:02d}" for i in range(1, 21))), encoding="utf-8")
    for command in (["validate", str(path)], ["sweep", str(path), "--quiet"]):
        assert main(command) == 2
        one_line_error(capsys, command[0], r"sweep has 12,000 points \(30 × 20 grid values × 20 "
                                      r"seeds\), [\d,]+ simulated people in all; the limit "
                                      r"is 10,000 points")


def _devices(workdir: Path) -> dict[str, Path]:
    link = workdir / "linked.toml"
    link.symlink_to("/dev/zero")
    fifo = workdir / "pipe.toml"
    os.mkfifo(fifo)
    based = workdir / "based.toml"
    based.write_text('base = "/dev/zero"\n', encoding="utf-8")
    big = workdir / "big.toml"
    big.write_text("# padding\n" * 110_000 + 'base = "immigration-os"\n', encoding="utf-8")
    return {"/dev/zero": Path("/dev/zero"), "link": link, "fifo": fifo, "base": based,
            "big": big}


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_experiment_file_must_be_a_small_regular_file(workdir, capsys, command):
    for kind, path in _devices(workdir).items():
        args = [command, str(path), *(["--out", "r", "--quiet"] if command == "run" else [])]
        assert main(args) == 2, kind
        pattern = (r"holds [\d,]+ bytes, more than an experiment file may" if kind == "big"
                   else r"is a device, pipe or socket, not an experiment file")
        one_line_error(capsys, command, pattern)
    assert not (workdir / "r").exists()
