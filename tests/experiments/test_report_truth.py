"""Sentences a run's own tables used to contradict, each held to its table."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from audit.intervals import paired_difference_interval
from audit.report import rate_with_interval
from audit.tables import has_flag
from experiments.config import load_config, parse_config
from experiments.engine.runner import run_experiment
from experiments.reports.run import biases_on, learned_from

from .conftest import shipped_data


def test_a_ratio_flag_does_not_make_a_rate_undefined():
    row = pd.Series({"value": 0.0, "ci_low": 0.0, "ci_high": 0.0012,
                     "flags": "ratio_undefined;small_n"})
    assert has_flag(row["flags"], "small_n") and not has_flag(row["flags"], "undefined")
    assert rate_with_interval(row) == "0.0% (0.0%–0.1%)"
    assert rate_with_interval(pd.Series({**row, "flags": "undefined"})) == "undefined"


@pytest.fixture(scope="module")
def e_atd_run(tmp_path_factory):
    config = parse_config(shipped_data("e_atd", 12_000, n_boot=100))
    out = tmp_path_factory.mktemp("eatd") / "run"
    run_experiment(config, Path("e_atd.toml"), out=out, attribution=False)
    return out


def test_a_rate_with_a_denominator_is_never_called_undefined(e_atd_run):
    report = (e_atd_run / "report.md").read_text(encoding="utf-8")
    metrics = pd.read_csv(e_atd_run / "metrics.csv", keep_default_na=False, na_values=[""])
    fnr = metrics[(metrics["metric"] == "fnr") & (metrics["denominator"] > 0)]
    assert len(fnr), "the held-out people include some who truly missed a check-in"
    assert "undefined for every group" not in report


def test_the_run_line_names_what_the_system_calibrated_on(e_atd_run):
    report = (e_atd_run / "report.md").read_text(encoding="utf-8")
    assert "the training split held 0 people" not in report
    assert re.search(r"the system calibrated its threshold on [\d,]+ people", report)


def test_how_to_cite_names_only_files_the_run_wrote(e_atd_run):
    report = (e_atd_run / "report.md").read_text(encoding="utf-8")
    for name in re.findall(r"[a-z_]+\.csv", report.split("How to cite", 1)[1]):
        assert (e_atd_run / name).exists(), name


def test_learned_from_explains_a_training_sample_smaller_than_its_split():
    text = learned_from({"training_people": 49_886, "held_out_people": 100_124}, 200_000,
                        100_124)
    assert text == ("the system was trained on 49,886 of the 99,876 people of the training "
                    "split (the others fall outside the sample it learns from)")
    assert learned_from({"pilot_people": 30}, 40_000, 40_000) == (
        "the system set its threshold on a pilot of 30 people")
    assert learned_from({}, 8_000, 4_000).startswith("the system learned nothing")


def test_system_knobs_count_among_the_biases_switched_on():
    config, _ = load_config("iborderctrl")
    switched = biases_on(config)
    assert "interpreter use" in switched
    off = load_config("iborderctrl", overrides={
        k.key: k.off for k in config.attribution.knobs})[0]
    assert not [k.name for k in config.attribution.knobs if k.name in biases_on(off)]


def test_the_share_interval_stands_beside_the_share(tmp_path):
    config = parse_config(shipped_data("catch_and_revoke", 20_000, n_boot=100))
    result = run_experiment(config, Path("c.toml"), out=tmp_path / "r", attribution=False)
    sentence = next(h for h in result.headlines if "of wrongful revocations" in h)
    assert re.match(r"[\d.]+% of wrongful revocations \(95% CI [\d.]+%–[\d.]+%; [\d,]+ of "
                    r"[\d,]+\) fell on students from ", sentence), sentence


def test_a_paired_change_with_no_discordant_pair_keeps_a_width():
    low, high = paired_difference_interval(50, 0, 0, 50)
    assert low < 0 < high and high - low > 0.01
    # Discordant pairs still move the interval as before.
    low, high = paired_difference_interval(10, 3, 7, 80)
    assert low < 0.04 < high


def test_the_remedies_table_puts_the_change_beside_its_interval():
    from experiments.reports.remedies import _summary_table as summary_table

    base = {"remedy": "reweighing", "kind": "focus_disparity", "grouping": "region_of_origin",
            "group": "A", "reference": "B", "metric": "fpr", "label": "", "rises": "no"}
    table = pd.DataFrame([
        {**base, "view": "true", "base": 0.049, "remedied": 0.0, "change": -0.049,
         "change_ci_low": -0.063, "change_ci_high": -0.038},
        {**base, "view": "recorded", "base": 0.02, "remedied": 0.01, "change": -0.01,
         "change_ci_low": -0.02, "change_ci_high": 0.0},
    ])
    cell = summary_table(table, ["reweighing"]).rows[0][1]
    before, change = cell.split("; change ")
    assert "[" not in before and change.startswith("-4.9")


def test_an_interaction_is_named_where_each_knob_alone_removes_the_gap():
    from experiments.reports.headlines import _interaction_words as interaction_words

    credited = pd.DataFrame([
        {"source": "biased history", "contribution": 0.20, "one_at_a_time_change": 0.405,
         "one_at_a_time_ci_low": 0.375, "one_at_a_time_ci_high": 0.43},
        {"source": "the loop", "contribution": 0.21, "one_at_a_time_change": 0.417,
         "one_at_a_time_ci_low": 0.39, "one_at_a_time_ci_high": 0.44},
    ])
    total = pd.Series({"contribution": 0.4066})
    words = interaction_words(credited, total)
    assert "neither produces a gap without the other" in words
    assert interaction_words(credited.assign(one_at_a_time_ci_high=0.3,
                                             one_at_a_time_ci_low=0.1), total) == ""
