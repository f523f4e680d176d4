"""UK-style visa streaming with a feedback loop: a red/amber/green classifier of visa
applications, with nationality as an input, retrained every year on the adverse events its own
scrutiny recorded.

Each yearly round, a cohort of applicants is scored and streamed: the highest scores red, the
next amber, the rest green. Red applications are refused, and so is any application whose
check recorded an adverse event. Each stream is checked with its own probability (red most,
green least); a check finds a true adverse event (an overstay or an offence, known only to the
simulation) with a fixed sensitivity and, for an applicant who would have complied, records a
false adverse event at a small rate. So the more an application is scrutinised, the likelier
it is to leave an adverse record, true or false. The recorded events feed next year's
nationality rating: the loop of Ensign et al. (2018), "Runaway Feedback Loops in Predictive
Policing". Two corrections learn only from records whose discovery does not depend on the
stream: uniform random checks, or operational checks weighted by the inverse of their
probability. See ``visa_streaming.md`` for the card.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

from synthetic.population.columns import in_values
from synthetic.systems.base import CutOff, read_card, top_share
from synthetic.systems.memo import RecentResults, content_key

#: Streams, in increasing order of scrutiny; a stream is stored as its index here.
STREAMS = ("green", "amber", "red")
GREEN, AMBER, RED = 0, 1, 2
#: Application features the score reads (nationality is added when it is an input).
APPLICATION_FEATURES = ("visa_type", "employer_sector", "sex", "age_band", "speaks_english",
                        "family_ties")
AGE_BANDS = (0, 22, 26, 30, 40, 50)
AGE_BAND_NAMES = ("under 22", "22-25", "26-29", "30-39", "40-49", "50 and over")
#: Streams of SeedSequence(seed) reserved for cohorts and for the checks' randomness.
COHORT_STREAM = 81
CHECK_STREAM = 82

Correction = Literal["none", "random_checks", "inverse_scrutiny"]
CORRECTIONS: tuple[str, ...] = ("none", "random_checks", "inverse_scrutiny")


def true_adverse(people: pd.DataFrame) -> np.ndarray:
    """Whether an applicant would truly stay past their leave or offend during their stay."""
    return people["true_overstay"].to_numpy(dtype=bool) | ~in_values(
        people["true_criminal_record"], ["none"])


def initial_records(people: pd.DataFrame) -> np.ndarray:
    """The adverse events the agency's history holds before the first round.

    The population's recorded overstay and serious crime (shaped by its ``label_bias``
    mechanism); the truth itself when the population has no recorded columns.
    """
    if not {"recorded_overstay", "recorded_criminal_record"} <= set(people.columns):
        return true_adverse(people)
    return people["recorded_overstay"].to_numpy(dtype=bool) | ~in_values(
        people["recorded_criminal_record"], ["none"])


def assign_cohorts(n: int, rounds: int, seed: int) -> np.ndarray:
    """Cohort of each person: 0 is the history before the first round, ``r`` arrives in round r.

    One uniform per person from a dedicated stream, so cohorts are of equal expected size and
    independent of everything about the person.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    uniform = np.random.default_rng(np.random.SeedSequence([seed, COHORT_STREAM])).random(n)
    return np.minimum((uniform * (rounds + 1)).astype(np.int64), rounds)


