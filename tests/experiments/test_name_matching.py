"""The name-matching experiment end to end: trade-off table, knobs, fair world, determinism."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from experiments.config import ConfigError, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from synthetic.names import POOLS_FILE
from tests.experiments.conftest import (
    apply_changes,
    assert_intervals_claim_no_false_certainty,
    assert_report_reads_well,
    shipped_data,
)

FAIR_ORIGINS = ("Ab", "Cd", "Ef", "Gh", "Ij")
FAIR_PROFILE = """
name = "fair_travellers"
description = "Test profile: five nationalities whose name pools are alike"
base = "air_travellers"

[nationalities]
source = "illustrative assumption (test profile)"
GBR = { share = 0.2, names = { Ab = 1.0 } }
MEX = { share = 0.2, names = { Cd = 1.0 } }
CHN = { share = 0.2, names = { Ef = 1.0 } }
EGY = { share = 0.2, names = { Gh = 1.0 } }
RUS = { share = 0.2, names = { Ij = 1.0 } }

[name_origins]
source = "illustrative assumption (test profile)"
Ab = 0.0
Cd = 0.0
Ef = 0.0
Gh = 0.0
Ij = 0.0
"""


def shifted(name: str, k: int) -> str:
    """A letter substitution (Caesar shift): every pool keeps the same edit distances."""
    out = []
    for c in name:
        base = "a" if c.islower() else "A" if c.isupper() else None
        out.append(chr((ord(c) - ord(base) + k) % 26 + ord(base)) if base else c)
    return "".join(out)


def fair_pools_text() -> str:
    """Five origins, each the English pool under another letter substitution."""
    anglo = tomllib.loads(POOLS_FILE.read_text(encoding="utf-8"))["origins"]["Anglo"]
    lines = []
    for k, origin in enumerate(FAIR_ORIGINS):
        lines += [f"[origins.{origin}]", 'source = "test"', "given_concentration = 0.7",
                  "family_concentration = 0.7", 'middle = "given"']
        for part in ("given", "family"):
            names = ", ".join(f'"{shifted(n, 3 * k)}"' for n in anglo[part])
            lines.append(f"{part} = [{names}]")
        lines.append("")
    return "\n".join(lines)


def matching_data(**changes: object) -> dict:
    """The shipped name-matching experiment, made small; ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("name_matching", 30_000, 200), changes)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("names") / "run"
    return run_experiment(parse_config(matching_data()), Path("name_matching.toml"), out=out)


def test_run_writes_the_tradeoff_table_figure_and_wording(small_run):
    directory = small_run.directory
    for name in ("threshold_tradeoff.csv", "attribution.csv", "flip_rates.csv",
                 "figures/threshold_tradeoff.png"):
        assert (directory / name).exists(), name
    report = (directory / "report.md").read_text()
    assert "The threshold: missed listed travellers against false hits" in report
    assert "referred as possible watchlist matches though they were not on the list" in report
    assert small_run.manifest["details"]["list_entries"] == 10_000


def test_tradeoff_agrees_with_the_audit_and_moves_with_the_threshold(small_run):
    tradeoff = pd.read_csv(small_run.directory / "threshold_tradeoff.csv")
    table = small_run.views["true"].table
    fpr = table[(table["grouping"] == "name_origin") & (table["metric"] == "fpr")
                ].set_index("group")["value"]
    at_threshold = tradeoff[(tradeoff["threshold"] == 0.9) & (tradeoff["grouping"] == "name_origin")
                            & (tradeoff["metric"] == "false_hit_rate")].set_index("group")
    for origin, rate in fpr.items():
        assert at_threshold.loc[origin, "value"] == pytest.approx(rate)
    overall = tradeoff[tradeoff["grouping"] == "(all)"].pivot(
        index="threshold", columns="metric", values="value").sort_index()
    assert overall["false_hit_rate"].is_monotonic_decreasing
    assert overall["missed_rate"].is_monotonic_increasing


@pytest.mark.parametrize("knob", ["list composition", "name-pool concentration"])
def test_list_composition_and_concentration_raise_false_hits_of_arabic_names(small_run, knob):
    rows = small_run.attribution.rows("name_origin", "Arabic", "fpr").set_index("source")
    assert rows.loc[knob, "ci_low"] > 0, rows[["contribution", "ci_low"]]
    assert rows.loc[knob, "one_at_a_time_ci_low"] > 0


