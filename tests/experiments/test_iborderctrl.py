"""The iborderctrl experiment end to end: pilot and precision tables, knobs off and on,
determinism, and its base-rate sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.intervals import wilson_interval
from experiments.config import ConfigError, builtin_experiments, parse_config, read_experiment_data
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from experiments.sweeps.runner import run_sweep, sweep_points
from tests.experiments.conftest import (
    apply_changes,
    assert_intervals_claim_no_false_certainty,
    assert_report_reads_well,
    shipped_data,
)

FAIR_PROFILE = Path(__file__).parent / "data" / "fair_world.toml"
MECHANISMS = ("label_bias", "measurement_bias", "surveillance_intensity", "representation_bias",
              "proxy_leakage")
ZERO = "gaze_aversion = 0.0, smiling = 0.0, blink_rate = 0.0, speech_rate = 0.0, " \
       "response_latency = 0.0, head_movement = 0.0"
#: The fair test world with what the interview reads: only travellers from the Middle East
#: and North Africa have a display-rule shift, and the avatar speaks English only.
DEMEANOUR_TABLES = f"""
[interviews]
source = "test assumption"
languages = ["English"]

[demeanour_baselines]
source = "test assumption"
"Middle East and North Africa" = {{ gaze_aversion = 0.8, smiling = -0.4, blink_rate = 0.0, speech_rate = 0.0, response_latency = 0.4, head_movement = 0.0 }}
"Latin America and Caribbean" = {{ {ZERO} }}
interpreter = {{ gaze_aversion = 0.5, smiling = 0.0, blink_rate = 0.0, speech_rate = -0.6, response_latency = 1.0, head_movement = 0.0 }}
protection_applicant = {{ {ZERO} }}
"""  # noqa: E501 - TOML inline tables cannot be split


def ibc_data(**changes: object) -> dict:
    """The shipped iborderctrl experiment, made small (fewer groupings: fewer figures);
    ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("iborderctrl", 30_000, 200), {
        "audit.groupings": [["region_of_origin"], ["interpreter"], ["nationality"]],
        "audit.reference": {"region_of_origin": "Europe and Central Asia",
                            "interpreter": "not interpreted", "nationality": "UKR"},
        **changes})


@pytest.fixture(scope="module")
def fair_profile(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("profiles") / "fair_border.toml"
    path.write_text(f'base = "{FAIR_PROFILE}"\nname = "fair_border"\n'
                    'description = "Test profile: alike groups, with demeanour tables"\n'
                    + DEMEANOUR_TABLES, encoding="utf-8")
    return str(path)


def fair_data(profile: str, seed: int, **changes: object) -> dict:
    """Every bias knob off on the fair world, with a larger pilot, unless changed."""
    return ibc_data(**{
        "population.profile": profile,
        "population.size": 40_000,
        "experiment.seed": seed,
        "mechanisms": {name: {"strength": 0.0} for name in MECHANISMS},
        "system.cultural_baselines": 0.0, "system.interpreter_effect": 0.0,
        "system.setting_stress": 0.0, "system.base_rate": 0.05, "system.pilot_size": 200,
        "system.pilot_region": "Latin America and Caribbean",
        "audit.reference": {"nationality": "GBR", "region_of_origin": "Europe and Central Asia",
                            "interpreter": "not interpreted"},
        "audit.groupings": [["nationality"], ["region_of_origin"], ["interpreter"]],
        "audit.focus": [],
        "attribution.enabled": False,
        **changes,
    })


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("iborderctrl") / "run"
    return run_experiment(parse_config(ibc_data()), Path("iborderctrl.toml"), out=out)


def test_run_writes_pilot_and_precision_tables_figure_and_wording(small_run):
    directory = small_run.directory
    for name in ("pilot.csv", "precision_by_base_rate.csv", "attribution.csv",
                 "figures/deception_scores.png"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "The pilot, and what a flag is worth" in report
    assert "flagged as deceptive though they told the truth" in report
    pilot = pd.read_csv(directory / "pilot.csv").set_index("pilot")
    own = pilot.loc["this run"]
    assert own["people"] == 30 and own["instructed_to_lie"] == 15
    assert own["accuracy"] == pytest.approx(small_run.manifest["details"]["pilot_accuracy"])
    low, high = wilson_interval(np.array(23), np.array(30))
    assert pilot.loc["published lab study", ["ci_low", "ci_high"]].tolist() == \
        pytest.approx([float(low), float(high)])
    assert "Wilson interval" in small_run.headlines[0] and "23 of 30" in small_run.headlines[0]


def test_precision_table_follows_the_measured_rates(small_run):
    decisions = small_run.decisions
    precision = pd.read_csv(small_run.directory / "precision_by_base_rate.csv")
    own = precision[precision["detector"] == "this run"]
    truthful = ~decisions["y_true"]
    assert own["fpr"].iloc[0] == pytest.approx(decisions.loc[truthful, "decision"].mean())
    assert own["deceivers_measured"].iloc[0] == decisions["y_true"].sum()
    defined = own.dropna(subset=["precision"])
    assert (defined["precision_low"] <= defined["precision"]).all()
    assert (defined["precision"] <= defined["precision_high"]).all()
    # Rarer deceivers, fewer flags on deceivers.
    assert defined.sort_values("base_rate")["precision"].is_monotonic_increasing
    # The records find deception only among the flagged: by the records, nobody is missed.
    assert not (decisions["y_recorded"] & ~decisions["decision"]).any()


def test_knobs_on_the_shipped_profile_explain_the_focus_gap(small_run):
    attribution = pd.read_csv(small_run.directory / "attribution.csv")
    rows = attribution[(attribution["group"] == "Middle East and North Africa")
                       & (attribution["metric"] == "fpr")].set_index("source")
    for knob in ("cultural display rules", "stress of asking protection"):
        assert rows.loc[knob, "ci_low"] > 0, knob
    assert rows.loc["all knobs off", "ci_low"] < 0 < rows.loc["all knobs off", "ci_high"]


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(ibc_data()), Path("iborderctrl.toml"),
                           out=tmp_path / "again", report=False)
    for name in ("metrics.csv", "pilot.csv", "precision_by_base_rate.csv", "attribution.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_no_significant_disparity_with_every_knob_off(tmp_path, fair_profile):
    config = parse_config(fair_data(fair_profile, 1))
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair", report=False)
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "selection_rate"])]
    assert (rates["p_holm"] < 0.05).sum() <= 1, \
        rates.loc[rates["p_holm"] < 0.05, ["grouping", "group", "metric"]]