@dataclass(frozen=True)
class CheckNoise:
    """Each person's uniforms for the checks, drawn once so every setting shares them.

    Common random numbers: a person checked under two settings gets the same finding, so the
    settings differ only by what they change, not by luck.
    """

    check: np.ndarray
    finding: np.ndarray
    audit: np.ndarray

    @classmethod
    def draw(cls, n: int, seed: int) -> CheckNoise:
        """Uniforms for ``n`` people from the stream reserved for checks."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, CHECK_STREAM]))
        check, finding, audit = rng.random((3, n))
        return cls(check, finding, audit)

    def take(self, rows: np.ndarray) -> CheckNoise:
        """The uniforms of the given row positions."""
        return CheckNoise(self.check[rows], self.finding[rows], self.audit[rows])


@dataclass(frozen=True)
class Scrutiny:
    """How closely each stream is checked, and what a check records.

    Attributes
    ----------
    check_red, check_amber, check_green : float
        Probability that an application in the stream gets a thorough check.
    sensitivity : float
        Probability that a check finds a true adverse event.
    false_event_rate : float
        Probability that a check records an adverse event for someone who would have
        complied; since only checked people can get one, false records grow with scrutiny.
    audit_share : float
        Share of each cohort given a uniform random check (used by the ``random_checks``
        correction).
    """

    check_red: float = 0.9
    check_amber: float = 0.3
    check_green: float = 0.05
    sensitivity: float = 0.9
    false_event_rate: float = 0.02
    audit_share: float = 0.1

    @property
    def check_rates(self) -> np.ndarray:
        """Check probability indexed by stream (green, amber, red)."""
        return np.array([self.check_green, self.check_amber, self.check_red])

    def findings(self, adverse: np.ndarray, finding_uniform: np.ndarray) -> np.ndarray:
        """What a check of each person would record: a found true event or a false one."""
        return np.where(adverse, finding_uniform < self.sensitivity,
                        finding_uniform > 1 - self.false_event_rate)


def application_features(people: pd.DataFrame) -> pd.DataFrame:
    """The application fields the score reads, as strings; numbers are banded (age, ties).

    Banding keeps the feature space small, so training rows with equal features can be
    merged into one weighted row (see :meth:`VisaStreamer.fit`).
    """
    age_band = np.searchsorted(np.asarray(AGE_BANDS[1:]), people["age"].to_numpy(), side="right")
    ties = np.minimum(people["n_family_ties"].to_numpy(), 3)
    return pd.DataFrame({
        "visa_type": _as_sorted_categories(people["visa_type"]),
        "employer_sector": _as_sorted_categories(people["employer_sector"]),
        "sex": _as_sorted_categories(people["sex"]),
        "age_band": _sorted_codes(age_band, AGE_BAND_NAMES),
        "speaks_english": _sorted_codes(people["speaks_english"].to_numpy(dtype=int),
                                        ("no", "yes")),
        "family_ties": _sorted_codes(ties, ("0", "1", "2", "3+")),
    }, index=people.index)[list(APPLICATION_FEATURES)]


def _sorted_codes(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    """Strings ``names[codes]`` as a categorical whose categories sort as the strings do.

    A categorical reads as its strings to the encoder and groups in the strings' order, so
    the fit is the one on plain strings; building a string per applicant each year cost more
    than the rest of the loop.
    """
    order = np.argsort(np.asarray(names, dtype=str), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return pd.Categorical.from_codes(rank[np.asarray(codes)],
                                     categories=[names[i] for i in order])


def _as_sorted_categories(column: pd.Series) -> pd.Categorical | np.ndarray:
    """A column's values as strings, in a categorical with sorted categories when it is one
    (see :func:`_sorted_codes`); plain strings otherwise."""
    if isinstance(column.dtype, pd.CategoricalDtype) and not (column.cat.codes < 0).any():
        names = tuple(str(c) for c in column.cat.categories)
        return _sorted_codes(column.cat.codes.to_numpy(), names)
    return column.astype(str).to_numpy()


def nationality_codes(people: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The nationalities present, sorted, and each applicant's position among them.

    The same as ``np.unique(nationality, return_inverse=True)``; a categorical column is read
    through its codes, since sorting the strings of every training row each year costs more
    than the rest of the loop.
    """
    column = people["nationality"]
    if not isinstance(column.dtype, pd.CategoricalDtype) or (column.cat.codes < 0).any():
        return np.unique(column.astype(str).to_numpy(), return_inverse=True)
    return _present_codes(column.cat.codes.to_numpy(),
                          np.asarray(column.cat.categories.astype(str), dtype=object))


