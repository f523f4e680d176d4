"""Attribution in every experiment: the knob worlds keep the same people, the baseline and the
contributions add up to the run exactly, the baseline is what a run with every knob off
measures, and no headline credits a mechanism with what remains at baseline."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError, parse_config, set_dotted
from experiments.engine.checks import check_experiment
from experiments.engine.runner import run_experiment
from experiments.systems.contract import ALL_OFF, AS_CONFIGURED, group_labels
from tests.experiments.conftest import (
    apply_changes,
    assert_intervals_claim_no_false_certainty,
    assert_report_reads_well,
    shipped_data,
)

#: Every shipped experiment at a small size (and settings that keep it fast).
SMALL = {
    "immigration_os": (6_000, {"counterfactual.interventions": []}),
    "babel_x": (8_000, {"system.training_posts": 8_000, "system.counterfactual_posts": 500}),
    "catch_and_revoke": (8_000, {"system.training_posts": 6_000}),
    # One world of the loop: its replicate worlds are tested in test_visa_streaming.py.
    "visa_streaming": (20_000, {"counterfactual.interventions": [], "experiment.replicates": 1}),
    "detention_rca": (12_000, {"counterfactual.interventions": []}),
    "cbp_one": (12_000, {"system.training_identities": 600,
                         "system.representation_levels": [0.0, 1.0]}),
}
#: Rounding of the written tables (audit.tables.FLOAT_DIGITS decimals), per value summed.
ROUNDING = 1e-6


def small_data(stem: str, **changes: object) -> dict:
    size, settings = SMALL[stem]
    return apply_changes(shipped_data(stem, size, 100), {**settings, **changes})


def knobs_off(data: dict) -> dict:
    """The same experiment with every attribution knob at its off value, attribution off."""
    off = copy.deepcopy(data)
    for knob in data["attribution"]["knobs"]:
        set_dotted(off, knob["key"], knob["off"])
    off["attribution"]["enabled"] = False
    return off


def focus_gap(decisions: pd.DataFrame, grouping: str, group: str, reference: str,
              metric: str) -> float:
    labels = group_labels(decisions, grouping)
    eligible = ~decisions["y_true"].to_numpy(bool) if metric == "fpr" else np.ones(
        len(decisions), dtype=bool)
    decided = decisions["decision"].to_numpy(bool)
    return (decided[(labels == group) & eligible].mean()
            - decided[(labels == reference) & eligible].mean())


@pytest.fixture(scope="module", params=sorted(SMALL))
def shipped_run(request, tmp_path_factory):
    stem = request.param
    data = small_data(stem)
    out = tmp_path_factory.mktemp(stem)
    result = run_experiment(parse_config(data), Path(f"{stem}.toml"), out=out / "run")
    return stem, data, result, out


def test_attribution_csv_adds_up_exactly(shipped_run):
    stem, _, result, _ = shipped_run
    table = pd.read_csv(result.directory / "attribution.csv", keep_default_na=False,
                        na_values=[""])
    assert {"grouping", "group", "reference", "metric", "source", "contribution", "ci_low",
            "ci_high"} <= set(table.columns)
    comparisons = table.groupby(["grouping", "group", "reference", "metric"], sort=False)
    assert len(comparisons) >= 2, stem
    for key, part in comparisons:
        sources = part["source"].tolist()
        assert sources[0] == ALL_OFF and sources[-1] == AS_CONFIGURED, (stem, key)
        total = part["contribution"].iloc[0] + part["contribution"].iloc[1:-1].sum()
        assert total == pytest.approx(part["contribution"].iloc[-1],
                                      abs=len(part) * ROUNDING), (stem, key)
        finite = part[np.isfinite(part["ci_low"])]
        assert (finite["ci_low"] <= finite["contribution"] + ROUNDING).all(), (stem, key)
        assert (finite["contribution"] <= finite["ci_high"] + ROUNDING).all(), (stem, key)


def test_contributions_add_up_before_rounding(shipped_run):
    _, _, result, _ = shipped_run
    attribution = _attribution_of(result)  # the unrounded table the run kept in memory
    for _, part in attribution.groupby(["grouping", "group", "reference", "metric"]):
        assert part["contribution"].iloc[:-1].sum() == pytest.approx(
            part["contribution"].iloc[-1], abs=1e-12)


def _attribution_of(result) -> pd.DataFrame:
    return result.attribution.table


def test_as_configured_is_the_run_and_all_off_is_a_run_with_every_knob_off(shipped_run):
    stem, data, result, out = shipped_run
    off_run = run_experiment(parse_config(knobs_off(data)), Path(f"{stem}.toml"),
                             out=out / "off", report=False)
    assert not (off_run.directory / "attribution.csv").exists()
    table = _attribution_of(result)
    checked = 0
    for (grouping, group, reference, metric), part in table.groupby(
            ["grouping", "group", "reference", "metric"], sort=False):
        if metric not in ("fpr", "selection_rate"):
            continue
        by_source = part.set_index("source")["contribution"]
        assert by_source[AS_CONFIGURED] == pytest.approx(
            focus_gap(result.decisions, grouping, group, reference, metric), abs=1e-12)
        assert by_source[ALL_OFF] == pytest.approx(
            focus_gap(off_run.decisions, grouping, group, reference, metric), abs=1e-12), (
            stem, grouping, group, metric)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_with_every_knob_off_no_headline_credits_a_mechanism(seed, tmp_path):
    data = knobs_off(small_data("detention_rca", **{"experiment.seed": seed}))
    data["attribution"]["enabled"] = True
    result = run_experiment(parse_config(data), Path("detention_rca.toml"), out=tmp_path / "r",
                            report=False)
    table = result.attribution.table
    knobs = table[table["kind"] == "knob"]
    assert (knobs["contribution"] == 0).all() and (knobs["ci_low"] == 0).all()
    names = set(knobs["source"])
    text = " ".join(result.headlines)
    for name in names:
        assert f"{name} adds" not in text and f"{name} removes" not in text, (name, text)
    assert "cannot be told from zero" in text


def test_visa_streaming_follows_its_pair_and_splits_the_growth(shipped_run):
    stem, data, result, _ = shipped_run
    if stem != "visa_streaming":
        pytest.skip("visa streaming only")
    focus = data["audit"]["focus"][0]
    pair = [focus["group"], data["audit"]["reference"]["nationality"]]
    assert result.manifest["details"]["followed_pair"] == pair
    gaps = pd.read_csv(result.directory / "loop_gap.csv")
    assert set(gaps["targeted"]) == {pair[0]} and set(gaps["untargeted"]) == {pair[1]}
    growth = _attribution_of(result).query("metric == 'red_share_gap_growth'").set_index(
        "source")
    assert list(growth.index) == [ALL_OFF, "biased history", "the loop itself", AS_CONFIGURED]
    assert np.isfinite(growth[["ci_low", "ci_high"]].to_numpy()).all()
    assert (growth["ci_low"] <= growth["ci_high"]).all()
    # The growth as configured is the last round's gap minus the first's, by the loop table.
    none = gaps[gaps["correction"] == "none"].set_index("round")["red_share_gap"]
    assert growth.loc[AS_CONFIGURED, "contribution"] == pytest.approx(
        none.iloc[-1] - none.iloc[0], abs=1e-5)
    assert any("growth of the gap in the share streamed red" in h for h in result.headlines)
    report = (result.directory / "report.md").read_text(encoding="utf-8")
    assert "## Where the disparity comes from" in report
    assert "the loop itself" in report and "biased history" in report


def test_report_section_follows_the_headlines(shipped_run):
    stem, _, result, _ = shipped_run
    if stem != "immigration_os":
        pytest.skip("one report is enough")
    report = (result.directory / "report.md").read_text(encoding="utf-8")
    assert report.index("## Headline findings") < report.index(
        "## Where the disparity comes from") < report.index("## The system")
    assert "all knobs off" in report and "record label bias" in report
    for headline in result.headlines:
        assert "a rate of 0% or 100%" not in headline


def test_runner_can_skip_attribution(tmp_path):
    data = small_data("detention_rca")
    result = run_experiment(parse_config(data), Path("detention_rca.toml"), out=tmp_path / "r",
                            attribution=False)
    assert not (result.directory / "attribution.csv").exists()
    report = (result.directory / "report.md").read_text(encoding="utf-8")
    assert "computed no knobs-off world" in report


def test_worlds_hold_one_copy_of_the_people_at_a_time(tmp_path, monkeypatch):
    # Each setting of the mechanism knobs makes a copy of the population; the worlds that
    # share one are decided together, so an earlier copy is let go before the next is made.
    import gc
    import weakref

    import experiments.engine.attribution as attribution

    made: list[weakref.ref] = []
    alive_at_each_call: list[int] = []
    apply = attribution.apply_mechanisms

    def tracked(*args, **kwargs):
        gc.collect()
        alive_at_each_call.append(sum(ref() is not None for ref in made))
        people = apply(*args, **kwargs)
        made.append(weakref.ref(people))
        return people

    monkeypatch.setattr(attribution, "apply_mechanisms", tracked)
    data = small_data("catch_and_revoke")
    run_experiment(parse_config(data), Path("catch_and_revoke.toml"), out=tmp_path / "r")
    assert len(alive_at_each_call) == 3  # two mechanism knobs: three other settings
    assert alive_at_each_call == [0, 0, 0]


@pytest.mark.parametrize(("change", "message"), [
    ({"attribution.knobs": [{"name": "x", "key": "system.capacityy", "off": 0.1}]},
     r"attribution.knobs\[0\].key: 'system.capacityy' does not exist"),
    ({"attribution.knobs": [{"name": "x", "key": "system.capacity", "off": 2.0}]},
     r"attribution.knobs\[0\].off: 2.0 is not valid for system.capacity"),
    ({"attribution.knobs": [{"name": "x", "key": "mechanisms.proxy_leakage.strength",
                             "off": 0.0}]}, "proxy_leakage acts when the people are generated"),
    ({"attribution.knobs": [{"name": "x", "key": "population.size", "off": 10}]},
     "must be a key under mechanisms or system"),
    ({"audit.focus": [{"grouping": "sex", "group": "F"}]},
     r"audit.focus\[0\].grouping: 'sex' is not a configured grouping"),
    ({"audit.focus": [{"grouping": "region_of_origin", "group": "Atlantis"}]},
     r"audit.focus\[0\].group: 'Atlantis' is not a region_of_origin"),
])
def test_bad_attribution_or_focus_is_named(change, message):
    data = small_data("immigration_os", **change)
    with pytest.raises(ConfigError, match=message):
        check_experiment(parse_config(data))


def test_above_max_exact_a_permutation_estimate_adds_up_with_its_error(tmp_path):
    data = small_data("detention_rca", **{"attribution.max_exact": 2,
                                          "attribution.n_permutations": 4})
    result = run_experiment(parse_config(data), Path("detention_rca.toml"), out=tmp_path / "r",
                            report=False)
    assert result.attribution.method == "permutation"
    table = result.attribution.table
    for _, part in table.groupby(["grouping", "group", "reference", "metric"]):
        assert part["contribution"].iloc[:-1].sum() == pytest.approx(
            part["contribution"].iloc[-1], abs=1e-12)
        knobs = part[part["kind"] == "knob"]
        assert np.isfinite(knobs["monte_carlo_error"]).all()
        assert np.isfinite(knobs["one_at_a_time_change"]).all()
    exact = run_experiment(parse_config(small_data("detention_rca")), Path("d.toml"),
                           out=tmp_path / "exact", report=False).attribution.table
    # Same worlds at both ends: the baseline and the run's gap do not depend on the method.
    for source in (ALL_OFF, AS_CONFIGURED):
        np.testing.assert_allclose(
            table.loc[table["source"] == source, "contribution"].to_numpy(),
            exact.loc[exact["source"] == source, "contribution"].to_numpy(), atol=1e-12)


def test_no_interval_claims_false_certainty(shipped_run):
    _, _, result, _ = shipped_run
    assert_intervals_claim_no_false_certainty(result.directory)


def test_report_names_countries_parses_and_loads_nothing(shipped_run):
    _, _, result, _ = shipped_run
    assert_report_reads_well(result.directory)
