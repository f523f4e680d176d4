"""The bamf-origin experiment end to end: outcome shares, the harmful error, knobs, determinism."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.config import ConfigError, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from synthetic.systems.bamf_origin import WORLDS_DIR
from tests.experiments.conftest import (
    apply_changes,
    assert_intervals_claim_no_false_certainty,
    assert_report_reads_well,
    shipped_data,
)

#: Five nationalities, one language each, no variety shared across a border, no minority
#: language, the same route for everyone, every variety as far from every other.
FAIR_PROFILE = """
name = "fair_origin"
description = "Test profile: five nationalities alike in everything the origin checks read"
base = "germany_asylum_applicants"

[nationalities]
source = "illustrative assumption (test profile)"
SYR = { share = 0.2, languages = { Arabic = 1.0 } }
TUR = { share = 0.2, languages = { Turkish = 1.0 } }
AFG = { share = 0.2, languages = { Dari = 1.0 } }
IRQ = { share = 0.2, languages = { Sorani = 1.0 } }
ERI = { share = 0.2, languages = { Tigrinya = 1.0 } }
"""
FAIR_LANGUAGES = {"SYR": "Arabic", "TUR": "Turkish", "AFG": "Dari", "IRQ": "Sorani",
                  "ERI": "Tigrinya"}


def fair_world_text() -> str:
    shipped = (WORLDS_DIR / "germany_asylum_applicants.toml").read_text(encoding="utf-8")
    tail = shipped[shipped.index("[speech]"):]  # speech, phones and records as shipped
    lines = ['name = "fair_origin"', "", "[varieties]", 'source = "test"']
    lines += [f'V{code} = {{ family = "one family" }}' for code in FAIR_LANGUAGES]
    lines += ["", "[home_regions]", 'source = "test"']
    lines += [f'{code}.{lang} = [{{ region = "{code} land", variety = "V{code}", share = 1.0 }}]'
              for code, lang in FAIR_LANGUAGES.items()]
    lines += ["", "[minority_languages]", 'source = "test"', "", "[routes]", 'source = "test"']
    lines += [f'{code} = [{{ route = "months in Greece", transit = "GRC", years = 0.5, '
              'share = 1.0 }]' for code in FAIR_LANGUAGES]
    lines += ["", "[phone_interface]", 'source = "test"']
    lines += [f"{lang} = {{ {lang} = 0.8, English = 0.2 }}" for lang in FAIR_LANGUAGES.values()]
    lines += ["", "[interface_countries]", 'source = "test"', "English = []"]
    lines += [f'{lang} = ["{code}"]' for code, lang in FAIR_LANGUAGES.items()]
    codes = list(FAIR_LANGUAGES)
    lines += ["", "[false_claims]", 'source = "test"']
    lines += [f'{code} = "{codes[(i + 1) % len(codes)]}"' for i, code in enumerate(codes)]
    return "\n".join(lines) + "\n\n" + tail


def bamf_data(**changes: object) -> dict:
    """The shipped bamf-origin experiment, made small; ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("bamf_origin", 16_000, 200), changes)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bamf") / "run"
    return run_experiment(parse_config(bamf_data()), Path("bamf_origin.toml"), out=out)


