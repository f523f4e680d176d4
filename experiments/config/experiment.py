"""Experiment files: TOML, validated before any work starts.

An experiment file names a population (profile, size), the bias mechanisms and their
strengths, the system and its settings, the split, the audit settings and the counterfactual
twins to compare. Every problem is reported with the key's full path (``system.capacity``),
with a suggestion for a misspelt key, before anything is generated.
"""

from __future__ import annotations

import difflib
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from experiments.errors import UsageError

#: The shipped experiment and sweep files.
CATALOGUE_DIR = Path(__file__).parent.parent / "catalogue"


class ConfigError(UsageError):
    """An experiment file that cannot be run as written; the message names the key."""


class Strict(BaseModel):
    """A config table: unknown keys are errors, values are checked, nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


#: Seeds reach scikit-learn's ``random_state``, which takes 32 bits; every seed is checked
#: against this, by ``validate`` and ``run`` alike, before any work.
MAX_SEED = 2**32 - 1
#: Largest population a run or ``bias-audit population`` generates.
MAX_POPULATION_SIZE = 50_000_000
#: Largest experiment file read (bytes): the catalogue's are a few kB.
MAX_EXPERIMENT_BYTES = 1_000_000
#: An experiment name becomes a folder under results/: a slug, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ExperimentSection(Strict):
    name: str = Field(description="short name, used for the results folder")
    title: str = Field(description="one-line title for reports")
    system: str = Field(description="which toy system to run")
    seed: int = Field(ge=0, le=MAX_SEED, description="seed of the whole run")
    description: str = Field(default="", description="a longer description, for the reader")
    replicates: int = Field(
        default=1, ge=1, le=50,
        description="times the system's own random parts (training split, pilots, "
                    "calibration and annotator draws, model fitting) are redrawn on the same "
                    "people; estimates are pooled and intervals cover both draws")
    replicate_population: bool = Field(
        default=False, description="also redraw the population in every replicate")
    replicates_note: str = Field(
        default="", description="why this number of replicates (quoted in the report)")
    system_seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED,
        description="seed of the system's own randomness; default: seed (set per replicate "
                    "by the runner)")

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value) or ".." in value:
            raise ValueError(
                "must be a short name of letters, digits, '-', '_' or '.' starting with a "
                "letter or digit (it names the results folder), like 'my-experiment'")
        return value

    @field_validator("system")
    @classmethod
    def _known_system(cls, value: str) -> str:
        from experiments.config.registry import SYSTEMS

        if value not in SYSTEMS:
            close = difflib.get_close_matches(value, list(SYSTEMS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown system {value!r}; {hint}known: {', '.join(SYSTEMS)}")
        return value


class PopulationSection(Strict):
    profile: str = Field(description="profile name (bias-audit population --list) or file")
    size: int = Field(gt=0, le=MAX_POPULATION_SIZE, description="number of synthetic people")


def ints_as_floats(value: Any) -> Any:
    """An integer, or each integer of a list, as a float; anything else as it is.

    The models are strict, so they refuse ``1`` for a float, yet a TOML file (and a person)
    writes ``1`` for ``1.0``; a field validator (``mode="before"``) passes values through this.
    Booleans stay booleans.
    """
    if isinstance(value, list):
        return [ints_as_floats(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class MechanismSection(Strict):
    strength: float = Field(ge=0, description="0 = off; scale documented per mechanism")
    targets: list[str] = Field(default_factory=list,
                               description="ISO3 nationality codes or 'region:<name>'")

    @field_validator("strength", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return ints_as_floats(value)


class SplitSection(Strict):
    train_fraction: float = Field(default=0.5, gt=0, lt=1, description="share of the people "
                                  "the system is trained on; it decides on everyone")

    @field_validator("train_fraction", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return ints_as_floats(value)


#: Metrics a focus comparison or an attribution can follow (rates of the same people).
FOCUS_METRICS = ("fpr", "selection_rate", "fnr", "tpr")


class FocusComparison(Strict):
    """One pre-specified comparison: a group against a reference, in named metrics."""

    grouping: str = Field(description="a configured grouping, e.g. 'region_of_origin × sex'")
    group: str = Field(description="the group compared, e.g. 'Latin America and Caribbean'")
    reference: str = Field(default="", description="default: audit.reference of the grouping")
    metrics: list[Literal["fpr", "selection_rate", "fnr", "tpr"]] = Field(
        default_factory=lambda: ["fpr", "selection_rate"], min_length=1,
        description="rates compared: fpr, selection_rate, fnr, tpr")
    label: str = Field(default="", description="reader-facing name of the comparison")
    adjust_for: list[str] = Field(
        default_factory=list,
        description="columns whose mix differs between the two groups (region, visa type, "
                    "language, ...): the comparison is also given within their strata "
                    "(Mantel-Haenszel, standardised, composition share) in adjusted.csv")


class AttributionKnob(Strict):
    """A bias switch: a dotted config key, and its value when the bias is off."""

    name: str = Field(min_length=1, description="reader-facing name, e.g. 'record label bias'")
    key: str = Field(description="dotted key, e.g. 'mechanisms.label_bias.strength'")
    off: bool | int | float | str | list[str] = Field(
        description="the key's value with the bias off")
    explains: str = Field(default="", description="what the bias is, in one sentence")
    if_it_lowers: str = Field(
        default="", description="said beside the knob wherever it lowers a gap: why that "
        "is not better treatment (a case moved out of the count, say)")


class AttributionSection(Strict):
    """Which bias knobs a run's disparities are attributed to (Shapley over knob worlds)."""

    knobs: list[AttributionKnob] = Field(
        default_factory=list, description="the bias switches, each {name, key, off, explains}")
    enabled: bool = Field(default=True, description="false skips the knob worlds")
    max_exact: int = Field(default=5, ge=1, le=8,
                           description="exact Shapley (2^k worlds) up to this many knobs")
    n_permutations: int = Field(default=32, ge=2, le=10_000,
                                description="random orders of the permutation estimate")
    baseline_cause: str = Field(default="", description="what the profile makes unequal "
                                "with every knob off (visa mix, parole share, ...)")


