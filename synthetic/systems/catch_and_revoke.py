"""Catch and Revoke-style visa revocation: a pipeline of surveillance, social-media flags,
record and visa-status checks, an automated threat score and a revocation decision.

Each stage is an explicit step with its own output column, so an audit can follow who is
watched, flagged, matched against records, scored and finally revoked:

1. ``watched``: surveillance coverage decides which of a person's posts are pulled in
   (``posts_pulled_in``); a person with at least one post pulled in is watched.
2. ``social_flag``: the Babel X mimic flags a person when any pulled-in post is flagged
   (keyword lexicon or learned classifier); ``max_threat_probability`` is kept as well.
3. ``record_hit``: record and visa-status checks: a recorded criminal record, minor (a traffic
   ticket) or serious, or a recorded overstay.
4. ``threat_score``: an automated score in [0, 1] combining the previous stages with fixed,
   documented points (a logistic link), plus points for nationalities on a "countries of
   concern" list.
5. ``revoked``: the visa is revoked for the top ``capacity`` of scores (a share of the people,
   or a number of them), or for every score at or above ``threshold``.

See ``catch_and_revoke.md`` for its card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from synthetic.population.mechanisms import target_mask
from synthetic.systems.base import CutOff, read_card, top_count, top_share

STAGES = ("watched", "social_flag", "record_hit", "high_threat_score", "revoked")
STAGE_TITLES = {
    "watched": "1. watched (posts pulled in)",
    "social_flag": "2. flagged on social media",
    "record_hit": "3. record or visa-status hit",
    "high_threat_score": "4. threat score at or above the cut",
    "revoked": "5. visa revoked",
}


@dataclass(frozen=True)
class ThreatPoints:
    """Points of the automated threat score, on the logit scale.

    The score is ``expit(intercept + sum of points)``. The defaults make a social-media flag
    and a record together enough for a high score, and either alone borderline.
    """

    intercept: float = -5.0
    social_flag: float = 2.5
    threat_probability: float = 2.0
    minor_record: float = 1.5
    serious_record: float = 3.0
    overstay: float = 2.0
    country_of_concern: float = 1.5


def pulled_in(post_author: np.ndarray, post_uniform: np.ndarray, coverage: np.ndarray
              ) -> np.ndarray:
    """Which written posts reach the tool: each with its author's coverage probability.

    ``post_author`` indexes ``coverage``; ``post_uniform`` is each post's own uniform, so a
    post is pulled in under more surveillance whenever it is under less.
    """
    return post_uniform < np.asarray(coverage, dtype=np.float64)[post_author]


def person_signals(n: int, post_author: np.ndarray, post_pulled_in: np.ndarray,
                   post_flagged: np.ndarray, post_threat_probability: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What stages 1 and 2 tell about each of ``n`` people from their posts.

    :class:`PulledPosts` gives the same from each distinct text's outputs, for many
    classifiers on the posts of one coverage.

    Returns
    -------
    pulled : ndarray of int
        Posts pulled in.
    flagged : ndarray of bool
        Whether any pulled-in post was flagged.
    highest : ndarray of float
        The highest threat probability of a pulled-in post (0 with none).
    """
    author = np.asarray(post_author)[post_pulled_in]
    pulled = np.bincount(author, minlength=n)
    flagged = np.bincount(author, weights=np.asarray(post_flagged)[post_pulled_in]
                          .astype(np.float64), minlength=n) > 0
    highest = np.zeros(n)
    np.maximum.at(highest, author, np.asarray(post_threat_probability)[post_pulled_in])
    return pulled, flagged, highest