def test_display_rules_and_interpreters_raise_false_flags(tmp_path, fair_profile):
    data = fair_data(fair_profile, 2, **{"system.cultural_baselines": 1.0,
                                         "system.interpreter_effect": 1.0})
    result = run_experiment(parse_config(data), Path("biased.toml"), out=tmp_path / "biased",
                            report=False)
    table = result.views["true"].table
    fpr = table[table["metric"] == "fpr"].set_index(["grouping", "group"])
    assert fpr.loc[("region_of_origin", "Middle East and North Africa"), "diff_ci_low"] > 0
    assert fpr.loc[("nationality", "IRN"), "diff_ci_low"] > 0
    assert fpr.loc[("interpreter", "interpreted"), "diff_ci_low"] > 0
    for other in ("MEX", "VNM"):  # no display-rule shift: only chance separates them
        assert fpr.loc[("nationality", other), "p_holm"] >= 0.05


def test_bad_settings_are_named(tmp_path):
    for changes, message in (
            ({"system.pilot_size": 20_000}, "system.pilot_size: the pilot needs"),
            ({"system.pilot_region": "Atlantis"}, "system.pilot_region: 'Atlantis'"),
            ({"population.profile": "uk_visa_applicants", "audit.reference": {},
              "audit.focus": []}, r"population.profile:.*\[demeanour_baselines\]")):
        config = parse_config(ibc_data(**{"attribution.enabled": False, **changes}))
        with pytest.raises(ConfigError, match=message):
            run_experiment(config, Path("iborderctrl.toml"), out=tmp_path / "bad")
    with pytest.raises(ConfigError, match="system.cue_weights"):
        parse_config(ibc_data(**{"system.cue_weights": [1.0, 2.0]}))


def test_the_shipped_base_rate_sweep_expands_and_answers(tmp_path):
    data = read_experiment_data(builtin_experiments()["iborderctrl-base-rate"])
    assert len(sweep_points(data, "iborderctrl-base-rate")) == 36
    small = apply_changes(data, {
        "population.size": 6_000, "audit.n_boot": 50, "attribution.enabled": False,
        "sweep.seeds": [1, 2], "sweep.grid": {"system.base_rate": [0.5, 0.01],
                                              "system.pilot_size": [30, 100]}})
    result = run_sweep(small, Path("iborderctrl_base_rate.toml"), tmp_path / "sweep", jobs=1)
    assert "fell on deceivers (precision)" in result.answer
    assert "base rate 1 in 100, pilot 30" in result.answer
    assert "pilot 100: " in result.answer and "larger pilot" in result.answer
    assert (tmp_path / "sweep" / "sweep_report.md").exists()


def test_no_interval_claims_false_certainty(small_run):
    assert_intervals_claim_no_false_certainty(small_run.directory)


def test_report_names_countries_parses_and_loads_nothing(small_run):
    assert_report_reads_well(small_run.directory)
