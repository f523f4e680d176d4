"""The structural causal model that generates synthetic people, one block at a time.

Every variable ``X`` is ``X = f_X(parents(X), U_X)`` with ``U_X`` one uniform per person drawn
from the stream of ``(seed, block, "X")`` (see :mod:`synthetic.population.noise`). Categorical
variables use the inverse CDF of their conditional distribution, so the same ``U_X`` is used
whatever the parents are: an intervention changes values, never the noise.

Causal graph (parents -> child; ``=`` marks a deterministic function)::

    U_nat ───────────────► nationality
    nationality ─────────= region_of_origin
    nationality ─────────► sex, visa_type
    nationality ─(proxy)─► first_language, name_origin, neighbourhood
    nationality, first_language ─(proxy)─► dialect
    first_language, nationality, visa_type ─► speaks_english
    name_origin ─────────► name_transliterated
    neighbourhood ───────= neighbourhood_surveillance
    region_of_origin ────► skin_tone
    visa_type ───────────► age, years_in_country, employer_sector, n_family_ties
    visa_type, nationality ─► true_overstay ─► overstay_days, days_to_visa_expiry
    visa_type, true_overstay ─= visa_status
    employer_sector ─────► n_coworker_ties
    visa_type, age ──────► vehicle_owner, protest_participation
    U_gang ──────────────► true_gang_affiliation
    sex, age, true_gang_affiliation ─► true_criminal_record ─= true_serious_crime
    age, true_gang_affiliation ─► has_tattoo
    age, protest_participation ─► posts_per_month
    nationality, protest_participation ─► palestine_solidarity
    U_threat ────────────► true_threat   (no parents: independent of everything)

By default ``true_threat`` and ``true_gang_affiliation`` are independent of nationality and
origin, ``true_criminal_record`` depends only on sex, age and gang affiliation, and tattoo
prevalence is the same in every group. Edges marked *(proxy)* are scaled by the
``proxy_leakage`` strength ``s``: the conditional distribution used is
``s * P(child | nationality) + (1 - s) * P(child)``, where ``P(child)`` is the population-wide
mix, so at ``s = 0`` the proxies carry no information about nationality. ``speaks_english``
follows the same rule: its rate given (nationality, visa type) is mixed with one
population-wide rate (chosen so that the overall share of English speakers is kept), so at
``s = 0`` every column of :data:`PROXY_COLUMNS` is independent of nationality.

Interventions supported (for counterfactual twins), each with two effects:

* total: ``do(nationality = c)`` regenerates every descendant of nationality (region, sex,
  visa type, age, language, ..., the true overstay); ``do(region_of_origin = r)`` keeps the
  nationality and regenerates skin tone; ``do(first_language = l)`` regenerates dialect and
  English;
* direct: only the intervened attribute and the proxies a system sees change
  (:data:`DIRECT_TWIN_COLUMNS`); every other attribute, the true outcomes included, keeps its
  factual value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from synthetic.population.noise import (
    CategoricalSampler,
    block_uniforms,
    normal_from_uniform,
)
from synthetic.population.profiles import Profile

#: Attributes that accept an intervention, for counterfactual twins.
INTERVENABLE: tuple[str, ...] = ("nationality", "region_of_origin", "first_language")
#: The two effects a twin can measure: every descendant regenerated, or only the attribute and
#: the proxies a system sees.
TWIN_EFFECTS: tuple[str, ...] = ("total", "direct")

_MAX_TIES = 200


@dataclass(frozen=True)
class Column:
    """Schema of one generated column: numpy dtype, or categories for categorical columns."""

    name: str
    dtype: str
    categories: str | tuple[str, ...] | None = None  # Profile attribute name or fixed values
    description: str = ""


#: Columns of a generated population, in order (the recorded ones are added by mechanisms).
COLUMNS: tuple[Column, ...] = (
    Column("person_id", "int64", None, "position of the person in the population, from 0"),
    Column("nationality", "category", "nationalities", "ISO 3166 alpha-3 code"),
    Column("region_of_origin", "category", "regions", "world region of the nationality"),
    Column("sex", "category", ("F", "M"), "sex"),
    Column("age", "int16", None, "age in years"),
    Column("first_language", "category", "languages", "first language"),
    Column("dialect", "category", "dialects", "'<language> (<dialect>)'"),
    Column("speaks_english", "bool", None, "speaks English well enough for an interview"),
    Column("visa_type", "category", "visa_types", "visa type or entry route"),
    Column("visa_status", "category", "visa_statuses", "current status of the visa"),
    Column("years_in_country", "float32", None, "years since arrival"),
    Column("days_to_visa_expiry", "int32", None, "days until the visa expires; negative = "
           "expired; 0 = no expiry date"),
    Column("overstay_days", "int32", None, "days stayed past expiry, 0 if none"),
    Column("true_overstay", "bool", None, "truly stayed past the visa's expiry"),
    Column("true_criminal_record", "category", ("none", "minor", "serious"),
           "true record; minor = traffic-ticket level"),
    Column("true_serious_crime", "bool", None, "true record is serious"),
    Column("true_gang_affiliation", "bool", None, "truly a gang member (very rare)"),
    Column("true_threat", "bool", None, "truly a security threat (extremely rare)"),
    Column("has_tattoo", "bool", None, "has a visible tattoo"),
    Column("protest_participation", "bool", None, "took part in a protest"),
    Column("posts_per_month", "float32", None, "social-media posts per month"),
    Column("palestine_solidarity", "bool", None, "speaks for Palestinian rights: some of "
           "their posts support them (rate by origin and protest from the profile's [speech])"),
    Column("neighbourhood", "category", "neighbourhoods", "kind of neighbourhood lived in"),
    Column("neighbourhood_surveillance", "float32", None, "camera and plate-reader density of "
           "the neighbourhood, in [0, 1]"),
    Column("skin_tone", "int8", None, "Monk skin tone scale, 1 (lightest) to 10 (darkest)"),
    Column("name_origin", "category", "name_origins", "linguistic origin of the name"),
    Column("name_transliterated", "bool", None, "name transliterated from a non-Latin script"),
    Column("employer_sector", "category", "sectors", "sector of employer or main activity"),
    Column("n_family_ties", "int16", None, "relatives in the country"),
    Column("n_coworker_ties", "int16", None, "co-workers or fellow students known"),
    Column("vehicle_owner", "bool", None, "owns or regularly drives a vehicle"),
)

#: Attributes whose distribution the ``proxy_leakage`` strength scales, with their descendants.
PROXY_COLUMNS: tuple[str, ...] = (
    "first_language", "dialect", "speaks_english", "name_origin", "name_transliterated",
    "neighbourhood", "neighbourhood_surveillance",
)

#: Columns a direct-effect twin regenerates, by intervened attribute: the attribute itself (with
#: region, a relabelling of nationality) and the proxies a system can see. Everything else keeps
#: its factual value; the recorded world is then re-applied, so targeting follows the new value.
DIRECT_TWIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "nationality": ("nationality", "region_of_origin", *PROXY_COLUMNS),
    "region_of_origin": ("region_of_origin",),
    "first_language": ("first_language", "dialect", "speaks_english"),
}
#: Columns a total-effect twin may regenerate, by intervened attribute: its descendants in the
#: causal graph above (the recorded world is re-applied on top).
TOTAL_TWIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "nationality": (
        "nationality", "region_of_origin", "sex", "age", "first_language", "dialect",
        "speaks_english", "visa_type", "visa_status", "years_in_country", "days_to_visa_expiry",
        "overstay_days", "true_overstay", "true_criminal_record", "true_serious_crime",
        "has_tattoo", "protest_participation", "posts_per_month", "palestine_solidarity",
        "neighbourhood", "neighbourhood_surveillance", "skin_tone", "name_origin",
        "name_transliterated", "employer_sector", "n_family_ties", "n_coworker_ties",
        "vehicle_owner",
    ),
    "region_of_origin": ("region_of_origin", "skin_tone"),
    "first_language": ("first_language", "dialect", "speaks_english"),
}


def categories_of(column: Column, profile: Profile) -> tuple[str, ...]:
    """Category labels of a categorical column for ``profile``."""
    if isinstance(column.categories, tuple):
        return column.categories
    return tuple(getattr(profile, column.categories))


def _mix(probs: np.ndarray, weights: np.ndarray, strength: float) -> np.ndarray:
    """``strength * P(child | parent) + (1 - strength) * P(child)``."""
    marginal = weights @ probs
    return strength * probs + (1.0 - strength) * marginal[None, :]


def _poisson_table(means: np.ndarray) -> np.ndarray:
    k = np.arange(_MAX_TIES + 1)
    pmf = np.exp(k[None, :] * np.log(np.maximum(means[:, None], 1e-300)) - means[:, None]
                 - special.gammaln(k + 1)[None, :])
    pmf[means == 0] = 0.0
    pmf[means == 0, 0] = 1.0
    return pmf


class Tables:
    """Samplers and parameter arrays compiled from a profile and a proxy-leakage strength.

    Parameters
    ----------
    profile : Profile
        The population profile.
    proxy_strength : float
        ``proxy_leakage`` strength in [0, 1]; 1 reproduces the profile's dependence.
    """

    def __init__(self, profile: Profile, proxy_strength: float) -> None:
        p = profile
        s = float(proxy_strength)
        self.profile = p
        self.nationality = CategoricalSampler(p.shares)
        self.visa = CategoricalSampler(p.visa_probs)
        language_probs = _mix(p.language_probs, p.shares, s)
        self.language = CategoricalSampler(language_probs)
        self.name = CategoricalSampler(_mix(p.name_probs, p.shares, s))
        self.neighbourhood = CategoricalSampler(_mix(p.neighbourhood_probs, p.shares, s))
        self.skin = CategoricalSampler(p.skin_tone_probs)
        self.sector = CategoricalSampler(p.sector_probs)
        self.family = CategoricalSampler(_poisson_table(p.visa["family_ties_mean"]))
        self.coworkers = CategoricalSampler(_poisson_table(p.coworker_mean))

        # Dialect given (nationality, language): own dialect with the weight of the
        # nationality-specific component of the language draw, else the language's mix.
        n_nat, n_lang = p.language_probs.shape
        dialect_index = {d: i for i, d in enumerate(p.dialects)}
        own = np.full((n_nat, n_lang), -1)
        for i, code in enumerate(p.nationalities):
            for j, language in enumerate(p.languages):
                if p.language_probs[i, j] > 0:
                    own[i, j] = dialect_index[p.dialect_of(code, language)]
        marginal_language = p.shares @ p.language_probs
        table = np.zeros((n_nat * n_lang, len(p.dialects)))
        for j in range(n_lang):
            mix = np.zeros(len(p.dialects))
            for i in range(n_nat):
                if own[i, j] >= 0:
                    mix[own[i, j]] += p.shares[i] * p.language_probs[i, j]
            mix /= mix.sum()
            for i in range(n_nat):
                own_part = s * p.language_probs[i, j]
                denominator = own_part + (1.0 - s) * marginal_language[j]
                weight = own_part / denominator if denominator > 0 else 0.0
                row = (1.0 - weight) * mix
                if own[i, j] >= 0:
                    row[own[i, j]] += weight
                table[i * n_lang + j] = row
        self.dialect = CategoricalSampler(table)
        self.n_languages = n_lang
        self.english_code = p.languages.index("English") if "English" in p.languages else -1

        # Speaking English given (nationality, visa type), mixed with one population-wide rate
        # for people whose first language is not English. That rate keeps the overall share of
        # English speakers of the realistic world, so leakage changes who speaks it, not how
        # many do; at s = 0 it is the same for everyone.
        english_rate = 1.0 - np.outer(1.0 - p.english, 1.0 - p.visa["english"])
        english_first = (p.language_probs[:, self.english_code] if self.english_code >= 0
                         else np.zeros(n_nat))
        weights = p.shares[:, None] * p.visa_probs
        speakers = weights * (english_first[:, None]
                              + (1.0 - english_first[:, None]) * english_rate)
        non_native = float(weights.sum(axis=1) @ (1.0 - english_first))
        common = (float(speakers.sum()) - (1.0 - non_native)) / non_native if non_native > 0 \
            else 0.0
        self.english_rate = s * english_rate + (1.0 - s) * min(max(common, 0.0), 1.0)
        self.solidarity_rate = p.palestine_solidarity

        v = p.visa
        self.age_low = special.ndtr((v["age_min"] - v["age_mean"]) / v["age_sd"])
        self.age_high = special.ndtr((v["age_max"] + 1 - v["age_mean"]) / v["age_sd"])


def simulate_block(
    tables: Tables,
    seed: int,
    block: int,
    size: int,
    intervention: tuple[str, int] | None = None,
    effect: str = "total",
) -> dict[str, np.ndarray]:
    """Generate one block of people.

    Parameters
    ----------
    tables : Tables
        Compiled profile.
    seed : int
        Population seed.
    block : int
        Block index; the block's people are positions ``block * block_size`` onwards.
    size : int
        Number of people in this block.
    intervention : (str, int), optional
        ``(attribute, category code)`` to set for everyone (``do`` operator).
    effect : {"total", "direct"}
        With an intervention: regenerate every descendant of the attribute (total), or only
        the columns of :data:`DIRECT_TWIN_COLUMNS` (direct), the rest at factual values.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per column of :data:`COLUMNS` except ``person_id``; categorical columns as
        integer codes.
    """
    p = tables.profile
    crime, behaviour, visa = p.crime, p.behaviour, p.visa

    def u(name: str) -> np.ndarray:
        return block_uniforms(seed, block, name, size)

    do_attr, do_code = intervention if intervention is not None else (None, None)
    if effect not in TWIN_EFFECTS:
        raise ValueError(f"effect must be one of {TWIN_EFFECTS}, got {effect!r}")
    direct = effect == "direct"
    out: dict[str, np.ndarray] = {}

    # ``nat`` drives the genuine attributes (sex, visa, overstay, speech); ``seen`` drives the
    # nationality column and the proxies. They differ only in a direct-effect twin, where the
    # person keeps everything but what a system sees of their origin.
    nat = tables.nationality.draw(u("nationality"))
    seen = nat
    if do_attr == "nationality":
        seen = np.full(size, do_code)
        nat = nat if direct else seen
    region_own = p.nationality_region[nat]
    region = p.nationality_region[seen]
    if do_attr == "region_of_origin":
        region = np.full(size, do_code)
        region_own = region_own if direct else region
    out["nationality"], out["region_of_origin"] = seen, region

    female = u("sex") < p.female[nat]
    out["sex"] = np.where(female, 0, 1)
    vt = tables.visa.draw(u("visa_type"), nat)
    out["visa_type"] = vt

    # Age: truncated normal by visa type, via its inverse CDF.
    q = tables.age_low[vt] + u("age") * (tables.age_high[vt] - tables.age_low[vt])
    age = np.floor(visa["age_mean"][vt] + visa["age_sd"][vt] * normal_from_uniform(q))
    age = np.clip(age, visa["age_min"][vt], visa["age_max"][vt])
    out["age"] = age

    years = np.minimum(-visa["years_mean"][vt] * np.log1p(-u("years_in_country")),
                       visa["years_max"][vt])
    out["years_in_country"] = np.minimum(years, age)

    overstay_rate = np.clip(visa["overstay_rate"][vt] * p.overstay_multiplier[nat], 0.0, 1.0)
    overstay = u("true_overstay") < overstay_rate
    out["true_overstay"] = overstay
    overstay_days = np.where(
        overstay,
        1 + np.floor(-behaviour["overstay_days_mean"] * np.log1p(-u("overstay_days"))),
        0,
    )
    out["overstay_days"] = overstay_days
    duration_days = visa["duration_years"][vt] * 365.0
    remaining = 1 + np.floor(u("days_to_visa_expiry") * duration_days)
    out["days_to_visa_expiry"] = np.where(
        duration_days > 0, np.where(overstay, -overstay_days, remaining), 0
    )
    status_overstayed = len(p.visa_statuses) - 1
    out["visa_status"] = np.where(overstay, status_overstayed, p.visa_status_code[vt])

    language = tables.language.draw(u("first_language"), seen)
    if do_attr == "first_language":
        language = np.full(size, do_code)
    out["first_language"] = language
    out["dialect"] = tables.dialect.draw(u("dialect"), seen * tables.n_languages + language)
    english_rate = tables.english_rate[seen, vt]
    out["speaks_english"] = (language == tables.english_code) | (u("speaks_english") < english_rate)

    name = tables.name.draw(u("name_origin"), seen)
    out["name_origin"] = name
    out["name_transliterated"] = u("name_transliterated") < p.transliterated[name]
    hood = tables.neighbourhood.draw(u("neighbourhood"), seen)
    out["neighbourhood"] = hood
    out["neighbourhood_surveillance"] = p.neighbourhood_surveillance[hood]
    out["skin_tone"] = tables.skin.draw(u("skin_tone"), region_own) + 1

    sector = tables.sector.draw(u("employer_sector"), vt)
    out["employer_sector"] = sector
    out["n_family_ties"] = tables.family.draw(u("n_family_ties"), vt)
    out["n_coworker_ties"] = tables.coworkers.draw(u("n_coworker_ties"), sector)
    out["vehicle_owner"] = (u("vehicle_owner") < visa["vehicle_rate"][vt]) & (age >= 16)

    gang = u("true_gang_affiliation") < behaviour["gang_rate"]
    out["true_gang_affiliation"] = gang
    multiplier = np.where(female, 1.0, crime["male_multiplier"]) * np.where(
        age < crime["young_age"], crime["young_multiplier"], 1.0
    )
    p_serious = np.where(gang, crime["gang_serious"], np.minimum(crime["serious"] * multiplier, 1))
    p_minor = np.minimum(crime["minor"] * multiplier, 1.0 - p_serious)
    u_crime = u("true_criminal_record")
    record = np.where(u_crime < p_serious, 2, np.where(u_crime < p_serious + p_minor, 1, 0))
    out["true_criminal_record"] = record
    out["true_serious_crime"] = record == 2
    out["has_tattoo"] = u("has_tattoo") < np.where(
        gang, behaviour["tattoo_gang_rate"], behaviour["tattoo_rate"]
    )

    protest_rate = np.minimum(
        visa["protest_rate"][vt]
        * np.where(age < crime["young_age"], behaviour["young_protest_multiplier"], 1.0),
        1.0,
    )
    protest = u("protest_participation") < protest_rate
    out["protest_participation"] = protest
    active = u("social_media_active") < behaviour["social_media_rate"]
    posts = behaviour["posts_median"] * np.exp(
        behaviour["posts_sigma"] * normal_from_uniform(u("posts_per_month"))
    ) * np.where(protest, behaviour["protest_posts_multiplier"], 1.0)
    out["posts_per_month"] = np.where(active, posts, 0.0)
    solidarity_rate = np.minimum(
        tables.solidarity_rate[nat] * np.where(protest, p.solidarity_protest_multiplier, 1.0),
        1.0,
    )
    out["palestine_solidarity"] = u("palestine_solidarity") < solidarity_rate
    out["true_threat"] = u("true_threat") < behaviour["threat_rate"]
    return out


__all__ = [
    "COLUMNS",
    "Column",
    "DIRECT_TWIN_COLUMNS",
    "INTERVENABLE",
    "PROXY_COLUMNS",
    "TOTAL_TWIN_COLUMNS",
    "TWIN_EFFECTS",
    "Tables",
    "categories_of",
    "simulate_block",
]
