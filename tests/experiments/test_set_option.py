"""``--set KEY=VALUE`` on run, sweep and validate, ``--seeds`` on sweep, and ``set=`` in the
Python API: the same config and the same numbers as the equivalent file, recorded in the
manifest; every bad input refused in one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.api import run
from experiments.cli import main
from experiments.errors import UsageError

SIZE = "3000"


def test_set_gives_the_same_config_and_bytes_as_the_equivalent_file(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    by_set = tmp_path / "by-set"
    assert main(["run", "immigration-os", "--size", SIZE, "--no-attribution", "--quiet",
                 "--out", str(by_set), "--set", "mechanisms.label_bias.strength=0",
                 "--set", "system.capacity=0.1"]) == 0
    file = tmp_path / "variant.toml"
    file.write_text('base = "immigration-os"\n\n[mechanisms.label_bias]\nstrength = 0.0\n\n'
                    "[system]\ncapacity = 0.1\n", encoding="utf-8")
    by_file = run(file, size=int(SIZE), attribution=False, out=tmp_path / "by-file")
    manifest_set = json.loads((by_set / "manifest.json").read_text(encoding="utf-8"))
    manifest_file = by_file.manifest
    assert manifest_set["config"] == manifest_file["config"]
    assert manifest_set["overrides"] == {"mechanisms.label_bias.strength": 0,
                                         "system.capacity": 0.1, "population.size": 3000}
    assert manifest_file["overrides"] == {"population.size": 3000}
    # The file is recorded by its path relative to the working folder, a shipped one by name.
    assert manifest_file["config_file"] == "variant.toml"
    assert manifest_set["config_file"] == "immigration-os"
    tables = sorted(p.name for p in by_set.iterdir() if p.suffix in (".csv", ".json")
                    and p.name != "manifest.json")
    assert "metrics.csv" in tables
    for name in tables:
        assert (by_set / name).read_bytes() == (by_file.directory / name).read_bytes(), name


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "immigration-os", "--set", "mechanisms.label_bias.strength"],
     "--set 'mechanisms.label_bias.strength': expected KEY=VALUE"),
    (["run", "immigration-os", "--set", "system.capacty=0.1"],
     "--set system.capacty: immigration_os.toml: system.capacty: unknown key; did you mean "
     "'capacity'?"),
    (["run", "immigration-os", "--set", "system.capacity=[0.1"],
     "--set system.capacity: '[0.1' is not a TOML value"),
    (["run", "immigration-os", "--set", "experiment.name=abc"],
     "a string needs quotes: --set 'experiment.name=\"abc\"'"),
    (["run", "immigration-os", "--set", "mechanisms.label_bias.strength=9"],
     "--set mechanisms.label_bias.strength: immigration_os.toml: "
     "mechanisms.label_bias.strength: 9 is out of range"),
    (["validate", "immigration-os", "--set", "audit.n_bot=10"],
     "--set audit.n_bot: immigration_os.toml: audit.n_bot: unknown key; did you mean "
     "'n_boot'?"),
    (["validate", "immigration-os", "--set", "=1"], "'' is not a dotted key"),
    (["sweep", "capacity", "--seeds", "1,two"],
     "--seeds '1,two': not a list of whole numbers; give seeds separated by commas"),
    (["sweep", "capacity", "--seeds", "1,1"],
     "error: capacity.toml: sweep.seeds: value error, a seed is listed twice"),
])
def test_bad_input_is_refused_in_one_line_with_exit_code_2(argv, message, tmp_path,
                                                           monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert message in error
    assert not (tmp_path / "results").exists()


def test_set_that_a_grid_overrides_is_refused_only_if_invalid(tmp_path, monkeypatch, capsys):
    # A --set of a key the grid sweeps is overridden at every point by the grid's values.
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "capacity", "--set", "system.capacity=0.2"]) == 0
    assert "every point valid" in capsys.readouterr().out


def test_validate_show_prints_the_experiment_with_every_set(capsys):
    assert main(["validate", "immigration-os", "--show", "--set", "system.capacity=0.2",
                 "--set", 'mechanisms.label_bias.targets=["region:South Asia"]']) == 0
    shown = capsys.readouterr().out
    assert "capacity = 0.2" in shown and '"region:South Asia"' in shown


def test_api_names_the_bad_set_key():
    with pytest.raises(UsageError, match=r"^set system\.capacty: .*unknown key"):
        run("immigration-os", set={"system.capacty": 0.1})
    with pytest.raises(UsageError, match="not a dotted key"):
        run("immigration-os", set={"system..capacity": 0.1})


def test_sweep_seeds_and_set_reach_every_point_and_the_manifests(tmp_path, monkeypatch,
                                                                  capsys):
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "tiny.toml"
    file.write_text('base = "capacity"\n\n[experiment]\nname = "tiny"\n\n[audit]\nn_boot = 20\n\n'
                    "[counterfactual]\ninterventions = []\n\n[sweep]\nattribution = false\n"
                    '[sweep.grid]\n"system.capacity" = [0.1]\n', encoding="utf-8")
    assert main(["sweep", str(file), "--size", "2500", "--seeds", "5, 6", "--quiet",
                 "--set", "mechanisms.label_bias.strength=0"]) == 0
    capsys.readouterr()
    manifest = json.loads(Path("results/tiny-sweep/sweep_manifest.json").read_text())
    assert [p["seed"] for p in manifest["details"]["points"]] == [5, 6]
    assert manifest["overrides"] == {"mechanisms.label_bias.strength": 0,
                                     "population.size": 2500, "sweep.seeds": [5, 6]}
    point = json.loads(Path("results/tiny-sweep", manifest["details"]["points"][0]["manifest"])
                       .read_text())
    assert point["config"]["mechanisms"]["label_bias"]["strength"] == 0.0
    assert point["overrides"]["mechanisms.label_bias.strength"] == 0
