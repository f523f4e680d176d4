"""Synthetic personal names by origin, with the romanisations a name is written in.

A name has three parts: a given name, a middle part (a father's given name, a patronymic, a
second family name or a second syllable, depending on the origin) and a family name. Each part
is a *name* (an identity, such as the Arabic name Muhammad) written in one of its *spellings*
(Mohammed, Mohamed, Muhammad, ...). The pools, their sources and their rank-frequency
concentration are in ``pools.toml`` beside this module.

Draws are keyed by an identifier per row (a ``person_id``, a list entry's number) through
:func:`synthetic.population.noise.person_uniforms`, so a person's name is the same in any
subset or order of rows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthetic.population.noise import person_uniforms

#: The three parts of a name, in the order they are written.
PARTS = ("given", "middle", "family")
POOLS_FILE = Path(__file__).with_name("pools.toml")


class NamePoolError(ValueError):
    """A name-pool file is missing, malformed or lacks an origin a population needs."""


@dataclass(frozen=True, eq=False)
class NamePools:
    """Name pools compiled into arrays.

    Attributes
    ----------
    origins : tuple of str
        Name origins, in file order.
    spellings : dict
        Part -> tuple of every distinct spelling of that part (the spelling table).
    offsets : dict
        Part -> array ``(n_origins + 1,)``: the names of origin ``o`` are global name numbers
        ``offsets[o]`` to ``offsets[o + 1] - 1``.
    name_spellings : dict
        Part -> int array ``(n_names, max_spellings)`` of spelling numbers, canonical first,
        padded with -1.
    n_spellings : dict
        Part -> number of spellings of each name.
    concentration : dict
        Part -> rank-frequency exponent of each origin, ``(n_origins,)``.
    path : str
    """

    origins: tuple[str, ...]
    spellings: dict[str, tuple[str, ...]]
    offsets: dict[str, np.ndarray]
    name_spellings: dict[str, np.ndarray] = field(repr=False)
    n_spellings: dict[str, np.ndarray] = field(repr=False)
    concentration: dict[str, np.ndarray] = field(repr=False)
    path: str = ""

    def origin_codes(self, labels: np.ndarray) -> np.ndarray:
        """Origin number of each label; NamePoolError names any origin without a pool."""
        labels = np.asarray(labels).astype(str)
        known = {o: i for i, o in enumerate(self.origins)}
        unknown = sorted(str(x) for x in set(np.unique(labels)) - set(known))
        if unknown:
            raise NamePoolError(f"name pools {self.path!r} have no origin {unknown[0]!r}; add "
                                f"[origins.{unknown[0]}] or use one of: {', '.join(self.origins)}")
        lookup = np.array([known[x] for x in np.unique(labels)])
        return lookup[np.searchsorted(np.unique(labels), labels)]

    def spell(self, part: str, spelling: np.ndarray) -> np.ndarray:
        """The strings of spelling numbers of one part."""
        return np.asarray(self.spellings[part], dtype=object)[spelling]


def load_name_pools(path: str | Path | None = None) -> NamePools:
    """Read and validate a name-pool file (default: the shipped ``pools.toml``).

    Raises
    ------
    NamePoolError
        Naming the origin and part at fault.
    """
    path = Path(path) if path is not None else POOLS_FILE
    if not path.is_file():
        raise NamePoolError(f"name-pool file {str(path)!r} not found; give an existing .toml "
                            "path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise NamePoolError(f"name-pool file {str(path)!r} is not valid TOML: {error}") from None
    origins_table = data.get("origins")
    if not isinstance(origins_table, dict) or not origins_table:
        raise NamePoolError(f"name-pool file {str(path)!r} has no [origins.<name>] tables")
    origins = tuple(origins_table)
    lists: dict[str, list[list[tuple[str, ...]]]] = {part: [] for part in PARTS}
    exponents: dict[str, list[float]] = {part: [] for part in PARTS}
    for origin, table in origins_table.items():
        resolved = _origin_parts(origin, table)
        for part in PARTS:
            names, exponent = resolved[part]
            lists[part].append(names)
            exponents[part].append(exponent)
    spellings, offsets, name_spellings, n_spellings = {}, {}, {}, {}
    for part in PARTS:
        table: dict[str, int] = {}
        rows = []
        for names in lists[part]:
            for variants in names:
                rows.append([table.setdefault(v, len(table)) for v in variants])
        width = max(len(r) for r in rows)
        padded = np.full((len(rows), width), -1, dtype=np.int64)
        for i, r in enumerate(rows):
            padded[i, :len(r)] = r
        spellings[part] = tuple(table)
        offsets[part] = np.concatenate([[0], np.cumsum([len(n) for n in lists[part]])])
        name_spellings[part] = padded
        n_spellings[part] = (padded >= 0).sum(axis=1)
    return NamePools(origins, spellings, offsets, name_spellings, n_spellings,
                     {p: np.array(exponents[p]) for p in PARTS}, str(path))


def _origin_parts(origin: str, table: Any) -> dict[str, tuple[list[tuple[str, ...]], float]]:
    """Each part's names (spellings, canonical first) and exponent, reuse resolved."""
    where = f"origins.{origin}"
    if not isinstance(table, dict):
        raise NamePoolError(f"{where} must be a table")
    if not isinstance(table.get("source"), str) or not table["source"].strip():
        raise NamePoolError(f"{where} names no source; add source = \"<public source>\" or "
                            "source = \"illustrative assumption\"")
    if "given" not in table or not isinstance(table["given"], list):
        raise NamePoolError(f"{where}.given must list names like [\"Canonical|Variant\"]")
    raw = {part: table.get(part, "given") for part in PARTS}
    parsed: dict[str, list[tuple[str, ...]]] = {}
    for part in ("given", "middle", "family"):
        value = raw[part]
        if isinstance(value, str):
            if value not in PARTS or not isinstance(raw[value], list):
                raise NamePoolError(f"{where}.{part} = {value!r} must name a part listed in "
                                    "the same origin, such as \"given\"")
            value = raw[value]
        if not isinstance(value, list) or not value:
            raise NamePoolError(f"{where}.{part} must be a non-empty list of names")
        names = []
        for entry in value:
            variants = tuple(v.strip() for v in str(entry).split("|"))
            if any(not v for v in variants) or len(set(variants)) != len(variants):
                raise NamePoolError(f"{where}.{part}: {entry!r} has an empty or repeated "
                                    "spelling")
            names.append(variants)
        parsed[part] = names
    out = {}
    for part in PARTS:
        source_part = raw[part] if isinstance(raw[part], str) else part
        key = f"{source_part}_concentration"
        exponent = table.get(key, 1.0)
        if isinstance(exponent, bool) or not isinstance(exponent, int | float) or exponent < 0:
            raise NamePoolError(f"{where}.{key} must be a non-negative number, got {exponent!r}")
        out[part] = (parsed[part], float(exponent))
    return out


