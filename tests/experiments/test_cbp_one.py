"""The cbp-one experiment end to end: attempts frame, extras, knobs off and on, determinism."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.config import ConfigError, parse_config
from experiments.engine.runner import run_experiment
from tests.experiments.conftest import apply_changes, shipped_data
from tests.experiments.hand_counts import mantel_haenszel

DARKER, LIGHTER = "darker (Monk 7-10)", "lighter (Monk 1-3)"


def cbp_data(**changes: object) -> dict:
    """The shipped cbp-one experiment, made small; ``changes`` maps dotted keys."""
    data = shipped_data("cbp_one", 30_000, 200)
    data["audit"]["groupings"] = [["skin_tone"], ["region_of_origin"], ["nationality"]]
    data["system"].update(training_identities=600, representation_levels=[0.0, 1.0],
                          target_fmr=0.002)
    return apply_changes(data, changes)


def run(tmp_path: Path, name: str, **changes: object):
    return run_experiment(parse_config(cbp_data(**changes)), Path("cbp_one.toml"),
                          out=tmp_path / name)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("cbp"), "run")


def band_rates(result) -> pd.DataFrame:
    rates = pd.read_csv(result.directory / "face_verification_by_group.csv")
    return rates[rates["grouping"] == "skin tone band"].set_index("group")


def test_one_genuine_and_one_impostor_attempt_per_held_out_person(small_run):
    decisions = small_run.decisions
    assert decisions["y_true"].sum() * 2 == len(decisions)
    assert (decisions["y_recorded"] == decisions["y_true"]).all()
    assert small_run.manifest["details"]["verification_attempts"] == len(decisions)
    # the audit's false positive rate is the false non-match rate of the extra table
    table = small_run.views["true"].table
    overall_fpr = decisions.loc[~decisions["y_true"], "decision"].mean()
    rates = pd.read_csv(small_run.directory / "face_verification_by_group.csv")
    bands = rates[rates["grouping"] == "skin tone band"]
    pooled = (bands["fnmr"] * bands["genuine_attempts"]).sum() / bands["genuine_attempts"].sum()
    assert pooled == pytest.approx(overall_fpr)
    assert set(table["grouping"]) == {"skin_tone", "region_of_origin", "nationality"}


def test_run_writes_extras_figures_and_wording(small_run):
    directory = small_run.directory
    for name in ("face_verification_by_group.csv", "representation_sweep.csv",
                 "figures/det_by_tone.png", "figures/fnmr_by_representation.png"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "NISTIR 8280" in report and "not an attempt to reproduce" in report
    assert "wrongly rejected at face verification (told they are not themselves)" in report
    rates = band_rates(small_run)
    expected = rates["fnmr"] / (1 - rates["fnmr"])
    assert rates["extra_attempts"].to_numpy() == pytest.approx(expected.to_numpy())
    assert rates["extra_days"].to_numpy() == pytest.approx(expected.to_numpy() * 1.0)


def test_skewed_training_rejects_darker_faces_more(small_run):
    rates = band_rates(small_run)
    assert rates.loc[DARKER, "fnmr_ci_low"] > rates.loc[LIGHTER, "fnmr_ci_high"]
    table = small_run.views["true"].table
    region = table[(table["grouping"] == "region_of_origin") & (table["metric"] == "fpr")
                   ].set_index("group")
    assert region.loc["Sub-Saharan Africa", "ratio"] > 1
    assert region.loc["Europe and Central Asia", "ratio"] < 1


def test_the_gap_shrinks_significantly_as_representation_evens_out(small_run):
    sweep = pd.read_csv(small_run.directory / "representation_sweep.csv")
    darker = sweep[sweep["tone_band"] == DARKER].set_index("representation")
    assert darker.loc[0.0, "gap_ci_low"] > 0
    assert darker.loc[1.0, "fnmr_gap_to_lighter"] < darker.loc[0.0, "fnmr_gap_to_lighter"]
    assert darker.loc[1.0, "gap_ci_high"] < darker.loc[0.0, "gap_ci_low"]


def significant_rates(result) -> pd.DataFrame:
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "fnr", "selection_rate"])]
    return rates[rates["p_holm"] < 0.05]


def test_balanced_training_shows_no_significant_disparity(tmp_path):
    result = run(tmp_path, "balanced", **{"system.representation": 1.0})
    significant = significant_rates(result)
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]
    sweep = pd.read_csv(result.directory / "representation_sweep.csv")
    balanced = sweep[(sweep["representation"] == 1.0) & (sweep["tone_band"] == DARKER)]
    assert balanced["gap_ci_low"].iloc[0] <= 0 <= balanced["gap_ci_high"].iloc[0]


def test_faces_alike_across_bands_make_training_composition_irrelevant(tmp_path):
    result = run(tmp_path, "alike", **{"system.tone_specific_variation": 0.0})
    significant = significant_rates(result)
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]
    sweep = pd.read_csv(result.directory / "representation_sweep.csv")
    darker = sweep[sweep["tone_band"] == DARKER]
    assert (darker["gap_ci_low"] <= 0).all() and (darker["gap_ci_high"] >= 0).all()


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run(tmp_path, "again")
    for name in ("metrics.csv", "face_verification_by_group.csv", "representation_sweep.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="system.representation"):
        parse_config(cbp_data(**{"system.representation": 1.5}))
    with pytest.raises(ConfigError, match="system.skewed_shares"):
        parse_config(cbp_data(**{"system.skewed_shares": [0.5, 0.5, 0.5]}))
    with pytest.raises(ConfigError, match="did you mean 'target_fmr'"):
        parse_config(cbp_data(**{"system.target_fnr": 0.01}))


def test_genuine_share_sets_the_mix_and_headlines_name_the_assumptions(small_run, tmp_path):
    mixed = run(tmp_path, "mixed", **{"system.genuine_share": 0.9})
    decisions = mixed.decisions
    genuine = int((~decisions["y_true"]).sum())
    assert genuine / len(decisions) == pytest.approx(0.9, abs=1e-3)
    assert genuine == int((~small_run.decisions["y_true"]).sum())  # impostors were thinned

    def genuine_share_of_rejections(result) -> float:
        rejected = result.decisions[result.decisions["decision"]]
        return float((~rejected["y_true"]).mean())

    # The share of rejections that were genuine is set by the assumed mix, not by the faces.
    assert genuine_share_of_rejections(mixed) > genuine_share_of_rejections(small_run)
    text = " ".join(mixed.headlines)
    assert "in a mix of attempts assumed to be 90% genuine" in text
    assert "Assuming each failed attempt costs 1 day(s) of waiting (an assumption" in text


def test_a_regional_gap_that_vanishes_within_tone_bands_is_headlined(small_run):
    from experiments.reports.headlines import vanishes_within

    table = pd.read_csv(small_run.directory / "adjusted.csv")
    row = table[(table["group"] == "Sub-Saharan Africa") & (table["metric"] == "fpr")
                & (table["view"] == "true")].iloc[0]
    assert row["adjust_for"] == "skin_tone"
    regional = [h for h in small_run.headlines if "Within strata of skin tone" in h
                and "Sub-Saharan" in h]
    assert bool(regional) == vanishes_within(row)
    if regional:
        assert f"the adjusted ratio is {row['adjusted_ratio']:.2f}" in regional[0]


def test_vanishing_within_strata_needs_the_crude_ratio_outside_the_adjusted_interval():
    from experiments.reports.headlines import vanishes_within

    row = pd.Series({"adjusted_ratio_ci_low": 0.8, "adjusted_ratio_ci_high": 1.2,
                     "crude_ratio": 2.3, "adjusted_diff": -0.001, "crude_diff": 0.02})
    assert vanishes_within(row)
    assert not vanishes_within(row.replace({2.3: 1.1}))
    assert not vanishes_within(pd.Series({**row, "adjusted_ratio_ci_low": 1.5,
                                          "adjusted_ratio_ci_high": 1.9,
                                          "adjusted_diff": 0.01}))


def test_the_adjusted_regional_comparison_is_the_hand_computed_mantel_haenszel(small_run):
    table = pd.read_csv(small_run.directory / "adjusted.csv")
    row = table[(table["group"] == "Sub-Saharan Africa") & (table["metric"] == "fpr")
                & (table["view"] == "true")].iloc[0]
    ratio, difference = mantel_haenszel(small_run.decisions, row["grouping"], row["group"],
                                        row["reference"], row["adjust_for"])
    assert row["adjusted_ratio"] == pytest.approx(ratio, rel=1e-9)
    assert row["adjusted_diff"] == pytest.approx(difference, rel=1e-9, abs=1e-12)


def test_worlds_decide_alike_in_a_full_run_and_in_a_further_replicate():
    # A world that changes the training composition refits at its composition; a world that
    # changes the faces reruns the system. A further replicate, which fits only the
    # configured composition, must decide every world as the full run does.
    import numpy as np

    from experiments.config.registry import system_adapter
    from experiments.engine.runner import group_columns, train_split
    from experiments.systems.contract import decisions_only
    from synthetic.population import generate

    config = parse_config(shipped_data("cbp_one", 16_000, 50))
    people = generate(config.population.profile, config.population.size,
                      config.experiment.seed).people
    train = train_split(len(people), config.split.train_fraction, config.experiment.seed)
    columns = group_columns(config)
    run = system_adapter(config.experiment.system).run
    full = run(config, people, train, columns)
    with decisions_only():
        lean = run(config, people, train, columns)
    assert not lean.decided.extra_tables
    for change in ({"system.representation": 1.0}, {"system.capture_noise": 0.5}):
        world = parse_config(apply_changes(shipped_data("cbp_one", 16_000, 50), change))
        expected = full.hooks.decide_world(world, people)["decision"]
        assert len(expected) == len(full.decided.table)
        np.testing.assert_array_equal(lean.hooks.decide_world(world, people)["decision"],
                                      expected)
