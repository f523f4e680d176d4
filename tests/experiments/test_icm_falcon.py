"""The icm-falcon experiment end to end: tables and wording, knobs off and on, homophily off,
determinism and named errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.config import ConfigError, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from experiments.errors import UsageError
from tests.experiments.conftest import (
    apply_changes,
    assert_intervals_claim_no_false_certainty,
    assert_report_reads_well,
    shipped_data,
)

FAIR_PROFILE = Path(__file__).parent / "data" / "fair_world.toml"


def icm_data(**changes: object) -> dict:
    """The shipped icm-falcon experiment, made small; ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("icm_falcon", 30_000, 200), changes)


def fair_data(seed: int, **changes: object) -> dict:
    """Five alike nationalities, every bias knob off (homophily on), no attribution."""
    return icm_data(**{
        "population.profile": str(FAIR_PROFILE),
        "population.size": 60_000,
        "experiment.seed": seed,
        "mechanisms": {"proxy_leakage": {"strength": 0.0}},
        "system.tip_bias": 0.0,
        "system.tip_targets": [],
        "audit.reference": {"nationality": "GBR",
                            "region_of_origin": "Europe and Central Asia"},
        "audit.groupings": [["nationality"], ["region_of_origin"]],
        "audit.focus": [{"grouping": "nationality", "group": "NGA"}],
        "attribution.enabled": False,
        **changes,
    })


def fpr_by_nationality(result) -> pd.DataFrame:
    table = result.views["true"].table
    return table[(table["grouping"] == "nationality") & (table["metric"] == "fpr")
                 ].set_index("group")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("icm") / "run"
    return run_experiment(parse_config(icm_data()), Path("icm_falcon.toml"), out=out)


def test_run_writes_its_tables_and_wording(small_run):
    directory = small_run.directory
    for name in ("suspicion_spread.csv", "homophily_off.csv", "attribution.csv"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "The graph and how far suspicion spreads" in report
    assert "The same scoring with homophily off" in report
    assert small_run.headlines[0].startswith("For each of the")
    details = small_run.manifest["details"]
    assert details["audited_people"] == len(small_run.decisions)
    assert details["same_origin_share"]["household"] > 0.8
    assert details["same_origin_share_homophily_off"]["household"] < 0.2


def test_as_shipped_targeted_regions_are_flagged_more_and_homophily_concentrates_it(small_run):
    table = small_run.views["true"].table
    fpr = table[(table["grouping"] == "region_of_origin") & (table["metric"] == "fpr")
                ].set_index("group")
    for targeted in ("Latin America and Caribbean", "Middle East and North Africa"):
        assert fpr.loc[targeted, "diff_ci_low"] > 0
    homophily = pd.read_csv(small_run.directory / "homophily_off.csv")
    latin = homophily[(homophily["grouping"] == "region_of_origin")
                      & (homophily["metric"] == "fpr")].set_index("group").loc[
        "Latin America and Caribbean"]
    assert latin["disparity_change_ci_high"] < 0  # without homophily the gap shrinks
    spread = pd.read_csv(small_run.directory / "suspicion_spread.csv")
    regions = spread[spread["grouping"] == "region_of_origin"].set_index("group")
    assert (regions.loc["Latin America and Caribbean", "flagged_per_true_case"]
            > regions.loc["Europe and Central Asia", "flagged_per_true_case"])


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(icm_data()), Path("icm_falcon.toml"),
                           out=tmp_path / "again")
    for name in ("metrics.csv", "suspicion_spread.csv", "homophily_off.csv", "attribution.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_no_significant_disparity_with_every_bias_knob_off(tmp_path):
    config = parse_config(fair_data(2))
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair")
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "fnr", "selection_rate"])]
    significant = rates[rates["p_holm"] < 0.05]
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]


@pytest.mark.parametrize("knob", ["label_bias", "tip_bias"])
def test_each_bias_knob_raises_the_targets_false_flags(tmp_path, knob):
    changes = ({"mechanisms.label_bias": {"strength": 2.0, "targets": ["NGA", "IRN"]}}
               if knob == "label_bias" else
               {"system.tip_bias": 9.0, "system.tip_targets": ["NGA", "IRN"]})
    result = run_experiment(parse_config(fair_data(3, **changes)), Path("b.toml"),
                            out=tmp_path / knob)
    fpr = fpr_by_nationality(result)
    for targeted in ("NGA", "IRN"):
        assert fpr.loc[targeted, "ratio"] > 1.3 and fpr.loc[targeted, "p_holm"] < 0.05
    for other in ("MEX", "VNM"):
        assert fpr.loc[other, "diff_ci_low"] <= 0
    if knob == "label_bias":  # homophily keeps the seeds' suspicion inside their community
        homophily = pd.read_csv(result.directory / "homophily_off.csv")
        nga = homophily[(homophily["grouping"] == "nationality")
                        & (homophily["metric"] == "fpr")].set_index("group").loc["NGA"]
        assert nga["disparity_change_ci_high"] < 0


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="system.homophily_origin"):
        parse_config(icm_data(**{"system.homophily_origin": 1.5}))
    with pytest.raises(ConfigError, match="did you mean 'tip_bias'"):
        parse_config(icm_data(**{"system.tip_biass": 1.0}))
    config = parse_config(icm_data(**{"system.tip_targets": ["region:Atlantis"],
                                      "attribution.enabled": False}))
    with pytest.raises(UsageError, match="system.tip_targets"):
        run_experiment(config, Path("bad.toml"), out=Path("/tmp/never-written-icm"))


def test_no_interval_claims_false_certainty(small_run):
    assert_intervals_claim_no_false_certainty(small_run.directory)


def test_report_names_countries_parses_and_loads_nothing(small_run):
    assert_report_reads_well(small_run.directory)


def test_every_homophily_setting_is_switched_off_in_the_knobs_off_world():
    config = parse_config(icm_data())
    keys = {knob.key: knob.off for knob in config.attribution.knobs}
    # Language homophily keeps suspicion inside an origin as origin homophily does; the
    # residual with every knob off must not keep it on untested.
    assert keys["system.homophily_origin"] == 0.0
    assert keys["system.homophily_language"] == 0.0
    # Proxy leakage acts when the population is generated, which worlds on the same people
    # cannot switch; the residual's cause says it is in there.
    assert "proxy leakage" in config.attribution.baseline_cause
