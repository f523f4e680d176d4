"""Small, fast experiment configs for the runner tests."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from experiments.config import EXPERIMENTS_DIR, parse_config
from experiments.runner import run_experiment

SMALL_SIZE = 20_000


def immigration_os_data(**changes: object) -> dict:
    """The shipped ImmigrationOS experiment, made small; ``changes`` maps dotted keys."""
    data = tomllib.loads((EXPERIMENTS_DIR / "immigration_os.toml").read_text(encoding="utf-8"))
    data["population"]["size"] = SMALL_SIZE
    data["audit"]["n_boot"] = 200
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        table = data
        for key in parents:
            table = table[key]
        table[last] = copy.deepcopy(value)
    return data


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """One small run of the shipped experiment, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("runs") / "small"
    config = parse_config(immigration_os_data())
    return run_experiment(config, Path("immigration_os.toml"), out=out)
