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


#: Interval columns of metrics.csv and summary.csv, as (low, high) pairs.
INTERVAL_COLUMNS = (("ci_low", "ci_high"), ("diff_ci_low", "diff_ci_high"),
                    ("ratio_ci_low", "ratio_ci_high"), ("sim_diff_ci_low", "sim_diff_ci_high"),
                    ("sim_ratio_ci_low", "sim_ratio_ci_high"))


def assert_intervals_claim_no_false_certainty(directory: Path) -> None:
    """No zero-width interval, and no infinite bound without the flag ``unbounded``, in a
    run's metrics.csv and summary.csv."""
    import numpy as np
    import pandas as pd

    for name in ("metrics.csv", "summary.csv"):
        table = pd.read_csv(directory / name, keep_default_na=False, na_values=[""],
                            dtype={"group": str, "grouping": str, "flags": str})
        table["flags"] = table["flags"].fillna("")
        for low_name, high_name in INTERVAL_COLUMNS:
            if low_name not in table:
                continue
            low = pd.to_numeric(table[low_name], errors="coerce").to_numpy(dtype=float)
            high = pd.to_numeric(table[high_name], errors="coerce").to_numpy(dtype=float)
            frozen = ~np.isnan(low) & (low == high)
            assert not frozen.any(), (name, low_name, table.loc[frozen].head(3).to_dict("records"))
            infinite = np.isinf(low) | np.isinf(high)
            unflagged = infinite & ~table["flags"].str.contains("unbounded").to_numpy()
            assert not unflagged.any(), (name, high_name,
                                         table.loc[unflagged].head(3).to_dict("records"))
