"""The Python API runs an experiment as the command does and reads a finished run back."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.api import load, run
from experiments.errors import UsageError


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "detention"
    return run("detention-rca", size=12_000, seed=3, out=out, attribution=False)


def test_run_writes_a_folder_and_load_reads_the_same_tables(finished):
    loaded = load(finished.directory)
    assert loaded.headlines == finished.headlines and loaded.headlines
    assert loaded.manifest["seed"] == 3 and loaded.manifest["population_size"] == 12_000
    assert {"metrics", "summary", "release_branch_change"} <= set(loaded.tables)
    fpr = loaded.tables["metrics"].query("view == 'true' and metric == 'fpr'")
    expected = finished.views["true"].table.query("metric == 'fpr'")
    assert len(fpr) == len(expected)
    # The written table withholds suppressed cells; every other value is the run's own.
    shown = ~expected["flags"].str.contains("suppressed").to_numpy()
    assert fpr["value"].to_numpy()[~shown].tolist() == [] or \
        pd.isna(fpr["value"].to_numpy()[~shown]).all()
    pd.testing.assert_series_equal(
        fpr["value"][shown].reset_index(drop=True).round(9),
        expected["value"][shown].astype(float).reset_index(drop=True).round(9),
        check_names=False)
    assert "detention-rca" in repr(loaded)


def test_load_refuses_a_table_changed_after_the_run(finished, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished.directory, copy)
    with (copy / "metrics.csv").open("a") as handle:
        handle.write("\n")
    with pytest.raises(UsageError, match="metrics.csv .* does not match the hash"):
        load(copy)
    assert load(copy, verify=False).tables["metrics"] is not None


def test_load_names_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(UsageError, match="holds no manifest.json"):
        load(tmp_path)


def test_run_refuses_force_without_out():
    with pytest.raises(UsageError, match="force: only applies with out"):
        run("detention-rca", size=12_000, force=True)


def test_the_package_exports_run_load_sweep_and_compare():
    import experiments
    from experiments import api

    assert experiments.run is api.run and experiments.load is api.load
    assert experiments.sweep is api.sweep and experiments.compare is api.compare
    import experiments.sweeps.runner  # noqa: F401 - importing the sweep module changes nothing

    assert experiments.sweep is api.sweep


def test_sweep_from_python_reuses_points_when_a_seed_is_added(tmp_path):
    import experiments

    path = tmp_path / "tiny.toml"
    path.write_text(
        'base = "immigration-os"\n[population]\nsize = 3000\n[audit]\nn_boot = 20\n'
        '[counterfactual]\ninterventions = []\n[sweep]\nseeds = [1]\nattribution = false\n'
        'answer = "capacity"\nfocus_group = "Latin America and Caribbean"\n'
        '[sweep.grid]\n"system.capacity" = [0.05]\n')
    first = experiments.sweep(path, out=tmp_path / "out")
    assert (first.ran, first.skipped) == (1, 0) and first.report.exists()
    grown = experiments.sweep(path, seeds=[1, 2], out=tmp_path / "out")
    assert (grown.ran, grown.skipped) == (1, 1)
    assert set(grown.tidy["seed"]) == {1, 2} and grown.report_markdown.exists()
    assert "ratio_pooled" in grown.summary


def test_python_errors_name_parameters_not_flags(tmp_path):
    (tmp_path / "foreign.txt").write_text("not ours")
    with pytest.raises(UsageError) as caught:
        run("detention-rca", size=12_000, out=tmp_path, attribution=False)
    message = str(caught.value)
    assert "choose another out" in message and "--" not in message
    from experiments.api import sweep

    with pytest.raises(UsageError, match=r"jobs must be at least 1, got 0"):
        sweep("capacity", jobs=0)
