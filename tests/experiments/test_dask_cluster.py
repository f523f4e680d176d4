"""Sweeps on a real Dask cluster: a scheduler and two workers as separate processes, each in
its own working folder, and the sweep run from a third folder with a relative ``--out``.

Nothing is shared but the network: the tables must still equal a joblib run byte for byte,
the workers' folders must hold no results, a point a worker cannot compute is reported while
the rest are kept, and an address where nobody answers fails in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.benchmarks.processes import free_port, start, stop
from experiments.cli import main
from experiments.config import read_experiment_data
from experiments.sweeps.runner import sweep_points

distributed = pytest.importorskip("distributed")

DASK = Path(sys.executable).parent / "dask"
#: A sweep small enough for seconds per point: two capacities, one seed.
TINY_SWEEP = """\
base = "immigration-os"
[population]
size = 3000
[audit]
n_boot = 50
[counterfactual]
interventions = []
[attribution]
enabled = false
[sweep]
seeds = [3]
answer = "capacity"
focus_group = "Latin America and Caribbean"
[sweep.grid]
"system.capacity" = [0.05, 0.2]
"""
#: 40 people leave the system a training label with one class: it refuses to train.
REFUSED_SWEEP = TINY_SWEEP.replace('"system.capacity" = [0.05, 0.2]',
                                   '"population.size" = [40, 3000]')
RESULT_NAMES = {"metrics.csv", "summary.csv", "metrics.json", "manifest.json", "sweep.json",
                "sweep_metrics.csv", "points"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes, each in its own temporary folder.

    Yields the scheduler's address and the workers' working folders.
    """
    base = tmp_path_factory.mktemp("cluster")
    logs = base / "logs"
    logs.mkdir()
    scheduler_dir, scheduler_file = base / "scheduler", base / "scheduler" / "scheduler.json"
    scheduler_dir.mkdir()
    processes = []
    try:
        processes.append(start(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)], scheduler_dir, logs / "scheduler.log"))
        worker_dirs = []
        for index in (1, 2):
            folder = base / f"worker{index}"
            folder.mkdir()
            worker_dirs.append(folder)
            processes.append(start(
                [str(DASK), "worker", "--scheduler-file", str(scheduler_file),
                 "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--local-directory", str(folder / "scratch")],
                folder, logs / f"worker{index}.log"))
        address = _wait_for_cluster(scheduler_file, processes, logs)
        yield address, worker_dirs
    finally:
        for process in reversed(processes):
            stop(process)


