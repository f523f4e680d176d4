"""The experiment runner: results folder, manifest, determinism, views, twins, report."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from experiments.config import parse_config
from experiments.engine.runner import run_experiment
from experiments.errors import UsageError
from tests.experiments.conftest import SMALL_SIZE, immigration_os_data

EXPECTED_FILES = {"manifest.json", "metrics.csv", "metrics.json", "summary.csv",
                  "flip_rates.csv", "report.md", "report.html", "claims.json", "claims.csv"}
DETERMINISTIC_FILES = ("metrics.csv", "metrics.json", "summary.csv", "flip_rates.csv",
                       "claims.json", "claims.csv")


def test_run_writes_every_output(small_run):
    names = {p.name for p in small_run.directory.iterdir()}
    assert EXPECTED_FILES <= names
    figures = sorted(p.name for p in (small_run.directory / "figures").iterdir())
    assert "rates_nationality.png" in figures and "views_fpr_nationality.png" in figures


def test_manifest_hashes_every_file_and_records_config(small_run):
    manifest = json.loads((small_run.directory / "manifest.json").read_text())
    for key in ("version", "git_commit", "run_id", "config", "seed", "population_size",
                "dependencies", "files"):
        assert key in manifest
    assert manifest["population_size"] == SMALL_SIZE
    assert manifest["config"]["population"]["size"] == SMALL_SIZE
    assert manifest["dependencies"]["numpy"]
    on_disk = {str(p.relative_to(small_run.directory)) for p in small_run.directory.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((small_run.directory / name).read_bytes()).hexdigest() == digest


def test_same_config_and_seed_give_byte_identical_metrics(small_run, tmp_path):
    again = run_experiment(parse_config(immigration_os_data()), Path("immigration_os.toml"),
                           out=tmp_path / "again")
    for name in DETERMINISTIC_FILES:
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_both_views_are_audited_with_every_configured_grouping(small_run):
    assert set(small_run.views) == {"true", "recorded"}
    for result in small_run.views.values():
        assert result.groupings == ["nationality", "region_of_origin", "nationality × sex",
                                    "visa_type"]
    metrics = small_run.directory.joinpath("metrics.csv").read_text().splitlines()
    assert metrics[0].startswith("view,grouping,group,group_name,metric,value")


def test_capacity_limits_how_many_are_prioritised(small_run):
    decisions = small_run.decisions
    assert decisions["decision"].sum() == round(0.05 * len(decisions))


def test_label_bias_hides_the_disparity_from_the_recorded_view(small_run):
    def fpr_ratio(view):
        table = small_run.views[view].table
        row = table[(table["grouping"] == "region_of_origin") & (table["metric"] == "fpr")
                    & (table["group"] == "Latin America and Caribbean")]
        return float(row["ratio"].iloc[0])

    assert fpr_ratio("true") > 2
    assert fpr_ratio("recorded") < fpr_ratio("true")


def test_twin_under_own_value_never_flips(tmp_path):
    data = immigration_os_data(**{"counterfactual.interventions": [
        {"attribute": "nationality", "value": "IND"}]})
    result = run_experiment(parse_config(data), Path("x.toml"), out=tmp_path / "run")
    flips = result.flips
    own = flips[(flips["grouping"] == "nationality") & (flips["group"] == "IND")]
    assert int(own["flips"].iloc[0]) == 0
    everyone = flips[(flips["grouping"] == "nationality") & (flips["group"] == "(all)")]
    assert everyone["flip_rate"].iloc[0] > 0


def test_headlines_quote_intervals_and_sample_sizes(small_run):
    assert 3 <= len(small_run.headlines) <= 5
    for sentence in small_run.headlines:
        assert "95% CI" in sentence and "n = " in sentence


def test_report_has_card_caveat_views_and_citation(small_run):
    report = (small_run.directory / "report.md").read_text()
    for text in ("A simulation of a mimic, not a measurement of the real system",
                 "ImmigrationOS-style enforcement prioritisation (a toy mimic)",
                 "FPR (true outcome)", "FPR (recorded outcome)", "Counterfactual twins",
                 "How to cite", "sha256 metrics.csv"):
        assert text in report
    html = (small_run.directory / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table class=\"sortable\">" in html


def test_html_report_escapes_config_text(tmp_path):
    data = immigration_os_data(**{"experiment.title": "<script>alert('x')</script> & co",
                                  "counterfactual.interventions": []})
    result = run_experiment(parse_config(data), Path("x.toml"), out=tmp_path / "run")
    html = (result.directory / "report.html").read_text()
    assert "<script>alert" not in html
    assert html.count("<script>") == 1  # the report's own table sorting, nothing from data
    assert "&lt;script&gt;" in html


def test_existing_output_is_not_overwritten_without_force(small_run):
    config = parse_config(immigration_os_data())
    before = (small_run.directory / "metrics.csv").read_bytes()
    with pytest.raises(UsageError, match="already exists.*--force"):
        run_experiment(config, Path("x.toml"), out=small_run.directory)
    assert (small_run.directory / "metrics.csv").read_bytes() == before


def test_failed_run_leaves_no_partial_folder(tmp_path, monkeypatch):
    import experiments.engine.runner as runner

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "build_report", broken)
    data = immigration_os_data(**{"counterfactual.interventions": []})
    with pytest.raises(RuntimeError, match="disk full"):
        run_experiment(parse_config(data), Path("x.toml"), out=tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("experiment", ["immigration-os", "visa-streaming", "cbp-one"])
def test_a_system_refusing_a_tiny_population_is_one_line_and_exit_2(experiment, tmp_path, capsys):
    from experiments.cli import main

    assert main(["run", experiment, "--size", "30", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refused this run" in err[0] and "--size" in err[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("experiment", "size"), [("cbp-one", 20000), ("immigration-os", 4000)])
def test_the_views_audited_on_two_threads_equal_each_audited_alone(experiment, size,
                                                                   monkeypatch):
    """Both views are audited at once on two threads; each equals its audit on its own, for
    an audit clustered by claimed identity (cbp-one) and one that is not."""
    from experiments.config import load_config
    from experiments.engine import runner
    from synthetic import threads

    config, _ = load_config(experiment, {"population.size": size, "experiment.replicates": 1,
                                         "attribution.enabled": False})
    computed = runner.compute_run(config)
    decisions, cluster = computed.decisions, computed.system_run.decided.cluster
    assert (cluster is not None) == (experiment == "cbp-one")
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    together = runner._audit_views(config, decisions, cluster)
    assert list(together) == list(runner.VIEWS)
    for view, column in runner.VIEWS.items():
        alone = runner._audit_view(config, decisions, column, cluster)
        pd.testing.assert_frame_equal(together[view].table, alone.table)
        pd.testing.assert_frame_equal(together[view].summary, alone.summary)
        pd.testing.assert_frame_equal(computed.views[view].table, alone.table)


def test_an_error_in_one_view_s_audit_is_raised(monkeypatch):
    from experiments.config import load_config
    from experiments.engine import runner

    config, _ = load_config("immigration-os", {"population.size": 4000,
                                               "experiment.replicates": 1,
                                               "attribution.enabled": False})
    computed = runner.compute_run(config)
    broken = computed.decisions.drop(columns=["y_recorded"])
    with pytest.raises(Exception, match="y_recorded"):
        runner._audit_views(config, broken, computed.system_run.decided.cluster)
