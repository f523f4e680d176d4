"""Composition or mechanism: focus comparisons adjusted for the strata their experiment file
declares, in adjusted.csv, in the headlines and in the report; and ``--adjust-for`` on the
audit command."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.cli import main
from experiments.config import ConfigError, builtin_experiments, load_config, parse_config
from experiments.engine.checks import check_experiment
from experiments.engine.runner import compute_run, run_experiment
from experiments.systems.catch_and_revoke import adjusted_entry_sentence
from experiments.systems.composition import composition_sentence
from synthetic.systems.catch_and_revoke import STAGES

from .conftest import shipped_data
from .hand_counts import mantel_haenszel

EXAMPLE = Path(__file__).resolve().parents[2] / "experiments/catalogue/data/example_decisions.csv"


@pytest.fixture(scope="module")
def detention():
    config = parse_config(shipped_data("detention_rca", 12_000, n_boot=100))
    return config, compute_run(config, attribution=False)


def test_every_shipped_focus_comparison_declares_its_strata():
    for name, path in builtin_experiments().items():
        if "sweeps" in path.parts:
            continue
        for focus in load_config(name)[0].audit.focus:
            assert focus.adjust_for, (name, focus.label)


def test_detention_adjusted_ratio_is_the_hand_computedmantel_haenszel(detention):
    config, computed = detention
    for focus in config.audit.focus:
        row = computed.adjusted[(computed.adjusted["group"] == focus.group)
                                & (computed.adjusted["metric"] == "fpr")
                                & (computed.adjusted["view"] == "true")].iloc[0]
        ratio, difference = mantel_haenszel(computed.decisions, "nationality", focus.group,
                                             "MEX", "visa_type")
        assert row["adjusted_ratio"] == pytest.approx(ratio, rel=1e-9)
        assert row["adjusted_diff"] == pytest.approx(difference, rel=1e-9, abs=1e-12)
        assert row["composition_part"] + row["within_part"] == pytest.approx(
            row["crude_diff"], abs=1e-12)


def test_the_focus_headline_quotes_the_adjusted_row(detention):
    config, computed = detention
    first = config.audit.focus[0]
    row = computed.adjusted[(computed.adjusted["group"] == first.group)
                            & (computed.adjusted["metric"] == "fpr")
                            & (computed.adjusted["view"] == "true")].iloc[0]
    sentence = next(h for h in computed.headlines if "named in advance" in h)
    assert "Within strata of visa type" in sentence
    assert f"the adjusted ratio is {row['adjusted_ratio']:.2f}" in sentence
    assert f"against the crude {row['crude_ratio']:.2f}" in sentence


def test_adjusted_csv_is_written_with_whole_people(tmp_path):
    config = parse_config(shipped_data("detention_rca", 12_000, n_boot=100))
    run_experiment(config, Path("detention_rca.toml"), out=tmp_path / "run", attribution=False)
    table = pd.read_csv(tmp_path / "run" / "adjusted.csv")
    assert set(table["view"]) == {"true", "recorded"}
    assert set(table["adjust_for"]) == {"visa_type"}
    assert table["n_group"].dtype.kind == "i"
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "## Composition or mechanism" in report and "adjusted ratio (95% CI)" in report


def test_the_flagship_speech_answer_is_restated_within_regions(tmp_path):
    config = parse_config(shipped_data("catch_and_revoke", 20_000, n_boot=100))
    computed = compute_run(config, attribution=False)
    speech = next(h for h in computed.headlines if "Palestinian rights were stripped" in h)
    row = computed.adjusted[(computed.adjusted["grouping"] == "posted_palestine_solidarity")
                            & (computed.adjusted["metric"] == "fpr")
                            & (computed.adjusted["view"] == "true")].iloc[0]
    assert "crude ratio" in speech and "Holm-adjusted p" in speech
    assert f"the adjusted ratio is {row['adjusted_ratio']:.2f}" in speech
    assert "Within strata of region of origin" in speech
    assert re.search(r"accounts for [+-]\d+\.\d\d points of the crude gap .*\d+% of it", speech)
    # The rewrite is counted against the wrongful revocations it could undo.
    wrongful = computed.views["true"].table.query(
        "grouping == 'posted_palestine_solidarity' and group == 'yes' and metric == 'fpr'"
    )["numerator"].iloc[0]
    assert re.search(rf"of the {int(wrongful):,} students who posted in support and were "
                     "revoked in error", speech)
    assert "turn speech into revocations" not in speech
    # The stage section says where the gap within regions, not the crude one, enters.
    stages = computed.system_run.decided.extra_tables["speech_stages_adjusted"]
    assert list(stages["stage"]) == list(STAGES)
    assert (stages["adjust_for"] == "region_of_origin").all()
    assert adjusted_entry_sentence(stages).startswith("Within strata of region of origin")


def test_no_common_stratum_says_the_data_cannot_tell():
    row = pd.Series({"adjust_for": "region_of_origin", "flags": "no_common_stratum",
                     "strata_used": 0})
    assert "the data cannot tell composition from mechanism" in composition_sentence(row)


def test_a_reversal_within_strata_is_named():
    row = pd.Series({
        "adjust_for": "visa_type", "flags": "", "strata_used": 3, "strata_left_out": 0,
        "adjusted_ratio": 0.9, "adjusted_ratio_ci_low": 0.8, "adjusted_ratio_ci_high": 0.99,
        "crude_ratio": 1.3, "adjusted_diff": -0.05, "adjusted_diff_ci_low": -0.09,
        "adjusted_diff_ci_high": -0.01, "crude_diff": 0.1, "composition_part": 0.15,
        "composition_ci_low": 0.1, "composition_ci_high": 0.2, "composition_share": 1.5,
        "homogeneity_p": 0.5})
    text = composition_sentence(row)
    assert "The whole crude gap is composition" in text and "points the other way" in text
    assert "150% of it" in text


@pytest.mark.parametrize("change, message", [
    ({"adjust_for": ["regoin_of_origin"]},
     r"audit\.focus\[0\]\.adjust_for: unknown column 'regoin_of_origin'; did you mean "
     r"'region_of_origin'\?"),
    ({"adjust_for": ["nationality"]}, r"'nationality' is the grouping itself"),
    ({"adjust_for": ["visa_type", "visa_type"]}, r"a column is named twice"),
])
def test_bad_adjust_for_is_refused_naming_the_key(change, message):
    data = shipped_data("detention_rca", 12_000)
    data["audit"]["focus"][0].update(change)
    with pytest.raises(ConfigError, match=message):
        check_experiment(parse_config(data, "detention.toml"), "detention.toml")


def test_audit_command_adjusts_for_a_column(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["audit", str(EXAMPLE), "--group", "nationality", "--y-true", "overstayed",
                 "--y-pred", "flagged", "--adjust-for", "sex", "--out", str(out),
                 "--quiet"]) == 0
    adjusted = pd.read_csv(out / "adjusted.csv")
    metrics = pd.read_csv(out / "metrics.csv")
    fpr = adjusted[adjusted["metric"] == "fpr"].set_index("group")
    plain = metrics[(metrics["metric"] == "fpr") & (metrics["grouping"] == "nationality")
                    ].set_index("group")
    for group, row in fpr.iterrows():
        assert row["crude_ratio"] == pytest.approx(plain.loc[group, "ratio"], rel=1e-9)
        assert row["adjust_for"] == "sex"
    assert np.all(np.isfinite(fpr["adjusted_ratio"]))


@pytest.mark.parametrize("args, message", [
    (["--adjust-for", "sexx"], r"column 'sexx' \(given as --adjust-for\) not found; did you "
                               r"mean 'sex'\?"),
    (["--adjust-for", "nationality"], r"--adjust-for column 'nationality' is also a group "
                                      r"column"),
    (["--adjust-for", "applicant_id", "--max-groups", "100"],
     r"--adjust-for column 'applicant_id' has 4,000 distinct values \(limit 100\)"),
])
def test_audit_command_refuses_a_bad_adjust_for_in_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    code = main(["audit", str(EXAMPLE), "--group", "nationality", "--y-true", "overstayed",
                 "--y-pred", "flagged", "--out", str(out), "--quiet", *args])
    error = capsys.readouterr().err
    assert code == 2
    assert len(error.strip().splitlines()) == 1 and re.search(message, error), error
    assert not out.exists()


def test_crude_and_adjusted_agree_when_strata_are_alike():
    """A stratum column independent of the groups leaves the ratio where it was."""
    rng = np.random.default_rng(3)
    n = 200_000
    frame = pd.DataFrame({"group": rng.choice(["a", "b"], n), "stratum": rng.choice(
        ["x", "y", "z"], n), "y": rng.random(n) < 0.2})
    frame["d"] = rng.random(n) < np.where(frame["group"] == "a", 0.10, 0.05)
    from audit import audit

    result = audit(frame, ["group"], "y", "d", reference={"group": "b"}, adjust_for=["stratum"],
                   n_boot=50)
    row = result.adjusted.query("group == 'a' and metric == 'fpr'").iloc[0]
    assert math.isclose(row["adjusted_ratio"], row["crude_ratio"], rel_tol=0.02)
    assert abs(row["composition_part"]) < 0.002


def test_the_sweep_and_compare_set_crude_beside_adjusted(tmp_path):
    sweep = tmp_path / "sw.toml"
    sweep.write_text(
        'base = "detention-rca"\n[experiment]\nname = "sw"\ntitle = "t"\n[population]\n'
        'size = 6000\n[audit]\nn_boot = 100\n[counterfactual]\ninterventions = []\n'
        '[sweep]\nseeds = [1, 2]\nattribution = false\n[sweep.grid]\n'
        '"mechanisms.label_bias.strength" = [0.0, 2.0]\n', encoding="utf-8")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "sweep"), "--quiet"]) == 0
    pooled = pd.read_csv(tmp_path / "sweep" / "sweep_adjusted.csv")
    truth = pooled[(pooled["view"] == "true") & (pooled["metric"] == "fpr")]
    assert set(truth["mechanisms.label_bias.strength"]) == {0.0, 2.0}
    assert (truth["seeds"] == 2).all() and truth["adjusted_ratio_pooled"].notna().all()
    report = (tmp_path / "sweep" / "sweep_report.md").read_text(encoding="utf-8")
    assert "## Composition or mechanism, at each grid value" in report

    for seed in ("1", "2"):
        assert main(["run", "detention-rca", "--size", "6000", "--seed", seed,
                     "--no-attribution", "--out", str(tmp_path / seed), "--quiet"]) == 0
    assert main(["compare", str(tmp_path / "1"), str(tmp_path / "2"), "--out",
                 str(tmp_path / "cmp")]) == 0
    text = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert "## Composition or mechanism in each run" in text
    adjusted = pd.read_csv(tmp_path / "1" / "adjusted.csv")
    row = adjusted[(adjusted["view"] == "true") & (adjusted["metric"] == "fpr")].iloc[0]
    assert f"{row['adjusted_ratio']:.2f} (" in text


def test_the_crude_ratio_beside_the_adjusted_one_is_the_pooled_headline_ratio():
    # Over replicates, the crude ratio is pooled on the log scale as the metrics table's
    # ratio is, so a headline never prints two different crude ratios for one comparison.
    config = parse_config(shipped_data("iborderctrl", 4_000, n_boot=50, replicates=3))
    computed = compute_run(config, attribution=False)
    table = computed.views["true"].table
    for focus in config.audit.focus:
        metric = focus.metrics[0]
        row = computed.adjusted[(computed.adjusted["label"] == focus.label)
                                & (computed.adjusted["metric"] == metric)
                                & (computed.adjusted["view"] == "true")].iloc[0]
        pooled = table[(table["grouping"] == focus.grouping)
                       & (table["group"].astype(str) == focus.group)
                       & (table["metric"] == metric)].iloc[0]
        assert row["crude_ratio"] == pytest.approx(pooled["ratio"], rel=1e-9)
        assert row["crude_diff"] == pytest.approx(pooled["difference"], rel=1e-9, abs=1e-12)


def test_the_composition_section_says_what_its_intervals_cover(detention):
    # Pooled over replicates, the adjusted table's intervals include the system's own draw;
    # with one replicate they do not, and the level is the experiment's, not a fixed 95%.
    from experiments.reports.composition import composition_blocks
    from experiments.writing.document import Paragraph, Table

    _, computed = detention

    def words(blocks: list[object]) -> str:
        return " ".join(" ".join(b.header) if isinstance(b, Table) else b.text
                        for b in blocks if isinstance(b, (Paragraph, Table)))

    one = words(composition_blocks(computed.adjusted, 0.95, 1))
    assert "Intervals are 95% and cover the draw of these people, not the system's own" in one
    pooled = words(composition_blocks(computed.adjusted, 0.9, 3))
    assert ("Intervals are 90% and cover the draw of these people and the system's own draw, "
            "pooled over 3 replicates") in pooled
    assert "adjusted ratio (90% CI)" in pooled and "95%" not in pooled