def draw_names(
    pools: NamePools,
    origin: np.ndarray,
    ids: np.ndarray,
    seed: int,
    stream: str,
    *,
    concentration: float = 1.0,
    variety: float = 1.0,
    names: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Draw each row's names and the spelling each is written in.

    Parameters
    ----------
    pools : NamePools
    origin : array of int
        Origin number of each row (:meth:`NamePools.origin_codes`).
    ids : array of int
        Non-negative key of each row (``person_id``); with ``seed`` and ``stream`` it fixes
        the row's uniforms.
    seed : int
    stream : str
        Separates independent draws for the same keys (a passport, a watchlist entry).
    concentration : float
        Scales every origin's rank-frequency exponent: 0 makes every name of a pool equally
        common, 1 uses the pools' exponents.
    variety : float
        Probability that a part is written in a spelling drawn uniformly from all of its
        spellings rather than the canonical one (0: everyone's names in canonical spelling).
    names : dict, optional
        Global name numbers per part to spell instead of drawing new ones (the same person
        written by another authority).

    Returns
    -------
    dict
        ``"<part>_name"`` (global name number) and ``"<part>"`` (spelling number) per part.
    """
    if not 0 <= variety <= 1 or concentration < 0:
        raise ValueError(f"variety must be in [0, 1] and concentration non-negative, got "
                         f"{variety} and {concentration}")
    origin = np.asarray(origin, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for part in PARTS:
        if names is None:
            chosen = np.zeros(len(origin), dtype=np.int64)
            u = person_uniforms(seed, ids, f"names:{stream}:{part}")
            for code in np.unique(origin):  # one pass per origin, not per person
                rows = origin == code
                start, stop = pools.offsets[part][code], pools.offsets[part][code + 1]
                rank = np.arange(1, stop - start + 1, dtype=np.float64)
                weights = rank ** (-concentration * pools.concentration[part][code])
                cumulative = np.cumsum(weights / weights.sum())
                chosen[rows] = start + np.minimum(np.searchsorted(cumulative, u[rows],
                                                                  side="right"),
                                                  stop - start - 1)
        else:
            chosen = np.asarray(names[f"{part}_name"], dtype=np.int64)
        varied = person_uniforms(seed, ids, f"names:{stream}:{part}:varied") < variety
        which = np.floor(person_uniforms(seed, ids, f"names:{stream}:{part}:spelling")
                         * pools.n_spellings[part][chosen]).astype(np.int64)
        column = np.where(varied, which, 0)
        out[f"{part}_name"] = chosen
        out[part] = pools.name_spellings[part][chosen, column]
    return out
