"""Listing finished runs and comparing two: `bias-audit runs`, `bias-audit compare` and
`experiments.api.compare`, on real runs of the shipped ImmigrationOS experiment made small."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from experiments.api import compare, load
from experiments.cli import main
from experiments.config import parse_config
from experiments.engine.runner import run_experiment
from experiments.errors import UsageError
from tests.experiments.conftest import immigration_os_data

SIZE = 6_000


def _small(seed: int, **changes: object) -> dict:
    # No twins, no knob worlds, no report: the comparison reads metrics.csv and the manifest.
    return immigration_os_data(**{"population.size": SIZE, "audit.n_boot": 50,
                                  "counterfactual.interventions": [],
                                  "attribution.enabled": False, "experiment.seed": seed,
                                  **changes})


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder holding three runs: seeds 1 and 2, and seed 2 again with no label
    bias (the same people, another recorded world)."""
    root = tmp_path_factory.mktemp("compare") / "results"
    settings = ((1, "run-s1", {}), (2, "run-s2", {}),
                (2, "run-s2-fair-records", {"mechanisms.label_bias.strength": 0.0}))
    runs = [run_experiment(parse_config(_small(seed, **changes)), Path("immigration_os.toml"),
                           out=root / "immigration-os" / name, report=False)
            for seed, name, changes in settings]
    return root, runs


def test_runs_lists_every_run_with_its_seed_size_and_headline(results, capsys):
    root, runs = results
    assert main(["runs", "--results-dir", str(root)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("immigration-os")]
    assert len(lines) == 3
    for run in runs:
        line = next(line for line in lines if run.manifest["run_id"] in line)
        assert f"{SIZE:,}" in line and str(run.manifest["seed"]) in line
        assert run.headlines[0][:40] in line
    assert "3 runs" in out


def test_runs_says_when_there_are_none(tmp_path, capsys):
    assert main(["runs", "--results-dir", str(tmp_path)]) == 0
    assert "no runs under" in capsys.readouterr().out


def test_compare_writes_markdown_and_html_with_intervals_and_verdicts(results, tmp_path,
                                                                       capsys):
    root, runs = results
    out = tmp_path / "cmp"
    assert main(["compare", str(runs[0].directory), str(runs[1].directory),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "drew different people" in printed and "independent estimates" in printed
    assert "experiment.seed" in printed
    markdown = (out / "compare.md").read_text(encoding="utf-8")
    assert "## Whether they differ" in markdown and "## Configuration differences" in markdown
    assert "| experiment.seed | 1 | 2 |" in markdown
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert "<table class=\"sortable\">" in html and "http" not in html.split("<script>")[1]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"compare.md", "compare.html", "compare.csv",
                                      "config_differences.csv"}


def test_the_change_has_the_interval_of_two_independent_estimates(results):
    _, runs = results
    comparison = compare(runs[0].directory, runs[1].directory)
    assert not comparison.shared_people
    table = comparison.disparities
    assert not table.empty
    row = table[(table["metric"] == "fpr") & (table["view"] == "true")].iloc[0]
    assert row["change"] == pytest.approx(row["gap_b"] - row["gap_a"])
    # MOVER: each side's half-widths combine in quadrature.
    low = row["change"] - ((row["gap_b"] - row["gap_b_low"]) ** 2
                           + (row["gap_a_high"] - row["gap_a"]) ** 2) ** 0.5
    assert row["change_low"] == pytest.approx(low)
    assert row["change_low"] < row["change"] < row["change_high"]
    inside = row["change_low"] <= 0 <= row["change_high"]
    assert (row["verdict"] == "the data cannot tell the runs apart") == inside
    # Each gap is the focus group's rate minus the reference's, as metrics.csv holds them.
    metrics = load(runs[0].directory).tables["metrics"]
    rows = metrics[(metrics["view"] == "true") & (metrics["metric"] == "fpr")
                   & (metrics["grouping"] == row["grouping"])].set_index("group")
    assert row["gap_a"] == pytest.approx(rows.loc[row["group"], "value"]
                                         - rows.loc[row["reference"], "value"])


def test_runs_on_the_same_people_are_said_to_share_them(results, capsys, tmp_path):
    root, runs = results
    comparison = compare("run-s2", "run-s2-fair-records", results_dir=root)
    assert comparison.shared_people
    # Both runs keep each person's decision, so the change is paired person by person.
    assert comparison.paired
    assert "decided on the same people" in comparison.method_sentence()
    assert "paired, person by person" in comparison.method_sentence()
    assert set(comparison.config_differences["key"]) == {
        "mechanisms.label_bias.strength", "resolved_mechanisms.label_bias.strength"}
    undecided = comparison.disparities[
        (comparison.disparities["change_low"] <= 0) & (comparison.disparities["change_high"] >= 0)]
    # A paired interval that spans zero means the data cannot tell; an independent one
    # (conservative) only that this interval cannot.
    paired = undecided["pairing"] == "paired"
    assert undecided.loc[paired, "verdict"].str.startswith("the data cannot tell").all()
    assert undecided.loc[~paired, "verdict"].str.startswith("this interval cannot tell").all()
    assert not any("re-run" in note for note in comparison.notes)
    same = compare("run-s2", "run-s2", results_dir=root)  # one run against itself
    # Withheld gaps (a small focus group and its complement) have no change to show.
    shown = same.disparities[~same.disparities["verdict"].str.contains("withheld")]
    assert (shown["change"] == 0).all() and any("re-run" in n for n in same.notes)


def test_compare_refuses_runs_of_different_systems_in_one_line(results, tmp_path, capsys):
    _, runs = results
    other = tmp_path / "other"
    shutil.copytree(runs[1].directory, other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["experiment"] = "catch-and-revoke"
    manifest["config"]["experiment"]["system"] = "catch_and_revoke"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["compare", str(runs[0].directory), str(other),
                 "--out", str(tmp_path / "never")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "different systems" in error
    assert "'immigration_os'" in error and "'catch_and_revoke'" in error
    assert not (tmp_path / "never").exists()
    with pytest.raises(UsageError, match="different systems"):
        compare(runs[0].directory, other)


def test_an_unknown_run_is_named(results, capsys):
    root, _ = results
    assert main(["compare", "no-such-run", "run-s1", "--results-dir", str(root)]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


def test_compare_never_writes_into_a_run_it_reads(results, capsys):
    _, runs = results
    before = sorted(p.name for p in runs[0].directory.iterdir())
    assert main(["compare", str(runs[0].directory), str(runs[1].directory),
                 "--out", str(runs[0].directory)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "holds the input file" in error and "--out" in error
    assert sorted(p.name for p in runs[0].directory.iterdir()) == before
