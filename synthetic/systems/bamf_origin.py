"""Origin checks of asylum applicants by dialect identification and phone-data analysis.

A toy mimic of the origin checks the German Federal Office for Migration and Refugees (BAMF)
runs on asylum applicants: a dialect identifier that scores a recording of the applicant's
speech, and an analysis of the data read out of their phone (interface language, contacts'
country codes, location history). Each instrument reports, as the real reports do, that the
evidence *confirms* the stated origin, *contradicts* it, or is *unusable*. See
``bamf_origin.md`` for the card.

The simulated world behind the checks (:class:`OriginWorld`, read from
``synthetic/profiles/origin_checks/<profile>.toml``) knows each applicant's true origin:
their nationality, the home region whose speech variety they speak (some varieties are
spoken on both sides of a border), whether their first language is a minority language in
their country, and the route by which they fled (years in a transit country leave contacts
and location history in a phone). :func:`simulate_applicants` draws all of it from each
person's own uniforms, keyed by ``person_id``, so any subset or order of rows gives the same
applicants.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.utils.validation import check_is_fitted

from synthetic.population.noise import normal_from_uniform, person_uniforms, poisson_from_uniform
from synthetic.systems.base import read_card
from synthetic.systems.memo import RecentResults, content_key

#: The three outcomes of a report, from least to most severe for the applicant.
LEVELS = ("confirms", "unusable", "contradicts")
CONFIRMS, UNUSABLE, CONTRADICTS = 0, 1, 2
#: How the dialect identifier turns its posterior into a verdict on the stated country.
VERDICTS = ("country", "variety")
#: Labels of the derived groupings.
CROSS_BORDER, ONE_COUNTRY = "variety spoken across a border", "variety of one country"
MINORITY, MAJORITY = "minority language", "majority language"
WORLDS_DIR = Path(__file__).resolve().parent.parent / "profiles" / "origin_checks"

_TABLES = ("varieties", "home_regions", "minority_languages", "routes", "phone_interface",
           "interface_countries", "false_claims", "speech", "phones", "records")
_SPEECH_KEYS = ("family_separation", "variety_separation", "region_separation",
                "recording_unusable")
_PHONE_KEYS = ("phone_rate", "extraction_rate", "contacts_mean", "contact_pull",
               "location_rate", "locations_mean", "location_home")
_RECORD_KEYS = ("other_evidence_detection", "officer_adoption")
_RATES = {"recording_unusable", "phone_rate", "extraction_rate", "location_rate",
          "location_home", "other_evidence_detection", "officer_adoption"}

#: A run checks the same applicants many times: in every replicate (the same people, another
#: reference corpus) and in every attribution world (a knob changes the corpus, the verdict
#: rule or the phone analysis, never the applicants). What depends on unchanged inputs is
#: looked up by their content: the simulated applicants, the discriminant fitted on one
#: corpus (it has no randomness) and the phone evidence of the same readouts under the same
#: rule. The results are shared: their arrays are read-only.
APPLICANTS = RecentResults(max_entries=4)
DIALECT_MODELS = RecentResults(max_entries=4)
PHONE_EVIDENCE = RecentResults(max_entries=8)


class OriginWorldError(ValueError):
    """An origin-check world file is missing, malformed or does not cover the population."""


@dataclass(frozen=True, eq=False)
class OriginWorld:
    """Dialect regions, routes of flight and phone traces, compiled into arrays.

    Attributes
    ----------
    name, path : str
    regions : tuple of str
        Home regions, ``"<country>: <region>"``.
    region_country : tuple of str
        ISO3 country of each region.
    region_variety, region_family : ndarray of int
        Index of each region's variety and family.
    varieties, families : tuple of str
    cross_border : ndarray of bool
        Whether each region's variety is also spoken in a region of another country.
    home : dict
        ``(nationality, first_language) -> (region indices, shares)``.
    minority : dict
        Nationality -> minority languages.
    routes : dict
        Nationality -> list of ``(route, transit country, years, share)``.
    interface : dict
        First language -> ``(interface languages, shares)``.
    interface_countries : dict
        Interface language -> countries it indicates.
    false_claims : dict
        Nationality -> the country a false claim names.
    speech, phones, records : dict of str to float
    """

    name: str
    path: str
    regions: tuple[str, ...]
    region_country: tuple[str, ...]
    region_variety: np.ndarray
    region_family: np.ndarray
    varieties: tuple[str, ...]
    families: tuple[str, ...]
    cross_border: np.ndarray
    home: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    minority: dict[str, frozenset[str]]
    routes: dict[str, list[tuple[str, str, float, float]]]
    interface: dict[str, tuple[tuple[str, ...], np.ndarray]]
    interface_countries: dict[str, tuple[str, ...]]
    false_claims: dict[str, str]
    speech: dict[str, float] = field(repr=False)
    phones: dict[str, float] = field(repr=False)
    records: dict[str, float] = field(repr=False)

    @property
    def countries(self) -> tuple[str, ...]:
        """Every country the world names (home, transit, interface, claimed), sorted."""
        named = set(self.region_country) | set(self.false_claims.values())
        named |= {transit for routes in self.routes.values() for _, transit, _, _ in routes}
        named |= {c for countries in self.interface_countries.values() for c in countries}
        return tuple(sorted(named))

    def check_covers(self, pairs: set[tuple[str, str]]) -> None:
        """Raise OriginWorldError unless every (nationality, first language) is described."""
        missing = sorted(p for p in pairs if p not in self.home)
        if missing:
            shown = ", ".join(f"{n}.{lang}" for n, lang in missing[:5])
            raise OriginWorldError(
                f"origin world {self.name!r} has no [home_regions] entry for {shown}; add "
                "them to its file, or choose the world of this population profile")
        nationalities = {n for n, _ in pairs}
        for table, entries in (("routes", self.routes), ("false_claims", self.false_claims)):
            absent = sorted(nationalities - set(entries))
            if absent:
                raise OriginWorldError(f"origin world {self.name!r} has no [{table}] entry for "
                                       f"{', '.join(absent)}; add one per nationality")
        languages = sorted({lang for _, lang in pairs} - set(self.interface))
        if languages:
            raise OriginWorldError(f"origin world {self.name!r} has no [phone_interface] entry "
                                   f"for {', '.join(languages)}; add one per first language")


def load_origin_world(name_or_path: str | Path) -> OriginWorld:
    """Read and validate an origin-check world by shipped name or by path.

    Parameters
    ----------
    name_or_path : str or Path
        A file stem in ``synthetic/profiles/origin_checks/`` (the world of the population
        profile of the same name) or the path of a TOML file.

    Returns
    -------
    OriginWorld

    Raises
    ------
    OriginWorldError
        Naming the table and key at fault.
    """
    text = str(name_or_path)
    path = Path(text) if text.endswith(".toml") or Path(text).parent != Path(".") else \
        WORLDS_DIR / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in WORLDS_DIR.glob("*.toml")))
        raise OriginWorldError(f"origin world {text!r} not found; shipped worlds: {known} "
                               "(or give the path of a .toml file)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise OriginWorldError(f"origin world {str(path)!r} is not valid TOML: {error}") from None
    return _compile(data, path)


def _compile(data: dict[str, Any], path: Path) -> OriginWorld:
    name = str(data.get("name", path.stem))

    def fail(message: str) -> None:
        raise OriginWorldError(f"origin world {name!r}: {message}")

    for table in _TABLES:
        value = data.get(table)
        if not isinstance(value, dict):
            fail(f"missing table [{table}]")
        if not isinstance(value.get("source"), str) or not value["source"].strip():
            fail(f"[{table}] names no source; add source = \"<public source>\" or "
                 "source = \"illustrative assumption\"")

    def entries(table: str) -> dict[str, Any]:
        return {k: v for k, v in data[table].items() if k != "source"}

    def number(table: str, key: str) -> float:
        value = data[table].get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            fail(f"{table}.{key} must be a non-negative number, got {value!r}")
        if key in _RATES and value > 1:
            fail(f"{table}.{key} = {value} is a probability; give a value in [0, 1]")
        return float(value)

    def distribution(table: dict[str, Any], where: str) -> tuple[tuple[str, ...], np.ndarray]:
        if not table:
            fail(f"{where} is empty")
        shares = np.array([float(v) for v in table.values()])
        if np.any(shares < 0) or abs(shares.sum() - 1) > 1e-6:
            fail(f"{where} shares add up to {shares.sum():.6g}; make them non-negative and sum "
                 "to 1")
        return tuple(table), shares / shares.sum()

    variety_families: dict[str, str] = {}
    for variety, entry in entries("varieties").items():
        if not isinstance(entry, dict) or not isinstance(entry.get("family"), str):
            fail(f"varieties.{variety!r} needs family = \"...\"")
        variety_families[variety] = entry["family"]
    varieties = tuple(variety_families)
    families = tuple(dict.fromkeys(variety_families.values()))

    regions, region_country, region_variety = [], [], []
    home: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for nationality, languages in entries("home_regions").items():
        if not isinstance(languages, dict):
            fail(f"home_regions.{nationality} must be a table of first language = [regions]")
        for language, listed in languages.items():
            where = f"home_regions.{nationality}.{language}"
            if not isinstance(listed, list) or not listed:
                fail(f"{where} must list regions like [{{ region = \"...\", variety = \"...\", "
                     "share = 1.0 }]")
            indices, shares = [], {}
            for item in listed:
                if not isinstance(item, dict) or not {"region", "variety", "share"} <= set(item):
                    fail(f"{where}: each region needs region, variety and share")
                if item["variety"] not in variety_families:
                    fail(f"{where}: variety {item['variety']!r} is not listed in [varieties]")
                label = f"{nationality}: {item['region']}"
                if label not in regions:
                    regions.append(label)
                    region_country.append(nationality)
                    region_variety.append(varieties.index(item["variety"]))
                indices.append(regions.index(label))
                shares[label] = item["share"]
            _, probabilities = distribution(shares, where)
            home[(nationality, language)] = (np.array(indices), probabilities)
    region_variety_array = np.array(region_variety, dtype=np.int64)
    countries_of_variety: dict[int, set[str]] = {}
    for country, variety in zip(region_country, region_variety, strict=True):
        countries_of_variety.setdefault(variety, set()).add(country)
    cross_border = np.array([len(countries_of_variety[v]) > 1 for v in region_variety])

    minority = {}
    for nationality, languages in entries("minority_languages").items():
        if not isinstance(languages, list):
            fail(f"minority_languages.{nationality} must be a list of languages")
        minority[nationality] = frozenset(str(lang) for lang in languages)

    routes: dict[str, list[tuple[str, str, float, float]]] = {}
    for nationality, listed in entries("routes").items():
        where = f"routes.{nationality}"
        if not isinstance(listed, list) or not listed:
            fail(f"{where} must list routes like [{{ route = \"...\", transit = \"TUR\", "
                 "years = 1.0, share = 1.0 }]")
        for item in listed:
            if not isinstance(item, dict) or not {"route", "transit", "years", "share"} <= \
                    set(item):
                fail(f"{where}: each route needs route, transit, years and share")
            if not float(item["years"]) >= 0:
                fail(f"{where}: years must be non-negative, got {item['years']!r}")
        _, probabilities = distribution({str(i): r["share"] for i, r in enumerate(listed)},
                                        where)
        routes[nationality] = [(str(r["route"]), str(r["transit"]), float(r["years"]), float(p))
                               for r, p in zip(listed, probabilities, strict=True)]

    interface = {language: distribution(table, f"phone_interface.{language}")
                 for language, table in entries("phone_interface").items()}
    interface_countries = {lang: tuple(str(c) for c in countries)
                           for lang, countries in entries("interface_countries").items()}
    for language, (names, _) in interface.items():
        unknown = [n for n in names if n not in interface_countries]
        if unknown:
            fail(f"phone_interface.{language} names interface language {unknown[0]!r}, which "
                 "[interface_countries] does not list")
    false_claims = {str(k): str(v) for k, v in entries("false_claims").items()}
    for nationality, claimed in false_claims.items():
        if claimed == nationality:
            fail(f"false_claims.{nationality} names the nationality itself; name another "
                 "country")

    return OriginWorld(
        name=name, path=str(path), regions=tuple(regions), region_country=tuple(region_country),
        region_variety=region_variety_array,
        region_family=np.array([families.index(variety_families[varieties[v]])
                                for v in region_variety], dtype=np.int64),
        varieties=varieties, families=families, cross_border=cross_border, home=home,
        minority=minority, routes=routes, interface=interface,
        interface_countries=interface_countries, false_claims=false_claims,
        speech={k: number("speech", k) for k in _SPEECH_KEYS},
        phones={k: number("phones", k) for k in _PHONE_KEYS},
        records={k: number("records", k) for k in _RECORD_KEYS},
    )


def _draw(u: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Category index by inverse CDF of one uniform per person."""
    return np.minimum(np.searchsorted(np.cumsum(shares), u, side="right"), len(shares) - 1)


