"""Checks of an experiment against its population, before anything is generated."""

from __future__ import annotations

from experiments.config import ConfigError, ExperimentConfig
from synthetic.population import (
    COLUMNS,
    PopulationInputError,
    load_profile,
    resolve_mechanisms,
)

#: Columns a grouping may name: every column of a generated person, truths excepted.
GROUPABLE = tuple(c.name for c in COLUMNS if c.name != "person_id")


def check_experiment(config: ExperimentConfig, source: str = "experiment") -> None:
    """Check profile, mechanisms, groupings and interventions; raise ConfigError if wrong."""
    try:
        profile = load_profile(config.population.profile)
    except PopulationInputError as error:
        raise ConfigError(f"{source}: population.profile: {error}") from None
    mechanisms = {name: m.model_dump() for name, m in config.mechanisms.items()}
    try:
        resolve_mechanisms(mechanisms, profile.nationalities, profile.regions)
    except PopulationInputError as error:
        raise ConfigError(f"{source}: mechanisms: {error}") from None
    for i, grouping in enumerate(config.audit.groupings):
        for column in grouping:
            if column not in GROUPABLE:
                raise ConfigError(
                    f"{source}: audit.groupings.{i}: unknown column {column!r}; groupable "
                    f"columns: {', '.join(GROUPABLE)}"
                )
    known_values = {"nationality": profile.nationalities, "region_of_origin": profile.regions}
    for i, intervention in enumerate(config.counterfactual.interventions):
        values = known_values.get(intervention.attribute)
        if values is not None and intervention.value not in values:
            raise ConfigError(
                f"{source}: counterfactual.interventions.{i}.value: {intervention.value!r} is "
                f"not a {intervention.attribute} of profile {profile.name!r}; "
                f"its values: {', '.join(values)}"
            )
