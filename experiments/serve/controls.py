"""An experiment's knobs as labelled page controls, built from the models that read its file.

Every control is a dotted config key (``system.annotator_bias``) with the limits and the
description its pydantic field declares, so the page offers what a file may say and nothing
else. What the page sends back is turned into an override dict and validated by
:func:`experiments.config.load_config`, exactly as a file is; a refusal's message is mapped
back to the control whose key it names (:func:`errors_by_control`).
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from experiments.config import MAX_SEED, ConfigError, ExperimentConfig, load_config

#: Largest population the page runs; the command line runs any size.
PAGE_MAX_SIZE = 200_000
#: Smallest population the page offers (a system may refuse more; its message says so).
PAGE_MIN_SIZE = 1_000
#: The page's default size, when the file asks for more: large enough for every shipped
#: system to learn (CBP One's face model needs about 20,000 people), small enough to play.
PAGE_DEFAULT_SIZE = 20_000
#: Not a config key: whether the run includes the ``[attribution]`` knob worlds.
ATTRIBUTION_KEY = "run.attribution"
#: An integer slider over more values than this becomes a number box.
MAX_SLIDER_STEPS = 1_000

Kind = Literal["range", "number", "checkbox", "select", "checkboxes", "fixed"]


@dataclass(frozen=True)
class Control:
    """One labelled control of the experiment page.

    Attributes
    ----------
    key : str
        The dotted config key it sets (or :data:`ATTRIBUTION_KEY`).
    label : str
        What the page calls it.
    kind : str
        ``range`` (a slider with a number box), ``number``, ``checkbox``, ``select``,
        ``checkboxes`` (a list of choices) or ``fixed`` (shown, changed only in a file).
    value : Any
        The value the experiment file gives (or the page's default).
    section : str
        ``knobs`` (the experiment's bias knobs), ``mechanisms``, ``system`` or ``run``.
    number : str
        ``float``, ``int`` or ``share_or_count`` (a float share or an integer count).
    off : Any
        For a bias knob, its value with the bias off (the ``[attribution]`` entry).
    """

    key: str
    label: str
    kind: Kind
    value: Any
    section: str
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | str | None = None
    number: str = "float"
    options: tuple[tuple[str, str], ...] = ()
    off: Any = None
    is_knob: bool = False
    explains: str = ""

    @property
    def dom_id(self) -> str:
        """An HTML id for the control (keys hold only letters, digits, '_' and '.')."""
        return "control-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.key)

    @property
    def off_text(self) -> str:
        """The off value as the page prints it."""
        if isinstance(self.off, list):
            return "none" if not self.off else ", ".join(map(str, self.off))
        if isinstance(self.off, bool):
            return "on" if self.off else "off"
        return str(self.off)


@dataclass
class ExperimentPage:
    """An experiment's controls, as the page shows them and reads them back."""

    name: str
    config: ExperimentConfig
    path: Path
    controls: list[Control] = field(default_factory=list)

    def control(self, key: str) -> Control | None:
        """The control of a key, if the page has one."""
        return next((c for c in self.controls if c.key == key), None)

    def sections(self) -> dict[str, list[Control]]:
        """Controls grouped by section, in page order."""
        grouped: dict[str, list[Control]] = {"knobs": [], "mechanisms": [], "system": [],
                                             "run": []}
        for control in self.controls:
            grouped[control.section].append(control)
        return grouped

    def defaults(self) -> dict[str, Any]:
        """Every control's starting value, by key (the page's "reset")."""
        return {c.key: c.value for c in self.controls}


def experiment_page(name: str) -> ExperimentPage:
    """Build the controls of a shipped experiment from its file and its system's settings.

    Parameters
    ----------
    name : str
        A shipped experiment's name (``catch-and-revoke``).

    Returns
    -------
    ExperimentPage
    """
    from experiments.config.registry import system_adapter
    from experiments.config.remedies import REMEDY_TITLES, supported_remedies
    from synthetic.population import MECHANISMS
    from synthetic.population.profiles import load_profile

    config, path = load_config(name)
    profile = load_profile(config.population.profile)
    places = _place_options(profile.nationalities, profile.regions)
    knobs = {k.key: k for k in config.attribution.knobs} if config.attribution else {}
    settings_model = system_adapter(config.experiment.system).Settings
    settings = config.system_settings().model_dump()
    controls: list[Control] = []

    for mechanism, section in config.mechanisms.items():
        key = f"mechanisms.{mechanism}.strength"
        if mechanism == "proxy_leakage":
            continue  # acts when people are generated; the file sets it (see the card)
        limit = float(MECHANISMS[mechanism].max_strength)
        controls.append(Control(
            key=key, label=f"{mechanism.replace('_', ' ')} strength", kind="range",
            value=float(section.strength), section="mechanisms", minimum=0.0, maximum=limit,
            step=_step(0.0, limit, "float"),
            description=f"0 = off; at most {limit:g} (scales in synthetic/population)"))
        if section.targets:
            controls.append(Control(
                key=f"mechanisms.{mechanism}.targets", label=f"{mechanism.replace('_', ' ')}: "
                "targeted groups", kind="checkboxes", value=list(section.targets),
                section="mechanisms", options=_with_values(places, section.targets),
                description="nationalities and regions the mechanism targets"))
    controls += _model_controls(settings_model, settings, "system", places)

    # A bias knob moves to the top, with its off value marked; it keeps its kind and limits.
    ordered = []
    for key, knob in knobs.items():
        found = next((c for c in controls if c.key == key), None)
        if found is None:
            continue
        controls.remove(found)
        ordered.append(Control(**{**found.__dict__, "section": "knobs", "is_knob": True,
                                  "off": knob.off, "label": knob.name,
                                  "explains": knob.explains}))
    controls = ordered + controls

    size = min(config.population.size, PAGE_DEFAULT_SIZE)
    controls += [
        Control(key="population.size", label="population size", kind="range", value=size,
                section="run", minimum=PAGE_MIN_SIZE, maximum=PAGE_MAX_SIZE, step=1_000,
                number="int", description=f"synthetic people ({PAGE_MIN_SIZE:,} to "
                f"{PAGE_MAX_SIZE:,} here; the file says {config.population.size:,})"),
        Control(key="experiment.seed", label="seed", kind="number",
                value=config.experiment.seed, section="run", minimum=0, maximum=MAX_SEED,
                step=1, number="int", description="the same seed and size draw the same people"),
    ]
    if knobs:
        controls.append(Control(
            key=ATTRIBUTION_KEY, label="attribution (run every world of the bias knobs)",
            kind="checkbox", value=True, section="run",
            description=f"{2 ** min(len(knobs), 8)} worlds or fewer; slower, and splits each "
                        "focus gap between the knobs"))
    remedies = supported_remedies(config.experiment.system)
    if remedies:
        controls.append(Control(
            key="remedies.apply", label="remedies run beside the system", kind="checkboxes",
            value=list(config.remedies.apply), section="run",
            options=tuple((r, REMEDY_TITLES.get(r, r)) for r in remedies),
            description="each is run on the same people and compared"))
    return ExperimentPage(name, config, path, controls)


def _place_options(nationalities: Sequence[str], regions: Sequence[str]
                   ) -> tuple[tuple[str, str], ...]:
    from experiments.writing.names import country_name

    return (*((code, f"{country_name(code) or code} ({code})") for code in nationalities),
            *((f"region:{region}", f"region: {region}") for region in regions))


def _with_values(options: tuple[tuple[str, str], ...], values: Sequence[str]
                 ) -> tuple[tuple[str, str], ...]:
    known = {value for value, _ in options}
    return options + tuple((v, v) for v in values if v not in known)


def _model_controls(model: type[BaseModel], values: Mapping[str, Any], prefix: str,
                    places: tuple[tuple[str, str], ...]) -> list[Control]:
    """Controls for a settings model's fields, nested models as dotted keys."""
    controls = []
    for name, info in model.model_fields.items():
        key = f"{prefix}.{name}"
        value = values.get(name)
        annotation = info.annotation
        label = name.replace("_", " ")
        description = info.description or ""
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            controls += _model_controls(annotation, value or {}, key, places)
            continue
        low, high = _limits(info.metadata)
        args = typing.get_args(annotation)
        if annotation is bool:
            control = Control(key, label, "checkbox", bool(value), "system", description)
        elif typing.get_origin(annotation) is Literal:
            control = Control(key, label, "select", value, "system", description,
                              options=tuple((str(a), str(a)) for a in args))
        elif annotation in (int, float) or set(args) == {int, float}:
            number = ("share_or_count" if set(args) == {int, float}
                      else "int" if annotation is int else "float")
            slider = (low is not None and high is not None and number != "share_or_count"
                      and (number == "float" or high - low <= MAX_SLIDER_STEPS))
            control = Control(key, label, "range" if slider else "number", value, "system",
                              description, minimum=low, maximum=high,
                              step=_step(low, high, number) if slider else
                              (1 if number == "int" else "any"),
                              number=number)
        elif annotation == list[str] and _is_place_list(name, value, places):
            control = Control(key, label, "checkboxes", list(value or []), "system",
                              description, options=_with_values(places, value or []))
        else:
            control = Control(key, label, "fixed", value, "system",
                              description or "changed only in the experiment file")
        controls.append(control)
    return controls


def _is_place_list(name: str, value: Any, places: tuple[tuple[str, str], ...]) -> bool:
    known = {v for v, _ in places}
    return ("countr" in name or "target" in name
            or (bool(value) and all(v in known for v in value)))


def _limits(metadata: Sequence[Any]) -> tuple[float | None, float | None]:
    """A field's lower and upper limit (``gt``/``lt`` as the limit itself; the model refuses
    the end point, and says so beside the control)."""
    low = high = None
    for item in metadata:
        for attribute in ("ge", "gt"):
            if getattr(item, attribute, None) is not None:
                low = getattr(item, attribute)
        for attribute in ("le", "lt"):
            if getattr(item, attribute, None) is not None:
                high = getattr(item, attribute)
    return low, high


def _step(low: float | None, high: float | None, number: str) -> float:
    if number == "int" or low is None or high is None:
        return 1
    span = float(high) - float(low)
    step = 10 ** math.floor(math.log10(span / 100)) if span > 0 else 0.01
    return float(f"{step:.10g}")


class FormError(ValueError):
    """What the page sent cannot be run: messages by control key (``""`` for the form)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors


def read_submission(page: ExperimentPage, submitted: Mapping[str, Any]
                    ) -> tuple[ExperimentConfig, Path, bool, dict[str, Any]]:
    """Turn the page's values into a validated experiment, or say what is wrong and where.

    Values are converted to the type the control stands for, then only those that differ from
    the file are set as overrides and the whole experiment is validated by
    :func:`experiments.config.load_config` and the engine's checks, as a file would be.

    Parameters
    ----------
    page : ExperimentPage
        The experiment's controls.
    submitted : mapping
        Control key to value, as the page sends it (JSON).

    Returns
    -------
    config, path, attribution, overrides
        The validated experiment, its file, whether to run the knob worlds, and the
        overrides that made it.

    Raises
    ------
    FormError
        Messages by control key; nothing is run.
    """
    from experiments.engine.checks import check_experiment

    errors: dict[str, str] = {}
    overrides: dict[str, Any] = {}
    attribution = bool(page.control(ATTRIBUTION_KEY) and page.control(ATTRIBUTION_KEY).value)
    for key, raw in submitted.items():
        control = page.control(key) if isinstance(key, str) else None
        if control is None or control.kind == "fixed":
            errors[""] = f"{key!r} is not a control of this page"
            continue
        try:
            value = _convert(control, raw)
        except ValueError as error:
            errors[key] = str(error)
            continue
        if key == ATTRIBUTION_KEY:
            attribution = value
        elif key == "population.size" and not PAGE_MIN_SIZE <= value <= PAGE_MAX_SIZE:
            errors[key] = (f"population.size: {value:,} is out of range for this page; "
                           f"allowed range is [{PAGE_MIN_SIZE:,}, {PAGE_MAX_SIZE:,}] (bias-audit "
                           "run --size takes more)")
        elif not _same(value, control.value) or key == "population.size":
            overrides[key] = value
    size = page.control("population.size")
    if size is not None and "population.size" not in submitted:
        # Not sent: the page's size, never the file's (which may be far above the page's cap).
        overrides["population.size"] = size.value
    # The models judge what could be read even when some value could not, so the page can
    # show every problem at once.
    try:
        config, path = load_config(page.name, overrides)
        check_experiment(config, path.name)
    except ConfigError as error:
        raise FormError({**errors_by_control(str(error), page), **errors}) from None
    if errors:
        raise FormError(errors)
    return config, path, attribution, overrides


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, list) and isinstance(default, list):
        return sorted(map(str, value)) == sorted(map(str, default))
    return type(value) is type(default) and value == default


def _convert(control: Control, raw: Any) -> Any:
    """A page value as the type its control stands for; the models check the rest."""
    if control.kind == "checkbox":
        if not isinstance(raw, bool):
            raise ValueError("must be on or off")
        return raw
    if control.kind == "select":
        allowed = [value for value, _ in control.options]
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw
    if control.kind == "checkboxes":
        allowed = {value for value, _ in control.options}
        if not isinstance(raw, list) or not all(isinstance(v, str) and v in allowed
                                                for v in raw):
            raise ValueError("choose from the listed values")
        return list(dict.fromkeys(raw))
    text = str(raw).strip() if isinstance(raw, str | int | float) and not isinstance(
        raw, bool) else None
    if not text:
        raise ValueError("give a number")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"give a number (got {text[:40]!r})") from None
    if not math.isfinite(number):
        raise ValueError("give a finite number")
    integral = re.fullmatch(r"[+-]?\d+", text) is not None
    if control.number == "int":
        if not number.is_integer():
            raise ValueError(f"give a whole number (got {text[:40]!r})")
        return int(number)
    if control.number == "share_or_count" and integral:
        return int(text)
    return number


def errors_by_control(message: str, page: ExperimentPage) -> dict[str, str]:
    """Map a :class:`ConfigError`'s message to the controls whose keys it names.

    The message names each problem's key path (``system.capacity: ...``); the longest
    control key it mentions gets the message, and a message that names none goes to the
    form as a whole.
    """
    text = re.sub(r"^[^:\s]+\.toml: ", "", message)
    keys = sorted((c.key for c in page.controls), key=len, reverse=True)
    found: dict[str, str] = {}
    for part in re.split(r"; (?=[a-z_]+(?:\.[\w\[\]]+)+: )", text):
        key = next((k for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", part)),
                   "")
        found[key] = f"{found[key]}; {part}" if key in found else part
    return found