class AuditSection(Strict):
    groupings: list[list[str]] = Field(
        min_length=1, description="columns audited, alone or intersected: [['nationality'], "
                                  "['nationality', 'sex']]")
    reference: dict[str, str] = Field(
        default_factory=dict, description="reference group per grouping (default: the largest)")
    n_boot: int = Field(default=1000, ge=10, le=100_000,
                        description="bootstrap resamples of the counts")
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="level of every interval")
    min_count: int = Field(default=30, ge=1, description="fewer people behind a rate: small_n, "
                                                         "and left out of spreads")
    suppress_below: int = Field(default=10, ge=0, description="fewer people: the cell is "
                                                              "withheld from every output")
    focus: list[FocusComparison] = Field(
        default_factory=list, description="pre-specified comparisons the headlines report")


class Intervention(Strict):
    attribute: Literal["nationality", "region_of_origin", "first_language"] = Field(
        description="the attribute changed in each person's twin")
    value: str = Field(description="the value the twin gets, e.g. 'GBR'")
    effects: list[Literal["total", "direct"]] = Field(
        default_factory=lambda: ["total", "direct"], min_length=1,
        description="total: every descendant regenerated; direct: only the attribute and the "
                    "proxies the system sees, the rest held at factual values")


class CounterfactualSection(Strict):
    interventions: list[Intervention] = Field(
        default_factory=list, description="twins to compare: {attribute, value, effects}")


