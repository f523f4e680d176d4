"""Adapters between the experiment runner and the toy systems, one module per system.

Each module exposes ``Settings`` (its ``[system]`` table) and ``run`` (see
:mod:`experiments.systems.base`). Register a new system by adding its module name here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Experiment-file name of each system -> adapter module under experiments.systems.
SYSTEMS: dict[str, str] = {
    "immigration_os": "immigration_os",
    "catch_and_revoke": "catch_and_revoke",
    "babel_x": "babel_x",
    "visa_streaming": "visa_streaming",
    "detention_rca": "detention_rca",
    "cbp_one": "cbp_one",
}


def system_adapter(name: str) -> ModuleType:
    """The adapter module of a system, by its experiment-file name."""
    return importlib.import_module(f"experiments.systems.{SYSTEMS[name]}")
