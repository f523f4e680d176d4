"""Country names for group labels that are ISO 3166-1 alpha-3 codes (``MEX`` is Mexico).

The instrument audits any table; where a group column holds country codes, a figure or a
report reads better with names. Names come from :mod:`pycountry`, with its common name where
ISO's short name is an inverted form ("Korea, Republic of" reads "South Korea"). Only whole
three-capital tokens are named, so ``SAU × F`` reads ``Saudi Arabia × F`` and a word such as
``region_of_origin`` is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

#: A token that may be an alpha-3 code: three capitals standing alone.
CODE = re.compile(r"(?<![\w])[A-Z]{3}(?![\w])")


@lru_cache(maxsize=512)
def country_name(code: str) -> str | None:
    """The name of an ISO 3166-1 alpha-3 ``code``, or None when it is not one.

    Examples
    --------
    >>> country_name("MEX"), country_name("KOR"), country_name("FPR")
    ('Mexico', 'South Korea', None)
    """
    import pycountry

    if not isinstance(code, str) or len(code) != 3 or not code.isupper():
        return None
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return None
    return getattr(country, "common_name", None) or country.name


def named_groups(labels: Iterable[object]) -> dict[str, str]:
    """Label to named label, for every label holding a country code.

    Examples
    --------
    >>> named_groups(["MEX", "SAU × F", "East Asia", "F"])
    {'MEX': 'Mexico', 'SAU × F': 'Saudi Arabia × F'}
    """
    named = {}
    for label in map(str, labels):
        text = CODE.sub(lambda m: country_name(m.group(0)) or m.group(0), label)
        if text != label:
            named[label] = text
    return named


def label_with_names(label: object) -> str:
    """A group label with each country code's name before it, the code kept in brackets.

    Examples
    --------
    >>> label_with_names("MEX × F"), label_with_names("F")
    ('Mexico (MEX) × F', 'F')
    """
    text = str(label)

    def replace(match: re.Match[str]) -> str:
        name = country_name(match.group(0))
        return match.group(0) if name is None else f"{name} ({match.group(0)})"

    return CODE.sub(replace, text)
