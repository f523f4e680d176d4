"""Country names for the ISO 3166 alpha-3 codes the profiles use as nationalities.

The population profiles key nationalities by code (``SAU``, ``CHN``) and hold no names, so
one source names them everywhere: :mod:`pycountry` (ISO 3166-1), with its common name where
ISO's short name is an inverted form ("Korea, Republic of" reads "South Korea"). Reports
print the name; CSV files keep the code in ``group`` and add the name in ``group_name``.

Only group values that are codes are named, and only whole tokens: ``nationality=IND`` in a
twin's label reads ``nationality=India``, ``SAU × F`` reads ``Saudi Arabia × F``; a word
such as ``region_of_origin`` or a file name is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

import pandas as pd

#: A token that may be an alpha-3 code: three capitals standing alone.
_CODE = re.compile(r"(?<![\w])[A-Z]{3}(?![\w])")


@lru_cache(maxsize=512)
def country_name(code: str) -> str | None:
    """The name of an ISO 3166-1 alpha-3 ``code``, or None when it is not one.

    Examples
    --------
    >>> country_name("SAU"), country_name("KOR"), country_name("FPR")
    ('Saudi Arabia', 'South Korea', None)
    """
    import pycountry

    if not isinstance(code, str) or len(code) != 3 or not code.isupper():
        return None
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return None
    return getattr(country, "common_name", None) or country.name


def group_names(values: Iterable[object]) -> dict[str, str]:
    """Code to name for every value (or part of an intersection) that is a country code.

    ``values`` are group labels as the audit writes them (``"SAU"``, ``"SAU × F"``,
    ``"East Asia and Pacific"``); the result maps only the codes found, so it is empty for a
    run without nationalities.
    """
    names: dict[str, str] = {}
    for value in values:
        for token in _CODE.findall(str(value)):
            name = country_name(token)
            if name is not None:
                names[token] = name
    return names


def name_text(text: str, names: Mapping[str, str]) -> str:
    """``text`` with every whole-token code in ``names`` replaced by its country name.

    A code already shown beside its name (``Saudi Arabia (SAU)``) is left as it is.
    """
    if not names or not text:
        return text

    def replace(match: re.Match[str]) -> str:
        code = match.group(0)
        name = names.get(code)
        if name is None or text[:match.start()].endswith(f"{name} ("):
            return code
        return name

    return _CODE.sub(replace, text)


def label(value: object, names: Mapping[str, str]) -> str:
    """A group label with its codes named (``"SAU × F"`` to ``"Saudi Arabia × F"``)."""
    return name_text(str(value), names)


def named_labels(values: Iterable[object]) -> list[str]:
    """Group labels for a figure's axis or legend, each code named (one name source).

    Examples
    --------
    >>> named_labels(["SAU", "CHN × F", "East Asia and Pacific"])
    ['Saudi Arabia', 'China × F', 'East Asia and Pacific']
    """
    values = list(values)
    names = group_names(values)
    return [label(value, names) for value in values]


def with_name_columns(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with ``group_name`` after ``group`` and ``reference_name`` after
    ``reference`` (the label with its country codes named); the code columns are kept.

    A frame without those columns, or with the name columns already, is returned as it is.
    """
    out = frame
    for column in ("group", "reference"):
        target = f"{column}_name"
        if column not in out.columns or target in out.columns:
            continue
        values = out[column]
        named = values.map(lambda v: v if pd.isna(v) else label(v, names))
        if out is frame:
            out = frame.copy()
        out.insert(out.columns.get_loc(column) + 1, target, named)
    return out