def _wait_for_cluster(scheduler_file: Path, processes: list, logs: Path) -> str:
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            pytest.fail("the Dask cluster did not start:\n" + "\n".join(
                f.read_text(errors="replace")[-2000:] for f in sorted(logs.iterdir())))
        time.sleep(0.2)
    address = json.loads(scheduler_file.read_text())["address"]
    with distributed.Client(address, timeout="30s", set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
    return address


def _sweep(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``bias-audit sweep`` as a user runs it, in ``folder``."""
    return subprocess.run([sys.executable, "-m", "experiments.cli", "sweep", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300, check=False)


def _results_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name in RESULT_NAMES or "sweep" in p.name]


def test_real_cluster_sweep_from_another_folder_equals_joblib(cluster, tmp_path):
    address, worker_dirs = cluster
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    (client_dir / "tiny.toml").write_text(TINY_SWEEP)
    done = _sweep(client_dir, "tiny.toml", "--dask", address, "--out", "results/tiny-sweep",
                  "--quiet")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    joblib_out = tmp_path / "joblib"
    assert main(["sweep", str(client_dir / "tiny.toml"), "--out", str(joblib_out),
                 "--quiet"]) == 0

    ours = client_dir / "results" / "tiny-sweep"
    for name in ("sweep_metrics.csv", "sweep_summary.csv"):
        assert (ours / name).read_bytes() == (joblib_out / name).read_bytes(), name
    points = sorted(p.name for p in (joblib_out / "points").iterdir())
    assert points == sorted(_point_ids(client_dir / "tiny.toml"))
    for point in points:
        for table in sorted((joblib_out / "points" / point).glob("*.csv")):
            written = ours / "points" / point / table.name
            assert written.read_bytes() == table.read_bytes(), (point, table.name)
        manifest = json.loads((ours / "points" / point / "manifest.json").read_text())
        assert "metrics.csv" in manifest["files"] and manifest["details"]["computed_on"]
    for folder in worker_dirs:
        assert _results_in(folder) == [], folder


def _point_ids(path: Path) -> list[str]:
    """The sweep's point folders, in grid order (named by each point's config and seed)."""
    return [p.point_id for p in sweep_points(read_experiment_data(path), path.name)]


def test_point_refused_on_a_worker_is_reported_and_the_rest_kept(cluster, tmp_path):
    address, worker_dirs = cluster
    (tmp_path / "refused.toml").write_text(REFUSED_SWEEP)
    failed = _sweep(tmp_path, "refused.toml", "--dask", address, "--out", "out", "--quiet")
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    lines = failed.stderr.strip().splitlines()
    refused, finished = _point_ids(tmp_path / "refused.toml")
    # The system's refusal of too small a population is the user's to fix: one line with the
    # point's grid values and seed, no type name and no traceback to keep.
    assert lines == [
        f"bias-audit sweep: point {refused} (population.size = 40, seed 3) failed: system "
        "'immigration_os' refused this run: the training label has one class only; enlarge "
        "the training set (population.size = 40; a larger --size often helps)",
        "bias-audit sweep: error: 1 of 2 points failed; the finished points are kept in "
        "'out'; run the same command again to retry the failed ones",
    ]
    state = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert [f["point"] for f in state["failed_points"]] == [refused]
    assert "one class only" in state["failed_points"][0]["reason"]
    assert state["failed_points"][0]["traceback"] is None
    kept = tmp_path / "out" / "points" / finished / "manifest.json"
    before = kept.read_bytes()
    assert not (tmp_path / "out" / "points" / refused).exists()
    assert not (tmp_path / "out" / "sweep_report.md").exists()

    again = _sweep(tmp_path, "refused.toml", "--dask", address, "--out", "out")
    assert again.returncode == 1
    assert "2 points (1 to run) into out" in again.stderr
    assert kept.read_bytes() == before  # the finished point was not computed again
    for folder in worker_dirs:
        assert _results_in(folder) == [], folder


def test_address_nobody_answers_fails_in_one_line(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP)
    address = f"tcp://127.0.0.1:{free_port()}"
    done = _sweep(tmp_path, "tiny.toml", "--dask", address, "--out", "out", "--quiet")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"bias-audit sweep: error: --dask {address!r}: no Dask "
                                  "scheduler answers there")
    assert not (tmp_path / "out").exists()


def test_malformed_address_names_the_expected_form(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(TINY_SWEEP)
    assert main(["sweep", str(tmp_path / "tiny.toml"), "--dask", "127.0.0.1", "--out",
                 str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "--dask '127.0.0.1': no host and port number" in error
    assert "tcp://127.0.0.1:8786" in error


def _audit_cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """``bias-audit audit`` as a user runs it, in ``folder``."""
    return subprocess.run([sys.executable, "-m", "experiments.cli", "audit", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300, check=False)


def test_file_audited_on_the_cluster_equals_the_in_memory_audit(cluster, tmp_path):
    import numpy as np
    import pandas as pd

    address, worker_dirs = cluster
    rng = np.random.default_rng(5)
    n = 4000
    frame = pd.DataFrame({
        "country": rng.choice(["NA", "SYR", "AFG", "BRA"], size=n),
        "y": (rng.random(n) < 0.3).astype(int), "d": (rng.random(n) < 0.2).astype(int),
    })
    parts = tmp_path / "parts"
    parts.mkdir()
    for index, rows in enumerate(np.array_split(np.arange(n), 4)):
        frame.iloc[rows].to_parquet(parts / f"part-{index}.parquet", index=False)
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    common = ["--group", "country", "--y-true", "y", "--y-pred", "d", "--n-boot", "50",
              "--quiet"]
    on_cluster = _audit_cli(tmp_path, "parts/*.parquet", *common, "--dask", address,
                            "--out", "cluster-out")
    assert on_cluster.returncode == 0, on_cluster.stderr
    in_memory = _audit_cli(tmp_path, "whole.parquet", *common, "--out", "memory-out")
    assert in_memory.returncode == 0, in_memory.stderr
    for name in ("metrics.csv", "summary.csv"):
        assert ((tmp_path / "cluster-out" / name).read_bytes()
                == (tmp_path / "memory-out" / name).read_bytes())
    assert not any(_results_in(folder) for folder in worker_dirs)


def test_streamed_csv_audit_equals_the_in_memory_one(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(6)
    n = 5000
    pd.DataFrame({
        "country": np.sort(rng.choice(["NA", "None", "SYR", "AFG"], size=n)),
        "y": (rng.random(n) < 0.3).astype(int), "d": (rng.random(n) < 0.2).astype(int),
    }).to_csv(tmp_path / "decisions.csv", index=False)
    common = ["decisions.csv", "--group", "country", "--y-true", "y", "--y-pred", "d",
              "--n-boot", "50", "--quiet"]
    streamed = _audit_cli(tmp_path, *common, "--stream", "--batch-rows", "300",
                          "--out", "streamed")
    assert streamed.returncode == 0, streamed.stderr
    whole = _audit_cli(tmp_path, *common, "--no-stream", "--out", "whole")
    assert whole.returncode == 0, whole.stderr
    for name in ("metrics.csv", "summary.csv"):
        assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "whole" / name
                                                               ).read_bytes()


def test_audit_at_an_address_nobody_answers_is_one_line(tmp_path):
    import pandas as pd

    pd.DataFrame({"g": ["a", "b"], "y": [0, 1], "d": [1, 0]}).to_csv(tmp_path / "t.csv",
                                                                       index=False)
    port = free_port()
    done = _audit_cli(tmp_path, "t.csv", "--group", "g", "--y-true", "y", "--y-pred", "d",
                      "--dask", f"tcp://127.0.0.1:{port}")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "no Dask scheduler" in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["t.tsv", "--stream"], "--stream reads .csv and .parquet files, not '.tsv'"),
    (["t.csv", "--stream", "--batch-rows", "0"], "--batch-rows must be at least 1, got 0"),
])
def test_bad_streaming_options_are_named_in_one_line(tmp_path, args, message):
    import pandas as pd

    frame = pd.DataFrame({"g": ["a", "b"], "y": [0, 1], "d": [1, 0]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    done = _audit_cli(tmp_path, *args, "--group", "g", "--y-true", "y", "--y-pred", "d")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


#: The flagship, small: its 64 attribution worlds and a second replicate go to the cluster.
FLAGSHIP_RUN = ["catch-and-revoke", "--size", "4000", "--replicates", "2",
                "--set", "audit.n_boot=50", "--quiet"]


def test_flagship_worlds_and_replicates_on_the_cluster_equal_a_local_run(cluster, tmp_path):
    address, worker_dirs = cluster
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "run", *FLAGSHIP_RUN, "--dask", address,
         "--out", "on-cluster"],
        cwd=client_dir, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert main(["run", *FLAGSHIP_RUN, "--out", str(tmp_path / "local")]) == 0

    ours, local = client_dir / "on-cluster", tmp_path / "local"
    tables = sorted(p.name for p in local.glob("*.csv"))
    assert {"attribution.csv", "replicates.csv", "metrics.csv"} <= set(tables)
    assert sorted(p.name for p in ours.glob("*.csv")) == tables
    for name in tables:
        assert (ours / name).read_bytes() == (local / name).read_bytes(), name
    for folder in worker_dirs:  # the client alone writes the run folder
        assert not [p for p in folder.rglob("*") if p.suffix in (".csv", ".json", ".html")
                    and "scratch" not in p.parts], folder


def test_run_at_an_address_nobody_answers_is_one_line(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "experiments.cli", "run", *FLAGSHIP_RUN, "--dask", address,
         "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"bias-audit run: error: --dask {address!r}: no Dask "
                                  "scheduler answers there")
    assert not (tmp_path / "out").exists()