@dataclass(frozen=True)
class PulledPosts:
    """The posts one coverage pulls in, kept to read many classifiers' outputs on them.

    Attributes
    ----------
    mask : ndarray of bool
        Which posts are pulled in (:func:`pulled_in`).
    text : ndarray of int
        The text code of each pulled-in post, in order.
    count : ndarray of int64
        Posts pulled in, per person.
    authors : ndarray of int
        The people with a post pulled in, in order.
    runs : ndarray of int
        The first of each of their pulled-in posts.
    """

    mask: np.ndarray
    text: np.ndarray
    count: np.ndarray
    authors: np.ndarray
    runs: np.ndarray

    @classmethod
    def of(cls, n: int, post_author: np.ndarray, post_uniform: np.ndarray,
           coverage: np.ndarray, post_text: np.ndarray) -> PulledPosts:
        """The posts of ``n`` people that ``coverage`` pulls in, where each author's posts
        are consecutive (as generated) and ``post_text`` codes each post's text.

        Raises
        ------
        ValueError
            Where an author's posts are not consecutive.
        """
        mask = pulled_in(post_author, post_uniform, coverage)
        author = np.asarray(post_author)[mask]
        runs = author_runs(author)
        if runs is None and len(author):
            raise ValueError("each author's posts must be consecutive")
        runs = np.zeros(0, dtype=np.int64) if runs is None else runs
        return cls(mask=mask, text=np.asarray(post_text)[mask],
                   count=np.bincount(author, minlength=n), authors=author[runs], runs=runs)

    def signals(self, text_flagged: np.ndarray, text_probability: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`person_signals` from each distinct text's flag and threat probability:
        reduced over the pulled-in posts alone."""
        return self.count, self.flagged(text_flagged), self.highest(text_probability)

    def flagged(self, text_flagged: np.ndarray) -> np.ndarray:
        """Whether any of each person's pulled-in posts was flagged (``flagged`` of
        :func:`person_signals`), from each distinct text's flag."""
        return self._any(np.asarray(text_flagged, dtype=bool)[self.text])

    def highest(self, text_probability: np.ndarray) -> np.ndarray:
        """Each person's highest threat probability of a pulled-in post (``highest`` of
        :func:`person_signals`), from each distinct text's probability."""
        return self._highest(np.asarray(text_probability, dtype=np.float64)[self.text])

    def pulled_signals(self, flagged: np.ndarray, probability: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`person_signals` from the flag and threat probability of each pulled-in
        post, in order (where some posts' outputs are not their text's)."""
        return (self.count, self._any(np.asarray(flagged, dtype=bool)),
                self._highest(np.asarray(probability, dtype=np.float64)))

    def _any(self, post_flagged: np.ndarray) -> np.ndarray:
        person_flagged = np.zeros(len(self.count), dtype=bool)
        if len(self.runs):
            person_flagged[self.authors] = np.logical_or.reduceat(post_flagged, self.runs)
        return person_flagged

    def _highest(self, post_probability: np.ndarray) -> np.ndarray:
        highest = np.zeros(len(self.count))
        if len(self.runs):
            # At least 0, the value of a person with no post pulled in, as person_signals.
            highest[self.authors] = np.maximum(np.maximum.reduceat(post_probability,
                                                                   self.runs), 0.0)
        return highest


def author_runs(post_author: np.ndarray) -> np.ndarray | None:
    """The first post of each author's run of posts, or None where an author's posts are not
    consecutive."""
    post_author = np.asarray(post_author)
    if not len(post_author) or (post_author[1:] < post_author[:-1]).any():
        return None
    return np.flatnonzero(np.concatenate([[True], post_author[1:] != post_author[:-1]]))


def capacity_is_count(capacity: float | int) -> bool:
    """Whether a capacity is a number of people (an int) rather than a share (a float)."""
    return isinstance(capacity, int | np.integer) and not isinstance(capacity, bool)


def capacity_is_valid(capacity: float | int) -> bool:
    """A share in (0, 1] or a whole count of at least 1."""
    if isinstance(capacity, bool):
        return False
    if capacity_is_count(capacity):
        return capacity >= 1
    return isinstance(capacity, float | np.floating) and 0 < capacity <= 1


@dataclass(frozen=True)
class RecordSignals:
    """What stages 3 and 4 read of each person (:meth:`CatchAndRevokePipeline.record_signals`),
    one boolean per person each: a recorded minor or serious criminal record, a recorded
    overstay, and a nationality on the list of concern."""

    minor: np.ndarray
    serious: np.ndarray
    overstay: np.ndarray
    concern: np.ndarray


class CatchAndRevokePipeline:
    """Stages 2 to 5 of the pipeline, over people whose posts have been scored.

    Parameters
    ----------
    points : ThreatPoints
        Points of the automated threat score.
    countries_of_concern : sequence of str
        ISO3 nationality codes or ``region:<name>`` earning ``points.country_of_concern``.
    rule : {"capacity", "threshold"}
        Revoke the top ``capacity`` of scores, or every score at or above ``threshold``.
    capacity : float or int
        A float in (0, 1] is a share of the people; an int of at least 1 is a number of
        them (the people revoked, e.g. a reported count of revocations).
    threshold : float

    Attributes
    ----------
    cut_off_ : CutOff
        Where the last call of :meth:`stages` cut the scores; pass it back to decide a
        counterfactual twin at the same cut-off.
    """

    card_name = "catch_and_revoke"

    def __init__(
        self,
        points: ThreatPoints = ThreatPoints(),
        countries_of_concern: Sequence[str] = (),
        rule: Literal["capacity", "threshold"] = "capacity",
        capacity: float | int = 0.01,
        threshold: float = 0.5,
    ) -> None:
        if rule not in ("capacity", "threshold"):
            raise ValueError(f"rule must be 'capacity' or 'threshold', got {rule!r}")
        if not capacity_is_valid(capacity):
            raise ValueError(f"capacity must be a share in (0, 1] or a whole count of at least "
                             f"1, got {capacity!r}")
        self.points = points
        self.countries_of_concern = tuple(countries_of_concern)
        self.rule = rule
        self.capacity = capacity
        self.threshold = threshold

    def stages(
        self,
        people: pd.DataFrame,
        post_author: np.ndarray,
        post_pulled_in: np.ndarray,
        post_flagged: np.ndarray,
        post_threat_probability: np.ndarray,
        cut_off: CutOff | None = None,
    ) -> pd.DataFrame:
        """Every stage's output for every person.

        Parameters
        ----------
        people : DataFrame
            The people (recorded columns included), in the order of the result.
        post_author : array of int
            Row of ``people`` that wrote each post.
        post_pulled_in, post_flagged : array of bool
            Whether each post reached the tool, and whether the tool flagged it.
        post_threat_probability : array of float
        cut_off : CutOff, optional
            Under the capacity rule, reapply this cut-off (a previous run's ``cut_off_``)
            instead of selecting the top share anew: how a counterfactual twin is decided.

        Returns
        -------
        DataFrame
            ``posts_pulled_in``, ``watched``, ``social_flag``, ``max_threat_probability``,
            ``minor_record``, ``serious_record``, ``overstay_record``, ``record_hit``,
            ``country_of_concern``, ``threat_score``, ``high_threat_score``, ``revoked``.
        """
        signals = person_signals(len(people), post_author, post_pulled_in, post_flagged,
                                 post_threat_probability)
        return self.stages_from_signals(people, *signals, cut_off=cut_off)

    def stages_from_signals(
        self,
        people: pd.DataFrame,
        pulled: np.ndarray,
        flagged: np.ndarray,
        highest: np.ndarray,
        cut_off: CutOff | None = None,
        records: RecordSignals | None = None,
    ) -> pd.DataFrame:
        """:meth:`stages` from each person's posts pulled in, social-media flag and highest
        threat probability (:func:`person_signals`): how worlds that pull in and flag the same
        posts share that work. ``records`` (:meth:`record_signals` of ``people``) may be
        given where they were read before."""
        records = self.record_signals(people) if records is None else records
        score = self.threat_score(records, flagged, highest)
        revoked, high = self._select(score, cut_off)
        return pd.DataFrame({
            "posts_pulled_in": pulled.astype(np.int64),
            "watched": pulled > 0,
            "social_flag": flagged,
            "max_threat_probability": highest,
            "minor_record": records.minor,
            "serious_record": records.serious,
            "overstay_record": records.overstay,
            "record_hit": records.minor | records.serious | records.overstay,
            "country_of_concern": records.concern,
            "threat_score": score,
            "high_threat_score": high,
            "revoked": revoked,
        })

    def revoked_from_signals(self, records: RecordSignals, flagged: np.ndarray,
                             highest: np.ndarray, cut_off: CutOff | None = None
                             ) -> np.ndarray:
        """Stage 5 alone (``revoked`` of :meth:`stages_from_signals`), from the people's
        :meth:`record_signals` and their social-media signals: what a world of the
        attribution needs, without the other stages' columns."""
        return self._select(self.threat_score(records, flagged, highest), cut_off)[0]

    def record_signals(self, people: pd.DataFrame) -> RecordSignals:
        """What stages 3 and 4 read of each person: their recorded criminal record and
        overstay, and whether their nationality is on the list of concern."""
        # Compared as a column (a categorical compares its codes), not as a text per person.
        record = people["recorded_criminal_record"]
        return RecordSignals(
            minor=(record == "minor").to_numpy(dtype=bool),
            serious=(record == "serious").to_numpy(dtype=bool),
            overstay=people["recorded_overstay"].to_numpy(dtype=bool),
            concern=target_mask(people, self.countries_of_concern))

    def threat_score(self, records: RecordSignals, flagged: np.ndarray, highest: np.ndarray
                     ) -> np.ndarray:
        """Stage 4's score: ``expit(intercept + points of each signal)``."""
        p = self.points
        # Term by term, in the formula's order, into one array: the very sums of
        # intercept + social_flag * flagged + threat_probability * highest + ..., without
        # a new array per term (the intercept is added second, as addition commutes).
        logit = np.multiply(p.social_flag, flagged, dtype=np.float64)
        logit += p.intercept
        term = np.empty_like(logit)
        for points, signal in ((p.threat_probability, highest), (p.minor_record, records.minor),
                               (p.serious_record, records.serious),
                               (p.overstay, records.overstay),
                               (p.country_of_concern, records.concern)):
            logit += np.multiply(points, signal, out=term, dtype=np.float64)
        return expit(logit, out=logit)

    def _select(self, score: np.ndarray, cut_off: CutOff | None) -> tuple[np.ndarray,
                                                                             np.ndarray]:
        """Stage 5 by the rule (``revoked``), and whether each score is at or above the cut
        (``high_threat_score``); keeps the cut as :attr:`cut_off_`."""
        if self.rule == "capacity":
            if cut_off is None:
                revoked, cut_off = (top_count(score, self.capacity)
                                    if capacity_is_count(self.capacity)
                                    else top_share(score, self.capacity))
            else:
                revoked = cut_off.select(score)
            self.cut_off_ = cut_off
            return revoked, score >= cut_off.threshold
        revoked = score >= self.threshold
        self.cut_off_ = CutOff(self.threshold, len(score))
        return revoked, revoked

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)