def _binomial(u: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial counts by inverse CDF (one uniform per person)."""
    return stats.binom.ppf(u, n, np.clip(p, 0.0, 1.0)).astype(np.int64)


def _column_parts(column: pd.Series) -> list[Any]:
    """A column as :func:`content_key` parts: a categorical one by its categories and codes
    (cheaper than hashing every row), any other as the Series."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return ["categorical", list(column.cat.categories), column.cat.codes.to_numpy()]
    return [column]


def _world_key(world: OriginWorld) -> bytes:
    """Digest of everything an origin world holds (its path aside)."""
    return content_key(
        "world", world.name, world.regions, world.region_country, world.region_variety,
        world.region_family, world.varieties, world.families, world.cross_border,
        sorted((k, v[0].tolist(), v[1].tolist()) for k, v in world.home.items()),
        sorted((k, sorted(v)) for k, v in world.minority.items()),
        sorted(world.routes.items()),
        sorted((k, v[0], v[1].tolist()) for k, v in world.interface.items()),
        sorted(world.interface_countries.items()), sorted(world.false_claims.items()),
        sorted(world.speech.items()), sorted(world.phones.items()),
        sorted(world.records.items()))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass
class Applicants:
    """The truth about each applicant, and what their voice and phone hold.

    Attributes
    ----------
    table : DataFrame
        One row per person, indexed like ``people``: ``home_region``, ``home_area`` (their
        variety is spoken across a border or in one country), ``language_status`` (minority or
        majority language in their country), ``route_of_flight``, ``transit_country``,
        ``false_claim`` (their stated origin is false) and ``claimed_origin``.
    region : ndarray of int
        Home-region index of each person.
    speech : ndarray of float, (n, d)
        Features of a recording of their speech.
    recording_usable : ndarray of bool
    phone : dict of str to ndarray
        ``has_data``, contact counts at home and in transit, location points at home and in
        transit, and the interface language.
    """

    table: pd.DataFrame
    region: np.ndarray
    speech: np.ndarray
    recording_usable: np.ndarray
    phone: dict[str, np.ndarray]

    def subset(self, rows: np.ndarray) -> Applicants:
        """The applicants of a boolean row mask, in the same order."""
        return Applicants(self.table.loc[rows], self.region[rows], self.speech[rows],
                          self.recording_usable[rows],
                          {k: v[rows] for k, v in self.phone.items()})


def simulate_applicants(people: pd.DataFrame, world: OriginWorld, seed: int,
                        false_claim_rate: float = 0.03) -> Applicants:
    """Draw every applicant's home region, route, claim, speech and phone from their uniforms.

    Parameters
    ----------
    people : DataFrame
        With ``person_id``, ``nationality`` and ``first_language``.
    world : OriginWorld
    seed : int
        Keys every uniform (with ``person_id``), so a person is the same in any subset.
    false_claim_rate : float
        Probability that a person's stated origin is false, the same for every nationality.

    Returns
    -------
    Applicants
    """
    missing = [c for c in ("person_id", "nationality", "first_language") if c not in people]
    if missing:
        raise ValueError(f"people table lacks the columns {missing}")
    if not 0 <= false_claim_rate <= 1:
        raise ValueError(f"false_claim_rate must be in [0, 1], got {false_claim_rate}")
    # Every replicate simulates the same people again: the applicants are looked up by the
    # content of what they are drawn from (arrays read-only, the table a copy of its own).
    index = people.index
    key = content_key("applicants", people["person_id"], *_column_parts(people["nationality"]),
                      *_column_parts(people["first_language"]), type(index).__name__,
                      index.name, str(index.dtype), pd.Series(index.to_numpy(), copy=False),
                      _world_key(world), seed, false_claim_rate)
    found = APPLICANTS.get(key, lambda: _simulate_applicants(people, world, seed,
                                                             false_claim_rate))
    return Applicants(found.table.copy(deep=False), found.region, found.speech,
                      found.recording_usable, dict(found.phone))


def _simulate_applicants(people: pd.DataFrame, world: OriginWorld, seed: int,
                         false_claim_rate: float) -> Applicants:
    ids = people["person_id"].to_numpy()
    nationality = people["nationality"].to_numpy()
    language = people["first_language"].to_numpy()
    pairs = pd.DataFrame({"n": nationality, "l": language}).drop_duplicates()
    world.check_covers({(str(a), str(b)) for a, b in pairs.itertuples(index=False)})

    def u(variable: str) -> np.ndarray:
        return person_uniforms(seed, ids, f"bamf_origin:{variable}")

    n = len(people)
    # Work on category codes: one pass per (nationality, language) pair, never per person.
    nat_cat = pd.Categorical(nationality)
    lang_cat = pd.Categorical(language)
    nat_code = nat_cat.codes.astype(np.int64)
    lang_code = lang_cat.codes.astype(np.int64)
    n_lang = len(lang_cat.categories)
    pair = nat_code * n_lang + lang_code
    region = np.zeros(n, dtype=np.int64)
    minority = np.zeros(n, dtype=bool)
    draw = u("home_region")
    for code in np.unique(pair):
        rows = pair == code
        nat = str(nat_cat.categories[code // n_lang])
        lang = str(lang_cat.categories[code % n_lang])
        indices, shares = world.home[(nat, lang)]
        region[rows] = indices[_draw(draw[rows], shares)]
        minority[rows] = lang in world.minority.get(nat, frozenset())

    route_names = sorted({r[0] for routes in world.routes.values() for r in routes})
    transit_names = sorted({r[1] for routes in world.routes.values() for r in routes})
    route_code = np.zeros(n, dtype=np.int64)
    transit_code = np.zeros(n, dtype=np.int64)
    years = np.zeros(n)
    route_draw = u("route")
    for code, nat in enumerate(nat_cat.categories):
        rows = nat_code == code
        if not rows.any():
            continue
        listed = world.routes[str(nat)]
        pick = _draw(route_draw[rows], np.array([r[3] for r in listed]))
        route_code[rows] = np.array([route_names.index(r[0]) for r in listed])[pick]
        transit_code[rows] = np.array([transit_names.index(r[1]) for r in listed])[pick]
        years[rows] = np.array([r[2] for r in listed])[pick]

    false_claim = u("false_claim") < false_claim_rate
    instead = np.array([world.false_claims[str(c)] for c in nat_cat.categories])
    claimed = np.where(false_claim, instead[nat_code], np.asarray(nat_cat.categories)[nat_code]
                       ).astype(str)

    speech = world.speech
    n_f, n_v, n_r = len(world.families), len(world.varieties), len(world.regions)
    centroids = np.zeros((n_r, n_f + n_v + n_r))
    rows = np.arange(n_r)
    centroids[rows, world.region_family] = speech["family_separation"]
    centroids[rows, n_f + world.region_variety] = speech["variety_separation"]
    centroids[rows, n_f + n_v + rows] = speech["region_separation"]
    noise = np.column_stack([normal_from_uniform(u(f"speech_{j}"))
                             for j in range(centroids.shape[1])])
    features = centroids[region] + noise
    recording_usable = u("recording") >= speech["recording_unusable"]

    phones = world.phones
    has_data = (u("phone") < phones["phone_rate"]) & (u("extraction") < phones["extraction_rate"])
    contacts = poisson_from_uniform(u("contacts"), np.full(n, phones["contacts_mean"]))
    contacts_home = _binomial(u("contacts_home"), contacts,
                              1.0 / (1.0 + phones["contact_pull"] * years))
    located = u("locations_on") < phones["location_rate"]
    points = np.where(located, poisson_from_uniform(u("locations"),
                                                    np.full(n, phones["locations_mean"])), 0)
    # Location points fall at home, in the transit country or in Germany (which says nothing
    # about origin); time in transit shifts them from home to the transit country.
    p_home = phones["location_home"] / (1.0 + years)
    p_transit = (1 - phones["location_home"]) * years / (1.0 + years)
    points_home = _binomial(u("locations_home"), points, p_home)
    points_transit = _binomial(u("locations_transit"), points - points_home,
                               p_transit / np.maximum(1 - p_home, 1e-12))
    interface_names = sorted(world.interface_countries)
    interface = np.zeros(n, dtype=np.int64)
    interface_draw = u("interface")
    for code, lang in enumerate(lang_cat.categories):
        rows = lang_code == code
        if not rows.any():
            continue
        names, shares = world.interface[str(lang)]
        codes = np.array([interface_names.index(x) for x in names])
        interface[rows] = codes[_draw(interface_draw[rows], shares)]

    table = pd.DataFrame({
        "home_region": pd.Categorical.from_codes(region, categories=list(world.regions)),
        "home_area": pd.Categorical.from_codes(world.cross_border[region].astype(np.int8),
                                               categories=[ONE_COUNTRY, CROSS_BORDER]),
        "language_status": pd.Categorical.from_codes(minority.astype(np.int8),
                                                     categories=[MAJORITY, MINORITY]),
        "route_of_flight": pd.Categorical.from_codes(route_code, categories=route_names),
        "transit_country": pd.Categorical.from_codes(transit_code, categories=transit_names),
        "false_claim": false_claim,
        "claimed_origin": claimed,
    }, index=people.index)
    phone = {"has_data": has_data, "contacts": contacts, "contacts_home": contacts_home,
             "points": points, "points_home": points_home, "points_transit": points_transit,
             "interface": interface, "transit_years": years}
    return Applicants(
        table=table, region=_read_only(region), speech=_read_only(features),
        recording_usable=_read_only(recording_usable),
        phone={k: _read_only(v) for k, v in phone.items()},
    )


def corpus_mask(applicants: Applicants, people: pd.DataFrame, seed: int, share: float,
                representation: float) -> np.ndarray:
    """Who among ``people`` is recorded for the dialect identifier's reference corpus.

    Each person enters with probability ``share``; speakers of a minority language or of a
    variety spoken across a border with ``share * representation`` (``representation = 1``:
    the corpus mirrors the population; below 1 it under-represents them).
    """
    if not 0 < share <= 1 or not 0 <= representation <= 1:
        raise ValueError(f"corpus share must be in (0, 1] and representation in [0, 1], got "
                         f"{share} and {representation}")
    table = applicants.table
    marginal = ((table["home_area"] == CROSS_BORDER) | (table["language_status"] == MINORITY)
                ).to_numpy()
    probability = np.where(marginal, share * representation, share)
    return person_uniforms(seed, people["person_id"].to_numpy(), "bamf_origin:corpus") < \
        probability


class DialectIdentifier(BaseEstimator):
    """Country of origin from speech features, learned from a labelled reference corpus.

    A linear discriminant over home regions (classes and priors as the corpus has them);
    the support for the stated country is the posterior mass of the regions in it
    (``verdict="country"``) or of the varieties spoken in it (``verdict="variety"``: a variety
    heard on both sides of a border supports either country).

    Parameters
    ----------
    verdict : {"country", "variety"}
    confirm_at : float
        Support at or above which the report confirms the stated origin.
    contradict_below : float
        Support below which it contradicts it.
    min_recordings : int
        A home region with fewer recordings in the corpus gets no model of its own (its
        speakers are heard as the nearest region that has one).

    Attributes
    ----------
    model_ : LinearDiscriminantAnalysis
    support_ : ndarray, (n_classes, n_countries)
        Which corpus class supports which country.
    countries_ : tuple of str
    """

    card_name = "bamf_origin"

    def __init__(self, verdict: str = "country", confirm_at: float = 0.7,
                 contradict_below: float = 0.2, min_recordings: int = 5) -> None:
        self.verdict = verdict
        self.confirm_at = confirm_at
        self.contradict_below = contradict_below
        self.min_recordings = min_recordings

    def fit(self, features: np.ndarray, regions: np.ndarray, world: OriginWorld
            ) -> DialectIdentifier:
        """Learn the regions' speech from the corpus (features and true home regions)."""
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not 0 <= self.contradict_below < self.confirm_at <= 1:
            raise ValueError("thresholds need 0 <= contradict_below < confirm_at <= 1, got "
                             f"{self.contradict_below} and {self.confirm_at}")
        present, counts = np.unique(regions, return_counts=True)
        modelled = np.isin(regions, present[counts >= self.min_recordings])
        if len(present[counts >= self.min_recordings]) < 2:
            raise ValueError(f"the reference corpus holds fewer than two home regions with "
                             f"{self.min_recordings} recordings or more; enlarge it")
        # The discriminant fits without randomness: worlds that change only the verdict rule
        # or the phone analysis read the model fitted on the same corpus.
        model_key = content_key("dialect", self.min_recordings, np.asarray(features),
                                np.asarray(regions))
        self.model_ = DIALECT_MODELS.get(model_key, lambda: LinearDiscriminantAnalysis(
            solver="lsqr").fit(features[modelled], regions[modelled]))
        self.countries_ = world.countries
        classes = self.model_.classes_
        country = np.array([world.region_country[c] for c in classes])
        if self.verdict == "country":
            support = country[:, None] == np.array(self.countries_)[None, :]
        else:
            spoken = {k: {world.region_variety[r] for r in range(len(world.regions))
                          if world.region_country[r] == k} for k in self.countries_}
            support = np.array([[world.region_variety[c] in spoken[k] for k in self.countries_]
                                for c in classes])
        self.support_ = support.astype(np.float64)
        return self

    def claim_support(self, features: np.ndarray, claimed: np.ndarray) -> np.ndarray:
        """Posterior support for each person's stated country, in [0, 1]."""
        check_is_fitted(self, "model_")
        by_country = self.model_.predict_proba(features) @ self.support_
        column = pd.Index(self.countries_).get_indexer(claimed.astype(str))
        # A country the world never names has no support at all.
        return np.where(column >= 0, by_country[np.arange(len(claimed)), column], 0.0)

    def verify(self, features: np.ndarray, claimed: np.ndarray, usable: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Report codes (0 confirms, 1 unusable, 2 contradicts) and the support behind them."""
        support = self.claim_support(features, claimed)
        code = np.where(support >= self.confirm_at, CONFIRMS,
                        np.where(support < self.contradict_below, CONTRADICTS, UNUSABLE))
        return np.where(usable, code, UNUSABLE).astype(np.int8), support

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


class PhoneAnalysis(BaseEstimator):
    """Origin evidence from a phone readout: contacts, location history, interface language.

    Each kind of trace gives every country a share of the evidence (contacts' country codes
    and location points by country; the interface language, with weight
    ``interface_weight``, split among the countries where it is a state language). The report
    confirms when the stated country holds at least ``confirm_at`` of the evidence and
    contradicts when it holds less than ``contradict_below`` while another country holds at
    least ``contradict_other``; it is unusable without a readout, with fewer than
    ``min_traces`` contacts and location points together, or in between.

    Parameters
    ----------
    counts_transit : bool
        Whether traces in the country of the applicant's stated route of flight count as
        evidence of origin (True, as a readout reads them). False discounts them.
    confirm_at, contradict_below, contradict_other : float
    min_traces : int
    interface_weight : float
    """

    def __init__(self, counts_transit: bool = True, confirm_at: float = 0.5,
                 contradict_below: float = 0.2, contradict_other: float = 0.4,
                 min_traces: int = 10, interface_weight: float = 0.5) -> None:
        self.counts_transit = counts_transit
        self.confirm_at = confirm_at
        self.contradict_below = contradict_below
        self.contradict_other = contradict_other
        self.min_traces = min_traces
        self.interface_weight = interface_weight

    def evidence(self, applicants: Applicants, people: pd.DataFrame, world: OriginWorld
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Share of the evidence for the stated country, and the largest share of another."""
        phone = applicants.phone
        key = content_key(
            "phone", self.counts_transit, self.interface_weight, sorted(phone),
            *[np.asarray(phone[k]) for k in sorted(phone)],
            *_column_parts(people["nationality"]),
            *_column_parts(applicants.table["transit_country"]),
            *_column_parts(applicants.table["claimed_origin"]),
            sorted(world.interface_countries.items()))
        claim, other = PHONE_EVIDENCE.get(key, lambda: tuple(
            _read_only(a) for a in self._evidence(applicants, people, world)))
        return claim.copy(), other.copy()

    def _evidence(self, applicants: Applicants, people: pd.DataFrame, world: OriginWorld
                  ) -> tuple[np.ndarray, np.ndarray]:
        phone = applicants.phone
        home = people["nationality"].astype(str).to_numpy()
        transit = applicants.table["transit_country"].to_numpy(dtype=str)
        claimed = applicants.table["claimed_origin"].to_numpy(dtype=str)
        keep = 1.0 if self.counts_transit else 0.0
        contacts_home = phone["contacts_home"].astype(np.float64)
        contacts_transit = keep * (phone["contacts"] - phone["contacts_home"])
        points_home = phone["points_home"].astype(np.float64)
        points_transit = keep * phone["points_transit"]

        def shares(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            total = a + b
            present = total > 0
            safe = np.where(present, total, 1.0)
            return a / safe, b / safe, present.astype(np.float64)

        c_home, c_transit, c_present = shares(contacts_home, contacts_transit)
        p_home, p_transit, p_present = shares(points_home, points_transit)
        interface_names = sorted(world.interface_countries)
        # Interface evidence for home, transit and claimed country: the weight split among
        # the interface language's countries (a transit country's share dropped with it).
        split = {name: world.interface_countries[name] for name in interface_names}

        def interface_share(country: np.ndarray) -> np.ndarray:
            out = np.zeros(len(country))
            for code, name in enumerate(interface_names):
                rows = phone["interface"] == code
                if rows.any() and split[name]:
                    out[rows] = np.isin(country[rows], split[name]) / len(split[name])
            return out

        with_interface = np.array([len(split[name]) > 0 for name in interface_names])[
            phone["interface"]].astype(np.float64)
        transit_interface = interface_share(transit)
        dropped = (1 - keep) * transit_interface * (transit != home)
        weight = self.interface_weight
        total = c_present + p_present + weight * (with_interface - dropped)
        home_evidence = c_home + p_home + weight * interface_share(home)
        transit_evidence = c_transit + p_transit + keep * weight * transit_interface
        claimed_is_home = claimed == home
        claimed_is_transit = claimed == transit
        claimed_evidence = np.where(claimed_is_home, home_evidence,
                                    np.where(claimed_is_transit, transit_evidence,
                                             weight * interface_share(claimed)))
        other = np.maximum(np.where(claimed_is_home, 0.0, home_evidence),
                           np.where(claimed_is_transit | (transit == home), 0.0,
                                    transit_evidence))
        safe = np.where(total > 0, total, 1.0)
        return claimed_evidence / safe, other / safe

    def verify(self, applicants: Applicants, people: pd.DataFrame, world: OriginWorld
               ) -> np.ndarray:
        """Report codes (0 confirms, 1 unusable, 2 contradicts)."""
        claim, other = self.evidence(applicants, people, world)
        phone = applicants.phone
        traces = phone["contacts"] + phone["points"]
        usable = phone["has_data"] & (traces >= self.min_traces)
        code = np.where(claim >= self.confirm_at, CONFIRMS,
                        np.where((claim < self.contradict_below)
                                 & (other >= self.contradict_other), CONTRADICTS, UNUSABLE))
        return np.where(usable, code, UNUSABLE).astype(np.int8)


def combine(dialect: np.ndarray, phone: np.ndarray) -> np.ndarray:
    """One origin finding from two reports.

    Contradicts when one report contradicts and the other does not confirm; confirms when one
    confirms and neither contradicts; unusable otherwise (both unusable, or the two reports
    conflict).
    """
    contradicts = ((dialect == CONTRADICTS) & (phone != CONFIRMS)) | (
        (phone == CONTRADICTS) & (dialect != CONFIRMS))
    confirms = ((dialect == CONFIRMS) | (phone == CONFIRMS)) & (dialect != CONTRADICTS) & (
        phone != CONTRADICTS)
    return np.where(contradicts, CONTRADICTS, np.where(confirms, CONFIRMS, UNUSABLE)).astype(
        np.int8)


def recorded_false_origin(applicants: Applicants, people: pd.DataFrame, world: OriginWorld,
                          finding: np.ndarray, seed: int) -> np.ndarray:
    """Whether the case file records the stated origin as false.

    A false claim is found by other evidence with probability ``other_evidence_detection``;
    an officer adopts a contradicting finding with probability ``officer_adoption``, so the
    record partly repeats the check it would be used to audit.
    """
    ids = people["person_id"].to_numpy()
    found = applicants.table["false_claim"].to_numpy() & (
        person_uniforms(seed, ids, "bamf_origin:record_found")
        < world.records["other_evidence_detection"])
    adopted = (finding == CONTRADICTS) & (
        person_uniforms(seed, ids, "bamf_origin:record_adopted")
        < world.records["officer_adoption"])
    return found | adopted
