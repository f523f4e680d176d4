"""Bias mechanisms: named, composable transforms from the true world to the recorded world.

Each mechanism is a frozen dataclass with a ``strength`` (0 = off, documented scale and range)
and ``targets`` (which groups it acts on: ISO3 nationality codes or ``"region:<region name>"``).
Its :meth:`~Mechanism.apply` adds ``recorded_*`` (or observation) columns beside the true ones
and never overwrites truth. Randomness comes from per-person uniforms keyed by ``person_id``
(see :func:`synthetic.population.noise.person_uniforms`), so results do not depend on chunking
and a counterfactual twin sees the same noise as the person.

Configuration, as it comes from a TOML experiment file::

    {"label_bias": {"strength": 0.5, "targets": ["region:Middle East and North Africa", "IRN"]},
     "surveillance_intensity": {"strength": 1.0, "targets": ["HTI"]}}

Mechanisms not named are off (``proxy_leakage`` defaults to 1, the profile's realistic
dependence). :func:`apply_mechanisms` always adds every recorded column, so downstream code can
rely on them; with every strength at 0 each ``recorded_X`` equals the true ``X`` and the
observation columns (``surveillance_coverage``, ``observed_posts_per_month``,
``plate_reader_hits``, ``prior_contacts``, ``in_training_sample``) depend on neighbourhood,
behaviour and truth in the same way for every group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthetic.population.errors import PopulationInputError
from synthetic.population.noise import (
    BLOCK_SIZE,
    normal_from_uniform,
    person_uniforms,
    poisson_from_uniform,
)

_REGION_PREFIX = "region:"


def target_mask(people: pd.DataFrame, targets: Sequence[str]) -> np.ndarray:
    """Whether each person belongs to a target: an ISO3 nationality or ``region:<name>``."""
    codes = [t for t in targets if not t.startswith(_REGION_PREFIX)]
    regions = [t[len(_REGION_PREFIX):] for t in targets if t.startswith(_REGION_PREFIX)]
    mask = np.zeros(len(people), dtype=bool)
    if codes:
        mask |= people["nationality"].isin(codes).to_numpy()
    if regions:
        mask |= people["region_of_origin"].isin(regions).to_numpy()
    return mask
_CONFIG_KEYS = ("strength", "targets")


@dataclass(frozen=True)
class Mechanism:
    """Base class: a strength knob and the targeted groups.

    Parameters
    ----------
    strength : float
        0 switches the mechanism off; the scale is documented on each subclass.
    targets : tuple of str
        ISO3 nationality codes and ``"region:<name>"`` entries naming the targeted groups.
    """

    name: ClassVar[str] = ""
    #: Columns the mechanism writes or may change.
    columns: ClassVar[tuple[str, ...]] = ()
    max_strength: ClassVar[float] = 1.0
    uses_targets: ClassVar[bool] = True

    strength: float = 0.0
    targets: tuple[str, ...] = ()

    def targeted(self, people: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the people in a targeted group."""
        return target_mask(people, self.targets)

    def uniforms(self, people: pd.DataFrame, seed: int, stream: str) -> np.ndarray:
        """One uniform per person for ``stream`` of this mechanism, keyed by ``person_id``."""
        return person_uniforms(
            seed, people["person_id"].to_numpy(), f"mechanism:{self.name}:{stream}", BLOCK_SIZE
        )

    def apply(self, people: pd.DataFrame, seed: int) -> pd.DataFrame:  # pragma: no cover
        """Return a new frame with this mechanism's columns added."""
        raise NotImplementedError