def _present_codes(codes: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The categories present among ``codes`` (none missing), sorted as strings, and each
    code's position among them (see :func:`nationality_codes`)."""
    present = np.flatnonzero(np.bincount(codes, minlength=len(categories)) > 0)
    order = present[np.argsort(categories[present].astype(str), kind="stable")]
    position = np.full(len(categories), -1, dtype=np.int64)
    position[order] = np.arange(len(order))
    return categories[order].astype(str), position[codes]


#: The columns :class:`Applicants` reads.
APPLICANT_COLUMNS = ("visa_type", "employer_sector", "sex", "age", "n_family_ties",
                     "speaks_english", "nationality", "true_overstay", "true_criminal_record")


@dataclass(frozen=True)
class Applicants:
    """What the streamer and the checks read of each applicant, read once per people table.

    Every round, attribution world and replicate streams rows of the same people: their
    application fields, nationality and true adverse events do not change, so they are read
    once (:meth:`read`) and each round takes its rows by position. The arrays are read-only.

    Attributes
    ----------
    combination : ndarray of int
        Each row's position in ``combinations``.
    combinations : DataFrame
        :func:`application_features` of one row per distinct combination of the fields. The
        application logit of a row is a function of its fields alone (one-hot rows times the
        coefficients), so it is computed once per combination and read by each row.
    nationality : ndarray of int
        Each row's position in ``nationalities`` (-1 where missing).
    nationalities : ndarray of str (object)
        The nationality column's categories as text (the values present, sorted, when the
        column is not categorical).
    adverse : ndarray of bool
        :func:`true_adverse` of each row.
    """

    combination: np.ndarray
    combinations: pd.DataFrame
    nationality: np.ndarray
    nationalities: np.ndarray
    adverse: np.ndarray

    @classmethod
    def read(cls, people: pd.DataFrame) -> Applicants:
        """The applicants of ``people``; the same object for people of the same content."""
        columns = [people[c] for c in APPLICANT_COLUMNS if c in people.columns]
        # A categorical by its categories and codes, which is cheaper than by its values.
        categorical = [isinstance(c.dtype, pd.CategoricalDtype) for c in columns]
        dtypes = [(c.name, str(c.dtype), list(c.cat.categories) if is_categorical else None)
                  for c, is_categorical in zip(columns, categorical, strict=True)]
        key = content_key(len(people), dtypes, *(
            c.cat.codes.to_numpy() if is_categorical else c.to_numpy()
            for c, is_categorical in zip(columns, categorical, strict=True)))
        return APPLICANTS.get(key, lambda: cls._read(people))

    @classmethod
    def _read(cls, people: pd.DataFrame) -> Applicants:
        features = application_features(people)
        key = np.zeros(len(people), dtype=np.int64)
        for name in APPLICATION_FEATURES:
            column = features[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                codes, size = column.cat.codes.to_numpy(), len(column.cat.categories)
            else:  # plain strings: any numbering that tells the values apart
                codes, uniques = pd.factorize(column.to_numpy(), use_na_sentinel=True)
                size = len(uniques)
            key = key * (size + 1) + (np.asarray(codes, dtype=np.int64) + 1)
        _, first, combination = np.unique(key, return_index=True, return_inverse=True)
        column = people["nationality"]
        if isinstance(column.dtype, pd.CategoricalDtype):
            nationality = column.cat.codes.to_numpy().astype(np.int64)
            nationalities = np.asarray(column.cat.categories.astype(str), dtype=object)
        else:
            nationalities, nationality = np.unique(column.astype(str).to_numpy(),
                                                   return_inverse=True)
            nationalities = nationalities.astype(object)
        arrays = (combination.reshape(-1), nationality, nationalities, true_adverse(people))
        for array in arrays:
            array.flags.writeable = False
        return cls(arrays[0], features.iloc[first].reset_index(drop=True), *arrays[1:])

    def nationality_codes(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`nationality_codes` of the given rows."""
        codes = self.nationality[rows]
        if (codes < 0).any():
            text = np.append(self.nationalities, np.nan)[codes]
            return np.unique(text, return_inverse=True)
        return _present_codes(codes, self.nationalities)


#: Applicants by the content of the columns they are read from: every round, world and
#: replicate of a run streams the same people.
APPLICANTS = RecentResults(max_entries=4)


class VisaStreamer(ClassifierMixin, BaseEstimator):
    """Traffic-light streaming of visa applications: an application score plus a nationality
    risk rating, both learned from recorded adverse events.

    The score is ``sigmoid(application logit + nationality rating)``. The application logit
    comes from a logistic regression on the application's fields (route, sector, sex, age,
    English, family ties). The nationality rating is the log of the nationality's recorded
    adverse-event rate over the overall rate, less ``rating_z`` standard errors (0 when the
    difference is within them): a "risk list" of nationalities read straight from the
    records, with evidence required, but without asking who was looked at.

    Parameters
    ----------
    red_share : float
        Share of a cohort streamed red: the highest scores.
    amber_share : float
        Share streamed amber: the next highest scores.
    use_nationality : bool
        Whether the nationality rating enters the score, as nationality did in the withdrawn
        UK tool.
    rating_z : float
        Standard errors of evidence a nationality's difference must exceed to be rated; the
        rating is the part beyond them.
    regularisation : float
        Inverse regularisation strength ``C`` of the logistic regression.

    Attributes
    ----------
    pipeline_ : Pipeline
        One-hot encoding and logistic regression of the application fields.
    nationality_rating_ : Series
        Log relative rate of recorded adverse events by nationality (0 when not used).
    cut_offs_ : tuple of CutOff
        Where the last call to :meth:`stream` cut the red stream and the red-or-amber streams.
    """

    card_name = "visa_streaming"

    def __init__(
        self,
        red_share: float = 0.10,
        amber_share: float = 0.30,
        use_nationality: bool = True,
        rating_z: float = 2.0,
        regularisation: float = 1.0,
    ) -> None:
        self.red_share = red_share
        self.amber_share = amber_share
        self.use_nationality = use_nationality
        self.rating_z = rating_z
        self.regularisation = regularisation

    @property
    def feature_columns(self) -> list[str]:
        """Names of the inputs the score reads."""
        return [*(["nationality"] if self.use_nationality else []), *APPLICATION_FEATURES]

    def fit(
        self, people: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> VisaStreamer:
        """Learn the application model and the nationality rating from recorded events.

        Rows with the same fields and label are merged into one row whose weight is the sum
        of theirs: the logistic loss is a sum over rows, so the fit is the same as on the rows
        themselves, at a fraction of the cost.

        Parameters
        ----------
        people : DataFrame
            Applicants (population columns).
        y : array of bool
            Recorded adverse event of each applicant.
        sample_weight : array of float, optional
            Weight of each applicant (inverse scrutiny); default 1.
        """
        if not (0 < self.red_share and 0 <= self.amber_share
                and self.red_share + self.amber_share <= 1):
            raise ValueError(
                f"red_share ({self.red_share}) must be positive and red_share + amber_share "
                f"({self.red_share + self.amber_share}) at most 1"
            )
        if self.rating_z < 0:
            raise ValueError(f"rating_z must be at least 0, got {self.rating_z}")
        label = np.asarray(y, dtype=bool)
        if len(label) != len(people):
            raise ValueError(f"y has {len(label)} values for {len(people)} applicants")
        if label.all() or not label.any():
            raise ValueError("the training label has one class only; enlarge the training set")
        weight = np.ones(len(label)) if sample_weight is None else np.asarray(
            sample_weight, dtype=np.float64)
        columns = list(APPLICATION_FEATURES)
        merged = (
            application_features(people)
            .assign(label=label, weight=weight)
            .groupby([*columns, "label"], sort=True, observed=True)["weight"]
            .sum()
            .reset_index()
        )
        self.pipeline_ = Pipeline([
            ("encode", OneHotEncoder(handle_unknown="ignore")),
            ("learn", LogisticRegression(C=self.regularisation, max_iter=2000)),
        ])
        self.pipeline_.fit(merged[columns], merged["label"].to_numpy(),
                           learn__sample_weight=merged["weight"].to_numpy())
        self.classes_ = self.pipeline_.classes_

        self.nationality_rating_ = self._rating(people, label, weight)
        return self

    def with_new_rating(
        self, people: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> VisaStreamer:
        """A copy with the same application model and the nationality rating relearned.

        The yearly refresh of a nationality "risk list" from new records, the application
        rules left as they were.
        """
        check_is_fitted(self, "pipeline_")
        label = np.asarray(y, dtype=bool)
        weight = np.ones(len(label)) if sample_weight is None else np.asarray(
            sample_weight, dtype=np.float64)
        refreshed = copy.copy(self)
        refreshed.nationality_rating_ = self._rating(people, label, weight)
        return refreshed

    def _with_new_rating_of(self, applicants: Applicants, rows: np.ndarray, label: np.ndarray,
                            weight: np.ndarray) -> VisaStreamer:
        """:meth:`with_new_rating` of the given rows of ``applicants``."""
        refreshed = copy.copy(self)
        refreshed.nationality_rating_ = self._rating_of(
            *applicants.nationality_codes(rows), np.asarray(label, dtype=bool),
            np.asarray(weight, dtype=np.float64))
        return refreshed

    def _rating(self, people: pd.DataFrame, label: np.ndarray, weight: np.ndarray) -> pd.Series:
        """Log of each nationality's recorded event rate over the overall rate, soft-thresholded
        at ``rating_z`` standard errors."""
        return self._rating_of(*nationality_codes(people), label, weight)

    def _rating_of(self, names: np.ndarray, codes: np.ndarray, label: np.ndarray,
                   weight: np.ndarray) -> pd.Series:
        """:meth:`_rating` of the nationalities ``names`` and each row's position among them."""
        events = np.bincount(codes, weights=weight * label, minlength=len(names))
        applicants = np.bincount(codes, weights=weight, minlength=len(names))
        squares = np.bincount(codes, weights=weight**2, minlength=len(names))
        overall = events.sum() / applicants.sum()
        if not overall > 0:
            raise ValueError("the training records hold no adverse event; enlarge the training set")
        # Effective sample size: weighted rows carry less information than as many plain ones.
        effective = applicants**2 / squares
        rate = np.maximum(events / applicants, 0.5 / effective)  # no events: half an event
        log_ratio = np.log(rate / overall)
        standard_error = np.sqrt((1 - rate) / (effective * rate))
        rating = np.sign(log_ratio) * np.maximum(
            np.abs(log_ratio) - self.rating_z * standard_error, 0.0) + 0.0  # no -0.0
        if not self.use_nationality:
            rating = np.zeros(len(names))
        return pd.Series(rating, index=names, name="nationality_rating")

    def decision_function(self, people: pd.DataFrame) -> np.ndarray:
        """Log-odds of the score: application logit plus nationality rating."""
        return self._decision_of(Applicants.read(people))

    def _decision_of(self, applicants: Applicants, rows: np.ndarray | None = None,
                     logit: np.ndarray | None = None) -> np.ndarray:
        """:meth:`decision_function` of the given rows of ``applicants`` (all by default).

        The application logit is computed once per combination of fields (each row's logit
        is its own one-hot row times the coefficients, whatever rows are scored with it) and
        the rating once per nationality. ``logit``: :meth:`_combination_logit`, when known.
        """
        if logit is None:
            logit = self._combination_logit(applicants)
        rating = np.append(self.nationality_rating_.reindex(applicants.nationalities)
                           .fillna(0.0).to_numpy(),  # a nationality never seen is rated neutral
                           0.0)  # nor is a missing one (code -1 reads the last)
        if rows is None:
            return logit[applicants.combination] + rating[applicants.nationality]
        return logit[applicants.combination[rows]] + rating[applicants.nationality[rows]]

    def _combination_logit(self, applicants: Applicants) -> np.ndarray:
        """The application logit of each of ``applicants.combinations``."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(applicants.combinations)

    def predict_proba(self, people: pd.DataFrame) -> np.ndarray:
        """Score as probabilities of (no recorded event, recorded event)."""
        score = 1.0 / (1.0 + np.exp(-self.decision_function(people)))
        return np.column_stack([1.0 - score, score])

    def risk_score(self, people: pd.DataFrame) -> np.ndarray:
        """The score in [0, 1]: how likely the records say an adverse event is."""
        return self.predict_proba(people)[:, 1]

    def stream(
        self, people: pd.DataFrame, cut_offs: tuple[CutOff, CutOff] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stream a cohort: top ``red_share`` red, next ``amber_share`` amber, the rest green.

        Without ``cut_offs`` the cuts are made on ``people`` and kept in ``cut_offs_`` (red,
        red or amber). With them (counterfactual twins: the same rows, changed people) the same
        cuts are applied, so a row whose score is unchanged keeps its stream.

        Returns
        -------
        streams : ndarray of int8
            Index into :data:`STREAMS`.
        scores : ndarray of float
        """
        return self._cut(self.risk_score(people), cut_offs)

    def _stream_of(self, applicants: Applicants, rows: np.ndarray,
                   cut_offs: tuple[CutOff, CutOff] | None = None,
                   logit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`stream` of the given rows of ``applicants`` (``logit``: see
        :meth:`_decision_of`)."""
        decision = self._decision_of(applicants, rows, logit)
        return self._cut(1.0 / (1.0 + np.exp(-decision)), cut_offs)

    def _cut(self, scores: np.ndarray, cut_offs: tuple[CutOff, CutOff] | None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Streams of the given scores (see :meth:`stream`)."""
        streams = np.full(len(scores), GREEN, dtype=np.int8)
        if cut_offs is None:
            red, red_cut = top_share(scores, self.red_share)
            red_or_amber, amber_cut = top_share(scores, self.red_share + self.amber_share)
            self.cut_offs_ = (red_cut, amber_cut)
        else:
            red, red_or_amber = cut_offs[0].select(scores), cut_offs[1].select(scores)
        streams[red_or_amber] = AMBER
        streams[red] = RED
        return streams, scores

    def predict(self, people: pd.DataFrame) -> np.ndarray:
        """Streamed red or not."""
        return self.stream(people)[0] == RED

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)


@dataclass(frozen=True)
class Screening:
    """What happened to one cohort in one round.

    Attributes
    ----------
    streams : ndarray of int8
        Index into :data:`STREAMS`.
    scores : ndarray of float
    checked : ndarray of bool
        Given an operational check (probability set by the stream).
    audited : ndarray of bool
        Given a uniform random check (only under the ``random_checks`` correction).
    findings : ndarray of bool
        What a check of the applicant records (a found true event or a false one), whether or
        not they were checked.
    recorded : ndarray of bool
        Recorded adverse event: checked or audited, and the check recorded one.
    refused : ndarray of bool
        Streamed red, or a recorded adverse event in any stream.
    """

    streams: np.ndarray
    scores: np.ndarray
    checked: np.ndarray
    audited: np.ndarray
    findings: np.ndarray
    recorded: np.ndarray
    refused: np.ndarray


@dataclass
class LoopRun:
    """One run of the feedback loop under one correction.

    Attributes
    ----------
    correction : str
    by_round : DataFrame
        One row per (round, nationality): ``applicants``, ``red``, ``amber``, ``refused``,
        ``adverse`` (true), ``compliant``, ``wrongful_refusals`` (refused among the
        compliant), ``recorded`` (recorded adverse events), ``false_records``, ``checked``,
        ``training_rows`` (rows the round's model learned from, all nationalities).
    final_rows : ndarray of int
        Row positions (in ``people``) of the last round's cohort.
    final : Screening
        The last round's streams, checks, records and refusals, for those rows.
    model : VisaStreamer
        The last round's fitted model (its ``cut_offs_`` are the last round's cuts).
    kept_models : int
        Rounds with no recorded event to learn from, in which last year's model was kept.
    """

    correction: str
    by_round: pd.DataFrame
    final_rows: np.ndarray
    final: Screening
    model: VisaStreamer
    kept_models: int = 0


@dataclass
class FeedbackLoop:
    """Yearly rounds of streaming, scrutiny, recording and retraining.

    Parameters
    ----------
    rounds : int
        Number of yearly rounds after the initial history.
    red_share, amber_share : float
        Stream shares (see :class:`VisaStreamer`).
    scrutiny : Scrutiny
        Check probabilities per stream, sensitivity, false-event rate, random-audit share.
    memory : {"accumulate", "replace"}
        Whether each year's records are added to the training data or replace it.
    use_nationality : bool
        Whether the nationality rating enters the score.
    rating_z : float
        Standard errors of evidence behind a nationality rating (see :class:`VisaStreamer`).
    regularisation : float
        ``C`` of the logistic regression.
    relearn : {"rating", "all"}
        What each year's records retrain: only the nationality rating (the application model
        keeps what it learned from the initial history), or the application model too.
    """

    rounds: int = 10
    red_share: float = 0.10
    amber_share: float = 0.30
    scrutiny: Scrutiny = field(default_factory=Scrutiny)
    memory: Literal["accumulate", "replace"] = "accumulate"
    use_nationality: bool = True
    rating_z: float = 2.0
    regularisation: float = 1.0
    relearn: Literal["rating", "all"] = "rating"

    def new_model(self) -> VisaStreamer:
        """An unfitted streamer with this loop's settings."""
        return VisaStreamer(red_share=self.red_share, amber_share=self.amber_share,
                            use_nationality=self.use_nationality,
                            rating_z=self.rating_z, regularisation=self.regularisation)

    def run(
        self,
        people: pd.DataFrame,
        cohort: np.ndarray,
        noise: CheckNoise,
        correction: Correction = "none",
        start: VisaStreamer | None = None,
    ) -> LoopRun:
        """Run every round under one correction.

        Parameters
        ----------
        people : DataFrame
            Every applicant, with the population's true and recorded columns.
        cohort : ndarray of int
            Cohort of each row (:func:`assign_cohorts`); rows with a negative cohort take no
            part.
        noise : CheckNoise
            Each row's uniforms for the checks (shared by every correction).
        correction : {"none", "random_checks", "inverse_scrutiny"}
            ``none`` learns from every recorded event; ``random_checks`` only from the uniform
            random audit sample; ``inverse_scrutiny`` only from operationally checked
            applications, each weighted by one over its stream's check probability. Round 1
            learns from the initial history under every setting, so the settings start alike;
            the corrections leave that history out from round 2 on, as its discovery
            probabilities are unknown.
        start : VisaStreamer, optional
            Round 1's model, :meth:`history_model` of the same people and cohorts; fitted
            here when not given.

        Returns
        -------
        LoopRun
        """
        if correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
        if self.memory not in ("accumulate", "replace"):
            raise ValueError(f"memory must be 'accumulate' or 'replace', got {self.memory!r}")
        if correction == "inverse_scrutiny" and np.any(self.scrutiny.check_rates <= 0):
            raise ValueError("inverse_scrutiny needs every stream's check probability above 0")
        applicants = Applicants.read(people)
        adverse = applicants.adverse
        nationality = people["nationality"].cat.codes.to_numpy()
        nationalities = list(people["nationality"].cat.categories)
        check_rates = self.scrutiny.check_rates

        history = np.flatnonzero(cohort == 0)
        # Training data as (rows, labels, weights) blocks, one per year.
        blocks = [(history, initial_records(people)[history], np.ones(len(history)))]
        model = self.new_model()
        kept_models = 0
        # The application model is relearned only under relearn="all": its logit of each
        # combination of fields is computed once per fitted pipeline.
        logits: dict[int, tuple[Pipeline, np.ndarray]] = {}
        tables = []
        for year in range(1, self.rounds + 1):
            rows = np.concatenate([b[0] for b in blocks])
            labels = np.concatenate([b[1] for b in blocks])
            weights = np.concatenate([b[2] for b in blocks])
            if year == 1 and start is not None:
                model = copy.copy(start)  # streaming keeps its cuts on the model: a copy each
            elif year == 1 or (self.relearn == "all" and labels.any() and not labels.all()):
                model = self.new_model().fit(people.iloc[rows], labels, sample_weight=weights)
            elif labels.any():
                model = model._with_new_rating_of(applicants, rows, labels, weights)
            else:
                kept_models += 1  # nothing to learn from this year: keep last year's model

            members = np.flatnonzero(cohort == year)
            if id(model.pipeline_) not in logits:  # the pipeline is kept with its logits
                logits[id(model.pipeline_)] = (model.pipeline_,
                                               model._combination_logit(applicants))
            screened = self._screen(model, applicants, members, noise.take(members), correction,
                                    logit=logits[id(model.pipeline_)][1])
            streams, checked, audited = screened.streams, screened.checked, screened.audited
            tables.append(_round_counts(
                year, nationality[members], len(nationalities), screened, adverse[members],
                len(rows),
            ))

            if correction == "none":
                new = (members, screened.recorded, np.ones(len(members)))
            elif correction == "random_checks":
                new = (members[audited], screened.findings[audited], np.ones(int(audited.sum())))
            else:
                new = (members[checked], screened.findings[checked],
                       1.0 / check_rates[streams[checked]])
            if self.memory == "replace" or (correction != "none" and year == 1):
                blocks = [new]
            else:
                blocks.append(new)

        by_round = pd.concat(tables, ignore_index=True)
        by_round.insert(1, "nationality", pd.Categorical.from_codes(
            by_round.pop("code").to_numpy(), categories=nationalities))
        return LoopRun(correction, by_round, members, screened, model, kept_models)

    def history_model(self, people: pd.DataFrame, cohort: np.ndarray) -> VisaStreamer:
        """Round 1's model: fitted on the history (cohort 0) and its recorded events alone,
        the same under every correction, so it may be fitted once and given to :meth:`run`."""
        history = np.flatnonzero(cohort == 0)
        return self.new_model().fit(people.iloc[history], initial_records(people.iloc[history]),
                                    sample_weight=np.ones(len(history)))

    def screen(
        self,
        model: VisaStreamer,
        applicants: pd.DataFrame,
        noise: CheckNoise,
        correction: Correction,
        cut_offs: tuple[CutOff, CutOff] | None = None,
    ) -> Screening:
        """Stream one cohort, check it, record what the checks find, decide refusals.

        Parameters
        ----------
        model : VisaStreamer
            The fitted streamer.
        applicants : DataFrame
            The cohort.
        noise : CheckNoise
            The cohort's uniforms (:meth:`CheckNoise.take`).
        correction : str
            Random audit checks are made only under ``random_checks``.
        cut_offs : tuple of CutOff, optional
            Apply these stream cuts instead of cutting this cohort (counterfactual twins).
        """
        return self.screen_rows(model, applicants, np.arange(len(applicants)), noise,
                                correction, cut_offs)

    def screen_rows(
        self,
        model: VisaStreamer,
        people: pd.DataFrame,
        rows: np.ndarray,
        noise: CheckNoise,
        correction: Correction,
        cut_offs: tuple[CutOff, CutOff] | None = None,
    ) -> Screening:
        """:meth:`screen` of the cohort ``people.iloc[rows]``, read without taking the rows
        out of ``people`` (its applicants are read once per people, :class:`Applicants`).

        Parameters
        ----------
        model, correction, cut_offs
            As for :meth:`screen`.
        people : DataFrame
            Every applicant.
        rows : ndarray of int
            Row positions of the cohort in ``people``.
        noise : CheckNoise
            The cohort's uniforms (``noise.take(rows)``).
        """
        return self._screen(model, Applicants.read(people), rows, noise, correction, cut_offs)

    def _screen(
        self,
        model: VisaStreamer,
        applicants: Applicants,
        rows: np.ndarray,
        noise: CheckNoise,
        correction: Correction,
        cut_offs: tuple[CutOff, CutOff] | None = None,
        logit: np.ndarray | None = None,
    ) -> Screening:
        """:meth:`screen_rows` of applicants already read (``logit``: the model's application
        logit per combination, :meth:`VisaStreamer._combination_logit`, when known)."""
        streams, scores = model._stream_of(applicants, rows, cut_offs, logit)
        checked = noise.check < self.scrutiny.check_rates[streams]
        audited = (noise.audit < self.scrutiny.audit_share) if (
            correction == "random_checks") else np.zeros(len(streams), dtype=bool)
        findings = self.scrutiny.findings(applicants.adverse[rows], noise.finding)
        recorded = (checked | audited) & findings
        return Screening(streams, scores, checked, audited, findings, recorded,
                         refused=(streams == RED) | recorded)


def _round_counts(
    year: int, codes: np.ndarray, n_groups: int, screened: Screening, adverse: np.ndarray,
    training_rows: int,
) -> pd.DataFrame:
    """Counts of one round per nationality (one bincount per quantity)."""
    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], minlength=n_groups)

    return pd.DataFrame({
        "round": year,
        "code": np.arange(n_groups),
        "applicants": np.bincount(codes, minlength=n_groups),
        "red": count(screened.streams == RED),
        "amber": count(screened.streams == AMBER),
        "refused": count(screened.refused),
        "adverse": count(adverse),
        "compliant": count(~adverse),
        "wrongful_refusals": count(screened.refused & ~adverse),
        "recorded": count(screened.recorded),
        "false_records": count(screened.recorded & ~adverse),
        "checked": count(screened.checked),
        "training_rows": training_rows,
    })
