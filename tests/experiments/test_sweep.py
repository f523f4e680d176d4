"""Sweeps: grids times seeds, joblib and Dask give the same numbers, resume, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.cli import main
from experiments.commands import UsageError
from experiments.config import ConfigError, builtin_experiments, read_experiment_data
from experiments.sweep import POINTS_DIR, run_sweep, sweep_points
from tests.experiments.conftest import immigration_os_data

CONFIG_FILE = Path("small_sweep.toml")


def small_sweep_data(**changes: object) -> dict:
    data = immigration_os_data(**{"population.size": 6000, "audit.n_boot": 50,
                                  "counterfactual.interventions": [], **changes})
    data["sweep"] = {
        "seeds": [1, 2],
        "grid": {"system.capacity": [0.05, 0.1]},
        "answer": "capacity",
        "question": "How does capacity change who is wrongly prioritised?",
        "focus_grouping": "region_of_origin",
        "focus_group": "Latin America and Caribbean",
    }
    return data


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sweeps") / "joblib"
    return run_sweep(small_sweep_data(), CONFIG_FILE, directory, jobs=2)


def test_sweep_expands_grid_times_seeds():
    points = sweep_points(small_sweep_data())
    assert [p.point_id for p in points] == ["g000-s1", "g000-s2", "g001-s1", "g001-s2"]
    assert points[2].params == {"system.capacity": 0.1}
    assert points[2].data["system"]["capacity"] == 0.1 and points[2].data["experiment"]["seed"] == 1


def test_sweep_writes_tidy_table_summary_figures_manifest_and_report(joblib_sweep):
    directory = joblib_sweep.directory
    for name in ("sweep_metrics.csv", "sweep_summary.csv", "sweep_manifest.json",
                 "sweep_report.md", "sweep_report.html", "figures/sweep_system_capacity.png"):
        assert (directory / name).exists(), name
    tidy = joblib_sweep.tidy
    assert {"point", "system.capacity", "seed", "view", "grouping", "group", "metric", "value",
            "ci_low", "ci_high"} <= set(tidy.columns)
    assert set(tidy["point"]) == {"g000-s1", "g000-s2", "g001-s1", "g001-s2"}
    summary = joblib_sweep.summary
    assert (summary["seeds"] == 2).all()
    report = (directory / "sweep_report.md").read_text()
    assert "What this sweep found" in report and joblib_sweep.answer in report
    assert "ratio to the reference group was" in joblib_sweep.answer


def test_dask_local_cluster_gives_the_same_numbers_as_joblib(joblib_sweep, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        result = run_sweep(small_sweep_data(), CONFIG_FILE, tmp_path / "dask",
                           dask_address=cluster.scheduler_address)
    for point in ("g000-s1", "g001-s2"):
        for name in ("metrics.csv", "summary.csv"):
            ours = (result.directory / POINTS_DIR / point / name).read_bytes()
            theirs = (joblib_sweep.directory / POINTS_DIR / point / name).read_bytes()
            assert ours == theirs, (point, name)
    assert ((result.directory / "sweep_metrics.csv").read_bytes()
            == (joblib_sweep.directory / "sweep_metrics.csv").read_bytes())


def test_interrupted_sweep_resumes_skipping_finished_points(joblib_sweep, tmp_path):
    directory = tmp_path / "resume"
    finished = []

    def interrupt_after_first(path: str) -> None:
        finished.append(path)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(small_sweep_data(), CONFIG_FILE, directory, jobs=1,
                  on_point_done=interrupt_after_first)
    assert len(finished) == 1
    # a point killed mid-write leaves only a hidden staging folder, cleaned on resume
    (directory / POINTS_DIR / ".partial-abc").mkdir()
    result = run_sweep(small_sweep_data(), CONFIG_FILE, directory, jobs=1)
    assert (result.ran, result.skipped) == (3, 1)
    assert not list((directory / POINTS_DIR).glob(".partial-*"))
    assert ((directory / "sweep_metrics.csv").read_bytes()
            == (joblib_sweep.directory / "sweep_metrics.csv").read_bytes())


def test_folder_of_another_sweep_is_refused(joblib_sweep):
    other = small_sweep_data()
    other["sweep"]["seeds"] = [7]
    with pytest.raises(UsageError, match="holds a different sweep.*--force"):
        run_sweep(other, CONFIG_FILE, joblib_sweep.directory)


def test_bad_grid_key_is_named_with_its_path_before_any_work(tmp_path):
    data = small_sweep_data()
    data["sweep"]["grid"] = {"system.capacityy": [0.1]}
    with pytest.raises(ConfigError, match=r"sweep point system\.capacityy = 0\.1.*"
                                          r"system\.capacityy: unknown key; did you mean "
                                          r"'capacity'"):
        run_sweep(data, CONFIG_FILE, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_bad_grid_value_is_named_with_its_path():
    data = small_sweep_data()
    data["sweep"]["grid"] = {"mechanisms.label_bias.strength": [0.5, 50.0]}
    with pytest.raises(ConfigError, match=r"mechanisms\.label_bias\.strength: 50 is out of range"):
        sweep_points(data)


def test_unknown_sweep_key_suggests():
    data = small_sweep_data()
    data["sweep"]["seed"] = [1]
    with pytest.raises(ConfigError, match=r"sweep\.seed: unknown key; did you mean 'seeds'"):
        sweep_points(data)


def test_shipped_sweeps_expand_and_validate():
    for name in ("label-bias-blind-spot", "unawareness", "capacity"):
        data = read_experiment_data(builtin_experiments()[name])
        points = sweep_points(data, name)
        assert len(points) >= 10
        assert data["experiment"]["system"] == "immigration_os"  # inherited from its base


def test_sweep_command_runs_and_resumes(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(
        'base = "immigration-os"\n[population]\nsize = 4000\n[audit]\nn_boot = 50\n'
        '[counterfactual]\ninterventions = []\n'
        '[sweep]\nseeds = [3]\nanswer = "capacity"\n'
        'focus_group = "Latin America and Caribbean"\n'
        '[sweep.grid]\n"system.capacity" = [0.05, 0.2]\n'
    )
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    assert "sweep_report.html" in capsys.readouterr().out
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    assert "2 points (0 to run)" in capsys.readouterr().err
