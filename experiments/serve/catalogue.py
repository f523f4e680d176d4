"""The shipped experiments as the sandbox shows them: title, description, system and its card."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

import markdown

from experiments.config import builtin_experiments


@dataclass(frozen=True)
class ShippedExperiment:
    """One experiment file of the catalogue, as read from its ``[experiment]`` table."""

    name: str
    path: Path
    title: str
    description: str
    system: str
    is_sweep: bool


@functools.cache
def shipped_experiments() -> dict[str, ShippedExperiment]:
    """Every shipped experiment and sweep, by name, read once (the catalogue is package data).

    A sweep file's ``[experiment]`` may come from its ``base``; its title is its own.
    """
    from experiments.config import read_experiment_data

    found = {}
    for name, path in builtin_experiments().items():
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        data = read_experiment_data(path)
        table = data.get("experiment", {})
        own = raw.get("experiment", {})
        found[name] = ShippedExperiment(
            name=name, path=path, title=str(own.get("title", table.get("title", name))),
            description=str(own.get("description", table.get("description", ""))),
            system=str(table.get("system", "")), is_sweep="sweep" in data)
    return found


@functools.cache
def card_html(system: str) -> str:
    """The system's card (shipped Markdown, not data) as HTML, as the run report shows it."""
    from synthetic.systems.base import read_card

    return markdown.markdown(read_card(system), extensions=["tables"])
