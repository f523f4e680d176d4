"""The README's reference block is generated from the code and kept in step with it: every key
of an experiment or sweep file, every system setting and every flag is there."""

from __future__ import annotations

import typing

from pydantic import BaseModel

from audit.glossary import FLAG_HELP, INTERVAL_CONVENTION
from experiments.cli.reference import README, current, generate, main
from experiments.config import ExperimentConfig
from experiments.config.registry import SYSTEMS, system_adapter


def _keys(model: type[BaseModel]) -> set[str]:
    """Every field name of a model and of the models it holds, at any depth."""
    names = set()
    for name, field in model.model_fields.items():
        names.add(name)
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= _keys(annotation)
            stack.extend(typing.get_args(annotation))
    return names


def test_readme_block_is_the_generated_text():
    assert current(README) == generate(), (
        "README.md's reference block is out of date: run python -m experiments.cli.reference")
    assert main(["--check"]) == 0


def test_every_key_of_every_model_is_in_the_readme_block():
    block = current(README)
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    cells = [cell.strip().strip("`") for row in rows for cell in row.strip("|").split("|")[:2]]
    documented = {part.removesuffix("[]") for cell in cells for part in cell.split(".")}
    missing = _keys(ExperimentConfig) - documented
    assert not missing, f"keys missing from the README: {sorted(missing)}"
    for system in SYSTEMS:
        settings = _keys(system_adapter(system).Settings)
        assert not settings - documented, (system, sorted(settings - documented))
    assert "| `base` |" in block
    for key in ("question", "answer", "focus_grouping", "focus_group", "focus_metric",
                "attribution", "seeds", "grid"):
        assert f"| `sweep.{key}` |" in block, key


def test_every_flag_and_the_interval_convention_are_in_the_readme_block():
    block = current(README)
    for flag, meaning in FLAG_HELP.items():
        assert f"| `{flag}` | {meaning} |" in block, flag
    assert INTERVAL_CONVENTION in block
    assert '"no upper bound"' in block and '"withheld"' in block


def test_a_stale_block_is_reported(tmp_path, monkeypatch):
    import experiments.cli.reference as reference

    stale = tmp_path / "README.md"
    stale.write_text(README.read_text().replace("| `sweep.seeds` |", "| `sweep.seedz` |"))
    monkeypatch.setattr(reference, "README", stale)
    assert main(["--check"]) == 1
    assert main([]) == 0 and current(stale) == generate()
