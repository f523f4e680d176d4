"""``bias-audit reproduce``: a run rerun from its manifest alone gives the same bytes in every
file (the report but for the run id it names), a tampered file is reported, and the manifest
holds no absolute local path."""

from __future__ import annotations

import json
import shutil

import pytest

from experiments.cli import main

SHIPPED = (("immigration-os", ["--no-attribution"]), ("iborderctrl", []),
           ("detention-rca", []))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three shipped experiments run small (knob worlds included for two of them)."""
    root = tmp_path_factory.mktemp("reproduce")
    folders = {}
    for name, extra in SHIPPED:
        folders[name] = root / name
        assert main(["run", name, "--size", "6000", "--quiet", "--out", str(folders[name]),
                     *extra]) == 0
    return root, folders


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)] + [str(k) for k in value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("name", [name for name, _ in SHIPPED])
def test_a_rerun_from_the_manifest_alone_is_identical_file_by_file(runs, name, capsys):
    root, folders = runs
    capsys.readouterr()
    folder = folders[name]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    # No absolute local path: the shipped experiment is named, not located.
    assert manifest["config_file"] == name
    assert not [s for s in _strings(manifest) if s.startswith("/") or str(root) in s]
    # The manifest file itself may be given instead of its folder.
    argument = folder / "manifest.json" if name == "iborderctrl" else folder
    assert main(["reproduce", str(argument), "--out", str(root / f"{name}-again")]) == 0
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line.strip()][:-1]
    assert len(lines) == len(manifest["files"])
    assert all(line.startswith("identical") for line in lines), printed
    assert "identical  report.md  (but for the run id it names)" in printed
    assert f"{len(lines)} of {len(lines)} files identical" in printed
    again = json.loads((root / f"{name}-again" / "manifest.json").read_text(encoding="utf-8"))
    assert again["config"] == manifest["config"]
    assert ("attribution" in again["details"]) == ("attribution" in manifest["details"])


def test_a_tampered_csv_is_reported_as_different(runs, tmp_path, capsys):
    _, folders = runs
    tampered = tmp_path / "tampered"
    shutil.copytree(folders["iborderctrl"], tampered)
    with (tampered / "metrics.csv").open("a", encoding="utf-8") as handle:
        handle.write("an,edited,row\n")
    capsys.readouterr()
    assert main(["reproduce", str(tampered), "--out", str(tmp_path / "again"),
                 "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "different  metrics.csv  (the copy in" in printed
    assert "changed after the run" in printed
    assert "identical" not in printed.split("\n\n")[0]  # --quiet lists only what differs


def test_reproduce_refuses_a_folder_without_manifest_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["reproduce", str(tmp_path / "empty")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "holds no manifest.json; give a run folder" in error
    (tmp_path / "x.json").write_text("[1]", encoding="utf-8")
    assert main(["reproduce", str(tmp_path / "x.json")]) == 2
    assert "is not the manifest of a run" in capsys.readouterr().err
