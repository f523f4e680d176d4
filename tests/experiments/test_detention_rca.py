"""The detention-rca experiment end to end: before/after table, knobs off and on, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import ConfigError, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from tests.experiments.conftest import apply_changes, shipped_data

FAIR_PROFILE = Path(__file__).parent / "data" / "fair_world.toml"
MECHANISMS = ("label_bias", "measurement_bias", "surveillance_intensity", "representation_bias",
              "proxy_leakage")


def detention_data(**changes: object) -> dict:
    """The shipped detention-rca experiment, made small; ``changes`` maps dotted keys."""
    data = shipped_data("detention_rca", 20_000, 200)
    return apply_changes(data, changes)


def fair_data(seed: int, **changes: object) -> dict:
    return detention_data(**{
        "population.profile": str(FAIR_PROFILE),
        "population.size": 40_000,
        "experiment.seed": seed,
        "mechanisms": {name: {"strength": 0.0} for name in MECHANISMS},
        "audit.reference": {"nationality": "GBR"},
        "audit.groupings": [["nationality"], ["region_of_origin"]],
        "audit.focus": [{"grouping": "nationality", "group": "NGA"}],
        "counterfactual.interventions": [{"attribute": "nationality", "value": "GBR"}],
        **changes,
    })


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("detention") / "run"
    return run_experiment(parse_config(detention_data()), Path("detention_rca.toml"), out=out)


def test_run_writes_the_before_after_table_figure_and_wording(small_run):
    directory = small_run.directory
    assert (directory / "release_branch_change.csv").exists()
    assert (directory / "figures" / "release_branch.png").exists()
    report = (directory / "report.md").read_text()
    assert "With and without the release branch" in report
    assert "recommended for detention though they posed neither flight risk nor danger" in report
    assert small_run.manifest["details"]["audited_version"] == "without release branch"


def test_removal_ends_release_and_raises_wrongful_detention(small_run):
    import pandas as pd

    change = pd.read_csv(small_run.directory / "release_branch_change.csv")
    overall = change[change["grouping"] == "(all)"].set_index("metric")
    assert overall.loc["release_rate", "after"] == 0
    assert overall.loc["release_rate", "before"] > 0.2
    wrongful = overall.loc["wrongful_detention_rate"]
    assert wrongful["diff_ci_low"] > 0 and wrongful["after"] > wrongful["before"]
    assert wrongful["diff_ci_low"] <= wrongful["difference"] <= wrongful["diff_ci_high"]
    # the audited decisions are those of the version without the branch
    rate = small_run.decisions.loc[~small_run.decisions["y_true"], "decision"].mean()
    assert rate == pytest.approx(wrongful["after"])
    for grouping in ("nationality", "region_of_origin"):
        assert grouping in set(change["grouping"])


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(detention_data()), Path("detention_rca.toml"),
                           out=tmp_path / "again")
    for name in ("metrics.csv", "release_branch_change.csv", "flip_rates.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


@pytest.mark.parametrize("release_branch", [True, False])
def test_no_significant_disparity_with_every_knob_at_zero(tmp_path, release_branch):
    config = parse_config(fair_data(1, **{"system.release_branch": release_branch}))
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair")
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "fnr", "selection_rate"])]
    significant = rates[rates["p_holm"] < 0.05]
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]
    assert (result.flips["flips"] == 0).all()


def test_label_bias_raises_wrongful_detention_of_the_targeted_groups(tmp_path):
    data = fair_data(2, **{
        "system.release_branch": True,
        "mechanisms.label_bias": {"strength": 2.0, "targets": ["NGA", "IRN"]},
    })
    result = run_experiment(parse_config(data), Path("biased.toml"), out=tmp_path / "biased")
    table = result.views["true"].table
    fpr = table[(table["grouping"] == "nationality") & (table["metric"] == "fpr")
                ].set_index("group")
    for targeted in ("NGA", "IRN"):
        assert fpr.loc[targeted, "ratio"] > 1.5 and fpr.loc[targeted, "p_holm"] < 0.05
    for other in ("MEX", "VNM"):
        assert fpr.loc[other, "p_holm"] >= 0.05


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="system.flight_risk_cuts"):
        parse_config(detention_data(**{"system.flight_risk_cuts": [6, 4]}))
    with pytest.raises(ConfigError, match="did you mean 'release_branch'"):
        parse_config(detention_data(**{"system.release_branches": True}))


def test_the_report_says_why_record_label_bias_can_lower_the_gap(small_run):
    """A false record can move a person from 'low, detain' to 'medium, a supervisor decides',
    which is not counted as a detention: the attribution section must say so wherever it
    credits record label bias, so that a removal is not read as better treatment."""
    report = (small_run.directory / "report.md").read_text(encoding="utf-8")
    knob_line = next(line for line in report.splitlines()
                     if line.startswith("- record label bias ("))
    assert "a supervisor decides" in knob_line
    assert "does not count as a detention" in knob_line
    assert "nobody is treated better" in knob_line
