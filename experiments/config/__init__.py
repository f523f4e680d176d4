"""Experiment files: the models, TOML reading and writing, and validation.

What lives here: the pydantic models of an experiment file (:mod:`.experiment`), the names
of the systems and remedies a file may name (:mod:`.registry`, :mod:`.remedies`) and TOML
text (:mod:`.toml_text`). The bottom room of :mod:`experiments` but for its errors: it may
import only :mod:`experiments.errors` and :mod:`experiments.version`; every other room may
import it.
"""

from experiments.config.experiment import (
    CATALOGUE_DIR,
    MAX_POPULATION_SIZE,
    MAX_SEED,
    AttributionKnob,
    ConfigError,
    ExperimentConfig,
    RemediesSection,
    Strict,
    SweepSection,
    builtin_experiments,
    check_focus,
    ints_as_floats,
    load_config,
    parse_config,
    read_experiment_data,
    resolve_experiment,
    set_dotted,
    system_seed,
)

__all__ = [
    "CATALOGUE_DIR", "MAX_POPULATION_SIZE", "MAX_SEED", "AttributionKnob", "ConfigError",
    "ExperimentConfig", "RemediesSection", "Strict", "SweepSection", "builtin_experiments",
    "check_focus", "ints_as_floats", "load_config", "parse_config", "read_experiment_data",
    "resolve_experiment", "set_dotted", "system_seed",
]
