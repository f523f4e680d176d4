"""The e-atd experiment end to end: tables, export, knobs off and on, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from tests.experiments.conftest import (
    apply_changes,
    assert_intervals_claim_no_false_certainty,
    assert_report_reads_well,
    shipped_data,
)

FAIR_PROFILE = Path(__file__).parent / "data" / "fair_world.toml"
MECHANISMS = ("label_bias", "measurement_bias", "surveillance_intensity", "representation_bias",
              "proxy_leakage")

#: The fair test world with what the check-in system reads: accent groups of its languages
#: (the rest "other languages"), vendor shares, and noisy construction work.
SPEECH_TABLES = """
[speech_varieties]
source = "test assumption"
default = "other languages"

[speech_varieties.accent_of]
English = "English"
Spanish = "Spanish"
Vietnamese = "Vietnamese"
Persian = "Persian"
Yoruba = "West African"
Hausa = "West African"
Igbo = "West African"

[speech_varieties.vendor_training_share]
source = "test assumption"
English = 0.60
Spanish = 0.30
Vietnamese = 0.02
Persian = 0.03
"West African" = 0.01
"other languages" = 0.04

[recording_conditions]
source = "test assumption"
housing = {}
work = { construction = 1.0 }
default = 0.0
"""


def atd_data(**changes: object) -> dict:
    """The shipped e-atd experiment, made small; ``changes`` maps dotted keys."""
    data = shipped_data("e_atd", 12_000, 200)
    data["system"]["n_checkins"] = 12
    return apply_changes(data, changes)


@pytest.fixture(scope="module")
def fair_profile(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("profiles") / "fair_atd.toml"
    path.write_text(f'base = "{FAIR_PROFILE}"\nname = "fair_atd"\n'
                    'description = "Test profile: alike groups, with speech tables"\n'
                    + SPEECH_TABLES, encoding="utf-8")
    return str(path)


def fair_data(profile: str, seed: int, **changes: object) -> dict:
    """Every bias knob off on the fair world, unless changed."""
    return atd_data(**{
        "population.profile": profile,
        "population.size": 30_000,
        "experiment.seed": seed,
        "mechanisms": {name: {"strength": 0.0} for name in MECHANISMS},
        "system.representation": 1.0, "system.conditions_effect": 0.0,
        "system.face_tone_gap": 0.0,
        "audit.reference": {"nationality": "GBR", "accent_group": "English"},
        "audit.groupings": [["nationality"], ["region_of_origin"], ["accent_group"],
                            ["employer_sector"], ["skin_tone"]],
        "audit.focus": [],
        "attribution.enabled": False,
        "counterfactual.interventions": [],
        **changes,
    })


def checkin_rates(result, grouping: str, measure: str) -> pd.DataFrame:
    rates = pd.read_csv(result.directory / "checkin_rates.csv", keep_default_na=False,
                        na_values=[""], dtype={"group": str})
    return rates[(rates["grouping"] == grouping) & (rates["measure"] == measure)
                 ].set_index("group")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e_atd") / "run"
    return run_experiment(parse_config(atd_data()), Path("e_atd.toml"), out=out)


def test_run_writes_checkin_tables_export_figure_and_wording(small_run):
    directory = small_run.directory
    for name in ("checkin_rates.csv", "atd_violations.csv", "attribution.csv",
                 "figures/checkin_rejections.png"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "Check-ins: rejected calls, wrongful violations and violations per person" in report
    assert "recorded_atd_violations" in report
    assert "clustered by person" in small_run.headlines[0]
    rates = pd.read_csv(directory / "checkin_rates.csv")
    assert set(rates["measure"]) == {"first_attempt_rejection_rate",
                                     "wrongful_violations_per_attended_checkin",
                                     "recorded_violations_per_person"}
    usable = rates[rates["flags"].fillna("").str.find("suppressed") < 0]
    assert (usable["ci_low"] <= usable["value"]).all()
    assert (usable["value"] <= usable["ci_high"]).all()
    assert (usable["design_effect"] >= 1 - 1e-9).all()


def test_export_matches_the_audited_decisions(small_run):
    export = pd.read_csv(small_run.directory / "atd_violations.csv")
    assert len(export) == 12_000 and export["person_id"].is_unique
    held = export[export["split"] == "held out"]
    decisions = small_run.decisions
    assert np.array_equal(held["recorded_atd_violations"].to_numpy() > 0,
                          decisions["decision"].to_numpy())
    assert np.array_equal(held["true_missed_checkins"].to_numpy() > 0,
                          decisions["y_true"].to_numpy())
    assert (export["recorded_atd_violations"]
            == export["true_missed_checkins"] + export["wrongful_atd_violations"]).all()
    # The people-level false positives are exactly the people with wrongful violations only.
    false_positive = decisions["decision"] & ~decisions["y_true"]
    assert np.array_equal(false_positive.to_numpy(),
                          (held["wrongful_atd_violations"].to_numpy() > 0)
                          & (held["true_missed_checkins"].to_numpy() == 0))
    per_person = checkin_rates(small_run, "nationality", "recorded_violations_per_person")
    mex = held["recorded_atd_violations"][decisions["nationality"].astype(str).to_numpy()
                                          == "MEX"].mean()
    assert per_person.loc["MEX", "value"] == pytest.approx(mex)


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(atd_data()), Path("e_atd.toml"),
                           out=tmp_path / "again", report=False)
    for name in ("metrics.csv", "checkin_rates.csv", "atd_violations.csv", "attribution.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_no_significant_disparity_with_every_knob_off(tmp_path, fair_profile):
    config = parse_config(fair_data(fair_profile, 1))
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair", report=False)
    table = result.views["true"].table
    people = table[table["metric"].isin(["fpr", "selection_rate"])]
    # Holm controls the family-wise error per (grouping, metric): a stray rejection is chance.
    assert (people["p_holm"] < 0.05).sum() <= 1, \
        people.loc[people["p_holm"] < 0.05, ["grouping", "group", "metric"]]
    rates = pd.read_csv(result.directory / "checkin_rates.csv")
    assert (rates["p_holm"].fillna(1) < 0.05).sum() <= 1, \
        rates.loc[rates["p_holm"] < 0.05, ["grouping", "group", "measure"]]


def test_each_knob_raises_its_disparity(tmp_path, fair_profile):
    knobs = {"system.representation": 0.0, "system.conditions_effect": 1.5,
             "system.face_tone_gap": 2.0}
    result = run_experiment(parse_config(fair_data(fair_profile, 2, **knobs)),
                            Path("biased.toml"), out=tmp_path / "biased",
                            report=False)
    first = "first_attempt_rejection_rate"
    accent = checkin_rates(result, "accent_group", first)
    for group in ("Vietnamese", "Persian", "West African"):
        assert accent.loc[group, "diff_ci_low"] > 0, group
    sector = checkin_rates(result, "employer_sector", first)
    assert sector.loc["construction", "value"] > sector.drop("construction")["ci_high"].max()
    tone = checkin_rates(result, "skin_tone", first)
    assert tone.loc["9", "ci_low"] > tone.loc["2", "ci_high"]
    # People: the under-represented accent groups are recorded with violations more often.
    fpr = result.views["true"].table
    fpr = fpr[(fpr["grouping"] == "accent_group") & (fpr["metric"] == "fpr")].set_index("group")
    assert fpr.loc["West African", "diff_ci_low"] > 0


def test_a_profile_without_speech_tables_and_bad_settings_are_named(tmp_path):
    config = parse_config(atd_data(**{"population.profile": "southern_border_asylum",
                                      "attribution.enabled": False}))
    with pytest.raises(ConfigError, match=r"population.profile:.*\[speech_varieties\]"):
        run_experiment(config, Path("e_atd.toml"), out=tmp_path / "bad")
    with pytest.raises(ConfigError, match="system.retries"):
        parse_config(atd_data(**{"system.retries": 12}))
    with pytest.raises(ConfigError, match="did you mean 'face_tone_gap'"):
        parse_config(atd_data(**{"system.face_tone_gaps": 1.0}))


def test_no_interval_claims_false_certainty(small_run):
    assert_intervals_claim_no_false_certainty(small_run.directory)


def test_report_names_countries_parses_and_loads_nothing(small_run):
    assert_report_reads_well(small_run.directory)


def test_records_that_are_the_decisions_are_not_compared_with_the_truth(small_run):
    from experiments.reports.headlines import RECORDS_ARE_DECISIONS

    report = (small_run.directory / "report.md").read_text(encoding="utf-8")
    assert " ".join(RECORDS_ARE_DECISIONS.split()) in " ".join(report.split())
    assert "the records understate" not in report
    assert "the records overstate" not in report


def test_twin_flip_rate_is_also_given_among_people_whose_language_changes(small_run):
    flips = pd.read_csv(small_run.directory / "flip_rates.csv")
    row = flips[(flips["grouping"] == "first_language") & (flips["group"] == "(all)")].iloc[0]
    # Spanish speakers are their own twin and cannot flip: excluding them raises the rate.
    assert row["changed_n"] < row["n"]
    assert row["changed_flip_rate"] > row["flip_rate"]
    spanish = flips[(flips["grouping"] == "first_language") & (flips["group"] == "Spanish")]
    assert (spanish["flips"] == 0).all() and spanish["changed_n"].isna().all()
