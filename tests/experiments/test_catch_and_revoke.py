"""Catch and Revoke: stages audited, contributions add up, a fair world audits as fair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.config import parse_config
from experiments.runner import run_experiment
from synthetic.systems.catch_and_revoke import STAGE_TITLES
from tests.experiments.conftest import apply_changes, shipped_data
from tests.experiments.test_fair_world import FAIR_PROFILE

STAGE_COUNT = 4


def catch_and_revoke_data(**changes: object) -> dict:
    data = shipped_data("catch_and_revoke", 16_000, 200)
    data["system"]["training_posts"] = 8_000
    data["system"]["attribution"]["n_boot"] = 300
    return apply_changes(data, changes)


@pytest.fixture(scope="module")
def flagship(tmp_path_factory):
    out = tmp_path_factory.mktemp("car") / "run"
    return run_experiment(parse_config(catch_and_revoke_data()), Path("car.toml"), out=out)


def test_stage_contributions_add_up_to_the_total_disparity(flagship):
    attribution = flagship.directory / "attribution.csv"
    table = pd.read_csv(attribution)
    stages, total = table.iloc[:STAGE_COUNT], table.iloc[STAGE_COUNT]
    assert total["stage"].startswith("total")
    # Shapley contributions add up exactly; the total's own interval holds their sum.
    assert stages["contribution"].sum() == pytest.approx(total["contribution"], abs=1e-9)
    assert total["contribution_ci_low"] <= stages["contribution"].sum() <= \
        total["contribution_ci_high"]
    assert (stages["contribution_ci_low"] <= stages["contribution"]).all()
    assert (stages["contribution"] <= stages["contribution_ci_high"]).all()
    assert total["contribution"] > 0  # the configured biases do open a gap


def test_report_names_every_stage_with_intervals(flagship):
    report = (flagship.directory / "report.md").read_text()
    for title in STAGE_TITLES.values():
        assert title in report
    assert "Where the disparity enters" in report and "cascade.png" in report
    stage_metrics = (flagship.directory / "stage_metrics.csv").read_text()
    for stage in STAGE_TITLES:
        assert f"\n{stage}," in stage_metrics
    assert "ci_low" in stage_metrics.splitlines()[0]


def test_headline_quotes_share_of_wrongful_revocations(flagship):
    first = flagship.headlines[0]
    assert "of wrongful revocations fell on students from Middle East and North Africa" in first
    assert "95% CI" in first and "n = " in first


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
        # the default lexicon is itself a bias (it lists identity and solidarity words)
        "system.flag_rule": "classifier",
        "system.capacity": 0.02,
        "audit.reference": {},
        "audit.groupings": [["nationality"], ["region_of_origin"]],
    })
    result = run_experiment(parse_config(data), Path("fair.toml"), out=tmp_path / "fair",
                            report=False)
    table = result.views["true"].table
    rates = table[table["metric"].isin(["fpr", "selection_rate"])]
    assert not (rates["p_holm"] < 0.05).any(), rates[rates["p_holm"] < 0.05]
    attribution = pd.read_csv(result.directory / "attribution.csv")
    total = attribution.iloc[STAGE_COUNT]
    assert total["contribution"] == pytest.approx(0.0, abs=1e-12)  # no bias switched on
    assert np.isfinite(total["contribution_ci_low"])
