"""Generate a synthetic population from a profile: the people every experiment starts from.

:func:`generate` runs the structural causal model of :mod:`synthetic.population.scm` block by
block (fixed blocks of 65,536 people, each with its own ``SeedSequence`` streams), so the result
is identical however the work is chunked or spread over workers, then adds the recorded world
with :func:`synthetic.population.mechanisms.apply_mechanisms`.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthetic.population.errors import PopulationInputError
from synthetic.population.mechanisms import (
    apply_mechanisms,
    mechanisms_config,
    resolve_mechanisms,
)
from synthetic.population.noise import BLOCK_SIZE
from synthetic.population.profiles import Profile, load_profile
from synthetic.population.scm import (
    COLUMNS,
    INTERVENABLE,
    TWIN_EFFECTS,
    Tables,
    categories_of,
    simulate_block,
)

_SEED_LIMIT = 2**63


@dataclass(eq=False)
class Population:
    """A generated population and how it was made.

    Attributes
    ----------
    people : pandas.DataFrame
        One row per person, ordered by ``person_id``; true attributes and the recorded world.
    profile : Profile
        The profile the people were drawn from.
    seed : int
        The seed.
    n : int
        Number of people.
    mechanisms : dict
        Resolved mechanism configuration ``{name: {"strength": float, "targets": [...]}}``.
    block_size : int
        Rows per noise block (part of the determinism contract).
    intervention : (str, str) or None
        ``(attribute, value)`` if this is a counterfactual population, else None.
    effect : {"total", "direct"}
        Which effect a counterfactual population measures (see :meth:`counterfactual`).
    """

    people: pd.DataFrame
    profile: Profile
    seed: int
    n: int
    mechanisms: dict[str, dict[str, Any]] = field(default_factory=dict)
    block_size: int = BLOCK_SIZE
    intervention: tuple[str, str] | None = None
    effect: str = "total"

    def counterfactual(self, attribute: str, value: str, effect: str = "total") -> Population:
        """The same people under ``do(attribute = value)``.

        With ``effect="total"``, regenerates every descendant of ``attribute`` from each
        person's own exogenous noise (abduction: the noise is a function of seed and position;
        action: set the attribute; prediction: rerun the model): for nationality, their
        language, visa type, age, neighbourhood, ... and true overstay follow. With
        ``effect="direct"``, only the attribute and the proxies a system sees change
        (:data:`synthetic.population.scm.DIRECT_TWIN_COLUMNS`); every other attribute and the
        true outcomes keep their factual values. Either way the recorded world is re-applied
        with the same mechanism noise, so targeting follows the new value.

        Parameters
        ----------
        attribute : {"nationality", "region_of_origin", "first_language"}
            Attribute to intervene on.
        value : str
            New value for everyone, e.g. ``"GBR"``; must be a category of the profile.
        effect : {"total", "direct"}, default "total"
            Which effect the twin measures.

        Returns
        -------
        Population
            Same ``n``, ``seed`` and ``person_id`` order. A twin under the person's own value
            is identical to the person.

        Raises
        ------
        PopulationInputError
            Unknown attribute or value.
        """
        people = generate_rows(  # validates the attribute, value and effect
            self.profile, self.n, self.seed, 0, self.n, block_size=self.block_size,
            mechanisms=self.mechanisms, intervention=(attribute, value), effect=effect,
        )
        return Population(
            people=people, profile=self.profile, seed=self.seed, n=self.n,
            mechanisms=self.mechanisms, block_size=self.block_size,
            intervention=(attribute, value), effect=effect,
        )

    def to_file(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the people to ``.parquet`` or ``.csv``.

        Parameters
        ----------
        path : str or pathlib.Path
            Output file; the suffix chooses the format.
        overwrite : bool, default False
            Replace an existing file.

        Returns
        -------
        pathlib.Path
        """
        return write_people(self.people, path, overwrite=overwrite)


class _NoBar:
    """What a progress bar is asked for when none is shown: the iterable, and no-op calls."""

    def __init__(self, iterable: Any = None) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self._iterable)

    def update(self, count: int = 1) -> None:
        """Nothing to advance."""

    def close(self) -> None:
        """Nothing to close."""