@dataclass(frozen=True)
class LabelBias(Mechanism):
    """Over-recording of true events for targeted groups (over-policing).

    Real phenomenon: where police and immigration officers look more, more of what happens is
    written down, and suspicion produces records of events that did not happen; records are
    then used as if they measured behaviour.

    Scale: strength ``s`` in [0, 5]. A true event (criminal record, overstay) of a person in a
    targeted group is always recorded; one of anybody else is recorded with probability
    ``1 / (1 + s)``, so targeted groups' events are recorded ``1 + s`` times as often
    (``s = 1``: twice as often). People in targeted groups without the event also get false
    records: a minor record with probability ``0.02 * s``, a serious one with ``0.002 * s``,
    and, if they hold a visa with an expiry date, a recorded overstay with ``0.01 * s``.
    At ``s = 0`` recorded equals true.

    Writes ``recorded_criminal_record``, ``recorded_serious_crime``, ``recorded_overstay``.
    """

    name: ClassVar[str] = "label_bias"
    columns: ClassVar[tuple[str, ...]] = (
        "recorded_criminal_record", "recorded_serious_crime", "recorded_overstay",
    )
    max_strength: ClassVar[float] = 5.0
    false_minor_rate: ClassVar[float] = 0.02
    false_serious_rate: ClassVar[float] = 0.002
    false_overstay_rate: ClassVar[float] = 0.01

    def apply(self, people: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Add the recorded criminal record and overstay columns; see the class docstring."""
        s = float(self.strength)
        truth = people["true_criminal_record"]
        true_codes = truth.cat.codes.to_numpy()
        true_overstay = people["true_overstay"].to_numpy()
        if s == 0:
            recorded_codes = true_codes.copy()
            recorded_overstay = true_overstay.copy()
        else:
            targeted = self.targeted(people)
            detect = np.where(targeted, 1.0, 1.0 / (1.0 + s))
            kept = self.uniforms(people, seed, "detect_crime") < detect
            recorded_codes = np.where(kept, true_codes, 0).astype(true_codes.dtype)
            u_false = self.uniforms(people, seed, "false_crime")
            false_serious = targeted & (true_codes == 0) & (u_false < self.false_serious_rate * s)
            false_minor = (
                targeted & (true_codes == 0) & ~false_serious
                & (u_false < (self.false_serious_rate + self.false_minor_rate) * s)
            )
            recorded_codes[false_serious] = 2
            recorded_codes[false_minor] = 1
            kept_overstay = self.uniforms(people, seed, "detect_overstay") < detect
            has_expiry = people["days_to_visa_expiry"].to_numpy() != 0
            false_overstay = (
                targeted & ~true_overstay & has_expiry
                & (self.uniforms(people, seed, "false_overstay") < self.false_overstay_rate * s)
            )
            recorded_overstay = (true_overstay & kept_overstay) | false_overstay
        recorded = pd.Categorical.from_codes(recorded_codes, dtype=truth.dtype)
        return people.assign(
            recorded_criminal_record=recorded,
            recorded_serious_crime=recorded_codes == 2,
            recorded_overstay=recorded_overstay,
        )


@dataclass(frozen=True)
class MeasurementBias(Mechanism):
    """Noise and missingness in what is recorded about targeted groups.

    Real phenomena: names transliterated from non-Latin scripts are spelled many ways and match
    records badly; foreign records are missing or unreliable; physical descriptors such as
    tattoos are read as signs of gang membership for some groups and not others.

    Scale: strength ``s`` in [0, 5]. For people in targeted groups: a tattooed person who is
    not a gang member is recorded as one with probability ``min(1, 0.05 * s)``; the name-match
    quality drops by ``min(1, s * U * w)`` with ``U`` uniform and ``w = 0.2`` for transliterated
    names, ``0.05`` otherwise; years in the country are missing (NaN) with probability
    ``min(1, 0.04 * s)`` and otherwise recorded with normal noise of standard deviation
    ``0.5 * s`` years (clipped at 0). Other people, and everyone at ``s = 0``: recorded equals
    true and name-match quality is 1.

    Writes ``recorded_gang_affiliation``, ``recorded_name_match_quality``,
    ``recorded_years_in_country``.
    """

    name: ClassVar[str] = "measurement_bias"
    columns: ClassVar[tuple[str, ...]] = (
        "recorded_gang_affiliation", "recorded_name_match_quality", "recorded_years_in_country",
    )
    max_strength: ClassVar[float] = 5.0
    tattoo_presumption_rate: ClassVar[float] = 0.05
    missing_rate: ClassVar[float] = 0.04

    def apply(self, people: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Add the recorded gang, name-match and years columns; see the class docstring."""
        s = float(self.strength)
        gang = people["true_gang_affiliation"].to_numpy()
        years = people["years_in_country"].to_numpy()
        quality = np.ones(len(people), dtype=np.float32)
        if s == 0:
            recorded_gang = gang.copy()
            recorded_years = years.copy()
        else:
            targeted = self.targeted(people)
            presumed = (
                targeted & people["has_tattoo"].to_numpy() & ~gang
                & (
                    self.uniforms(people, seed, "tattoo")
                    < min(1.0, self.tattoo_presumption_rate * s)
                )
            )
            recorded_gang = gang | presumed
            weight = np.where(people["name_transliterated"].to_numpy(), 0.2, 0.05)
            loss = np.minimum(1.0, s * self.uniforms(people, seed, "name") * weight)
            quality = np.where(targeted, 1.0 - loss, 1.0).astype(np.float32)
            noise = 0.5 * s * normal_from_uniform(self.uniforms(people, seed, "years_noise"))
            missing = self.uniforms(people, seed, "years_missing") < min(1.0, self.missing_rate * s)
            noisy = np.maximum(years + noise, 0.0)
            recorded_years = np.where(
                targeted, np.where(missing, np.nan, noisy), years
            ).astype(np.float32)
        return people.assign(
            recorded_gang_affiliation=recorded_gang,
            recorded_name_match_quality=quality,
            recorded_years_in_country=recorded_years,
        )


@dataclass(frozen=True)
class RepresentationBias(Mechanism):
    """A historical training sample that under-represents targeted groups.

    Real phenomenon: the data a system is built from (past applications, annotated posts, face
    images) holds fewer people of some origins than the population it is used on, so the system
    is tuned to the others.

    Scale: strength ``s`` in [0, 10]. Everyone is in the training sample with probability
    ``0.5``, except people in targeted groups, who are in it with probability
    ``0.5 / (1 + s)`` (``s = 1``: half as likely). At ``s = 0`` the sample is a simple random
    half of the population.

    Writes ``in_training_sample``.
    """

    name: ClassVar[str] = "representation_bias"
    columns: ClassVar[tuple[str, ...]] = ("in_training_sample",)
    max_strength: ClassVar[float] = 10.0
    base_rate: ClassVar[float] = 0.5

    def apply(self, people: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Add ``in_training_sample``; see the class docstring."""
        s = float(self.strength)
        rate = np.full(len(people), self.base_rate)
        if s > 0:
            rate[self.targeted(people)] = self.base_rate / (1.0 + s)
        return people.assign(in_training_sample=self.uniforms(people, seed, "sample") < rate)


@dataclass(frozen=True)
class SurveillanceIntensity(Mechanism):
    """How much of a person's life is observed, by group.

    Real phenomenon: some communities are watched more closely (social-media monitoring of
    visa holders of some origins, camera and licence-plate reader networks placed in some
    neighbourhoods), so the same behaviour produces more observations, and more chances of a
    (false) flag, for them.

    Scale: strength ``s`` in [0, 5]. Everyone's ``surveillance_coverage`` (share of posts and
    movements observed) is ``c = 0.3``; for targeted groups it is ``1 - (1 - c) ** (1 + s)``
    (``s = 1``: 0.51; ``s = 5``: 0.88). ``observed_posts_per_month = posts_per_month *
    coverage``; ``plate_reader_hits`` per month is Poisson with mean
    ``60 * vehicle_owner * neighbourhood_surveillance * coverage``, so it multiplies with the
    neighbourhood's camera density. At ``s = 0`` both depend only on behaviour and
    neighbourhood, identically for every group.

    Writes ``surveillance_coverage``, ``observed_posts_per_month``, ``plate_reader_hits``.
    """

    name: ClassVar[str] = "surveillance_intensity"
    columns: ClassVar[tuple[str, ...]] = (
        "surveillance_coverage", "observed_posts_per_month", "plate_reader_hits",
    )
    max_strength: ClassVar[float] = 5.0
    base_coverage: ClassVar[float] = 0.3
    trips_per_month: ClassVar[float] = 60.0

    def apply(self, people: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Add coverage, observed posts and plate-reader hits; see the class docstring."""
        s = float(self.strength)
        coverage = np.full(len(people), self.base_coverage)
        if s > 0:
            coverage[self.targeted(people)] = 1.0 - (1.0 - self.base_coverage) ** (1.0 + s)
        rate = (
            self.trips_per_month
            * people["vehicle_owner"].to_numpy()
            * people["neighbourhood_surveillance"].to_numpy()
            * coverage
        )
        hits = poisson_from_uniform(self.uniforms(people, seed, "plate_reader"), rate)
        return people.assign(
            surveillance_coverage=coverage.astype(np.float32),
            observed_posts_per_month=(people["posts_per_month"].to_numpy() * coverage).astype(
                np.float32
            ),
            plate_reader_hits=np.minimum(hits, np.iinfo(np.int16).max).astype(np.int16),
        )


@dataclass(frozen=True)
class ProxyLeakage(Mechanism):
    """How strongly language, dialect, neighbourhood and name origin track nationality.

    Real phenomenon: removing nationality from a system's inputs does not remove it from the
    decision when other inputs (first language and dialect, where one lives, the origin and
    spelling of one's name) reveal it.

    Scale: strength ``s`` in [0, 1], default 1. The proxies are drawn from
    ``s * P(proxy | nationality) + (1 - s) * P(proxy)``: ``s = 1`` is the profile's realistic
    dependence, ``s = 0`` draws them from the population-wide mix, independently of
    nationality. Speaking English, which also depends on visa type, has its rate given
    (nationality, visa type) mixed with one population-wide rate that keeps the overall share
    of English speakers, so at ``s = 0`` every proxy column, English included, is independent
    of nationality (tested by chi-square). It acts when the population is generated (pass it
    to ``generate``), changes only the columns in :data:`synthetic.population.scm.PROXY_COLUMNS`
    and what is computed from them, and takes no targets. :meth:`apply` leaves a generated
    frame unchanged.
    """

    name: ClassVar[str] = "proxy_leakage"
    columns: ClassVar[tuple[str, ...]] = (
        "first_language", "dialect", "speaks_english", "name_origin", "name_transliterated",
        "neighbourhood", "neighbourhood_surveillance",
    )
    max_strength: ClassVar[float] = 1.0
    uses_targets: ClassVar[bool] = False

    strength: float = 1.0

    def apply(self, people: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Return ``people`` unchanged: this mechanism acts at generation time."""
        return people


#: Mechanisms by name, in the order they are applied.
MECHANISMS: dict[str, type[Mechanism]] = {
    cls.name: cls
    for cls in (ProxyLeakage, LabelBias, MeasurementBias, SurveillanceIntensity, RepresentationBias)
}

#: Derived observation that several mechanisms feed.
PRIOR_CONTACT_WEIGHTS: dict[str, float] = {
    "baseline": 0.02,
    "plate_reader_hits": 0.02,
    "recorded_minor": 0.3,
    "recorded_serious": 1.0,
    "recorded_overstay": 0.5,
    "recorded_gang_affiliation": 0.5,
}


def resolve_mechanisms(
    mechanisms: Mapping[str, Any] | None,
    nationalities: tuple[str, ...] | list[str],
    regions: tuple[str, ...] | list[str],
) -> dict[str, Mechanism]:
    """Validate a mechanism configuration and return one instance per known mechanism.

    Parameters
    ----------
    mechanisms : mapping or None
        ``{name: {"strength": float, "targets": [str, ...]}}``; a value may also be a
        :class:`Mechanism` instance. Names not given are off (``proxy_leakage`` at 1).
    nationalities, regions : sequence of str
        Valid nationality codes and region names for targets.

    Returns
    -------
    dict of str to Mechanism
        Every mechanism of :data:`MECHANISMS`, in application order.

    Raises
    ------
    PopulationInputError
        Unknown mechanism or key, strength out of range, unknown or missing targets.
    """
    given = dict(mechanisms or {})
    unknown = sorted(set(given) - set(MECHANISMS))
    if unknown:
        raise PopulationInputError(
            f"unknown mechanism {unknown[0]!r}; known mechanisms: {', '.join(MECHANISMS)}"
        )
    resolved: dict[str, Mechanism] = {}
    for name, cls in MECHANISMS.items():
        spec = given.get(name)
        if spec is None:
            resolved[name] = cls()
            continue
        if isinstance(spec, Mechanism):
            spec = {"strength": spec.strength, "targets": list(spec.targets)}
        if not isinstance(spec, Mapping):
            raise PopulationInputError(
                f"mechanism {name!r} must be a table like {{strength = 0.5, targets = [\"IRN\"]}}, "
                f"got {spec!r}"
            )
        bad_keys = sorted(set(spec) - set(_CONFIG_KEYS))
        if bad_keys:
            raise PopulationInputError(
                f"mechanism {name!r} has unknown key {bad_keys[0]!r}; allowed keys: "
                f"{', '.join(_CONFIG_KEYS)}"
            )
        strength = spec.get("strength", cls.strength if name == "proxy_leakage" else 0.0)
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not (
            0.0 <= float(strength) <= cls.max_strength
        ):
            raise PopulationInputError(
                f"mechanism {name!r}: strength {strength!r} is out of range; allowed range is "
                f"[0, {cls.max_strength:g}]"
            )
        targets = spec.get("targets", [])
        if isinstance(targets, str) or not all(isinstance(t, str) for t in targets):
            raise PopulationInputError(
                f"mechanism {name!r}: targets must be a list of ISO3 codes or "
                f"'region:<name>' strings, got {targets!r}"
            )
        targets = tuple(targets)
        if targets and not cls.uses_targets:
            raise PopulationInputError(
                f"mechanism {name!r} takes no targets (it acts on everyone); remove 'targets'"
            )
        for target in targets:
            _check_target(name, target, nationalities, regions)
        if cls.uses_targets and float(strength) > 0 and not targets:
            raise PopulationInputError(
                f"mechanism {name!r} has strength {strength} but no targets; add targets such "
                "as [\"IRN\", \"region:Middle East and North Africa\"]"
            )
        resolved[name] = cls(strength=float(strength), targets=targets)
    return resolved


def _check_target(
    name: str,
    target: str,
    nationalities: tuple[str, ...] | list[str],
    regions: tuple[str, ...] | list[str],
) -> None:
    if target.startswith(_REGION_PREFIX):
        region = target[len(_REGION_PREFIX):]
        if region not in regions:
            raise PopulationInputError(
                f"mechanism {name!r}: unknown region {region!r} in target {target!r}; regions "
                f"in this population: {', '.join(regions)}"
            )
    elif target not in nationalities:
        raise PopulationInputError(
            f"mechanism {name!r}: unknown target {target!r}; use an ISO3 nationality code "
            f"of this population ({', '.join(nationalities)}) or 'region:<name>'"
        )


def mechanisms_config(resolved: Mapping[str, Mechanism]) -> dict[str, dict[str, Any]]:
    """Plain-data form of resolved mechanisms, for manifests: ``{name: {strength, targets}}``."""
    return {
        name: {"strength": m.strength, "targets": list(m.targets)} for name, m in resolved.items()
    }


def apply_mechanisms(
    people: pd.DataFrame, mechanisms: Mapping[str, Any] | None, seed: int
) -> pd.DataFrame:
    """Add the recorded world to a population: every mechanism's columns and prior contacts.

    Parameters
    ----------
    people : pandas.DataFrame
        A generated population (needs ``person_id`` and the true columns).
    mechanisms : mapping or None
        Mechanism configuration (see module docstring); ``proxy_leakage`` is validated but acts
        at generation time.
    seed : int
        Seed of the mechanisms' noise (the population seed, normally). Noise is keyed by
        ``person_id``, so any subset or chunk of rows gets the same values as the whole.

    Returns
    -------
    pandas.DataFrame
        A new frame: the input columns unchanged plus ``recorded_criminal_record``,
        ``recorded_serious_crime``, ``recorded_overstay``, ``recorded_gang_affiliation``,
        ``recorded_name_match_quality``, ``recorded_years_in_country``,
        ``surveillance_coverage``, ``observed_posts_per_month``, ``plate_reader_hits``,
        ``in_training_sample`` and ``prior_contacts``.
    """
    nationalities = list(people["nationality"].cat.categories)
    regions = list(people["region_of_origin"].cat.categories)
    resolved = resolve_mechanisms(mechanisms, nationalities, regions)
    out = people
    for mechanism in resolved.values():
        out = mechanism.apply(out, seed)
    return out.assign(prior_contacts=_prior_contacts(out, seed))


def _prior_contacts(people: pd.DataFrame, seed: int) -> np.ndarray:
    """Recorded enforcement contacts: Poisson, driven by what surveillance and records show.

    Mean ``0.02 + 0.02 * plate_reader_hits + 0.3 * [recorded minor] + 1.0 * [recorded serious]
    + 0.5 * recorded_overstay + 0.5 * recorded_gang_affiliation``.
    """
    w = PRIOR_CONTACT_WEIGHTS
    record = people["recorded_criminal_record"].cat.codes.to_numpy()
    rate = (
        w["baseline"]
        + w["plate_reader_hits"] * people["plate_reader_hits"].to_numpy()
        + w["recorded_minor"] * (record == 1)
        + w["recorded_serious"] * (record == 2)
        + w["recorded_overstay"] * people["recorded_overstay"].to_numpy()
        + w["recorded_gang_affiliation"] * people["recorded_gang_affiliation"].to_numpy()
    )
    u = person_uniforms(seed, people["person_id"].to_numpy(), "mechanism:prior_contacts")
    counts = poisson_from_uniform(u, rate)
    return np.minimum(counts, np.iinfo(np.int16).max).astype(np.int16)
