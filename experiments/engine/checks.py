"""Checks of an experiment against its population, before anything is generated."""

from __future__ import annotations

import difflib

from experiments.config import ConfigError, ExperimentConfig, check_focus
from experiments.config.experiment import value_hint
from experiments.config.registry import derived_columns
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
    groupable = (*GROUPABLE, *derived_columns(config.experiment.system))
    for i, grouping in enumerate(config.audit.groupings):
        for column in grouping:
            if column not in groupable:
                raise ConfigError(
                    f"{source}: audit.groupings.{i}: unknown column {column!r}; groupable "
                    f"columns: {', '.join(groupable)}"
                )
    for i, focus in enumerate(config.audit.focus):
        for column in focus.adjust_for:
            if column not in groupable:
                close = difflib.get_close_matches(column, groupable, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"{source}: audit.focus[{i}].adjust_for: unknown column {column!r}; "
                    f"{hint}groupable columns: {', '.join(groupable)}")
    check_focus(config, source)
    known_values = {"nationality": profile.nationalities, "region_of_origin": profile.regions}
    if config.sweep is not None:
        check_sweep_focus(config, source, known_values)
    for i, intervention in enumerate(config.counterfactual.interventions):
        values = known_values.get(intervention.attribute)
        if values is not None and intervention.value not in values:
            raise ConfigError(
                f"{source}: counterfactual.interventions.{i}.value: {intervention.value!r} is "
                f"not a {intervention.attribute} of profile {profile.name!r}"
                f"{value_hint(intervention.value, values)}; its values: {', '.join(values)}"
            )
    _check_references(config, profile, source)


def _check_references(config: ExperimentConfig, profile, source: str) -> None:
    """Each ``[audit.reference]`` key is a configured grouping and its group can exist.

    Values are checked for the columns whose values the profile lists; an intersection's
    reference (``"IND × female"``) is checked part by part.
    """
    from audit.engine import INTERSECTION, grouping_name

    values_of = {"nationality": profile.nationalities, "region_of_origin": profile.regions,
                 "first_language": profile.languages, "visa_type": profile.visa_types}
    # a reference may name a grouping, or a column that intersections combine
    groupings = {c: [c] for g in config.audit.groupings for c in g}
    groupings.update({grouping_name(g): list(g) for g in config.audit.groupings})
    for key, value in config.audit.reference.items():
        columns = groupings.get(key)
        if columns is None:
            raise ConfigError(
                f"{source}: audit.reference.{key}: not a configured grouping; groupings: "
                f"{', '.join(groupings)}"
            )
        parts = value.split(INTERSECTION) if len(columns) > 1 else [value]
        if len(parts) != len(columns):
            raise ConfigError(
                f"{source}: audit.reference.{key}: give one value per column joined by "
                f"{INTERSECTION.strip()!r}, e.g. {INTERSECTION.join(['A'] * len(columns))!r}"
            )
        for column, part in zip(columns, parts, strict=True):
            known = values_of.get(column)
            if known is not None and part not in known:
                raise ConfigError(
                    f"{source}: audit.reference.{key}: {part!r} is not a {column} of profile "
                    f"{profile.name!r}{value_hint(part, known)}; its values: {', '.join(known)}"
                )


#: Built-in sweep answers that follow one pre-specified comparison.
FOCUSED_ANSWERS = ("blind_spot", "unawareness", "capacity", "base_rate")


def check_sweep_focus(config: ExperimentConfig, source: str,
                      known_values: dict[str, tuple[str, ...]]) -> None:
    """The ``[sweep]`` focus names a configured grouping, a group the profile has, and a rate
    the audit computes, so a sweep never runs to an empty answer."""
    from audit.engine import grouping_name
    from audit.metrics import RATE_NAMES

    sweep = config.sweep
    names = {grouping_name(g): g for g in config.audit.groupings}
    if sweep.focus_grouping not in names:
        raise ConfigError(f"{source}: sweep.focus_grouping: {sweep.focus_grouping!r} is not a "
                          f"configured grouping; audit.groupings gives: {', '.join(names)}")
    if sweep.focus_metric not in RATE_NAMES:
        close = difflib.get_close_matches(sweep.focus_metric, RATE_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{source}: sweep.focus_metric: {sweep.focus_metric!r} is not a rate"
                          f"{hint} (rates: {', '.join(RATE_NAMES)})")
    # The built-in answers follow one comparison named in advance, never one picked later.
    if sweep.answer in FOCUSED_ANSWERS and not sweep.focus_group and (
            sweep.answer == "base_rate" or not config.audit.focus):
        raise ConfigError(f"{source}: sweep.focus_group: sweep.answer = {sweep.answer!r} "
                          "follows one comparison; name its group here"
                          + ("" if sweep.answer == "base_rate" else " (or in [[audit.focus]])"))
    values = known_values.get(sweep.focus_grouping)
    if sweep.focus_group and values is not None and sweep.focus_group not in values:
        hint = value_hint(sweep.focus_group, values)
        raise ConfigError(f"{source}: sweep.focus_group: {sweep.focus_group!r} is not a "
                          f"{sweep.focus_grouping} of profile {config.population.profile!r}"
                          f"{hint}")
