"""``compare`` for variants: runs of different experiments that share a system and a profile,
the union of their focus comparisons in either order, and the change paired person by person
when both folders hold the runs' decisions on the same people."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from experiments.api import compare
from experiments.cli import main
from experiments.config import parse_config
from experiments.engine.runner import group_columns, run_experiment, train_split
from experiments.errors import UsageError
from experiments.reports.compare import DECISIONS_FILE, DECISIONS_ROW_ID
from synthetic.population import generate
from tests.experiments.conftest import immigration_os_data

SIZE, SEED = 6_000, 2
#: A focus only the variant names, so the union has rows only one run defines.
EXTRA_FOCUS = {"grouping": "nationality", "group": "MEX", "metrics": ["fpr"]}


def _write_decisions(result, data: dict) -> None:
    """decisions.parquet as a run would write it: one row per held-out person."""
    config = parse_config(data)
    held_out = ~train_split(SIZE, config.split.train_fraction, SEED)
    people = generate(config.population.profile, SIZE, SEED).people
    decisions = result.decisions
    ids = people[DECISIONS_ROW_ID].to_numpy()[held_out]
    # The decisions are the held-out people in the population's order.
    assert len(decisions) == len(ids)
    assert (decisions["nationality"].astype(str).to_numpy()
            == people["nationality"].astype(str).to_numpy()[held_out]).all()
    frame = decisions[[*group_columns(config), "y_true", "y_recorded", "decision"]].copy()
    frame.insert(0, DECISIONS_ROW_ID, ids)
    frame.to_parquet(Path(result.directory) / DECISIONS_FILE, index=False)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """The experiment at capacity 0.05 and a variant (another name) at capacity 0.1 with one
    more focus comparison: the same people (same profile, seed and size)."""
    root = tmp_path_factory.mktemp("variants")
    common = {"population.size": SIZE, "audit.n_boot": 50, "experiment.seed": SEED,
              "counterfactual.interventions": [], "attribution.enabled": False}
    base = immigration_os_data(**common)
    variant = immigration_os_data(**common, **{"experiment.name": "ios-capacity",
                                               "system.capacity": 0.1})
    variant["audit"]["focus"] = [*variant["audit"]["focus"], EXTRA_FOCUS]
    folders = []
    for name, data in (("base", base), ("variant", variant)):
        result = run_experiment(parse_config(data), Path("immigration_os.toml"),
                                out=root / name, report=False)
        _write_decisions(result, data)
        folders.append(result.directory)
    return folders


def _keyed(table):
    return table.set_index(["grouping", "group", "metric", "view"]).sort_index()


def test_variants_show_the_same_union_in_both_orders_signs_flipped(variants):
    forward, backward = compare(*variants), compare(*reversed(variants))
    one, two = _keyed(forward.disparities), _keyed(backward.disparities)
    assert list(one.index) == list(two.index)
    assert list(forward.disparities["label"]) == list(backward.disparities["label"])
    groups = set(forward.disparities["group"])
    assert {"Latin America and Caribbean", "Middle East and North Africa", "MEX"} <= groups
    np.testing.assert_allclose(one["change"], -two["change"], atol=1e-12)
    np.testing.assert_allclose(one["gap_a"], two["gap_b"], atol=1e-12)
    np.testing.assert_allclose(one["change_low"], -two["change_high"], atol=1e-9)
    np.testing.assert_allclose(one["change_high"], -two["change_low"], atol=1e-9)
    assert any("variants" in note for note in forward.notes)
    assert "ios-capacity run" in forward.to_markdown().splitlines()[0]


def test_the_paired_interval_is_no_wider_than_the_unpaired_one(variants):
    comparison = compare(*variants)
    assert comparison.shared_people and comparison.paired
    table = comparison.disparities
    paired = table[table["pairing"] == "paired"]
    # Every true-outcome row is paired; the recorded one only where both records agree,
    # and they do here (only the system's capacity differs).
    assert set(paired["view"]) >= {"true", "recorded"}
    width = paired["change_high"] - paired["change_low"]
    independent = paired["change_high_independent"] - paired["change_low_independent"]
    assert (width <= independent + 1e-12).all()
    assert (width < independent).any()
    assert "paired, person by person" in comparison.method_sentence()
    assert (paired["change_low"] <= paired["change"]).all()
    assert (paired["change"] <= paired["change_high"]).all()


def test_without_decisions_files_the_interval_is_the_independent_one(variants, tmp_path):
    copies = []
    for folder in variants:
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        (copy / DECISIONS_FILE).unlink()
        copies.append(copy)
    comparison = compare(*copies)
    assert not comparison.paired and (comparison.disparities["pairing"] == "independent").all()
    assert "conservative" in comparison.method_sentence()


def test_runs_of_different_systems_are_refused_in_one_line(variants, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(variants[1], other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["experiment"]["system"] = "iborderctrl"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["compare", str(variants[0]), str(other), "--out", str(tmp_path / "no")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert ("runs of different systems ('immigration_os' in" in error
            and "'iborderctrl' in" in error and "share a system and a population profile"
            in error)
    assert not (tmp_path / "no").exists()
    manifest["config"]["population"]["profile"] = "another_profile"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(UsageError, match="different systems .* and population profiles"):
        compare(variants[0], other)


def test_a_changed_decisions_file_is_refused(variants, tmp_path):
    copy = tmp_path / "changed"
    shutil.copytree(variants[0], copy)
    with open(copy / DECISIONS_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(UsageError, match="decisions.parquet in .* does not match the hash"):
        compare(copy, variants[1])
