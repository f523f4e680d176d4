"""Remedies on the same people: fairlearn's promises checked with fairlearn's own metrics,
truth and records agreeing when the records are the truth, a sweep that reports what it finds,
clear refusals, and the same bytes twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    equalized_odds_difference,
    false_positive_rate,
    true_positive_rate,
)

from experiments.cli import main
from experiments.config import (
    ConfigError,
    builtin_experiments,
    parse_config,
    read_experiment_data,
    set_dotted,
)
from experiments.config.registry import SYSTEMS
from experiments.engine.remedies import (
    REMEDIES,
    REMEDY_TITLES,
    RemedyError,
    fit_groups,
    reweighing_weights,
    supported_remedies,
    unsupported_remedies,
)
from experiments.engine.runner import compute_run, table_files
from experiments.sweeps.runner import run_sweep
from tests.experiments.conftest import immigration_os_data

#: Remedies cheap enough to run in most tests (the reductions refit the estimator many times).
QUICK = ["threshold_equalized_odds", "threshold_demographic_parity", "random_audit_labels",
         "reweighing", "unawareness", "raise_capacity"]


def small(size: int = 12_000, **changes: object) -> dict:
    return immigration_os_data(**{"population.size": size, "audit.n_boot": 50,
                                  "counterfactual.interventions": [],
                                  "attribution.enabled": False, **changes})


@pytest.fixture(scope="module")
def remedied_run():
    """One small ImmigrationOS run with the quick remedies."""
    return compute_run(parse_config(small(**{"remedies.apply": QUICK})))


def test_threshold_optimizer_keeps_fairlearns_promise_on_the_records(remedied_run):
    results = remedied_run.system_run.findings.remedies
    model = remedied_run.system_run.hooks.remedy_model
    optimiser, groups = results.fitted["threshold_equalized_odds"]
    # Where fairlearn fitted it (the training split's recorded outcomes), the expected
    # decisions of its randomised thresholds have equal odds, by fairlearn's own metric; the
    # unremedied system's decisions on the same people do not.
    rows = np.arange(len(model.train_people)).reshape(-1, 1)  # its rows 0..n-1: training
    chance = optimiser._pmf_predict(rows, sensitive_features=groups)[:, 1]
    recorded = model.train_recorded.astype(int)
    twice = np.concatenate([recorded, recorded])
    expected = equalized_odds_difference(
        twice, np.repeat([1, 0], len(recorded)), sensitive_features=np.concatenate([groups,
                                                                                  groups]),
        sample_weight=np.concatenate([chance, 1 - chance]))
    unremedied = equalized_odds_difference(recorded, model.decide(
        model.fitted.predict_proba(model.train_people)[:, 1]), sensitive_features=groups)
    assert expected < 0.02 < unremedied
    # On the held-out people our per-group rates of its decisions are fairlearn's, and the
    # gap in false positive rates by the records shrinks.
    decisions = remedied_run.decisions
    region = decisions["region_of_origin"].astype(str)
    held_recorded = decisions["y_recorded"].to_numpy(dtype=bool)
    remedied = results.decisions["threshold_equalized_odds"]
    ours = results.table[(results.table["remedy"] == "threshold_equalized_odds")
                         & (results.table["view"] == "recorded")
                         & (results.table["kind"] == "group_rate")]
    fpr = ours[ours["metric"] == "fpr"].set_index("group")["remedied"].sort_index()
    tpr = 1 - ours[ours["metric"] == "fnr"].set_index("group")["remedied"].sort_index()
    frame = MetricFrame(metrics={"fpr": false_positive_rate, "tpr": true_positive_rate},
                        y_true=held_recorded, y_pred=remedied, sensitive_features=region)
    np.testing.assert_allclose(fpr.to_numpy(), frame.by_group["fpr"].sort_index(), atol=1e-12)
    np.testing.assert_allclose(tpr.to_numpy(), frame.by_group["tpr"].sort_index(), atol=1e-12)
    assert max(np.ptp(fpr), np.ptp(tpr)) == pytest.approx(
        equalized_odds_difference(held_recorded, remedied, sensitive_features=region), abs=1e-12)
    before = MetricFrame(metrics=false_positive_rate, y_true=held_recorded,
                         y_pred=decisions["decision"], sensitive_features=region)
    assert np.ptp(fpr) < before.difference()


def test_each_remedy_is_judged_by_both_views_against_the_same_people(remedied_run):
    table = remedied_run.system_run.findings.remedies.table
    assert set(table["remedy"]) == set(QUICK)
    focus = table[table["kind"] == "focus_disparity"]
    assert set(focus["view"]) == {"true", "recorded"}
    # The remedied gap is the unremedied gap plus the change, and the change's paired
    # interval holds the change.
    np.testing.assert_allclose(focus["base"] + focus["change"], focus["remedied"], atol=1e-12)
    assert ((focus["change_ci_low"] <= focus["change"] + 1e-12)
            & (focus["change"] <= focus["change_ci_high"] + 1e-12)).all()
    overall = table[(table["kind"] == "overall") & (table["metric"] == "selection_rate")]
    doubled = overall[overall["remedy"] == "raise_capacity"]
    np.testing.assert_allclose(doubled["remedied"], 2 * doubled["base"], atol=2e-4)


def test_with_the_records_as_the_truth_every_remedy_is_judged_alike():
    changes = {"mechanisms.label_bias.strength": 0.0,
               "mechanisms.measurement_bias.strength": 0.0,
               "mechanisms.surveillance_intensity.strength": 0.0,
               "remedies.apply": ["threshold_equalized_odds", "reweighing", "raise_capacity"]}
    run = compute_run(parse_config(small(8_000, **changes)))
    decisions = run.decisions
    assert (decisions["y_true"] == decisions["y_recorded"]).all()
    table = run.system_run.findings.remedies.table
    keys = ["remedy", "kind", "grouping", "group", "metric"]
    true = table[table["view"] == "true"].set_index(keys).sort_index()
    recorded = table[table["view"] == "recorded"].set_index(keys).sort_index()
    for column in ("base", "remedied", "change", "change_ci_low", "change_ci_high"):
        np.testing.assert_allclose(true[column], recorded[column], equal_nan=True)


def test_remedies_are_deterministic():
    config = parse_config(small(8_000, **{"remedies.apply": ["threshold_equalized_odds",
                                                             "reductions_demographic_parity",
                                                             "random_audit_labels"],
                                          "remedies.reductions_max_rows": 1_000,
                                          "remedies.reductions_max_iter": 5}))
    first = table_files(compute_run(config))["remedies.csv"]
    second = table_files(compute_run(config))["remedies.csv"]
    assert first == second
    assert b"reductions_demographic_parity" in first


def test_a_uscis_run_takes_its_model_remedies():
    data = read_experiment_data(builtin_experiments()["uscis-fraud"])
    for key, value in {"population.size": 30_000, "audit.n_boot": 50,
                       "experiment.replicates": 1,
                       "counterfactual.interventions": [], "attribution.enabled": False,
                       "remedies.apply": ["threshold_equalized_odds", "random_audit_labels",
                                          "unawareness"]}.items():
        set_dotted(data, key, value)
    run = compute_run(parse_config(data))
    table = run.system_run.findings.remedies.table
    assert set(table["remedy"]) == {"threshold_equalized_odds", "random_audit_labels",
                                    "unawareness"}
    assert not table[table["kind"] == "focus_disparity"].empty


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_every_system_takes_or_refuses_every_remedy_with_a_reason(system):
    supported = supported_remedies(system)
    refused = unsupported_remedies(system)
    assert set(supported) | set(refused) == set(REMEDIES)
    assert not set(supported) & set(refused)
    assert all(len(reason) > 20 for reason in refused.values())
    from synthetic.systems.base import read_card

    card = read_card(system)
    assert "**Remedies**" in card
    for name in supported:
        assert f"`{name}`" in card


def test_the_documented_remedy_names_are_the_known_ones():
    from experiments.config import RemediesSection

    text = RemediesSection.model_fields["apply"].description
    assert [n for n in REMEDIES if n in text] == list(REMEDIES)


def test_unknown_remedy_is_one_line_naming_the_supported_ones():
    with pytest.raises(ConfigError, match="did you mean 'reweighing'.*supported: threshold_"):
        parse_config(small(**{"remedies.apply": ["reweighting"]}))


def test_unsupported_remedy_says_why():
    data = read_experiment_data(builtin_experiments()["catch-and-revoke"])
    set_dotted(data, "remedies.apply", ["reweighing"])
    with pytest.raises(ConfigError, match="cannot take 'reweighing': its revocation is a "
                                          "points rule"):
        parse_config(data)


def test_remedy_flag_runs_and_reports(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "immigration-os", "--size", "8000", "--remedy", "raise_capacity",
                 "--remedy", "threshold_demographic_parity", "--no-attribution", "--out",
                 str(out), "--quiet"])
    assert code == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "What changes it" in report and "capacity raised" in report
    assert (out / "figures" / "remedies_truth_vs_records.png").exists()
    table = pd.read_csv(out / "remedies.csv")
    assert set(table["remedy"]) == {"raise_capacity", "threshold_demographic_parity"}
    code = main(["run", "immigration-os", "--remedy", "threshold", "--out", str(tmp_path / "x")])
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "unknown remedy 'threshold'" in error[0]


def test_reweighing_makes_the_label_independent_of_the_group():
    rng = np.random.default_rng(0)
    group = rng.choice(["a", "b", "c"], size=5_000, p=[0.6, 0.3, 0.1])
    label = rng.random(5_000) < np.where(group == "a", 0.1, 0.4)
    weights = reweighing_weights(group, label)
    for g in "abc":
        inside = group == g
        share = weights[inside & label].sum() / weights[inside].sum()
        assert share == pytest.approx(label.mean(), abs=1e-12)


def test_groups_with_one_recorded_outcome_are_pooled_until_they_hold_both():
    group = np.array(["a"] * 10 + ["b"] * 5 + ["c"] * 3)
    label = np.array([1, 0] * 5 + [0] * 5 + [0] * 3)
    with pytest.raises(RemedyError, match="even pooled"):
        fit_groups("threshold_equalized_odds", group, label, "region_of_origin")
    group = np.append(group, ["d"] * 4)
    label = np.append(label, [1, 0, 1, 0])
    fitted, pooled = fit_groups("threshold_equalized_odds", group, label, "region_of_origin")
    assert pooled == ["b", "c", "d"] and set(fitted) == {"a", "other groups (pooled)"}


def test_remedies_sweep_reports_what_the_data_show(tmp_path):
    data = read_experiment_data(builtin_experiments()["remedies"])
    for key, value in {"population.size": 4_000, "audit.n_boot": 50, "sweep.seeds": [1, 2],
                       "experiment.replicates": 1,
                       "sweep.grid": {"mechanisms.label_bias.strength": [0.0, 3.0]},
                       "remedies.apply": ["threshold_equalized_odds", "reweighing"]}.items():
        set_dotted(data, key, value)
    directory = tmp_path / "sweep"
    result = run_sweep(data, Path("remedies.toml"), directory, jobs=1)
    pooled = pd.read_csv(directory / "sweep_remedies.csv")
    at_zero = pooled[pooled["mechanisms.label_bias.strength"] == 0]
    # Comparisons of withheld groups (complementary suppression) have no interval to compare.
    shown = at_zero[["low_true", "high_true", "low_recorded", "high_recorded"]].notna().all(axis=1)
    assert shown.any() and at_zero.loc[shown, "views_agree"].all()
    assert "With label bias off, truth and records agree about every remedy" in result.answer
    strong = pooled[pooled["mechanisms.label_bias.strength"] == 3]
    failing = strong[strong["records_fix_fails"]]
    if failing.empty:
        assert "the data show no such case here" in result.answer
    else:
        assert "fixes that look fair on the records and are not" in result.answer
        for remedy in set(failing["remedy"]):
            assert REMEDY_TITLES[remedy] in result.answer
    shutil.rmtree(directory)


#: Systems whose remedies are settings of theirs, at sizes where each runs in seconds.
KNOB_SYSTEMS = {"detention-rca": 8_000, "icm-falcon": 10_000, "visa-streaming": 10_000,
                "catch-and-revoke": 8_000, "babel-x": 6_000}


@pytest.mark.parametrize("experiment", list(KNOB_SYSTEMS))
def test_every_system_that_supports_a_remedy_runs_it(experiment):
    data = read_experiment_data(builtin_experiments()[experiment])
    # One draw of each system's randomness: the remedies, not the replicates, are tested.
    for key, value in {"population.size": KNOB_SYSTEMS[experiment], "audit.n_boot": 50,
                       "experiment.replicates": 1,
                       "counterfactual.interventions": [], "remedies.apply": ["all"]}.items():
        set_dotted(data, key, value)
    if "attribution" in data:
        data["attribution"]["enabled"] = False
    config = parse_config(data)
    run = compute_run(config)
    table = run.system_run.findings.remedies.table
    assert set(table["remedy"]) == set(supported_remedies(config.experiment.system)) != set()
    focus = table[table["kind"] == "focus_disparity"]
    assert set(focus["view"]) == {"true", "recorded"} and focus["remedied"].notna().all()
