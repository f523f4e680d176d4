"""Population profiles: TOML files describing who is in a population.

A profile lists nationalities (ISO 3166 alpha-3 codes) with their shares and region of origin,
and the distributions of every other attribute by nationality, region or visa type. Every share
and distribution table carries a ``source`` key naming the public statistic it follows or saying
plainly that it is an illustrative assumption. Profiles shipped with the package live in
``synthetic/profiles/``; users may pass the path of their own file.

Resolution of a per-nationality distribution: the nationality's own entry, else its region's
entry in ``[regions]``, else ``[defaults]``. A profile may name another with ``base = "name"``:
its top-level tables then replace the base's wholesale, except ``[nationalities]``, where each
listed code inherits the base's entry for the same code and overrides the keys it sets.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from synthetic.population.errors import PopulationInputError

#: Region names used across profiles, in the order their categories are listed.
REGIONS: tuple[str, ...] = (
    "Latin America and Caribbean",
    "Middle East and North Africa",
    "Sub-Saharan Africa",
    "South Asia",
    "East Asia and Pacific",
    "Europe and Central Asia",
    "North America",
)

#: Share and probability tables must sum to 1 within this tolerance.
SUM_TOLERANCE = 1e-6

_ISO3 = re.compile(r"^[A-Z]{3}$")
_NATIONALITY_KEYS = {
    "share", "region", "languages", "dialect", "names", "female", "english", "visa",
    "neighbourhoods", "overstay_multiplier", "source",
}
_REGION_KEYS = {"skin_tone", "female", "english", "visa", "neighbourhoods", "source"}
_VISA_KEYS = {
    "status", "duration_years", "overstay_rate", "years_mean", "years_max", "age", "english",
    "protest_rate", "family_ties_mean", "vehicle_rate", "sectors", "source",
}
_CRIME_KEYS = {
    "minor", "serious", "male_multiplier", "young_multiplier", "young_age", "gang_serious",
    "source",
}
_SPEECH_KEYS = {"palestine_solidarity", "by_origin", "protest_multiplier", "source"}
_BEHAVIOUR_KEYS = {
    "gang_rate", "threat_rate", "tattoo_rate", "tattoo_gang_rate", "overstay_days_mean",
    "social_media_rate", "posts_median", "posts_sigma", "protest_posts_multiplier",
    "young_protest_multiplier", "source",
}


@dataclass(frozen=True, eq=False)
class Profile:
    """A parsed, validated population profile, compiled into arrays.

    Attributes
    ----------
    name, description, country : str
        Identity of the profile; ``description`` is one line.
    path : str
        File the profile was read from.
    raw : dict
        The merged TOML content (after ``base`` resolution).
    nationalities : tuple of str
        ISO3 codes, in category order.
    shares : numpy.ndarray
        Share of each nationality (sums to 1).
    regions : tuple of str
        Regions of origin present in the profile, in category order.
    nationality_region : numpy.ndarray
        Region code of each nationality.
    The remaining attributes are probability tables indexed by category codes; see the
    attribute comments in the source.
    """

    name: str
    description: str
    country: str
    path: str
    raw: dict[str, Any] = field(repr=False)
    nationalities: tuple[str, ...] = ()
    shares: np.ndarray = field(default=None, repr=False)  # (P,)
    regions: tuple[str, ...] = ()
    nationality_region: np.ndarray = field(default=None, repr=False)  # (P,)
    female: np.ndarray = field(default=None, repr=False)  # (P,)
    english: np.ndarray = field(default=None, repr=False)  # (P,)
    overstay_multiplier: np.ndarray = field(default=None, repr=False)  # (P,)
    visa_types: tuple[str, ...] = ()
    visa_probs: np.ndarray = field(default=None, repr=False)  # (P, V)
    visa: dict[str, np.ndarray] = field(default=None, repr=False)  # per-visa parameter arrays
    visa_statuses: tuple[str, ...] = ()
    visa_status_code: np.ndarray = field(default=None, repr=False)  # (V,) status if no overstay
    languages: tuple[str, ...] = ()
    language_probs: np.ndarray = field(default=None, repr=False)  # (P, L)
    dialect_labels: tuple[str, ...] = ()  # per nationality
    dialects: tuple[str, ...] = ()
    name_origins: tuple[str, ...] = ()
    name_probs: np.ndarray = field(default=None, repr=False)  # (P, K)
    transliterated: np.ndarray = field(default=None, repr=False)  # (K,)
    neighbourhoods: tuple[str, ...] = ()
    neighbourhood_probs: np.ndarray = field(default=None, repr=False)  # (P, NB)
    neighbourhood_surveillance: np.ndarray = field(default=None, repr=False)  # (NB,)
    skin_tone_probs: np.ndarray = field(default=None, repr=False)  # (R, 10)
    sectors: tuple[str, ...] = ()
    sector_probs: np.ndarray = field(default=None, repr=False)  # (V, S)
    coworker_mean: np.ndarray = field(default=None, repr=False)  # (S,)
    crime: dict[str, float] = field(default=None, repr=False)
    behaviour: dict[str, float] = field(default=None, repr=False)
    palestine_solidarity: np.ndarray = field(default=None, repr=False)  # (P,) from [speech]
    solidarity_protest_multiplier: float = 1.0

    def dialect_of(self, nationality: str, language: str) -> str:
        """Dialect category of ``language`` as spoken by people of ``nationality``."""
        label = self.dialect_labels[self.nationalities.index(nationality)]
        return f"{language} ({label})"


def profiles_dir() -> Path:
    """Directory holding the profiles shipped with the package."""
    return Path(str(resources.files("synthetic") / "profiles"))


def list_profiles() -> list[tuple[str, str]]:
    """Profiles shipped with the package.

    Returns
    -------
    list of (str, str)
        ``(name, one-line description)`` pairs, sorted by name.
    """
    out = []
    for path in sorted(profiles_dir().glob("*.toml")):
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        out.append((path.stem, str(data.get("description", "")).strip()))
    return out


def load_profile(name_or_path: str | Path | Profile) -> Profile:
    """Load and validate a profile by shipped name or by path.

    Parameters
    ----------
    name_or_path : str, pathlib.Path or Profile
        The name of a shipped profile (see :func:`list_profiles`), the path of a TOML file, or
        an already loaded profile (returned unchanged).

    Returns
    -------
    Profile

    Raises
    ------
    PopulationInputError
        If the profile is unknown, cannot be parsed, or its shares or distributions are invalid.
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    data, path = _read(name_or_path, seen=())
    return _compile(data, path)


