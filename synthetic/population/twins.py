"""Counterfactual twins: the same person, with one attribute changed.

Two effects. A *total*-effect twin regenerates everything downstream of the attribute from the
person's own exogenous noise: changing nationality changes their language, visa type, age,
neighbourhood and true overstay as this world makes them follow from it. A *direct*-effect twin
changes only the attribute and the proxies a system sees
(:data:`synthetic.population.scm.DIRECT_TWIN_COLUMNS`: for nationality, region of origin,
first language, dialect, English, name origin and transliteration, neighbourhood and its camera
density); every other attribute and the true outcomes keep their factual values. Only the
direct effect holds "everything else" fixed.

The three steps of a structural counterfactual, without storing any noise:

* abduction: each person's exogenous noise is a deterministic function of the seed, their
  position and the variable (:mod:`synthetic.population.noise`), so it is recovered exactly by
  regenerating it;
* action: ``do(attribute = value)`` replaces the attribute's structural equation by the
  constant;
* prediction: the model is rerun with the same noise, so only descendants of the attribute can
  change (for a direct effect, only the proxies among them), and mechanisms are re-applied with
  the same mechanism noise, so targeting by nationality or region follows the new value.
"""

from __future__ import annotations

from synthetic.population.errors import PopulationInputError
from synthetic.population.generate import Population
from synthetic.population.scm import (
    DIRECT_TWIN_COLUMNS,
    INTERVENABLE,
    TOTAL_TWIN_COLUMNS,
    TWIN_EFFECTS,
)


def counterfactual(
    population: Population, attribute: str, value: str, effect: str = "total"
) -> Population:
    """Return the counterfactual population under ``do(attribute = value)``.

    Parameters
    ----------
    population : Population
        The factual population.
    attribute : {"nationality", "region_of_origin", "first_language"}
        Attribute to intervene on.
    value : str
        New value, a category of the profile (e.g. ``"GBR"``).
    effect : {"total", "direct"}, default "total"
        Regenerate every descendant of the attribute, or only the proxies a system sees.

    Returns
    -------
    Population
        Same ``n``, ``seed``, ``person_id`` order and mechanisms.

    Raises
    ------
    PopulationInputError
        Unknown attribute, value or effect.
    """
    return population.counterfactual(attribute, value, effect)


def describe_twin(attribute: str, effect: str, value: str | None = None) -> str:
    """What a twin changes, in words a report can quote after "changing".

    Parameters
    ----------
    attribute : {"nationality", "region_of_origin", "first_language"}
    effect : {"total", "direct"}
    value : str, optional
        The twin's value, named after the attribute ("their nationality to IND").

    Returns
    -------
    str
        E.g. for a direct nationality twin: "only their nationality and the proxies a system
        sees (region of origin, first language, ...), with everything else about them, their
        true outcomes included, held fixed".
    """
    if attribute not in INTERVENABLE or effect not in TWIN_EFFECTS:
        raise PopulationInputError(
            f"no twin for attribute {attribute!r} and effect {effect!r}; attributes: "
            f"{', '.join(INTERVENABLE)}; effects: {', '.join(TWIN_EFFECTS)}")
    name = attribute.replace("_", " ") + (f" to {value}" if value is not None else "")
    if effect == "direct":
        seen = [_WORDS[c] for c in DIRECT_TWIN_COLUMNS[attribute] if c != attribute]
        proxies = (f" and the proxies a system sees ({', '.join(dict.fromkeys(seen))})"
                   if seen else "")
        return (f"only their {name}{proxies}, with everything else about them, their true "
                "outcomes included, held fixed")
    follows = [_WORDS[c] for c in TOTAL_TWIN_COLUMNS[attribute] if c != attribute]
    return (f"their {name} and what follows from it in this world "
            f"({', '.join(dict.fromkeys(follows))})")


#: Plain words for the columns a twin can change (repeats collapse in a list).
_WORDS = {
    "nationality": "nationality", "region_of_origin": "region of origin", "sex": "sex",
    "age": "age", "first_language": "first language", "dialect": "dialect",
    "speaks_english": "English", "visa_type": "visa type and status",
    "visa_status": "visa type and status", "years_in_country": "years in the country",
    "days_to_visa_expiry": "true overstay", "overstay_days": "true overstay",
    "true_overstay": "true overstay", "true_criminal_record": "true criminal record",
    "true_serious_crime": "true criminal record", "has_tattoo": "tattoos",
    "protest_participation": "protest and posting", "posts_per_month": "protest and posting",
    "palestine_solidarity": "speech on Palestinian rights",
    "neighbourhood": "neighbourhood", "neighbourhood_surveillance": "neighbourhood",
    "skin_tone": "skin tone", "name_origin": "name", "name_transliterated": "name",
    "employer_sector": "work and ties", "n_family_ties": "work and ties",
    "n_coworker_ties": "work and ties", "vehicle_owner": "vehicle",
}