class RemediesSection(Strict):
    """Remedies to try on the same people (:mod:`experiments.engine.remedies`): each is applied to
    the system's training or decisions and compared with the unremedied run, by the true and
    by the recorded outcome."""

    apply: list[str] = Field(
        default_factory=list,
        description="remedies to run beside the unremedied system, on the same people: "
                    "threshold_equalized_odds, threshold_demographic_parity, "
                    "reductions_equalized_odds, reductions_demographic_parity, "
                    "random_audit_labels, reweighing, unawareness, remove_biased_list, "
                    "raise_capacity; or 'all' for every remedy the system supports (one name "
                    "alone may be given as a string)")
    sensitive_feature: Literal["region_of_origin", "nationality"] = Field(
        default="region_of_origin",
        description="the sensitive feature the fairness remedies (threshold optimiser, "
                    "reductions, reweighing) equalise over")
    audit_fraction: float = Field(
        default=0.2, gt=0, le=1,
        description="random_audit_labels: share of the training split whose true outcome a "
                    "random audit establishes; the system learns from those people only")
    capacity_factor: float = Field(
        default=2.0, gt=1, le=20,
        description="raise_capacity: the system's capacity times this factor (at most 1)")
    reductions_max_rows: int = Field(
        default=5_000, ge=500, le=1_000_000,
        description="reductions: training rows the exponentiated-gradient search fits on (a "
                    "seeded random subsample when the training split is larger)")
    reductions_max_iter: int = Field(
        default=10, ge=5, le=200,
        description="reductions: iterations of the exponentiated-gradient search")

    @field_validator("apply", mode="before")
    @classmethod
    def _one_name(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("audit_fraction", "capacity_factor", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return ints_as_floats(value)

    @field_validator("apply")
    @classmethod
    def _known_remedies(cls, value: list[str]) -> list[str]:
        from experiments.config.remedies import REMEDIES

        for name in value:
            if name != "all" and name not in REMEDIES:
                close = difflib.get_close_matches(name, list(REMEDIES), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"unknown remedy {name!r}; {hint}supported: "
                                 f"{', '.join(REMEDIES)}, or 'all'")
        if len(set(value)) != len(value):
            raise ValueError("a remedy is listed twice; list each once")
        return value


GridValue = bool | int | float | str


class SweepSection(Strict):
    """A grid over config values, times a list of seeds."""

    seeds: list[int] = Field(min_length=1, description="seeds; each grid point runs once each")
    grid: dict[str, list[GridValue]] = Field(
        default_factory=dict, description="dotted config key -> values to try")
    question: str = Field(default="", description="the research question, for the report")
    answer: Literal["none", "blind_spot", "unawareness", "capacity", "base_rate",
                    "remedies"] = Field(
        default="none", description="which built-in analysis states the answer")
    focus_grouping: str = Field(default="region_of_origin",
                                description="grouping of the comparison the answer follows")
    focus_group: str = Field(default="", description="its group; empty: the experiment's "
                             "[[audit.focus]], or every group shown on its own")
    focus_metric: str = Field(default="fpr", description="the rate compared (fpr, "
                              "selection_rate, fnr, tpr, ...)")
    attribution: bool = Field(
        default=True, description="run each point's [attribution] knob worlds (false skips "
        "them: faster, but the report then has no knobs-off section)")

    @field_validator("grid")
    @classmethod
    def _non_empty_values(cls, grid: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid key {key!r} has no values to try")
            if key.startswith(("experiment.seed", "sweep")):
                raise ValueError(f"grid key {key!r} cannot be swept; list seeds in sweep.seeds")
            if len({repr(v) for v in values}) != len(values):  # 1 and 1.0 stay distinct
                raise ValueError(f"grid key {key!r} lists a value twice; list each once")
        return grid

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("a seed is listed twice; list each once")
        return seeds


class ExperimentConfig(Strict):
    """A whole experiment file."""

    experiment: ExperimentSection
    population: PopulationSection
    mechanisms: dict[str, MechanismSection] = Field(default_factory=dict)
    system: dict[str, Any] = Field(default_factory=dict)
    split: SplitSection = SplitSection()
    audit: AuditSection
    counterfactual: CounterfactualSection = CounterfactualSection()
    attribution: AttributionSection | None = None
    remedies: RemediesSection = RemediesSection()
    sweep: SweepSection | None = None

    def system_settings(self) -> Strict:
        """The ``[system]`` table validated against the chosen system's own settings."""
        from experiments.config.registry import system_adapter

        section = system_adapter(self.experiment.system).Settings
        try:
            return section.model_validate(self.system)
        except ValidationError as error:
            raise ConfigError(_describe(error, prefix="system", model=section)) from None


def _fields_at(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """Names of the keys allowed at ``path`` inside ``model``, for suggestions."""
    current: Any = model
    for part in path:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in (annotation, *args)
                        if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if current is None and args:  # dict[str, Model] or list[Model]
            current = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                           None)
    return list(getattr(current, "model_fields", {}))


def _describe(error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
              ) -> str:
    """One line per problem, each with the key's full path."""
    lines = []
    for problem in error.errors():
        location = tuple(problem["loc"])
        path = ".".join(str(p) for p in ((prefix,) if prefix else ()) + location)
        if problem["type"] == "extra_forbidden":
            allowed = _fields_at(model, location[:-1]) if model else []
            close = difflib.get_close_matches(str(location[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = f" (known keys: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{path}: unknown key{hint}{known}")
        elif problem["type"] == "missing":
            lines.append(f"{path}: required key is missing")
        else:
            given = problem.get("input")
            shown = f" (got {given!r})" if not isinstance(given, dict | list) else ""
            lines.append(f"{path}: {problem['msg'].lower()}{shown}")
    return "; ".join(lines)


def parse_config(data: Mapping[str, Any], source: str = "experiment") -> ExperimentConfig:
    """Validate a parsed experiment table, including its system's settings.

    Raises
    ------
    ConfigError
        Naming every bad key by its full path.
    """
    try:
        config = ExperimentConfig.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(f"{source}: {_describe(error, model=ExperimentConfig)}") from None
    try:
        config.system_settings()
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    _check_mechanisms(config, source)
    for grouping in config.audit.groupings:
        if not grouping:
            raise ConfigError(f"{source}: audit.groupings: a grouping names no column")
    _check_remedies(config, source)
    _check_attribution(config, data, source)
    return config


def _check_remedies(config: ExperimentConfig, source: str) -> None:
    """Every remedy named explicitly is one the system supports, or the line says why not."""
    from experiments.config.remedies import unsupported_remedies

    refused = unsupported_remedies(config.experiment.system)
    for name in config.remedies.apply:
        if name in refused:
            raise ConfigError(f"{source}: remedies.apply: {config.experiment.system} cannot "
                              f"take {name!r}: {refused[name]}; choose another remedy or 'all'")


def system_seed(config: ExperimentConfig) -> int:
    """The seed of a run's system randomness: ``experiment.system_seed`` when a replicate
    sets it, else the experiment's seed (so a run of one replicate is today's run)."""
    chosen = config.experiment.system_seed
    return config.experiment.seed if chosen is None else chosen


def value_hint(value: str, known: Sequence[str]) -> str:
    """``"; did you mean 'MEX'?"`` for a value a profile does not have: the ISO code of a
    country named in words ("Mexico"), else the closest spelling, else nothing."""
    import pycountry

    try:
        country = pycountry.countries.lookup(value)  # a name, an official name or a code
    except LookupError:
        country = None
    if country is not None and country.alpha_3 in known:
        return f"; did you mean {country.alpha_3!r}? (groups are ISO 3166 codes: {value} is " \
               f"{country.alpha_3})"
    close = difflib.get_close_matches(value, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_focus(config: ExperimentConfig, source: str) -> None:
    """Focus comparisons name a configured grouping, and groups the profile can have (run by
    :func:`experiments.engine.checks.check_experiment`, after the groupings' own columns)."""
    from audit.engine import grouping_name
    from synthetic.population import PopulationInputError
    from synthetic.population.profiles import load_profile

    names = {grouping_name(g): g for g in config.audit.groupings}
    try:
        profile = load_profile(config.population.profile) if config.audit.focus else None
    except PopulationInputError:
        profile = None  # an unknown profile is reported when the population is generated
    known = {"nationality": profile.nationalities, "region_of_origin": profile.regions} \
        if profile is not None else {}
    for index, focus in enumerate(config.audit.focus):
        where = f"{source}: audit.focus[{index}]"
        if focus.grouping not in names:
            raise ConfigError(f"{where}.grouping: {focus.grouping!r} is not a configured "
                              f"grouping; audit.groupings gives: {', '.join(names)}")
        columns = names[focus.grouping]
        reference = focus.reference or config.audit.reference.get(focus.grouping, "")
        for key, value in (("group", focus.group), ("reference", reference)):
            if not value:
                continue
            parts = value.split(" × ")
            if len(parts) != len(columns):
                raise ConfigError(f"{where}.{key}: {value!r} needs one value per column of "
                                  f"{focus.grouping}, joined by ' × '")
            for column, part in zip(columns, parts, strict=True):
                if column in known and part not in known[column]:
                    hint = value_hint(part, known[column])
                    raise ConfigError(f"{where}.{key}: {part!r} is not a {column} of profile "
                                      f"{config.population.profile!r}{hint}")
        if reference and reference == focus.group:
            raise ConfigError(f"{where}: group and reference are both {focus.group!r}; "
                              "compare the group with another one")
        if focus.adjust_for and len(columns) != 1:
            raise ConfigError(f"{where}.adjust_for: adjusted comparisons need a grouping of "
                              f"one column; {focus.grouping!r} has {len(columns)}")
        for column in focus.adjust_for:
            if column in columns:
                raise ConfigError(f"{where}.adjust_for: {column!r} is the grouping itself; "
                                  "adjust for a column whose mix differs between the groups")
        if len(set(focus.adjust_for)) != len(focus.adjust_for):
            raise ConfigError(f"{where}.adjust_for: a column is named twice")


#: Tables of an experiment a knob may switch: the world's mechanisms and the system's settings.
KNOB_TABLES = ("mechanisms", "system")


def _check_attribution(config: ExperimentConfig, data: Mapping[str, Any], source: str) -> None:
    """Every knob names an existing mechanism or system key, and its off value is valid."""
    import copy

    section = config.attribution
    if section is None:
        return
    seen: set[str] = set()
    for index, knob in enumerate(section.knobs):
        where = f"{source}: attribution.knobs[{index}]"
        if knob.key in seen or knob.name in {k.name for k in section.knobs[:index]}:
            raise ConfigError(f"{where}: knob {knob.name!r} ({knob.key}) is listed twice")
        seen.add(knob.key)
        head, *rest = knob.key.split(".")
        if head not in KNOB_TABLES or not rest:
            raise ConfigError(f"{where}.key: {knob.key!r} must be a key under "
                              f"{' or '.join(KNOB_TABLES)} (e.g. 'mechanisms.label_bias.strength')")
        if head == "mechanisms":
            from synthetic.population import MECHANISMS

            # A known mechanism the file leaves out is off in every world: its knob is inert.
            if rest[0] not in MECHANISMS or rest[1:] != ["strength"]:
                raise ConfigError(f"{where}.key: {knob.key!r} does not exist; a knob switches "
                                  "mechanisms.<name>.strength, with <name> one of "
                                  f"{', '.join(MECHANISMS)}")
            if rest[0] == "proxy_leakage":
                raise ConfigError(f"{where}.key: proxy_leakage acts when the people are "
                                  "generated, so its worlds could not keep the same people; "
                                  "choose another knob")
        else:
            current: Any = config.system_settings().model_dump()
            for part in rest:
                if not isinstance(current, dict) or part not in current:
                    allowed = ", ".join(current) if isinstance(current, dict) else ""
                    raise ConfigError(f"{where}.key: {knob.key!r} does not exist; keys there: "
                                      f"{allowed}")
                current = current[part]
        variant = copy.deepcopy(dict(data))
        variant.pop("attribution", None)
        set_dotted(variant, knob.key, knob.off)
        try:
            parse_config(variant, source)
        except ConfigError as error:
            raise ConfigError(f"{where}.off: {knob.off!r} is not valid for {knob.key}: "
                              f"{str(error).removeprefix(source + ': ')}") from None


def _check_mechanisms(config: ExperimentConfig, source: str) -> None:
    """Mechanism names and strength ranges, reported by key path."""
    from synthetic.population import MECHANISMS

    for name, mechanism in config.mechanisms.items():
        if name not in MECHANISMS:
            close = difflib.get_close_matches(name, list(MECHANISMS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{source}: mechanisms.{name}: unknown mechanism{hint} "
                f"(known: {', '.join(MECHANISMS)})"
            )
        limit = MECHANISMS[name].max_strength
        if mechanism.strength > limit:
            raise ConfigError(
                f"{source}: mechanisms.{name}.strength: {mechanism.strength:g} is out of range; "
                f"allowed range is [0, {limit:g}]"
            )


def builtin_experiments() -> dict[str, Path]:
    """Experiments and sweeps shipped with the package, by name (``immigration-os``)."""
    paths = sorted(CATALOGUE_DIR.glob("*.toml")) + sorted(CATALOGUE_DIR.glob("sweeps/*.toml"))
    return {path.stem.replace("_", "-"): path for path in paths}


def resolve_experiment(name_or_path: str | Path) -> Path:
    """A shipped experiment's name, or a path to a TOML file."""
    text = str(name_or_path)
    shipped = builtin_experiments()
    if text in shipped:
        return shipped[text]
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise ConfigError(f"experiment file {text!r} not found")
        return path
    close = difflib.get_close_matches(text, list(shipped), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        f"unknown experiment {text!r}; {hint}available: {', '.join(shipped)} "
        "(or give a path to a .toml file)"
    )


def load_config(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None
                ) -> tuple[ExperimentConfig, Path]:
    """Read, override and validate an experiment; return it and the file it came from.

    ``overrides`` maps dotted keys (``"population.size"``) to values.
    """
    path = resolve_experiment(name_or_path)
    data = read_experiment_data(path)
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return parse_config(data, source=str(path.name)), path


def read_experiment_text(path: Path) -> str:
    """The text of an experiment file, refused in one line unless it is a small regular file.

    A device (``/dev/zero``), a pipe or a link to either would be read without end, and
    Ctrl-C does not reach a read in progress; a file over :data:`MAX_EXPERIMENT_BYTES` is no
    experiment. The file's kind is checked through links before anything is read, and the
    read itself stops after the cap, in case the file grows meanwhile.

    Parameters
    ----------
    path : Path
        The experiment file, or a ``base =`` target.

    Returns
    -------
    str
        The file's text.

    Raises
    ------
    ConfigError
        Naming the file and what it is instead.
    OSError
        When the file cannot be opened or read.
    """
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        kind = ("a folder" if stat.S_ISDIR(info.st_mode) else
                "a device, pipe or socket")
        raise ConfigError(f"{str(path)!r} is {kind}, not an experiment file; give a .toml file")
    if info.st_size > MAX_EXPERIMENT_BYTES:
        raise ConfigError(
            f"{str(path)!r} holds {info.st_size:,} bytes, more than an experiment file may "
            f"({MAX_EXPERIMENT_BYTES:,}); give the experiment's .toml file")
    with open(path, "rb") as handle:
        content = handle.read(MAX_EXPERIMENT_BYTES + 1)
    if len(content) > MAX_EXPERIMENT_BYTES:
        raise ConfigError(
            f"{str(path)!r} grew past {MAX_EXPERIMENT_BYTES:,} bytes while it was read; give "
            "the experiment's .toml file")
    return content.decode("utf-8")


def read_experiment_data(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Parse an experiment file; a top-level ``base = "name"`` starts from that experiment.

    Tables of the file are merged into the base's key by key, recursively; other values
    (lists included) replace the base's.
    """
    try:
        data = tomllib.loads(read_experiment_text(path))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: not UTF-8 text; save it as UTF-8 TOML") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path.name}: base: give the name of an experiment, got {base!r}")
    base_path = resolve_experiment(base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise ConfigError(f"{path.name}: base: {base!r} leads back to itself")
    return _deep_merge(read_experiment_data(base_path, (*seen, path.resolve())), data)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``dotted == "a.b"``, creating tables on the way."""
    *parents, last = dotted.split(".")
    table = data
    for key in parents:
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{dotted}: {key!r} is not a table")
    table[last] = value