def _read(name_or_path: str | Path, seen: tuple[str, ...]) -> tuple[dict[str, Any], Path]:
    text = str(name_or_path)
    candidate = Path(text)
    if text.endswith(".toml") or candidate.parent != Path("."):
        path = candidate
        if not path.is_file():
            raise PopulationInputError(
                f"profile file {text!r} not found; give an existing .toml path"
            )
    else:
        path = profiles_dir() / f"{text}.toml"
        if not path.is_file():
            names = ", ".join(name for name, _ in list_profiles())
            raise PopulationInputError(
                f"unknown profile {text!r}; available profiles: {names} (or pass a .toml path)"
            )
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise PopulationInputError(f"profile {str(path)!r} is not valid TOML: {error}") from None
    base = data.pop("base", None)
    if base is None:
        return data, path
    if base in seen:
        raise PopulationInputError(f"profile {path.stem!r} has a circular base chain via {base!r}")
    base_data, _ = _read(base, seen + (path.stem,))
    return _merge(base_data, data), path


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in child.items():
        if key == "nationalities":
            base_nats = base.get("nationalities", {})
            nats: dict[str, Any] = {}
            for code, entry in value.items():
                if isinstance(entry, dict):
                    nats[code] = {**base_nats.get(code, {}), **entry}
                else:
                    nats[code] = entry
            merged[key] = nats
        else:
            merged[key] = value
    return merged


