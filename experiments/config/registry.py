"""The systems an experiment may name, and where each one's adapter lives.

An experiment file names its system (``experiment.system = "babel_x"``); this registry maps
the name to its adapter module under :mod:`experiments.systems`, which declares its
``[system]`` settings, the columns it derives, and the remedies it takes. Config validates a
file through it; the adapter is loaded by name when it is first needed, so config sits below
the systems it configures.
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
    "uscis_fraud": "uscis_fraud",
    "icm_falcon": "icm_falcon",
    "e_atd": "e_atd",
    "iborderctrl": "iborderctrl",
    "bamf_origin": "bamf_origin",
    "name_matching": "name_matching",
}


def system_adapter(name: str) -> ModuleType:
    """The adapter module of a system, by its experiment-file name."""
    return importlib.import_module(f"experiments.systems.{SYSTEMS[name]}")


def derived_columns(name: str) -> tuple[str, ...]:
    """Person-level columns a system derives while it runs, which groupings may name."""
    return tuple(getattr(system_adapter(name), "DERIVED_COLUMNS", ()))