def test_run_writes_outcome_shares_cutoffs_figure_and_wording(small_run):
    directory = small_run.directory
    for name in ("origin_check_levels.csv", "origin_check_cutoffs.csv", "attribution.csv",
                 "figures/origin_check_levels.png"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "Confirms, unusable, contradicts" in report
    assert "contradicted by the origin check though their stated origin was true" in report
    levels = pd.read_csv(directory / "origin_check_levels.csv")
    totals = levels.groupby(["instrument", "grouping", "group"])["share"].sum()
    assert totals.to_numpy() == pytest.approx(1.0)
    assert set(levels["instrument"]) == {"combined finding", "dialect identification",
                                         "phone-data analysis"}


def test_audited_false_positive_rate_is_the_truthful_contradicted_share(small_run):
    decisions = small_run.decisions
    truthful = ~decisions["y_true"]
    table = small_run.views["true"].table
    overall = table[(table["grouping"] == "nationality") & (table["metric"] == "fpr")]
    counts = decisions[truthful].groupby("nationality", observed=True)["decision"].mean()
    by_group = overall.set_index("group")["value"]
    for nationality, rate in counts.items():
        assert by_group[nationality] == pytest.approx(rate)
    levels = pd.read_csv(small_run.directory / "origin_check_levels.csv")
    combined = levels[(levels["instrument"] == "combined finding")
                      & (levels["grouping"] == "(all)")].set_index("level")
    assert combined.loc["contradicts", "share"] == pytest.approx(decisions["decision"].mean())


@pytest.mark.parametrize("grouping, group, knob", [
    ("home_area", "variety spoken across a border", "dialect read as nationality"),
    ("language_status", "minority language", "corpus under-representation"),
    ("route_of_flight", "raised in Iran", "transit traces read as origin"),
])
def test_each_knob_raises_the_gap_it_names(small_run, grouping, group, knob):
    attribution = small_run.attribution.rows(grouping, group, "fpr").set_index("source")
    assert attribution.loc[knob, "ci_low"] > 0, attribution[["contribution", "ci_low"]]
    # switched alone, on the same people, it moves the gap the same way
    assert attribution.loc[knob, "one_at_a_time_ci_low"] > 0


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(bamf_data()), Path("bamf_origin.toml"),
                           out=tmp_path / "again", report=False)
    for name in ("metrics.csv", "origin_check_levels.csv", "origin_check_cutoffs.csv",
                 "attribution.csv", "flip_rates.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_no_significant_disparity_with_every_knob_off_where_groups_are_alike(tmp_path):
    profile = tmp_path / "fair_origin.toml"
    profile.write_text(FAIR_PROFILE, encoding="utf-8")
    world = tmp_path / "fair_origin_world.toml"
    world.write_text(fair_world_text(), encoding="utf-8")
    data = bamf_data(**{
        "population.profile": str(profile), "population.size": 40_000, "experiment.seed": 5,
        "system.world": str(world), "system.corpus_representation": 1.0,
        "system.dialect_verdict": "variety", "system.phone_counts_transit": False,
        "audit.groupings": [["nationality"], ["first_language"]],
        "audit.reference": {"nationality": "SYR"}, "audit.focus": [],
    })
    data.pop("attribution")
    config = parse_config(data)
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair")
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "fnr", "selection_rate"])]
    significant = rates[rates["p_holm"] < 0.05]
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]
    # the checks do find something: truthful applicants are contradicted at some rate
    fpr = table[(table["grouping"] == "nationality") & (table["metric"] == "fpr")]
    assert (fpr["value"] > 0).all()


def test_bad_settings_and_worlds_are_named(tmp_path):
    with pytest.raises(ConfigError, match="dialect_contradict_below"):
        parse_config(bamf_data(**{"system.dialect_contradict_below": 0.9}))
    with pytest.raises(ConfigError, match="did you mean 'corpus_share'"):
        parse_config(bamf_data(**{"system.corpus_shares": 0.5}))
    from experiments.errors import UsageError

    config = parse_config(bamf_data(**{"system.world": "atlantis"}))
    with pytest.raises(UsageError, match="system.world: origin world 'atlantis' not found"):
        run_experiment(config, Path("bad.toml"), out=tmp_path / "bad")


def test_no_interval_claims_false_certainty(small_run):
    assert_intervals_claim_no_false_certainty(small_run.directory)


def test_report_names_countries_parses_and_loads_nothing(small_run):
    assert_report_reads_well(small_run.directory)


def test_direct_twin_holds_the_traces_and_differs_from_the_total_twin(small_run):
    flips = pd.read_csv(small_run.directory / "flip_rates.csv")
    everyone = flips[(flips["grouping"] == "nationality") & (flips["group"] == "(all)")]
    by_effect = everyone.set_index("effect")
    # The direct twin keeps each applicant's voice and phone, so stating another nationality
    # meets the same evidence; the total twin redraws them. The two cannot coincide here.
    assert by_effect.loc["direct", "flips"] != by_effect.loc["total", "flips"]
    # Syrians are their own twin: the rate among those whose nationality changes is larger.
    for effect in ("direct", "total"):
        row = by_effect.loc[effect]
        assert row["changed_n"] < row["n"]
        assert row["changed_flip_rate"] > row["flip_rate"]
    syrians = flips[(flips["grouping"] == "nationality") & (flips["group"] == "SYR")]
    assert (syrians["flips"] == 0).all()
    assert syrians["changed_n"].isna().all()