class _Checker:
    """Validation helpers that name the profile and table in every message."""

    def __init__(self, profile: str) -> None:
        self.profile = profile

    def fail(self, message: str) -> None:
        raise PopulationInputError(f"profile {self.profile!r}: {message}")

    def table(self, data: dict[str, Any], key: str, *, allowed: set[str] | None = None) -> dict:
        value = data.get(key)
        if not isinstance(value, dict):
            self.fail(f"missing table [{key}]")
        if allowed is not None:
            self.keys(value, allowed, f"[{key}]")
        self.source(value, f"[{key}]")
        return value

    def keys(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            self.fail(
                f"unknown key {unknown[0]!r} in {where}; allowed keys: {', '.join(sorted(allowed))}"
            )

    def source(self, table: dict[str, Any], where: str) -> None:
        source = table.get("source")
        if not isinstance(source, str) or not source.strip():
            self.fail(
                f"{where} names no source; add source = \"<public statistic>\" or "
                "source = \"illustrative assumption\""
            )

    def number(self, value: Any, where: str, low: float = 0.0, high: float = np.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{where} must be a number, got {value!r}")
        if not low <= value <= high:
            self.fail(f"{where} = {value!r} is outside [{low}, {high}]")
        return float(value)

    def distribution(self, table: Any, where: str) -> dict[str, float]:
        if not isinstance(table, dict) or not table:
            self.fail(f"{where} must be a non-empty table of category = probability")
        probs = {
            str(k): self.number(v, f"{where}.{k}", 0.0, 1.0)
            for k, v in table.items()
            if k != "source"
        }
        total = sum(probs.values())
        if abs(total - 1.0) > SUM_TOLERANCE:
            direction = "over" if total > 1 else "short of"
            self.fail(
                f"{where} add up to {total:.6g}, {abs(total - 1.0):.6g} {direction} 1; "
                "fix the values so they sum to 1"
            )
        return {k: v / total for k, v in probs.items()}


def _categories(tables: list[dict[str, float]], fixed: tuple[str, ...] = ()) -> tuple[str, ...]:
    seen = dict.fromkeys(fixed)
    for table in tables:
        for key in table:
            seen.setdefault(key, None)
    return tuple(seen)


def _matrix(rows: list[dict[str, float]], categories: tuple[str, ...]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    out = np.zeros((len(rows), len(categories)))
    for r, row in enumerate(rows):
        for key, value in row.items():
            out[r, index[key]] = value
    return out


def _compile(data: dict[str, Any], path: Path) -> Profile:
    name = str(data.get("name", path.stem))
    check = _Checker(name)
    for key in ("description", "country"):
        if not isinstance(data.get(key), str):
            check.fail(f"missing top-level {key} = \"...\"")

    # Nationalities and shares.
    nat_table = check.table(data, "nationalities")
    entries = {k: v for k, v in nat_table.items() if k != "source"}
    if not entries:
        check.fail("[nationalities] lists no nationality")
    for code, entry in entries.items():
        if not _ISO3.match(code):
            check.fail(f"nationality {code!r} is not an ISO 3166 alpha-3 code (three capitals)")
        if not isinstance(entry, dict):
            check.fail(f"nationalities.{code} must be a table")
        check.keys(entry, _NATIONALITY_KEYS, f"nationalities.{code}")
        for required in ("share", "region", "languages", "names"):
            if required not in entry:
                check.fail(f"nationalities.{code} needs {required} = ...")
    share_map = check.distribution(
        {code: entry["share"] for code, entry in entries.items()}, "nationality shares"
    )
    nationalities = tuple(entries)
    shares = np.array([share_map[c] for c in nationalities])

    # Regions.
    region_tables = data.get("regions", {})
    if not isinstance(region_tables, dict):
        check.fail("[regions] must be a table of region tables")
    used_regions = {entry["region"] for entry in entries.values()}
    for region in sorted(used_regions):
        if region not in region_tables:
            check.fail(
                f"region {region!r} is used by a nationality but has no [regions.\"{region}\"] "
                f"table; known regions: {', '.join(REGIONS)}"
            )
    regions = tuple(r for r in REGIONS if r in region_tables) + tuple(
        r for r in region_tables if r not in REGIONS
    )
    for region in regions:
        table = region_tables[region]
        check.keys(table, _REGION_KEYS, f"regions.\"{region}\"")
        check.source(table, f"[regions.\"{region}\"]")
        tones = table.get("skin_tone")
        if not isinstance(tones, list) or len(tones) != 10:
            check.fail(f"regions.\"{region}\".skin_tone must list 10 probabilities (Monk 1-10)")
    skin = np.array(
        [
            list(
                check.distribution(
                    {str(i + 1): p for i, p in enumerate(region_tables[r]["skin_tone"])},
                    f"regions.\"{r}\".skin_tone",
                ).values()
            )
            for r in regions
        ]
    )
    nationality_region = np.array([regions.index(entries[c]["region"]) for c in nationalities])

    defaults = data.get("defaults", {})
    if defaults:
        check.source(defaults, "[defaults]")

    def resolve(code: str, key: str) -> Any:
        entry = entries[code]
        if key in entry:
            return entry[key], f"nationalities.{code}.{key}"
        region = entry["region"]
        if key in region_tables[region]:
            return region_tables[region][key], f"regions.\"{region}\".{key}"
        if key in defaults:
            return defaults[key], f"defaults.{key}"
        check.fail(
            f"nationality {code} has no {key!r} (set it for the nationality, region or [defaults])"
        )

    female = np.array([check.number(*resolve(c, "female"), 0, 1) for c in nationalities])
    english = np.array([check.number(*resolve(c, "english"), 0, 1) for c in nationalities])
    overstay_mult = np.array(
        [check.number(entries[c].get("overstay_multiplier", 1.0), f"{c}.overstay_multiplier")
         for c in nationalities]
    )

    # Visa types.
    visa_tables = data.get("visa_types")
    if not isinstance(visa_tables, dict) or not visa_tables:
        check.fail("missing [visa_types] tables")
    visa_types = tuple(visa_tables)
    visa_params: dict[str, list[float]] = {
        k: [] for k in (
            "duration_years", "overstay_rate", "years_mean", "years_max", "age_mean", "age_sd",
            "age_min", "age_max", "english", "protest_rate", "family_ties_mean", "vehicle_rate",
        )
    }
    statuses: list[str] = []
    sector_rows = []
    for visa_name in visa_types:
        table = visa_tables[visa_name]
        where = f"visa_types.\"{visa_name}\""
        check.keys(table, _VISA_KEYS, where)
        check.source(table, f"[{where}]")
        missing = sorted((_VISA_KEYS - {"source"}) - set(table))
        if missing:
            check.fail(f"{where} needs {', '.join(missing)}")
        statuses.append(str(table["status"]))
        for key in ("duration_years", "overstay_rate", "years_mean", "years_max", "english",
                    "protest_rate", "family_ties_mean", "vehicle_rate"):
            is_rate = key in ("overstay_rate", "english", "protest_rate", "vehicle_rate")
            high = 1.0 if is_rate else 100.0
            visa_params[key].append(check.number(table[key], f"{where}.{key}", 0.0, high))
        age = table["age"]
        if not (isinstance(age, list) and len(age) == 4):
            check.fail(f"{where}.age must be [mean, sd, min, max]")
        mean, sd, low, high = (check.number(a, f"{where}.age", 0, 120) for a in age)
        if not (sd > 0 and low < high and low <= mean <= high):
            check.fail(f"{where}.age must satisfy sd > 0 and min <= mean <= max, got {age}")
        for key, value in zip(("age_mean", "age_sd", "age_min", "age_max"), (mean, sd, low, high),
                              strict=True):
            visa_params[key].append(value)
        sector_rows.append(check.distribution(table["sectors"], f"{where}.sectors"))
    visa_rows = []
    for code in nationalities:
        value, where = resolve(code, "visa")
        dist = check.distribution(value, where)
        unknown = sorted(set(dist) - set(visa_types))
        if unknown:
            check.fail(
                f"{where} names unknown visa type {unknown[0]!r}; known: {', '.join(visa_types)}"
            )
        visa_rows.append(dist)
    visa_probs = _matrix(visa_rows, visa_types)
    # Visa types no nationality holds (e.g. in a profile built on a base) are dropped.
    used = visa_probs.sum(axis=0) > 0
    visa_types = tuple(v for v, keep in zip(visa_types, used, strict=True) if keep)
    visa_probs = visa_probs[:, used]
    visa_params = {k: [x for x, keep in zip(v, used, strict=True) if keep]
                   for k, v in visa_params.items()}
    statuses = [x for x, keep in zip(statuses, used, strict=True) if keep]
    sector_rows = [x for x, keep in zip(sector_rows, used, strict=True) if keep]
    visa_statuses = tuple(dict.fromkeys([*statuses, "overstayed"]))
    visa_status_code = np.array([visa_statuses.index(s) for s in statuses])

    # Languages, dialects, names.
    language_rows = [check.distribution(entries[c]["languages"], f"nationalities.{c}.languages")
                     for c in nationalities]
    languages = _categories(language_rows)
    language_probs = _matrix(language_rows, languages)
    dialect_labels = tuple(str(entries[c].get("dialect", c)) for c in nationalities)
    dialects = tuple(dict.fromkeys(
        f"{languages[j]} ({dialect_labels[i]})"
        for j in range(len(languages))
        for i in range(len(nationalities))
        if language_probs[i, j] > 0
    ))

    name_table = check.table(data, "name_origins")
    transliterated_map = {
        k: check.number(v, f"name_origins.{k}", 0, 1)
        for k, v in name_table.items()
        if k != "source"
    }
    name_rows = [check.distribution(entries[c]["names"], f"nationalities.{c}.names")
                 for c in nationalities]
    for c, row in zip(nationalities, name_rows, strict=True):
        unknown = sorted(set(row) - set(transliterated_map))
        if unknown:
            check.fail(f"nationalities.{c}.names uses name origin {unknown[0]!r} not listed in "
                       "[name_origins]")
    name_origins = tuple(transliterated_map)
    name_probs = _matrix(name_rows, name_origins)
    transliterated = np.array([transliterated_map[k] for k in name_origins])

    # Neighbourhoods.
    nb_table = check.table(data, "neighbourhoods")
    density = {k: check.number(v, f"neighbourhoods.{k}", 0, 1)
               for k, v in nb_table.items() if k != "source"}
    neighbourhoods = tuple(density)
    nb_rows = []
    for code in nationalities:
        value, where = resolve(code, "neighbourhoods")
        dist = check.distribution(value, where)
        unknown = sorted(set(dist) - set(neighbourhoods))
        if unknown:
            check.fail(f"{where} names neighbourhood {unknown[0]!r} not listed in [neighbourhoods]")
        nb_rows.append(dist)
    neighbourhood_probs = _matrix(nb_rows, neighbourhoods)

    # Sectors.
    sector_table = check.table(data, "sectors")
    coworkers = {k: check.number(v, f"sectors.{k}", 0, 500)
                 for k, v in sector_table.items() if k != "source"}
    sectors = tuple(coworkers)
    for visa_name, row in zip(visa_types, sector_rows, strict=True):
        unknown = sorted(set(row) - set(sectors))
        if unknown:
            check.fail(f"visa_types.\"{visa_name}\".sectors names sector {unknown[0]!r} not "
                       "listed in [sectors]")
    sector_probs = _matrix(sector_rows, sectors)

    crime_table = check.table(data, "crime", allowed=_CRIME_KEYS)
    behaviour_table = check.table(data, "behaviour", allowed=_BEHAVIOUR_KEYS)
    crime = {}
    for key in sorted(_CRIME_KEYS - {"source"}):
        if key not in crime_table:
            check.fail(f"[crime] needs {key}")
        high = 1.0 if key in ("minor", "serious", "gang_serious") else 120.0
        crime[key] = check.number(crime_table[key], f"crime.{key}", 0, high)
    if crime["minor"] + crime["serious"] > 1:
        check.fail("crime.minor + crime.serious must not exceed 1")
    behaviour = {}
    for key in sorted(_BEHAVIOUR_KEYS - {"source"}):
        if key not in behaviour_table:
            check.fail(f"[behaviour] needs {key}")
        high = 1.0 if key.endswith("_rate") else 10_000.0
        behaviour[key] = check.number(behaviour_table[key], f"behaviour.{key}", 0, high)

    solidarity, protest_multiplier = _speech(data, check, nationalities, entries)

    return Profile(
        name=name,
        description=str(data["description"]).strip(),
        country=str(data["country"]),
        path=str(path),
        raw=data,
        nationalities=nationalities,
        shares=shares,
        regions=regions,
        nationality_region=nationality_region,
        female=female,
        english=english,
        overstay_multiplier=overstay_mult,
        visa_types=visa_types,
        visa_probs=visa_probs,
        visa={k: np.array(v) for k, v in visa_params.items()},
        visa_statuses=visa_statuses,
        visa_status_code=visa_status_code,
        languages=languages,
        language_probs=language_probs,
        dialect_labels=dialect_labels,
        dialects=dialects,
        name_origins=name_origins,
        name_probs=name_probs,
        transliterated=transliterated,
        neighbourhoods=neighbourhoods,
        neighbourhood_probs=neighbourhood_probs,
        neighbourhood_surveillance=np.array([density[k] for k in neighbourhoods]),
        skin_tone_probs=skin,
        sectors=sectors,
        sector_probs=sector_probs,
        coworker_mean=np.array([coworkers[k] for k in sectors]),
        crime=crime,
        behaviour=behaviour,
        palestine_solidarity=solidarity,
        solidarity_protest_multiplier=protest_multiplier,
    )


def _speech(data: dict[str, Any], check: _Checker, nationalities: tuple[str, ...],
            entries: dict[str, Any]) -> tuple[np.ndarray, float]:
    """Share of each nationality who speak for Palestinian rights, and the protest multiplier.

    The optional ``[speech]`` table holds ``palestine_solidarity`` (the share for everyone
    not listed), ``by_origin`` (shares by ISO3 code or region; a code wins over its region)
    and ``protest_multiplier`` (how many times as likely a protest participant is, capped at a
    probability of 1). Without the table nobody in the population speaks for Palestinian
    rights.
    """
    if "speech" not in data:
        return np.zeros(len(nationalities)), 1.0
    table = check.table(data, "speech", allowed=_SPEECH_KEYS)
    default = check.number(table.get("palestine_solidarity", 0.0),
                           "speech.palestine_solidarity", 0, 1)
    by_origin = table.get("by_origin", {})
    if not isinstance(by_origin, dict):
        check.fail("speech.by_origin must be a table like { \"Middle East and North Africa\" = "
                   "0.4, PAK = 0.2 }")
    # A profile built on a base inherits this table, so codes and regions it lacks are allowed;
    # anything that is neither an ISO3 code nor a known region is a typo.
    regions = {entry["region"] for entry in entries.values()} | set(REGIONS)
    for key in by_origin:
        if not _ISO3.match(key) and key not in regions:
            check.fail(f"speech.by_origin names {key!r}, which is neither an ISO3 nationality "
                       f"code nor a region; regions: {', '.join(sorted(regions))}")
    shares = []
    for code in nationalities:
        key = code if code in by_origin else entries[code]["region"]
        value = by_origin.get(key, default)
        shares.append(check.number(value, f"speech.by_origin.{key}", 0, 1))
    multiplier = check.number(table.get("protest_multiplier", 1.0), "speech.protest_multiplier",
                              0, 100)
    return np.array(shares), multiplier