def test_same_config_and_seed_give_byte_identical_files(small_run, tmp_path):
    again = run_experiment(parse_config(matching_data()), Path("name_matching.toml"),
                           out=tmp_path / "again", report=False)
    for name in ("metrics.csv", "threshold_tradeoff.csv", "attribution.csv", "flip_rates.csv"):
        assert (again.directory / name).read_bytes() == (small_run.directory / name).read_bytes()


def test_no_significant_disparity_with_every_knob_off_where_pools_are_alike(tmp_path):
    profile = tmp_path / "fair_travellers.toml"
    profile.write_text(FAIR_PROFILE, encoding="utf-8")
    pools = tmp_path / "fair_pools.toml"
    pools.write_text(fair_pools_text(), encoding="utf-8")
    data = matching_data(**{
        "population.profile": str(profile), "population.size": 60_000, "experiment.seed": 4,
        "system.pools": str(pools), "system.list_composition": "proportional",
        "system.name_concentration": 0.0, "system.transliteration_variety": 0.0,
        "system.threshold": 0.85, "system.listed_rate": 0.005,
        "audit.groupings": [["name_origin"], ["nationality"]],
        "audit.reference": {"name_origin": "Ab", "nationality": "GBR"}, "audit.focus": [],
    })
    data.pop("attribution")
    config = parse_config(data)
    check_experiment(config)
    result = run_experiment(config, Path("fair.toml"), out=tmp_path / "fair", report=False)
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "fnr", "selection_rate"])]
    significant = rates[rates["p_holm"] < 0.05]
    assert len(significant) <= 1, significant[["grouping", "group", "metric", "p_holm"]]
    fpr = table[(table["grouping"] == "name_origin") & (table["metric"] == "fpr")]
    assert (fpr["value"] > 0).all()  # the matcher does refer people not on the list


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ConfigError, match="thresholds .* must lie between score_floor"):
        parse_config(matching_data(**{"system.thresholds": [0.5, 0.9]}))
    with pytest.raises(ConfigError, match="system.weights"):
        parse_config(matching_data(**{"system.weights": [0.5, 0.5, 0.5]}))
    with pytest.raises(ConfigError, match="did you mean 'threshold'"):
        parse_config(matching_data(**{"system.treshold": 0.9}))
    from experiments.errors import UsageError

    config = parse_config(matching_data(**{"system.list_shares": {"Klingon": 1.0}}))
    with pytest.raises(UsageError, match="origin 'Klingon', which has no name pool"):
        run_experiment(config, Path("bad.toml"), out=tmp_path / "bad")


def test_no_interval_claims_false_certainty(small_run):
    assert_intervals_claim_no_false_certainty(small_run.directory)


def test_report_names_countries_parses_and_loads_nothing(small_run):
    assert_report_reads_well(small_run.directory)


def test_total_twin_regenerates_birth_year_and_listing(small_run):
    flips = pd.read_csv(small_run.directory / "flip_rates.csv")
    everyone = flips[(flips["grouping"] == "nationality") & (flips["group"] == "(all)")]
    by_effect = everyone.set_index("effect")
    # The total twin takes the twin's age and listing as well as its name, so it flips more
    # decisions than the direct twin, which keeps birth year and listing.
    assert by_effect.loc["total", "flips"] != by_effect.loc["direct", "flips"]
    for effect in ("direct", "total"):
        row = by_effect.loc[effect]
        assert row["changed_n"] < row["n"]
        assert row["changed_flip_rate"] >= row["flip_rate"]
    report = (small_run.directory / "report.md").read_text(encoding="utf-8")
    assert "whose nationality the twin actually changes" in report


def test_card_says_what_transliteration_variety_does_in_the_toy(small_run):
    from synthetic.systems.name_matching import WatchlistMatcher

    card = " ".join(WatchlistMatcher.card().split())
    assert "variety *lowers* the false hits" in card
    # The toy's own attribution agrees with the card: variety narrows Arabic names' gap.
    rows = small_run.attribution.rows("name_origin", "Arabic", "fpr").set_index("source")
    assert rows.loc["transliteration variety", "contribution"] < 0
