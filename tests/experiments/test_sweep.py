"""Sweeps: grids times seeds, resume, failing points kept apart, clear errors.

joblib against a real Dask cluster is tested in test_dask_cluster.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import experiments.systems.immigration_os as immigration_os_adapter
from experiments.cli import main
from experiments.config import ConfigError, builtin_experiments, read_experiment_data
from experiments.errors import UsageError
from experiments.sweeps.point import PointFailure, compute_point
from experiments.sweeps.runner import POINTS_DIR, SweepIncomplete, run_sweep, sweep_points
from tests.experiments.conftest import immigration_os_data

CONFIG_FILE = Path("small_sweep.toml")


def small_sweep_data(**changes: object) -> dict:
    data = immigration_os_data(**{"population.size": 6000, "audit.n_boot": 50,
                                  "counterfactual.interventions": [],
                                  "attribution.enabled": False, **changes})
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
    assert [(p.params["system.capacity"], p.seed) for p in points] == [
        (0.05, 1), (0.05, 2), (0.1, 1), (0.1, 2)]
    # A point is named by its own config and seed: the seeds of a grid value share the prefix.
    ids = [p.point_id for p in points]
    assert len(set(ids)) == 4 and [i.rsplit("-s", 1)[1] for i in ids] == ["1", "2", "1", "2"]
    assert ids[0].split("-")[0] == ids[1].split("-")[0] != ids[2].split("-")[0]
    assert points[2].params == {"system.capacity": 0.1}
    assert points[2].data["system"]["capacity"] == 0.1 and points[2].data["experiment"]["seed"] == 1


def test_a_sweep_may_skip_the_knob_worlds_of_its_points():
    data = small_sweep_data(**{"attribution.enabled": True})
    assert all("attribution" in p.data for p in sweep_points(data))
    data["sweep"]["attribution"] = False
    assert not any("attribution" in p.data for p in sweep_points(data))


def test_sweep_writes_tidy_table_summary_figures_manifest_and_report(joblib_sweep):
    directory = joblib_sweep.directory
    for name in ("sweep_metrics.csv", "sweep_summary.csv", "sweep_manifest.json",
                 "sweep_report.md", "sweep_report.html", "figures/sweep_system_capacity.png"):
        assert (directory / name).exists(), name
    tidy = joblib_sweep.tidy
    assert {"point", "system.capacity", "seed", "view", "grouping", "group", "metric", "value",
            "ci_low", "ci_high"} <= set(tidy.columns)
    assert set(tidy["point"]) == {p.point_id for p in sweep_points(small_sweep_data())}
    summary = joblib_sweep.summary
    assert (summary["seeds"] == 2).all()
    report = (directory / "sweep_report.md").read_text()
    assert "What this sweep found" in report and joblib_sweep.answer in report
    assert "ratio to South Asia" in joblib_sweep.answer


def test_sweep_report_pools_seeds_names_reference_and_what_is_held_fixed(joblib_sweep):
    from audit.pooling import POOLING_METHOD

    summary = joblib_sweep.summary
    for gap in ("difference", "ratio"):
        assert {f"{gap}_pooled", f"{gap}_pooled_low", f"{gap}_pooled_high",
                f"{gap}_between_sd", f"{gap}_flags"} <= set(summary.columns)
    focus = summary[(summary["group"] == "Latin America and Caribbean")
                    & (summary["metric"] == "fpr")]
    assert (focus["reference"] == "South Asia").all()
    bounded = focus.dropna(subset=["ratio_pooled_low"])
    assert (bounded["ratio_pooled_low"] <= bounded["ratio_pooled"]).all()
    assert (bounded["ratio_pooled"] <= bounded["ratio_pooled_high"]).all()
    report = (joblib_sweep.directory / "sweep_report.md").read_text()
    assert POOLING_METHOD in report
    assert "against the reference group South Asia" in report
    # every setting held fixed, from the merged config; the swept key is not among them
    for held in ("population.size = 6,000", "mechanisms.label_bias.strength = 1",
                 "system.use_nationality = false", "audit.n_boot = 50",
                 "knob worlds (attribution) not run"):
        assert f"- {held}" in report, held
    assert "- system.capacity =" not in report
    # the per-seed table: one row per grid value and seed, with n of group and reference
    assert "| system.capacity | seed | ratio, true outcome |" in report
    assert report.count("| 0.05 | 1 |") >= 1 and report.count("| 0.1 | 2 |") >= 1
    assert "focus group" not in report


def test_failing_point_is_reported_the_rest_kept_and_a_rerun_completes(tmp_path, monkeypatch):
    directory = tmp_path / "failing"
    data = small_sweep_data(**{"population.size": 3000})
    data["sweep"]["seeds"] = [1]
    honest_run = immigration_os_adapter.run

    def refuse_capacity_0_1(config, *args):
        if config.system_settings().capacity == 0.1:
            raise UsageError("system.capacity: 0.1 is refused here\nsecond line never shown")
        return honest_run(config, *args)

    monkeypatch.setattr(immigration_os_adapter, "run", refuse_capacity_0_1)
    first, second = (p.point_id for p in sweep_points(data))
    seen = []
    with pytest.raises(SweepIncomplete, match="1 of 2 points failed; the finished points are "
                                              "kept in") as caught:
        run_sweep(data, CONFIG_FILE, directory, jobs=1, on_point_failed=seen.append)
    assert [f.describe() for f in caught.value.failed] == [
        f"point {second} (system.capacity = 0.1, seed 1) failed: system.capacity: 0.1 is "
        "refused here",
    ]
    assert seen == caught.value.failed
    assert [p.name for p in (directory / POINTS_DIR).iterdir()] == [first]
    kept = (directory / POINTS_DIR / first / "manifest.json").read_bytes()
    state = json.loads((directory / "sweep.json").read_text())
    assert [(f["point"], f["traceback"]) for f in state["failed_points"]] == [
        (second, None)]  # refused input: no traceback to keep
    assert not (directory / "sweep_metrics.csv").exists()

    monkeypatch.undo()  # whatever made the point fail is gone: the rerun finishes it alone
    result = run_sweep(data, CONFIG_FILE, directory, jobs=1)
    assert (result.ran, result.skipped) == (1, 1)
    assert (directory / POINTS_DIR / first / "manifest.json").read_bytes() == kept
    assert "failed_points" not in json.loads((directory / "sweep.json").read_text())
    assert set(result.tidy["point"]) == {first, second}
    assert (directory / "sweep_report.md").exists()


def test_unexpected_error_in_a_point_is_one_line_with_its_traceback_kept(monkeypatch):
    def broken_run(config, *args):
        raise KeyError("decision")

    monkeypatch.setattr(immigration_os_adapter, "run", broken_run)
    point = sweep_points(small_sweep_data())[0]
    failure = compute_point(point.point_id, point.data, CONFIG_FILE.name)
    assert isinstance(failure, PointFailure)
    assert failure.reason == "KeyError: 'decision'"
    assert "Traceback" in failure.traceback and "broken_run" in failure.traceback


def test_point_results_travel_as_data_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    point = sweep_points(small_sweep_data(**{"population.size": 3000}))[0]
    result = compute_point(point.point_id, point.data, CONFIG_FILE.name)
    assert list(tmp_path.iterdir()) == []
    assert {"metrics.csv", "summary.csv", "metrics.json"} <= set(result.files)
    assert result.files["metrics.csv"].startswith(b"view,")
    assert result.seed == 1 and result.details["computed_on"]["python"]


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


def test_folder_of_another_experiments_sweep_is_refused(joblib_sweep):
    other = small_sweep_data(**{"experiment.name": "another-experiment"})
    with pytest.raises(UsageError, match=r"holds the sweep of another experiment "
                                         r"\('immigration-os', not 'another-experiment'\)"
                                         r".*--force"):
        run_sweep(other, CONFIG_FILE, joblib_sweep.directory)


def test_an_added_seed_runs_only_its_own_points(joblib_sweep, tmp_path, monkeypatch):
    import shutil

    import experiments.sweeps.runner as sweep_runner

    directory = tmp_path / "grown"
    shutil.copytree(joblib_sweep.directory, directory)
    computed = []
    honest = sweep_runner.compute_point

    def counting(point_id, data, config_file):
        computed.append((data["system"]["capacity"], data["experiment"]["seed"]))
        return honest(point_id, data, config_file)

    monkeypatch.setattr(sweep_runner, "compute_point", counting)
    grown = small_sweep_data(**{"population.size": 6000})
    grown["sweep"]["seeds"] = [1, 2, 3]
    grown["sweep"]["grid"]["system.capacity"] = [0.05, 0.1]
    result = run_sweep(grown, CONFIG_FILE, directory, jobs=1)
    assert sorted(computed) == [(0.05, 3), (0.1, 3)]  # the four finished points are reused
    assert (result.ran, result.skipped) == (2, 4)
    assert (result.summary["seeds"] == 3).all()
    # A seed dropped again is kept on disk, out of the tables, and costs nothing to re-add.
    computed.clear()
    smaller = run_sweep(small_sweep_data(), CONFIG_FILE, directory, jobs=1)
    assert computed == [] and (smaller.ran, smaller.skipped) == (0, 4)
    manifest = json.loads((directory / "sweep_manifest.json").read_text())
    assert len(manifest["details"]["kept_not_in_this_sweep"]) == 2
    assert ((directory / "sweep_metrics.csv").read_bytes()
            == (joblib_sweep.directory / "sweep_metrics.csv").read_bytes())


def test_a_sweep_named_x_sweep_writes_x_sweep_not_x_sweep_sweep(tmp_path):
    from experiments.sweeps.runner import default_sweep_dir

    assert default_sweep_dir("capacity") == Path("results/capacity-sweep")
    assert default_sweep_dir("fairness-sweep") == Path("results/fairness-sweep")
    assert default_sweep_dir("x", tmp_path) == tmp_path / "x-sweep"


def test_a_grid_value_or_seed_listed_twice_is_refused():
    data = small_sweep_data()
    data["sweep"]["grid"]["system.capacity"] = [0.05, 0.05]
    with pytest.raises(ConfigError, match=r"sweep\.grid: .*'system\.capacity' lists a value "
                                          "twice"):
        sweep_points(data)
    data = small_sweep_data()
    data["sweep"]["seeds"] = [1, 1]
    with pytest.raises(ConfigError, match=r"sweep\.seeds: .*a seed is listed twice"):
        sweep_points(data)


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


def test_sweep_command_runs_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.toml"
    path.write_text(
        'base = "immigration-os"\n[experiment]\nname = "tiny-sweep"\n'
        '[population]\nsize = 4000\n[audit]\nn_boot = 50\n'
        '[counterfactual]\ninterventions = []\n[attribution]\nenabled = false\n'
        '[sweep]\nseeds = [3]\nanswer = "capacity"\n'
        'focus_group = "Latin America and Caribbean"\n'
        '[sweep.grid]\n"system.capacity" = [0.05, 0.2]\n'
    )
    assert main(["sweep", str(path), "--quiet"]) == 0
    # a sweep named x-sweep writes results/x-sweep, not results/x-sweep-sweep
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["tiny-sweep"]
    assert "results/tiny-sweep/sweep_report.html" in capsys.readouterr().out
    assert main(["sweep", str(path)]) == 0
    assert "2 points (0 to run)" in capsys.readouterr().err


def test_a_sweep_without_focus_shows_every_group_on_its_own_never_the_reference(tmp_path):
    data = small_sweep_data(**{"population.size": 3000, "audit.focus": []})
    data["sweep"] = {"seeds": [1], "grid": {"system.capacity": [0.05, 0.1]}}
    result = run_sweep(data, CONFIG_FILE, tmp_path / "unfocused", jobs=1)
    report = (result.directory / "sweep_report.md").read_text()
    assert "focus group" not in report and result.answer == ""
    assert ("No comparison was named in advance (sweep.focus_group or [[audit.focus]]): every "
            "group of region_of_origin is shown on its own against the reference group South "
            "Asia") in report
    regions = set(result.summary.query("grouping == 'region_of_origin'")["group"]) - {
        "South Asia"}
    shown = [line[4:].removesuffix(" against South Asia")
             for line in report.splitlines() if line.startswith("### ")]
    assert sorted(shown) == sorted(regions)  # each group once, the reference never
    # one figure per comparison, each drawn from the rows its table shows
    figures = sorted(p.name for p in (result.directory / "figures").iterdir())
    assert len(figures) == len(regions)
