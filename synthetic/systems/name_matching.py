"""Watchlist screening of travellers by fuzzy name matching across transliterations.

A toy mimic of the name matching in traveller screening (ETIAS, PNR processing, the US
Terrorist Screening Center's watchlist checks): every traveller's name, as their passport
spells it, is compared with every name on a watchlist, as the list spells it, and a traveller
whose best similarity reaches a threshold is referred for secondary screening. See
``name_matching.md`` for the card.

The similarity of two names is a weighted mean of the similarities of their parts (given,
middle, family), each the normalised Indel similarity of ``rapidfuzz.fuzz.ratio`` on
lower-case letters without accents, spaces or punctuation. Because the score adds up over
parts, the best match of a traveller can be found without comparing every pair of full names:
part similarities are computed once between distinct spellings, and a traveller is compared
only with list entries whose family name is similar enough that the full score could reach the
lowest threshold of interest (blocking that loses no match above it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.process import cdist
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from synthetic.names import PARTS, NamePools, draw_names
from synthetic.population.noise import person_uniforms
from synthetic.systems.base import read_card

#: Ceiling on the number of part-score cells computed at once (memory, not results).
CHUNK_CELLS = 4_000_000


def normalise(spellings: Sequence[str]) -> list[str]:
    """Lower-case letters only: accents, spaces, hyphens and apostrophes removed."""
    out = []
    for text in spellings:
        decomposed = unicodedata.normalize("NFKD", str(text))
        out.append("".join(c for c in decomposed.lower() if c.isalpha() and c.isascii()))
    return out


class WatchlistMatcher(BaseEstimator):
    """Best name similarity of each traveller against a watchlist, and a referral threshold.

    Parameters
    ----------
    threshold : float
        A traveller whose best similarity to an entry of a compatible year of birth reaches
        it is referred (a hit).
    weights : tuple of float
        Weights of the given, middle and family parts in a name's similarity (sum to 1).
    score_floor : float
        Lowest similarity reported exactly; below it the score is 0 (no match worth a look).
        Travellers are compared only with entries whose family-name similarity lets the full
        score reach it.
    year_tolerance : int
        An entry with a year of birth is compatible with a traveller born within this many
        years of it; an entry without one is compatible with everyone.

    Attributes
    ----------
    list_spellings_ : dict
        Part -> distinct normalised spellings on the list.
    list_codes_ : dict
        Part -> each entry's spelling number in ``list_spellings_``.
    list_years_ : ndarray of int
        Each entry's year of birth, -1 where the list has none.
    """

    card_name = "name_matching"

    def __init__(self, threshold: float = 0.9, weights: tuple[float, float, float] = (
            0.35, 0.3, 0.35), score_floor: float = 0.85, year_tolerance: int = 1) -> None:
        self.threshold = threshold
        self.weights = weights
        self.score_floor = score_floor
        self.year_tolerance = year_tolerance

    def _check(self) -> None:
        if len(self.weights) != 3 or min(self.weights) < 0 or abs(sum(self.weights) - 1) > 1e-9:
            raise ValueError(f"weights must be three non-negative numbers summing to 1, got "
                             f"{self.weights}")
        if self.weights[2] == 0:
            raise ValueError("the family-name weight must be positive: it blocks the search")
        if not 0 < self.score_floor <= self.threshold <= 1:
            raise ValueError(f"need 0 < score_floor <= threshold <= 1, got {self.score_floor} "
                             f"and {self.threshold}")
        if self.year_tolerance < 0:
            raise ValueError(f"year_tolerance must be >= 0, got {self.year_tolerance}")

    def fit(self, given: Sequence[str], middle: Sequence[str], family: Sequence[str],
            birth_year: Sequence[int] | None = None) -> WatchlistMatcher:
        """Index the watchlist: each entry's given, middle and family name as listed, and its
        year of birth (-1 or omitted: unknown)."""
        self._check()
        if not len(given) == len(middle) == len(family) or len(given) == 0:
            raise ValueError("the watchlist needs one given, middle and family name per entry, "
                             "and at least one entry")
        self.list_spellings_, self.list_codes_ = {}, {}
        for part, values in zip(PARTS, (given, middle, family), strict=True):
            codes, uniques = pd.factorize(pd.Series(normalise(values)), sort=True)
            self.list_spellings_[part] = list(uniques)
            self.list_codes_[part] = codes.astype(np.int64)
        years = np.full(len(given), -1) if birth_year is None else np.asarray(birth_year)
        if len(years) != len(given):
            raise ValueError("birth_year needs one year (or -1) per list entry")
        self.list_years_ = years.astype(np.int64)
        return self

    def score(self, given: Sequence[str], middle: Sequence[str], family: Sequence[str],
              birth_year: Sequence[int] | None = None) -> np.ndarray:
        """Best similarity of each traveller to a compatible list entry, in [0, 1] (0 below
        the floor).

        Work grows with the number of distinct names, not of travellers: the similarity of
        each distinct spelling to each listed spelling is computed once per part, and each
        distinct traveller name is compared with the entries its family name can match,
        keeping its best score per listed year of birth.
        """
        check_is_fitted(self, "list_codes_")
        self._check()
        codes, similarity = {}, {}
        for part, values in zip(PARTS, (given, middle, family), strict=True):
            # Factorise the raw strings first: normalising a million rows costs more than
            # normalising their few thousand distinct spellings.
            raw_codes, raw_uniques = pd.factorize(pd.Series(values, dtype=object), sort=True)
            codes[part] = raw_codes.astype(np.int64)
            similarity[part] = cdist(normalise(raw_uniques), self.list_spellings_[part],
                                     scorer=fuzz.ratio, dtype=np.float32, workers=1) / 100.0
        n_middle = similarity["middle"].shape[0]
        n_family = similarity["family"].shape[0]
        key = (codes["given"] * n_middle + codes["middle"]) * n_family + codes["family"]
        unique_keys, inverse = np.unique(key, return_inverse=True)
        u_family = unique_keys % n_family
        u_middle = (unique_keys // n_family) % n_middle
        u_given = unique_keys // (n_family * n_middle)

        # Listed years as columns: 0 = no year on the list, 1 + k = year first_year + k.
        known = self.list_years_ >= 0
        first_year = int(self.list_years_[known].min()) if known.any() else 0
        n_years = int(self.list_years_[known].max()) - first_year + 1 if known.any() else 0
        year_column = np.where(known, self.list_years_ - first_year + 1, 0)
        best = np.zeros((len(unique_keys), n_years + 1), dtype=np.float32)

        w_given, w_middle, w_family = self.weights
        family_floor = (self.score_floor - w_given - w_middle) / w_family
        listed = self.list_codes_
        order = np.lexsort((year_column, listed["family"]))
        starts = np.searchsorted(listed["family"][order],
                                 np.arange(len(self.list_spellings_["family"]) + 1))
        by_family = np.argsort(u_family, kind="stable")
        bounds = np.searchsorted(u_family[by_family], np.arange(n_family + 1))
        for f in range(n_family):  # one pass per distinct family spelling, not per traveller
            rows = by_family[bounds[f]:bounds[f + 1]]
            close = np.flatnonzero(similarity["family"][f] >= family_floor - 1e-6)
            if len(rows) == 0 or len(close) == 0:
                continue
            entries = np.concatenate([order[starts[c]:starts[c + 1]] for c in close])
            entries = entries[np.argsort(year_column[entries], kind="stable")]
            columns = year_column[entries]
            cuts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
            family_part = w_family * similarity["family"][f, listed["family"][entries]]
            step = max(1, CHUNK_CELLS // len(entries))
            for begin in range(0, len(rows), step):
                chunk = rows[begin:begin + step]
                total = (w_given * similarity["given"][u_given[chunk]][:, listed["given"][entries]]
                         + w_middle
                         * similarity["middle"][u_middle[chunk]][:, listed["middle"][entries]]
                         + family_part[None, :])
                best[np.ix_(chunk, columns[cuts])] = np.maximum.reduceat(total, cuts, axis=1)
        # A traveller's best: entries with no year, and entries born within the tolerance.
        compatible = best[inverse, 0]
        if n_years and birth_year is not None:
            years = np.asarray(birth_year, dtype=np.int64)
            for shift in range(-self.year_tolerance, self.year_tolerance + 1):
                column = years + shift - first_year + 1
                inside = (column >= 1) & (column <= n_years)
                compatible = np.maximum(compatible, np.where(
                    inside, best[inverse, np.clip(column, 1, n_years)], 0.0))
        elif n_years:
            compatible = np.maximum(compatible, best[inverse, 1:].max(axis=1))
        scores = np.minimum(compatible.astype(np.float64), 1.0)
        return np.where(scores >= self.score_floor - 1e-6, scores, 0.0)

    def predict(self, given: Sequence[str], middle: Sequence[str], family: Sequence[str],
                birth_year: Sequence[int] | None = None) -> np.ndarray:
        """Referred (a hit) or not."""
        return self.score(given, middle, family, birth_year) >= self.threshold - 1e-6

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


@dataclass
class Screening:
    """Travellers' names as their passports spell them, the truth, and the watchlist.

    Attributes
    ----------
    passport : dict
        Part -> spelling number of each traveller's name part.
    listed : ndarray of bool
        Whether each traveller is a listed person (the truth).
    watchlist : dict
        Part -> spelling number of each list entry; ``origin`` -> origin number;
        ``traveller`` -> row of the traveller an entry names, or -1; ``birth_year`` -> the
        entry's year of birth, or -1 where the list has none.
    """

    passport: dict[str, np.ndarray]
    listed: np.ndarray
    watchlist: dict[str, np.ndarray]

    def passport_strings(self, pools: NamePools, rows: np.ndarray | None = None
                         ) -> list[np.ndarray]:
        """The given, middle and family names of travellers (all, or ``rows``) as strings."""
        return [pools.spell(p, self.passport[p] if rows is None else self.passport[p][rows])
                for p in PARTS]

    def list_strings(self, pools: NamePools) -> list[np.ndarray]:
        """The given, middle and family names of the list entries as strings."""
        return [pools.spell(p, self.watchlist[p]) for p in PARTS]


def list_shares(composition: str, targeted: dict[str, float], origins: np.ndarray,
                pools: NamePools) -> np.ndarray:
    """Share of the list drawn from each pool origin.

    ``"proportional"``: as common as among the travellers; ``"targeted"``: the given shares.
    """
    if composition == "proportional":
        counts = np.bincount(origins, minlength=len(pools.origins)).astype(np.float64)
        return counts / counts.sum()
    if composition != "targeted":
        raise ValueError(f"composition must be 'proportional' or 'targeted', got {composition!r}")
    unknown = sorted(set(targeted) - set(pools.origins))
    if unknown:
        raise ValueError(f"list shares name origin {unknown[0]!r}, which has no name pool; "
                         f"origins: {', '.join(pools.origins)}")
    shares = np.array([float(targeted.get(o, 0.0)) for o in pools.origins])
    if np.any(shares < 0) or abs(shares.sum() - 1) > 1e-6:
        raise ValueError(f"list shares add up to {shares.sum():.6g}; make them non-negative and "
                         "sum to 1")
    return shares


def draw_listed(travellers: np.ndarray, origin: np.ndarray, person_id: np.ndarray, seed: int,
                shares: np.ndarray, listed_rate: float) -> np.ndarray:
    """Who is a listed person: a traveller of origin ``o`` with probability
    ``listed_rate * shares[o] / (share of o among travellers)``.

    Parameters
    ----------
    travellers : array of int
        The name origins of the travellers whose composition sets the rates.
    origin : array of int
        The origin each person is listed as (a twin's, to list them as a person of the twin's
        origin would be with the same draw).
    person_id : array of int
        Keys each person's draw.
    seed : int
    shares : array
        Share of the list from each origin.
    listed_rate : float
        Share of travellers who are listed persons, overall.

    Returns
    -------
    ndarray of bool
    """
    travellers = np.asarray(travellers, dtype=np.int64)
    share = np.bincount(travellers, minlength=len(shares)) / max(len(travellers), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        probability = np.where(share > 0, listed_rate * shares / share, 0.0)
    return person_uniforms(seed, person_id, "name_matching:listed") < \
        np.minimum(probability, 1.0)[np.asarray(origin, dtype=np.int64)]


def screen(
    pools: NamePools,
    origin: np.ndarray,
    person_id: np.ndarray,
    seed: int,
    *,
    birth_year: np.ndarray,
    list_size: int = 10_000,
    shares: np.ndarray,
    listed_rate: float = 0.001,
    concentration: float = 1.0,
    variety: float = 1.0,
    year_known: float = 0.8,
    listed: np.ndarray | None = None,
) -> Screening:
    """Draw travellers' names, who among them is listed, and the watchlist.

    Parameters
    ----------
    pools : NamePools
    origin : array of int
        Each traveller's name origin number.
    person_id : array of int
        Keys every traveller's draws.
    seed : int
    birth_year : array of int
        Each traveller's year of birth; entries of other people get years drawn from the
        travellers' distribution.
    list_size : int
        Entries on the watchlist.
    shares : array
        Share of the list from each origin (:func:`list_shares`).
    listed_rate : float
        Share of travellers who are listed persons, overall. A traveller of origin ``o`` is
        listed with probability ``listed_rate * shares[o] / (share of o among travellers)``,
        so listed persons come from the origins in the list's proportions.
    concentration, variety : float
        See :func:`synthetic.names.draw_names`; the same for passports and the list, whose
        spellings are drawn independently.
    year_known : float
        Probability that an entry carries its person's year of birth.
    listed : array of bool, optional
        Who is listed, to keep the same listed persons under another list composition
        (default: drawn as described under ``listed_rate``).
    """
    if not 0 <= year_known <= 1 or not 0 <= listed_rate <= 1:
        raise ValueError(f"year_known and listed_rate must be in [0, 1], got {year_known} and "
                         f"{listed_rate}")
    origin = np.asarray(origin, dtype=np.int64)
    if listed is None:
        listed = draw_listed(origin, origin, person_id, seed, shares, listed_rate)
    passport = draw_names(pools, origin, person_id, seed, "passport",
                          concentration=concentration, variety=variety)
    rows = np.flatnonzero(listed)
    if len(rows) > list_size:
        raise ValueError(f"{len(rows)} listed travellers do not fit a list of {list_size} "
                         "entries; raise list_size or lower listed_rate")
    # The listed travellers' own entries: their names, spelled anew by the list's authors.
    own = draw_names(pools, origin[rows], person_id[rows], seed, "list",
                     concentration=concentration, variety=variety,
                     names={f"{p}_name": passport[f"{p}_name"][rows] for p in PARTS})
    n_other = list_size - len(rows)
    entry_ids = np.arange(n_other, dtype=np.int64)
    cumulative = np.cumsum(shares / shares.sum())
    other_origin = np.minimum(np.searchsorted(
        cumulative, person_uniforms(seed, entry_ids, "name_matching:list_origin"), side="right"),
        len(shares) - 1)
    other = draw_names(pools, other_origin, entry_ids, seed, "list_other",
                       concentration=concentration, variety=variety)
    watchlist = {p: np.concatenate([own[p], other[p]]) for p in PARTS}
    watchlist["origin"] = np.concatenate([origin[rows], other_origin])
    watchlist["traveller"] = np.concatenate([rows, np.full(n_other, -1)])
    years = np.sort(np.asarray(birth_year, dtype=np.int64))
    other_year = years[np.minimum((person_uniforms(seed, entry_ids, "name_matching:list_year")
                                   * len(years)).astype(np.int64), len(years) - 1)]
    entry_keys = np.concatenate([person_id[rows], person_id.max(initial=0) + 1 + entry_ids])
    has_year = person_uniforms(seed, entry_keys, "name_matching:year_known") < year_known
    watchlist["birth_year"] = np.where(
        has_year, np.concatenate([np.asarray(birth_year, dtype=np.int64)[rows], other_year]), -1)
    return Screening({p: passport[p] for p in PARTS}, listed, watchlist)
