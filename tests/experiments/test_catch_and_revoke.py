"""Catch and Revoke: stages audited, contributions add up, a fair world audits as fair."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.config import parse_config
from experiments.engine.runner import run_experiment
from synthetic.systems.catch_and_revoke import STAGE_TITLES
from tests.experiments.conftest import (
    apply_changes,
    counted_fit_thread,
    same_table_bytes,
    shipped_data,
)
from tests.experiments.test_fair_world import FAIR_PROFILE


def catch_and_revoke_data(**changes: object) -> dict:
    data = shipped_data("catch_and_revoke", 16_000, 200)
    data["system"]["training_posts"] = 8_000
    return apply_changes(data, changes)


@pytest.fixture(scope="module")
def flagship(tmp_path_factory):
    out = tmp_path_factory.mktemp("car") / "run"
    return run_experiment(parse_config(catch_and_revoke_data()), Path("car.toml"), out=out)


def _focus_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["group"] == "Middle East and North Africa")
                 & (table["metric"] == "fpr")].reset_index(drop=True)


def test_stage_contributions_add_up_to_the_total_disparity(flagship):
    table = _focus_rows(flagship.attribution.table)
    off, stages, total = table.iloc[0], table[table["kind"] == "knob"], table.iloc[-1]
    assert off["source"] == "all knobs off" and total["source"] == "as configured"
    knobs = [k["name"] for k in catch_and_revoke_data()["attribution"]["knobs"]]
    assert list(stages["source"]) == knobs
    assert {"surveillance", "annotator bias", "record label bias",
            "countries of concern"} <= set(knobs)  # the four biased stages, at least
    # Shapley contributions add up exactly: all off plus the stages is the run's gap.
    assert off["contribution"] + stages["contribution"].sum() == pytest.approx(
        total["contribution"], abs=1e-9)
    assert total["ci_low"] <= total["contribution"] <= total["ci_high"]
    assert (stages["ci_low"] <= stages["contribution"]).all()
    assert (stages["contribution"] <= stages["ci_high"]).all()
    assert total["contribution"] - off["contribution"] > 0  # the configured biases open a gap
    written = _focus_rows(pd.read_csv(flagship.directory / "attribution.csv"))
    assert written["contribution"].to_numpy() == pytest.approx(
        table["contribution"].to_numpy(), abs=1e-6)


def test_report_names_every_stage_with_intervals(flagship):
    report = (flagship.directory / "report.md").read_text()
    for title in STAGE_TITLES.values():
        assert title in report
    assert "Where the disparity comes from" in report and "cascade.png" in report
    stage_metrics = (flagship.directory / "stage_metrics.csv").read_text()
    for stage in STAGE_TITLES:
        assert f"\n{stage}," in stage_metrics
    assert "ci_low" in stage_metrics.splitlines()[0]


def test_headline_quotes_share_of_wrongful_revocations(flagship):
    first = flagship.headlines[0]
    assert re.search(r"of wrongful revocations \(95% CI [^)]*; \d+ of \d+\) fell on students "
                     r"from Middle East and North Africa", first)


def test_same_seed_gives_identical_tables(flagship, tmp_path):
    again = run_experiment(parse_config(catch_and_revoke_data()), Path("car.toml"),
                           out=tmp_path / "again", report=False)
    for name in ("metrics.csv", "stage_metrics.csv", "attribution.csv",
                 "wrongful_revocation_share.csv"):
        assert (again.directory / name).read_bytes() == (flagship.directory / name).read_bytes()


def test_no_significant_disparity_with_every_bias_off(tmp_path):
    data = catch_and_revoke_data(**{
        "population.profile": str(FAIR_PROFILE),
        "population.size": 40_000,
        "mechanisms": {"surveillance_intensity": {"strength": 0.0},
                       "label_bias": {"strength": 0.0}, "proxy_leakage": {"strength": 0.0}},
        "system.annotator_bias": 0.0,
        "system.countries_of_concern": [],
        "system.protest_coverage": 0.0,
        # the default lexicon is itself a bias (it lists identity and solidarity words)
        "system.lexicon": "neutral",
        "system.flag_rule": "classifier",
        "system.capacity": 0.02,
        "audit.reference": {},
        "audit.groupings": [["nationality"], ["region_of_origin"]],
        "audit.focus": [{"grouping": "region_of_origin", "group": "Middle East and North Africa",
                         "reference": "East Asia and Pacific"}],
    })
    result = run_experiment(parse_config(data), Path("fair.toml"), out=tmp_path / "fair",
                            report=False)
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "selection_rate"])]
    assert not (rates["p_holm"] < 0.05).any(), rates[rates["p_holm"] < 0.05]
    attribution = result.attribution.table
    stages = attribution[attribution["kind"] == "knob"]
    assert (stages["contribution"] == 0).all()  # no bias switched on: every world is alike
    assert np.isfinite(stages["ci_low"]).all()


def test_classifier_fits_started_ahead_leave_every_table_the_same(tmp_path, monkeypatch):
    """Each replicate's classifier, for each annotator setting of the worlds, is fitted on the
    fitting thread while the pipeline runs; the tables are those of fitting it when asked."""
    from experiments.systems import catch_and_revoke as adapter
    from synthetic.systems import babel_x as system

    config = parse_config(apply_changes(
        shipped_data("catch_and_revoke", 8_000, 50, replicates=2),
        {"system.training_posts": 8_000}))
    asked = counted_fit_thread(monkeypatch, adapter)
    ahead = run_experiment(config, Path("catch_and_revoke.toml"), out=tmp_path / "ahead")
    # The first replicate's other annotator setting, then the second replicate's two, each
    # replicate's corpus featurised once for its fits.
    assert asked == [False] * (2 + 3)
    system.FITS.clear()
    system.FEATURES.clear()
    monkeypatch.setattr(adapter, "run_plan", lambda: None)
    here = run_experiment(config, Path("catch_and_revoke.toml"), out=tmp_path / "here")
    assert len(asked) == 5  # nothing asked for ahead without a plan
    tables = same_table_bytes(ahead.directory, here.directory)
    assert "attribution.csv" in tables and "replicates.csv" in tables
