"""The uscis-fraud experiment end to end: tables and wording, knobs off and on, the remedy,
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


def fraud_data(**changes: object) -> dict:
    """The shipped uscis-fraud experiment, made small; ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("uscis_fraud", 30_000, 200), changes)


def fair_data(seed: int, **changes: object) -> dict:
    """Five alike nationalities, every knob off, no attribution (one run is enough)."""
    return fraud_data(**{
        "population.profile": str(FAIR_PROFILE),
        "population.size": 60_000,
        "experiment.seed": seed,
        # names, language and neighbourhood independent of nationality, as in a fair world
        "mechanisms": {"proxy_leakage": {"strength": 0.0}},
        "system.targets": ["NGA", "IRN"],
        "system.targeting": 0.0,
        "system.finding_bias": 0.0,
        "system.audit_share": 0.0,
        "audit.reference": {"nationality": "GBR", "region_of_origin": "Europe and Central Asia"},
        "audit.groupings": [["nationality"], ["region_of_origin"]],
        "audit.focus": [{"grouping": "nationality", "group": "NGA"}],
        "attribution.enabled": False,
        "counterfactual.interventions": [],
        **changes,
    })


def nationality_rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[(table["grouping"] == "nationality") & (table["metric"] == metric)
                 ].set_index("group")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("uscis") / "run"
    return run_experiment(parse_config(fraud_data()), Path("uscis_fraud.toml"), out=out)


def test_run_writes_its_tables_figure_and_selective_labels_wording(small_run):
    directory = small_run.directory
    for name in ("records_vs_truth.csv", "investigations.csv", "random_audit_remedy.csv",
                 "attribution.csv", "figures/records_vs_truth.png"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "Selective labels: what the records say and what is true" in report
    assert "Random audit sampling" in report
    assert small_run.headlines[0].startswith("The classifier learned only")
    details = small_run.manifest["details"]
    assert details["investigated_applications"] < details["history_applications"] / 5
    assert 0 < details["history_true_fraud_never_investigated"] < details["history_true_fraud"]


def test_targeted_regions_are_over_recorded_as_shipped(small_run):
    records = pd.read_csv(small_run.directory / "records_vs_truth.csv")
    regions = records[records["grouping"] == "region_of_origin"].set_index("group")
    shown = regions[~regions["flags"].fillna("").str.contains("suppressed")]
    for targeted in ("Sub-Saharan Africa", "Middle East and North Africa"):
        # recorded fraud exceeds the true rate for the targeted, and falls short elsewhere;
        # a region withheld beside a small one (complementary suppression) shows no figure
        if targeted in shown.index:
            assert regions.loc[targeted, "disparity_change"] > 0
        else:
            assert pd.isna(regions.loc[targeted, "disparity_change"])
    assert regions.loc["Sub-Saharan Africa", "disparity_change_ci_low"] > 0
    assert regions.loc["Europe and Central Asia", "change_ci_high"] < 0


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(fraud_data()), Path("uscis_fraud.toml"),
                           out=tmp_path / "again")
    for name in ("metrics.csv", "records_vs_truth.csv", "random_audit_remedy.csv",
                 "attribution.csv", "flip_rates.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_no_significant_disparity_with_every_knob_off(tmp_path):
    config = parse_config(fair_data(1))
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair")
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "fnr", "selection_rate"])]
    significant = rates[rates["p_holm"] < 0.05]
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]
    records = pd.read_csv(result.directory / "records_vs_truth.csv")
    assert (records["disparity_change_ci_low"].fillna(-1) <= 0).all()
    assert (records["disparity_change_ci_high"].fillna(1) >= 0).all()


def test_targeting_alone_inflates_the_records_and_lowers_the_flags(tmp_path):
    result = run_experiment(parse_config(fair_data(2, **{"system.targeting": 3.0})),
                            Path("t.toml"), out=tmp_path / "targeting")
    records = pd.read_csv(result.directory / "records_vs_truth.csv")
    nationality = records[records["grouping"] == "nationality"].set_index("group")
    for targeted in ("NGA", "IRN"):
        assert nationality.loc[targeted, "disparity_change_ci_low"] > 0
        # the true rates stay alike: the excess is the records'
        assert abs(nationality.loc[targeted, "disparity_a"]) < 0.01
    investigated = pd.read_csv(result.directory / "investigations.csv")
    fpr = nationality_rows(investigated, "fpr")
    assert fpr.loc["NGA", "ratio"] > 2 and fpr.loc["NGA", "p_holm"] < 0.05
    # alone, targeting lowers the targeted groups' hit rate, and the classifier reads it: their
    # false flags fall rather than rise
    flags = nationality_rows(result.views["true"].table, "fpr")
    for targeted in ("NGA", "IRN"):
        assert flags.loc[targeted, "ratio"] < 1


def test_finding_bias_raises_false_flags_and_random_audits_lower_them(tmp_path):
    biased = run_experiment(parse_config(fair_data(3, **{"system.finding_bias": 0.2})),
                            Path("b.toml"), out=tmp_path / "biased")
    fpr = nationality_rows(biased.views["true"].table, "fpr")
    for targeted in ("NGA", "IRN"):
        assert fpr.loc[targeted, "ratio"] > 1.5 and fpr.loc[targeted, "p_holm"] < 0.05
    for other in ("MEX", "VNM"):  # no untargeted nationality is flagged more than the reference
        assert fpr.loc[other, "diff_ci_low"] <= 0
    remedied = run_experiment(
        parse_config(fair_data(3, **{"system.finding_bias": 0.2, "system.audit_share": 1.0})),
        Path("r.toml"), out=tmp_path / "remedied")
    after = nationality_rows(remedied.views["true"].table, "fpr")
    assert after.loc["NGA", "value"] < fpr.loc["NGA", "value"]
    assert after.loc["NGA", "p_holm"] >= 0.05
    remedy = pd.read_csv(biased.directory / "random_audit_remedy.csv")
    change = remedy[(remedy["grouping"] == "nationality") & (remedy["metric"] == "fpr")
                    ].set_index("group")
    assert change.loc["NGA", "change_ci_high"] < 0  # half the investigations at random helps


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="system.finding_bias"):
        parse_config(fraud_data(**{"system.finding_bias": 2.0}))
    with pytest.raises(ConfigError, match="did you mean 'targeting'"):
        parse_config(fraud_data(**{"system.targetting": 1.0}))
    config = parse_config(fraud_data(**{"system.targets": ["region:Atlantis"],
                                        "attribution.enabled": False}))
    with pytest.raises(UsageError, match="system.targets: investigation target 'region:Atl"):
        run_experiment(config, Path("bad.toml"), out=Path("/tmp/never-written-uscis"))


def test_no_interval_claims_false_certainty(small_run):
    assert_intervals_claim_no_false_certainty(small_run.directory)


def test_report_names_countries_parses_and_loads_nothing(small_run):
    assert_report_reads_well(small_run.directory)
