"""ICM/FALCON-style link analysis: suspicion spread over a social graph from enforcement records
and tips.

A person's score adds their own enforcement record (a *seed*: a recorded serious crime or gang
flag, so label bias in the records reaches the seeds), the tips a tip line received about them,
and, discounted by graph distance, the records and tips of the people they are tied to
(households, co-workers, neighbours, phone contacts; see :mod:`synthetic.networks`). The
highest-scoring ``capacity`` share are "persons of interest". The truth the scores claim to
find is :func:`true_interest`: a true serious crime, gang membership or threat, which does not
depend on origin. See ``icm_falcon.md`` for its card.

Scoring is two sparse matrix-vector products (:mod:`scipy.sparse`), so a million people and
their edges score in well under a second once the graph is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from synthetic.networks import SocialGraph
from synthetic.population.mechanisms import target_mask
from synthetic.population.noise import person_uniforms
from synthetic.systems.base import read_card, top_share

TRUE_PARTS = ("true_serious_crime", "true_gang_affiliation", "true_threat")
RECORDED_PARTS = ("recorded_serious_crime", "recorded_gang_affiliation")


def true_interest(people: pd.DataFrame) -> np.ndarray:
    """Whether a person is truly of enforcement interest (known only to the simulation)."""
    return np.logical_or.reduce([people[c].to_numpy(dtype=bool) for c in TRUE_PARTS])


def enforcement_records(people: pd.DataFrame) -> np.ndarray:
    """Whether past enforcement records flag a person: the link analysis's seeds."""
    missing = [c for c in RECORDED_PARTS if c not in people.columns]
    if missing:
        raise ValueError(f"people table lacks the columns {missing}; apply the population's "
                         "mechanisms (which add the recorded_* columns) first")
    return np.logical_or.reduce([people[c].to_numpy(dtype=bool) for c in RECORDED_PARTS])


def tip_line(
    people: pd.DataFrame,
    seed: int,
    *,
    true_tip_rate: float = 0.2,
    false_tip_rate: float = 0.002,
    neighbourhood_effect: float = 1.0,
    tip_bias: float = 0.0,
    targets: Sequence[str] = (),
) -> np.ndarray:
    """Whether the tip line received a tip about each person.

    A person truly of interest is reported with probability ``true_tip_rate``; anyone else
    with probability ``false_tip_rate × (1 + neighbourhood_effect × neighbourhood
    surveillance) × (1 + tip_bias × [targeted])``: tips come more often from watched
    neighbourhoods, and malicious or prejudiced callers report the targeted origins more.
    """
    for name, value in (("true_tip_rate", true_tip_rate), ("false_tip_rate", false_tip_rate)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    if tip_bias < 0 or neighbourhood_effect < 0:
        raise ValueError("tip_bias and neighbourhood_effect must be non-negative")
    truth = true_interest(people)
    false_rate = (false_tip_rate
                  * (1 + neighbourhood_effect
                     * people["neighbourhood_surveillance"].to_numpy(dtype=np.float64))
                  * (1 + tip_bias * target_mask(people, targets)))
    rate = np.where(truth, true_tip_rate, np.minimum(false_rate, 1.0))
    return person_uniforms(seed, people["person_id"].to_numpy(), "icm:tip") < rate


@dataclass(frozen=True)
class Scores:
    """A link-analysis score and its parts."""

    score: np.ndarray
    own: np.ndarray
    one_hop: np.ndarray
    two_hop: np.ndarray


class LinkAnalysis(BaseEstimator):
    """Guilt-by-association score over a social graph; the top ``capacity`` are flagged.

    Parameters
    ----------
    seed_weight, tip_weight : float
        Points for a person's own enforcement record and for a tip about them.
    decay : float
        Discount per step of graph distance: a tie's points count ``decay`` times, a tie of a
        tie's ``decay ** 2`` times (weighted by the ties' weights).
    capacity : float
        Share of people flagged as persons of interest (highest scores first; ties broken by
        row position).

    Attributes
    ----------
    cut_off_ : CutOff
        Where the last call to :meth:`flag` cut.
    """

    card_name = "icm_falcon"

    def __init__(self, seed_weight: float = 1.0, tip_weight: float = 0.6, decay: float = 0.5,
                 capacity: float = 0.02) -> None:
        self.seed_weight = seed_weight
        self.tip_weight = tip_weight
        self.decay = decay
        self.capacity = capacity

    def score(self, graph: SocialGraph, seeds: np.ndarray, tips: np.ndarray) -> Scores:
        """Own points plus discounted points of people one and two ties away."""
        n = graph.n_people
        if len(seeds) != n or len(tips) != n:
            raise ValueError(f"seeds and tips need one value per person of the graph ({n:,}); "
                             f"got {len(seeds):,} and {len(tips):,}")
        if not 0 <= self.decay <= 1:
            raise ValueError(f"decay must lie in [0, 1], got {self.decay}")
        own = self.seed_weight * seeds.astype(np.float64) + self.tip_weight * tips
        one = graph.adjacency @ own
        # A path back to oneself is not a tie to anyone else: remove it from two steps.
        two = graph.adjacency @ one - graph.adjacency.multiply(graph.adjacency).sum(axis=1).A1 \
            * own
        return Scores(own + self.decay * one + self.decay**2 * two, own, one, two)

    def suspicion_sources(self, graph: SocialGraph, seeds: np.ndarray, tips: np.ndarray
                          ) -> np.ndarray:
        """Row of each person's strongest direct source of suspicion.

        A person with a record or a tip is their own source; anyone else's source is the tied
        person whose own points, times the tie's weight, add most to their score (the first
        such row on a tie); a person tied to no record or tip is their own. People sharing a
        source rise and fall together, which is what a clustered interval needs to know.
        """
        own = self.seed_weight * seeds.astype(np.float64) + self.tip_weight * tips
        weighted = graph.adjacency.multiply(own[None, :]).tocsr()
        best = np.asarray(weighted.argmax(axis=1)).ravel()
        reached = weighted.max(axis=1).toarray().ravel() > 0
        rows = np.arange(graph.n_people)
        return np.where(own > 0, rows, np.where(reached, best, rows))

    def flag(self, graph: SocialGraph, seeds: np.ndarray, tips: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Persons of interest and scores.

        Returns
        -------
        flagged : ndarray of bool
        score : ndarray of float
        """
        if not 0 < self.capacity <= 1:
            raise ValueError(f"capacity must lie in (0, 1], got {self.capacity}")
        scores = self.score(graph, seeds, tips).score
        flagged, self.cut_off_ = top_share(scores, self.capacity)
        return flagged, scores

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)
