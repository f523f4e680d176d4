"""Replicates of the system's own randomness: intervals that cover the experiment."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.cli import main
from experiments.config import parse_config
from experiments.engine.replicates import pool_columns, replicate_configs
from experiments.engine.runner import compute_run, run_experiment, table_files
from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

from .conftest import shipped_data


def _focus_ratio(computed) -> tuple[float, float, float]:
    focus = computed.config.audit.focus[0]
    table = computed.views["true"].table
    row = table[(table["grouping"] == focus.grouping)
                & (table["group"].astype(str) == focus.group)
                & (table["metric"] == "fpr")].iloc[0]
    return row["ratio"], row["ratio_ci_low"], row["ratio_ci_high"]


def _share_inside(results: list[tuple[float, float, float]]) -> float:
    pairs = list(itertools.permutations(range(len(results)), 2))
    inside = sum(results[b][1] <= results[a][0] <= results[b][2] for a, b in pairs)
    return inside / len(pairs)


def _seeds(stem: str, size: int, replicates: int, seeds=range(1, 7)):
    results = []
    for seed in seeds:
        data = shipped_data(stem, size, n_boot=100)
        data["experiment"]["seed"] = seed
        data["experiment"]["replicates"] = replicates
        results.append(_focus_ratio(compute_run(parse_config(data), attribution=False)))
    return results


def test_iborderctrl_pooled_intervals_hold_other_seeds_estimates():
    """Correct 95% intervals of independent estimates hold the other's estimate in about 83%
    of ordered pairs; one pilot per run held almost none."""
    assert _share_inside(_seeds("iborderctrl", 6_000, 5)) >= 0.7


def test_a_classifier_system_pooled_intervals_hold_other_seeds_estimates():
    assert _share_inside(_seeds("babel_x", 2_000, 2)) >= 0.7


def test_replicates_table_attribution_and_pooled_gap_agree(tmp_path):
    data = shipped_data("iborderctrl", 5_000, n_boot=100)
    data["experiment"]["replicates"] = 3
    config = parse_config(data)
    result = run_experiment(config, Path("iborderctrl.toml"), out=tmp_path / "run")
    replicates = pd.read_csv(tmp_path / "run" / "replicates.csv", dtype={"replicate": str})
    assert set(replicates["replicate"]) == {"1", "2", "3", "pooled"}
    assert replicates["system_seed"].dropna().nunique() == 3
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert "between_replicate_sd" in metrics
    focus = config.audit.focus[0]
    attribution = result.attribution.table
    assert attribution["contribution_replicate_min"].le(attribution["contribution"]).all()
    assert attribution["contribution_replicate_max"].ge(attribution["contribution"]).all()
    rows = attribution[(attribution["grouping"] == focus.grouping)
                       & (attribution["group"] == focus.group)
                       & (attribution["metric"] == "fpr")]
    total = rows.loc[rows["source"] == AS_CONFIGURED, "contribution"].iloc[0]
    parts = rows.loc[rows["kind"].isin(["baseline", "knob"]), "contribution"].sum()
    assert parts == pytest.approx(total, abs=1e-9)
    assert rows["source"].iloc[0] == ALL_OFF
    pooled = result.views["true"].table
    gap = pooled[(pooled["grouping"] == focus.grouping) & (pooled["group"] == focus.group)
                 & (pooled["metric"] == "fpr")]["difference"].iloc[0]
    assert total == pytest.approx(gap, abs=1e-9)
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "covers the draw of these" in report and "over 3 replicates" in report
    assert "## Replicates of the system's randomness" in report


def test_one_replicate_is_the_run_as_before():
    data = shipped_data("iborderctrl", 5_000, n_boot=100)
    data["experiment"]["replicates"] = 1
    one = table_files(compute_run(parse_config(data), attribution=False))
    data["experiment"]["system_seed"] = data["experiment"]["seed"]
    same = table_files(compute_run(parse_config(data), attribution=False))
    assert one == same
    assert "replicates.csv" not in one
    assert b"between_replicate_sd" not in one["metrics.csv"]


def test_replicate_seeds_derive_from_the_experiment_seed():
    config = parse_config({**shipped_data("iborderctrl", 5_000),
                           "experiment": {**shipped_data("iborderctrl", 5_000)["experiment"],
                                          "replicates": 4}})
    seeds = [c.experiment.system_seed for c in replicate_configs(config)]
    assert seeds[0] is None and len(set(seeds[1:])) == 3
    assert seeds == [c.experiment.system_seed for c in replicate_configs(config)]


def test_pooling_with_no_between_replicate_spread_keeps_the_runs_interval():
    estimates = np.full((4, 1), 0.3)
    centre, low, high, spread, _ = pool_columns(estimates, estimates - 0.05, estimates + 0.07,
                                                log=False, confidence=0.95,
                                                shared_people=True)
    assert centre[0] == pytest.approx(0.3) and spread[0] == 0
    assert (low[0], high[0]) == pytest.approx((0.25, 0.37))


def test_pooling_widens_with_the_spread_between_replicates():
    estimates = np.array([[0.2], [0.4], [0.3]])
    _, low, high, spread, df = pool_columns(estimates, estimates - 0.01, estimates + 0.01,
                                            log=False, confidence=0.95, shared_people=True)
    assert high[0] - low[0] > 0.2 and spread[0] == pytest.approx(0.1)
    assert 1 < df[0] < 3


def test_replicates_flag_is_checked_in_one_line(capsys):
    assert main(["run", "iborderctrl", "--replicates", "0", "--size", "5000"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "experiment.replicates: input should be greater than or equal to 1" in error


#: Adapters whose own randomness (training corpus, investigated cases, calibration pairs,
#: model fitting) is drawn from the system seed: a tiny run of each, with the changes that
#: let it run at that size.
SYSTEM_DRAWS = {
    "bamf_origin": (4_000, {}),
    "catch_and_revoke": (4_000, {}),
    "cbp_one": (6_000, {"training_identities": 400, "representation_levels": [0.0, 1.0]}),
    "immigration_os": (3_000, {}),
    "uscis_fraud": (4_000, {}),
}


def _tiny(stem: str) -> dict:
    size, system = SYSTEM_DRAWS[stem]
    data = shipped_data(stem, size, n_boot=50)
    data["system"].update(system)
    for key in ("replicates", "replicates_note"):
        data["experiment"].pop(key, None)
    return data


@pytest.mark.parametrize("stem", sorted(set(SYSTEM_DRAWS) - {"immigration_os"}))
def test_replicates_redraw_each_systems_own_randomness(stem):
    data = _tiny(stem)
    plain = compute_run(parse_config(data), attribution=False)
    data["experiment"]["replicates"] = 2
    pooled = compute_run(parse_config(data), attribution=False)
    table = pooled.replicates
    focus = table[table["replicate"] == "pooled"]
    metrics = pooled.views["true"].table
    assert metrics["between_replicate_sd"].fillna(0).gt(0).any()
    rows = metrics.merge(focus[focus["view"] == "true"][["grouping", "group", "metric"]])
    assert rows["between_replicate_sd"].fillna(0).gt(0).any(), "focus estimates did not move"
    # The first replicate is the run without the option, estimate for estimate.
    first = table[(table["replicate"] == "1") & (table["view"] == "true")]
    both = first.merge(plain.views["true"].table, on=["grouping", "group", "metric"])
    assert both["value_x"].to_numpy() == pytest.approx(both["value_y"].to_numpy(), nan_ok=True)


@pytest.mark.parametrize("stem", sorted(SYSTEM_DRAWS))
def test_one_replicate_is_each_system_run_without_the_option(stem):
    data = _tiny(stem)
    plain = table_files(compute_run(parse_config(data), attribution=False))
    data["experiment"].update(replicates=1, system_seed=data["experiment"]["seed"])
    assert table_files(compute_run(parse_config(data), attribution=False)) == plain


def test_immigration_os_fits_with_each_replicates_own_seed():
    """Gradient boosting draws its early-stopping validation share only above 10,000 training
    people, too many for a quick test: check the seed it would draw from instead."""
    data = _tiny("immigration_os")
    data["experiment"]["system_seed"] = 12_345
    run = compute_run(parse_config(data), attribution=False)
    assert run.system_run.hooks.remedy_model.fitted.random_state == 12_345


def _pooled_attribution(spread: tuple[float, float]) -> pd.DataFrame:
    """A pooled attribution table of one comparison whose knob "tattoos" has a contribution
    of +0.03 pooled, ranging over ``spread`` between replicates."""
    base = {"grouping": "nationality", "group": "MEX", "reference": "IND", "metric": "fpr",
            "n_group": 1000, "n_reference": 3000, "label": "", "knob_key": "",
            "one_at_a_time_change": np.nan, "one_at_a_time_ci_low": np.nan,
            "one_at_a_time_ci_high": np.nan}
    rows = [
        {**base, "source": ALL_OFF, "kind": "baseline", "contribution": 0.01,
         "ci_low": -0.01, "ci_high": 0.03},
        {**base, "source": "tattoos", "kind": "knob", "knob_key": "system.tattoos",
         "contribution": 0.03, "ci_low": 0.005, "ci_high": 0.055,
         "contribution_replicate_min": spread[0], "contribution_replicate_max": spread[1]},
        {**base, "source": AS_CONFIGURED, "kind": "total", "contribution": 0.04,
         "ci_low": 0.02, "ci_high": 0.06},
    ]
    return pd.DataFrame(rows)


def _with_attribution(table: pd.DataFrame):
    from experiments.systems.contract import Attribution, Decisions, SystemRun, Wording

    run = SystemRun(decided=Decisions(table=pd.DataFrame()), wording=Wording(card=""))
    run.findings.attribution = Attribution(table, [], "", "exact", 4, 0.0, 0.95)
    return run


def test_a_contribution_whose_sign_differs_between_replicates_is_not_printed_as_settled():
    from experiments.reports.headlines import attribution_clause
    from experiments.reports.run import attribution_blocks
    from experiments.writing.claims import Ledger
    from experiments.writing.document import Table

    ledger = Ledger()
    run = _with_attribution(_pooled_attribution((-0.004, 0.062)))
    clause = attribution_clause(run, "nationality", "MEX", "fpr", ledger)
    assert "tattoos: its sign differs between replicates: from -0.40 to +6.20 points" in clause
    assert "tattoos adds" not in clause  # its pooled interval alone would credit it
    printed = {c.id: c.text() for c in ledger.of(clause)}
    assert printed["attribution.tattoos.replicate_min"] == "-0.40"
    assert printed["attribution.tattoos.replicate_max"] == "+6.20"
    table = next(b for b in attribution_blocks(run) if isinstance(b, Table))
    cell = next(r[2] for r in table.rows if r[0] == "tattoos")
    assert cell.startswith("its sign differs between replicates: from -0.40 to +6.20 points")
    # Replicates that agree on the sign keep the pooled figure alone.
    settled = _with_attribution(_pooled_attribution((0.01, 0.06)))
    assert "tattoos adds" in attribution_clause(settled, "nationality", "MEX", "fpr")
    one = _with_attribution(_pooled_attribution((0.01, 0.06)).drop(
        columns=["contribution_replicate_min", "contribution_replicate_max"]))
    assert "differs between replicates" not in attribution_clause(one, "nationality", "MEX",
                                                                  "fpr")
