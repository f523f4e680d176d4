"""Small, fast experiment configs for the runner tests."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from experiments.config import EXPERIMENTS_DIR, parse_config, set_dotted
from experiments.runner import run_experiment

SMALL_SIZE = 20_000


def apply_changes(data: dict, changes: dict[str, object]) -> dict:
    """Set dotted keys (``"system.capacity"``) of parsed experiment data, in place."""
    for dotted, value in changes.items():
        set_dotted(data, dotted, copy.deepcopy(value))
    return data


def shipped_data(stem: str, size: int, n_boot: int = 200) -> dict:
    """A shipped experiment file's data, with a small population and bootstrap."""
    data = tomllib.loads((EXPERIMENTS_DIR / f"{stem}.toml").read_text(encoding="utf-8"))
    data["population"]["size"] = size
    data["audit"]["n_boot"] = n_boot
    return data


def immigration_os_data(**changes: object) -> dict:
    """The shipped ImmigrationOS experiment, made small; ``changes`` maps dotted keys."""
    return apply_changes(shipped_data("immigration_os", SMALL_SIZE), changes)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """One small run of the shipped experiment, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("runs") / "small"
    config = parse_config(immigration_os_data())
    return run_experiment(config, Path("immigration_os.toml"), out=out)