def _progress_bar(progress: bool, iterable: Any = None, **options: Any) -> Any:
    """A tqdm bar when ``progress``, else a stand-in that shows nothing. tqdm (with the
    notebook support of ``tqdm.auto``, which loads asyncio) is imported only for a bar that is
    shown: a run asks for none, and its start-up does not pay for the import."""
    if not progress:
        return _NoBar(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, **options)


def write_people(people: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a people frame to ``.parquet`` or ``.csv`` (see :meth:`Population.to_file`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise PopulationInputError(
            f"cannot write {str(path)!r}: use a .parquet or .csv file name"
        )
    if path.exists() and not overwrite:
        raise PopulationInputError(
            f"{str(path)!r} already exists; choose another name or overwrite it"
        )
    if suffix == ".parquet":
        people.to_parquet(path, index=False)
    else:
        people.to_csv(path, index=False)
    return path


def check_size(n: Any) -> int:
    """Validate a population size: a positive whole number."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
        raise PopulationInputError(f"size must be a positive whole number of people, got {n!r}")
    return int(n)


def check_seed(seed: Any) -> int:
    """Validate a seed: a whole number in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
        0 <= seed < _SEED_LIMIT
    ):
        raise PopulationInputError(f"seed must be a whole number in [0, 2**63), got {seed!r}")
    return int(seed)


def generate(
    profile: str | Path | Profile,
    n: int,
    seed: int,
    *,
    block_size: int = BLOCK_SIZE,
    mechanisms: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> Population:
    """Generate ``n`` synthetic people from ``profile``.

    Parameters
    ----------
    profile : str, pathlib.Path or Profile
        Name of a shipped profile (see :func:`list_profiles`), path of a TOML file, or a
        loaded profile.
    n : int
        Number of people (positive).
    seed : int
        Seed; with ``block_size`` it fixes the population exactly.
    block_size : int, default 65_536
        Rows per noise block. Part of the determinism contract: keep the default unless you
        know why.
    mechanisms : mapping, optional
        Bias mechanisms and strengths, e.g.
        ``{"label_bias": {"strength": 1.0, "targets": ["region:South Asia"]}}``; see
        :mod:`synthetic.population.mechanisms`. Default: all off, proxies realistic.
    progress : bool, default False
        Show a progress bar on standard error.

    Returns
    -------
    Population

    Raises
    ------
    PopulationInputError
        Unknown or invalid profile, non-positive size, bad seed, unknown mechanism or strength
        out of range.
    """
    loaded = load_profile(profile)
    n = check_size(n)
    seed = check_seed(seed)
    resolved = resolve_mechanisms(mechanisms, loaded.nationalities, loaded.regions)
    people = generate_rows(
        loaded, n, seed, 0, n, block_size=block_size, mechanisms=resolved, progress=progress
    )
    return Population(
        people=people,
        profile=loaded,
        seed=seed,
        n=n,
        mechanisms=mechanisms_config(resolved),
        block_size=block_size,
    )


def iter_chunks(
    profile: str | Path | Profile,
    n: int,
    seed: int,
    chunk_size: int,
    *,
    block_size: int = BLOCK_SIZE,
    mechanisms: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> Iterator[pd.DataFrame]:
    """Yield the population of :func:`generate` in consecutive chunks of ``chunk_size`` rows.

    Concatenating the chunks gives exactly ``generate(profile, n, seed).people`` (up to the
    index), whatever ``chunk_size``; useful to write large populations with little memory or
    to share the work between workers (each calls :func:`generate_rows` on its own range).
    """
    loaded = load_profile(profile)
    n = check_size(n)
    seed = check_seed(seed)
    chunk_size = check_size(chunk_size)
    resolved = resolve_mechanisms(mechanisms, loaded.nationalities, loaded.regions)
    tables = Tables(loaded, resolved["proxy_leakage"].strength)
    bar = _progress_bar(progress, total=n, unit="people", unit_scale=True, desc="population")
    try:
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            yield generate_rows(
                loaded, n, seed, start, stop, block_size=block_size, mechanisms=resolved,
                tables=tables,
            )
            bar.update(stop - start)
    finally:
        bar.close()


def generate_rows(
    profile: Profile,
    n: int,
    seed: int,
    start: int,
    stop: int,
    *,
    block_size: int = BLOCK_SIZE,
    mechanisms: Mapping[str, Any] | None = None,
    intervention: tuple[str, str] | None = None,
    effect: str = "total",
    progress: bool = False,
    tables: Tables | None = None,
) -> pd.DataFrame:
    """People ``start`` to ``stop - 1`` of the population ``generate(profile, n, seed)``.

    Parameters
    ----------
    profile : Profile
        Loaded profile.
    n : int
        Size of the whole population (rows past ``n`` do not exist).
    seed : int
        Population seed.
    start, stop : int
        Row range, ``0 <= start < stop <= n``; need not align with blocks.
    block_size : int, default 65_536
        Rows per noise block.
    mechanisms : mapping, optional
        Mechanism configuration or resolved mechanisms.
    intervention : (str, str), optional
        ``(attribute, value)`` to set for everyone (counterfactual).
    effect : {"total", "direct"}, default "total"
        With an intervention: regenerate every descendant, or only the attribute and the
        proxies a system sees.
    progress : bool, default False
        Show a progress bar.
    tables : Tables, optional
        Pre-compiled tables (must match the proxy-leakage strength).

    Returns
    -------
    pandas.DataFrame
        Rows with a ``RangeIndex`` from 0.
    """
    if not 0 <= start < stop <= n:
        raise PopulationInputError(f"row range [{start}, {stop}) is not inside [0, {n})")
    block_size = check_size(block_size)
    resolved = resolve_mechanisms(mechanisms, profile.nationalities, profile.regions)
    if tables is None:
        tables = Tables(profile, resolved["proxy_leakage"].strength)
    do = _intervention_code(profile, intervention)
    if effect not in TWIN_EFFECTS:
        raise PopulationInputError(
            f"unknown twin effect {effect!r}; choose one of: {', '.join(TWIN_EFFECTS)}")

    size = stop - start
    arrays: dict[str, np.ndarray] = {}
    for column in COLUMNS:
        if column.dtype == "category":
            n_categories = len(categories_of(column, profile))
            dtype = np.int8 if n_categories < 127 else np.int16
        else:
            dtype = np.dtype(column.dtype)
        arrays[column.name] = np.empty(size, dtype=dtype)
    arrays["person_id"][:] = np.arange(start, stop, dtype=np.int64)

    first_block, last_block = start // block_size, (stop - 1) // block_size
    blocks = range(first_block, last_block + 1)
    for block in _progress_bar(progress, blocks, unit="block", desc="population"):
        block_start = block * block_size
        block_rows = min(block_size, n - block_start)
        values = simulate_block(tables, seed, block, block_rows, do, effect)
        lo = max(start, block_start)
        hi = min(stop, block_start + block_rows)
        src = slice(lo - block_start, hi - block_start)
        dst = slice(lo - start, hi - start)
        for name, value in values.items():
            arrays[name][dst] = value[src]

    data: dict[str, Any] = {}
    for column in COLUMNS:
        if column.dtype == "category":
            dtype = pd.CategoricalDtype(categories_of(column, profile), ordered=False)
            data[column.name] = pd.Categorical.from_codes(arrays.pop(column.name), dtype=dtype)
        else:
            data[column.name] = arrays.pop(column.name)
    people = pd.DataFrame(data, copy=False)
    return apply_mechanisms(people, mechanisms_config(resolved), seed)


def _intervention_code(
    profile: Profile, intervention: tuple[str, str] | None
) -> tuple[str, int] | None:
    if intervention is None:
        return None
    attribute, value = intervention
    categories = {
        "nationality": profile.nationalities,
        "region_of_origin": profile.regions,
        "first_language": profile.languages,
    }
    if attribute not in categories:
        raise PopulationInputError(
            f"cannot intervene on {attribute!r}; counterfactual attributes: "
            f"{', '.join(INTERVENABLE)}"
        )
    allowed = categories[attribute]
    if value not in allowed:
        raise PopulationInputError(
            f"unknown {attribute} {value!r} for profile {profile.name!r}; choose one of: "
            f"{', '.join(allowed)}"
        )
    return attribute, allowed.index(value)
