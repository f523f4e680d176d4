"""USCIS-style benefit-fraud detection, trained on the cases investigators chose to look at.

Every person files one application for an immigration benefit. A few applications are truly
fraudulent (by default equally often in every group) and fraud leaves traces in the file:
document discrepancies, address changes and filings by the same preparer. Past investigations
chose which applications to look at, by those traces and, where ``targeting`` is on, by the
applicant's nationality, region or application class; an investigation of a targeted
application may also record fraud where there was none (``finding_bias``). Only investigated
applications have a fraud label at all: that is the selective-labels problem, and a classifier
trained on them learns where investigators looked as well as what fraud looks like. A share
of investigations can instead be drawn at random and held to one standard (``audit_share``),
the remedy this mimic lets a user try. See ``uscis_fraud.md`` for its card.

All randomness is keyed by ``(seed, person_id, variable)`` (:func:`person_uniforms`), so the
same applications, traces and investigation draws come back whatever rows are scored together,
and two settings of the knobs act on the same draws (paired worlds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from synthetic.population.columns import in_values, text_values
from synthetic.population.noise import person_uniforms, poisson_from_uniform
from synthetic.systems.base import CutOff, read_card, top_share
from synthetic.systems.memo import RecentResults, content_key

#: Traces fraud leaves in an application file: mean count without fraud and the rise with it
#: (illustrative assumptions; nationality plays no part in either).
TRACE_MEANS = {
    "document_discrepancies": (0.4, 1.2),
    "address_changes": (1.0, 0.6),
    "preparer_filings": (1.0, 1.5),
}
#: How strongly each trace raises investigators' suspicion (log weight per count).
SUSPICION_WEIGHTS = {"document_discrepancies": 0.7, "address_changes": 0.2,
                     "preparer_filings": 0.4}
#: Target prefixes: a nationality is an ISO3 code; the others name a region or a class.
REGION_PREFIX, APPLICATION_PREFIX = "region:", "application:"
#: Columns of the people table the mimic reads.
PEOPLE_COLUMNS = ("person_id", "nationality", "region_of_origin", "visa_type", "age",
                  "years_in_country", "n_family_ties", "speaks_english", "name_transliterated")
CATEGORICAL_FEATURES = ("application_class",)
NUMERIC_FEATURES = (*TRACE_MEANS, "years_in_country", "n_family_ties", "age",
                    "speaks_english", "name_transliterated")


def applications(people: pd.DataFrame, seed: int, fraud_rate: float = 0.02) -> pd.DataFrame:
    """One benefit application per person: its class, whether it is fraud, and its traces.

    Parameters
    ----------
    people : DataFrame
        A population (see :mod:`synthetic.population`).
    seed : int
        Keys the draws, with each person's ``person_id``.
    fraud_rate : float
        Probability that an application is fraudulent, the same for everyone.

    Returns
    -------
    DataFrame
        ``people``'s rows (same index) with ``application_class`` (the applicant's visa class),
        ``true_fraud`` and the trace counts of :data:`TRACE_MEANS`.
    """
    missing = [c for c in PEOPLE_COLUMNS if c not in people.columns]
    if missing:
        raise ValueError(f"people table lacks the columns {missing}; generate it with "
                         "synthetic.population.generate")
    if not 0 < fraud_rate < 1:
        raise ValueError(f"fraud_rate must lie strictly between 0 and 1, got {fraud_rate}")
    ids = people["person_id"].to_numpy()
    fraud = person_uniforms(seed, ids, "uscis:true_fraud") < fraud_rate
    out = people.assign(application_class=_text_categories(people["visa_type"]),
                        true_fraud=fraud)
    for name, (base, rise) in TRACE_MEANS.items():
        out[name] = poisson_from_uniform(person_uniforms(seed, ids, f"uscis:{name}"),
                                         base + rise * fraud).astype(np.int16)
    return out


def _text_categories(column: pd.Series) -> pd.Series | pd.Categorical:
    """``column.astype(str).astype("category")``: the values as text, in a categorical of the
    texts present, sorted; a categorical column is read through its categories, without a
    string per row."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype(str).astype("category")
    codes = column.cat.codes.to_numpy()
    text = column.cat.categories.astype(str)
    held = np.bincount(codes[codes >= 0], minlength=len(text)) > 0
    categories = text[held].unique().sort_values()
    position = np.append(categories.get_indexer(text), -1)  # missing (-1) stays missing
    return pd.Categorical.from_codes(position[codes], dtype=pd.CategoricalDtype(categories))


def _present_values(column: pd.Series) -> set[str]:
    """``set(column.astype(str))`` without the missing values: the values some row holds, as
    text (a categorical's through its codes)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return {v for v in column.astype(str) if isinstance(v, str)}
    codes = column.cat.codes.to_numpy()
    held = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories)) > 0
    return {str(c) for c in column.cat.categories[held]}


def targeted_applications(table: pd.DataFrame, targets: Sequence[str]) -> np.ndarray:
    """Whether each application is targeted: nationality, ``region:<name>`` or
    ``application:<class>``."""
    nationalities = [t for t in targets if not t.startswith((REGION_PREFIX, APPLICATION_PREFIX))]
    regions = [t[len(REGION_PREFIX):] for t in targets if t.startswith(REGION_PREFIX)]
    classes = [t[len(APPLICATION_PREFIX):] for t in targets if t.startswith(APPLICATION_PREFIX)]
    mask = np.array(in_values(table["nationality"], nationalities), dtype=bool)
    mask |= in_values(table["region_of_origin"], regions)
    mask |= in_values(table["application_class"], classes)
    return mask


def check_targets(table: pd.DataFrame, targets: Sequence[str]) -> None:
    """Raise a one-line error for a target that names no group of ``table``."""
    known = {
        "": _present_values(table["nationality"]),
        REGION_PREFIX: _present_values(table["region_of_origin"]),
        APPLICATION_PREFIX: _present_values(table["application_class"]),
    }
    for target in targets:
        prefix = next((p for p in (REGION_PREFIX, APPLICATION_PREFIX) if target.startswith(p)),
                      "")
        if target[len(prefix):] not in known[prefix]:
            raise ValueError(
                f"investigation target {target!r} names no group of this population; use an "
                f"ISO3 nationality, 'region:<region>' or 'application:<class>' (classes: "
                f"{', '.join(sorted(known[APPLICATION_PREFIX]))})")


@dataclass(frozen=True)
class Investigations:
    """Who was investigated, how, and what the records say.

    Attributes
    ----------
    investigated : ndarray of bool
    random_audit : ndarray of bool
        Investigated because drawn at random (held to one standard, blind to nationality).
    recorded_fraud : ndarray of bool
        Fraud found: an investigated true fraud that was detected, or a false finding.
    false_finding : ndarray of bool
        Fraud recorded for an application that was not fraudulent.
    """

    investigated: np.ndarray
    random_audit: np.ndarray
    recorded_fraud: np.ndarray
    false_finding: np.ndarray


def _budget_scale(weights: np.ndarray, share: float) -> float:
    """The ``c`` with ``mean(min(1, c * weights)) == share`` (bisection on one number)."""
    if share <= 0:
        return 0.0
    low, high = 0.0, share / max(float(weights.mean()), 1e-300)
    while np.minimum(1.0, high * weights).mean() < share and high < 1e12:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        if np.minimum(1.0, middle * weights).mean() < share:
            low = middle
        else:
            high = middle
    return high


#: Each investigated history's uniforms and budget scale, by content: every attribution world
#: and the comparison run investigate the same applications with the same seed, and worlds
#: that share the targeting and the random share share the scale.
UNIFORMS = RecentResults(max_entries=16)
BUDGET_SCALES = RecentResults(max_entries=16)


def _investigation_uniforms(people_key: bytes, seed: int, ids: np.ndarray, variable: str
                            ) -> np.ndarray:
    """``person_uniforms(seed, ids, variable)``, read-only, computed once for the same
    people (``people_key``: :func:`content_key` of ``ids`` and ``seed``)."""
    def draw() -> np.ndarray:
        uniform = person_uniforms(seed, ids, variable)
        uniform.flags.writeable = False
        return uniform

    return UNIFORMS.get(content_key(people_key, variable), draw)


def investigate(
    table: pd.DataFrame,
    seed: int,
    *,
    targets: Sequence[str] = (),
    investigation_rate: float = 0.08,
    targeting: float = 0.0,
    finding_bias: float = 0.0,
    audit_share: float = 0.0,
    detection: float = 0.9,
) -> Investigations:
    """Simulate investigations of applications (from :func:`applications`).

    A share ``investigation_rate`` of applications is investigated. Of that budget, a share
    ``audit_share`` goes to applications drawn uniformly at random; the rest goes to
    applications in proportion to their suspicion weight, ``exp(sum of trace weights)``, times
    ``1 + targeting`` for targeted applications. An investigation detects true fraud with
    probability ``detection``; an investigation of a targeted application that was not drawn at
    random records fraud that is not there with probability ``finding_bias``.

    Returns
    -------
    Investigations
    """
    for name, value in (("investigation_rate", investigation_rate), ("audit_share", audit_share),
                        ("finding_bias", finding_bias), ("detection", detection)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {value}")
    if targeting < 0:
        raise ValueError(f"targeting must be non-negative, got {targeting}")
    ids = table["person_id"].to_numpy()
    people_key = content_key(ids, seed)

    def uniforms(variable: str) -> np.ndarray:
        return _investigation_uniforms(people_key, seed, ids, variable)

    targeted = targeted_applications(table, targets)
    log_weight = sum(w * table[name].to_numpy(dtype=np.float64)
                     for name, w in SUSPICION_WEIGHTS.items())
    weight = np.exp(log_weight) * (1.0 + targeting * targeted)
    share = investigation_rate * (1.0 - audit_share)
    scale = BUDGET_SCALES.get(content_key(weight, share), lambda: _budget_scale(weight, share))
    by_suspicion = uniforms("uscis:suspicion_draw") < np.minimum(1.0, scale * weight)
    random_audit = uniforms("uscis:random_audit") < investigation_rate * audit_share
    investigated = by_suspicion | random_audit
    fraud = table["true_fraud"].to_numpy(dtype=bool)
    detected = fraud & (uniforms("uscis:detection") < detection)
    false_finding = (investigated & ~random_audit & targeted & ~fraud
                     & (uniforms("uscis:false_finding") < finding_bias))
    return Investigations(investigated, random_audit, investigated & (detected | false_finding),
                          false_finding)


def _text_column(column: pd.Series) -> pd.Series:
    """A column's values as text (:func:`text_values`, read through a categorical's
    categories), kept as an object column: the encoder reads an object array of ``str``
    either way, and pandas' string dtype would convert every row twice on the way."""
    return pd.Series(text_values(column), index=column.index, name=column.name, dtype=object)


@dataclass(frozen=True)
class ScoringInputs:
    """What the score reads of a table of applications, read once per table content.

    The held-out applications are scored in every attribution world and replicate by a new
    model; their categories and numbers do not change, so they are read once.

    Attributes
    ----------
    combinations : DataFrame
        The categorical features (as :meth:`FraudClassifier._features` gives them) of one
        row per distinct combination of them.
    combination : ndarray of int
        Each row's position in ``combinations`` (read-only).
    numbers : DataFrame
        The numeric features of every row, as :meth:`FraudClassifier._features` gives them.
        Shared: callers must not change it.
    """

    combinations: pd.DataFrame
    combination: np.ndarray
    numbers: pd.DataFrame

    @classmethod
    def read(cls, table: pd.DataFrame, categorical: Sequence[str]) -> ScoringInputs:
        """The inputs of ``table`` for the categorical features ``categorical``; the same
        object for tables of the same content."""
        columns = [table[c] for c in [*categorical, *NUMERIC_FEATURES]]
        is_categorical = [isinstance(c.dtype, pd.CategoricalDtype) for c in columns]
        dtypes = [(c.name, str(c.dtype), list(c.cat.categories) if flag else None)
                  for c, flag in zip(columns, is_categorical, strict=True)]
        key = content_key(len(table), list(categorical), dtypes, *(
            c.cat.codes.to_numpy() if flag else c.to_numpy()
            for c, flag in zip(columns, is_categorical, strict=True)))
        return SCORING_INPUTS.get(key, lambda: cls._read(table, list(categorical)))

    @classmethod
    def _read(cls, table: pd.DataFrame, categorical: list[str]) -> ScoringInputs:
        key = np.zeros(len(table), dtype=np.int64)
        for name in categorical:
            column = table[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                codes, size = column.cat.codes.to_numpy(), len(column.cat.categories)
            else:  # any numbering that tells the values apart
                codes, uniques = pd.factorize(column.to_numpy(), use_na_sentinel=True)
                size = len(uniques)
            key = key * (size + 1) + (np.asarray(codes, dtype=np.int64) + 1)
        _, first, combination = np.unique(key, return_index=True, return_inverse=True)
        combinations = pd.DataFrame(
            {name: _text_column(table[name].iloc[first]) for name in categorical})
        numbers = table[list(NUMERIC_FEATURES)].copy()
        for column in ("speaks_english", "name_transliterated"):
            numbers[column] = numbers[column].astype(np.float64)
        combination = combination.reshape(-1)
        combination.flags.writeable = False
        return cls(combinations.reset_index(drop=True), combination, numbers)


#: Scoring inputs by table content: the held-out applications of every world and replicate.
SCORING_INPUTS = RecentResults(max_entries=4)


class FraudClassifier(ClassifierMixin, BaseEstimator):
    """Fraud score learned from investigated applications; the top ``capacity`` are flagged.

    Parameters
    ----------
    model : {"logistic_regression", "gradient_boosting"}
    capacity : float
        Share of new applications flagged for a fraud referral (highest scores first).
    use_nationality : bool
        Whether the applicant's nationality (asked on the forms) and its region are features.
    C : float
        Inverse strength of the logistic regression's L2 penalty. A few thousand investigated
        cases leave a coefficient per nationality noisy; the penalty keeps that noise from
        passing for a difference between nationalities.
    random_state : int or None

    Attributes
    ----------
    pipeline_ : Pipeline
    cut_off_ : CutOff
        Where the last capacity-limited call to :meth:`flag` cut.
    """

    card_name = "uscis_fraud"

    def __init__(self, model: Literal["logistic_regression", "gradient_boosting"] =
                 "logistic_regression", capacity: float = 0.05, use_nationality: bool = True,
                 C: float = 0.001, random_state: int | None = 0) -> None:
        self.model = model
        self.capacity = capacity
        self.use_nationality = use_nationality
        self.C = C
        self.random_state = random_state

    @property
    def feature_columns(self) -> list[str]:
        """Columns of the application table the score reads."""
        return [*self._categorical(), *NUMERIC_FEATURES]

    def _categorical(self) -> list[str]:
        # Country of birth, and the region it lies in: a model that pools nationalities by
        # region learns a region-wide pattern from few labels per nationality.
        origin = ["nationality", "region_of_origin"] if self.use_nationality else []
        return [*CATEGORICAL_FEATURES, *origin]

    def _pipeline(self) -> Pipeline:
        categorical = self._categorical()
        if self.model == "logistic_regression":
            numeric: object = StandardScaler()
            learner: object = LogisticRegression(C=self.C, max_iter=2000)
        elif self.model == "gradient_boosting":
            numeric = "passthrough"
            learner = HistGradientBoostingClassifier(max_iter=100,
                                                     random_state=self.random_state)
        else:
            raise ValueError("model must be 'logistic_regression' or 'gradient_boosting', got "
                             f"{self.model!r}")
        encode = ColumnTransformer([
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             categorical),
            ("numbers", numeric, list(NUMERIC_FEATURES)),
        ])
        return Pipeline([("encode", encode), ("learn", learner)])

    def _check_columns(self, table: pd.DataFrame) -> None:
        missing = [c for c in self.feature_columns if c not in table.columns]
        if missing:
            raise ValueError(f"application table lacks the columns {missing}; build it with "
                             "synthetic.systems.uscis_fraud.applications")

    def _features(self, table: pd.DataFrame) -> pd.DataFrame:
        self._check_columns(table)
        features = table[self.feature_columns].copy()
        for column in ("speaks_english", "name_transliterated"):
            features[column] = features[column].astype(np.float64)
        for column in ("application_class", "nationality", "region_of_origin"):
            if column in features:
                features[column] = _text_column(features[column])
        return features

    def fit(self, table: pd.DataFrame, y: np.ndarray,
            sample_weight: np.ndarray | None = None) -> FraudClassifier:
        """Learn from investigated applications and their recorded findings.

        Parameters
        ----------
        table : DataFrame
            The investigated applications only (the others have no label).
        y : array of bool
            Fraud found by the investigation.
        sample_weight : array of float, optional
            Weight of each application in the learner's loss (reweighing and fairness
            reductions use it); default equal weights.
        """
        if not 0 < self.capacity <= 1:
            raise ValueError(f"capacity must lie in (0, 1], got {self.capacity}")
        label = np.asarray(y, dtype=bool)
        if len(label) != len(table):
            raise ValueError(f"y has {len(label)} labels for {len(table)} applications")
        if label.all() or not label.any():
            raise ValueError("the investigated applications hold one class only; enlarge the "
                             "population or the investigation rate")
        self.pipeline_ = self._pipeline().fit(self._features(table), label,
                                              learn__sample_weight=sample_weight)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        """Probability of (no fraud found, fraud found) for each application."""
        check_is_fitted(self, "pipeline_")
        if self.model == "logistic_regression":
            return self._logistic_proba(table)
        return self.pipeline_.predict_proba(self._features(table))

    def _logistic_proba(self, table: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_proba` of the logistic regression, its pipeline's steps taken one
        by one on inputs read once per table (:class:`ScoringInputs`).

        The pipeline one-hot encodes the categories of each row and scales its numbers, and
        the learner reads the two side by side (``numpy.hstack``, as the column transformer
        does). A row's one-hot part depends on its categories alone, so it is encoded once
        per combination of them and read by each row: the learner is given the very matrix
        the pipeline would give it.
        """
        self._check_columns(table)
        inputs = ScoringInputs.read(table, self._categorical())
        encode = self.pipeline_.named_steps["encode"]
        one_hot = encode.named_transformers_["categories"].transform(inputs.combinations)
        scaled = encode.named_transformers_["numbers"].transform(inputs.numbers)
        # np.hstack([one_hot[combination], scaled]), written once: each combination's row
        # with room for the numbers, taken by every row, then the numbers put in.
        rows = np.zeros((len(one_hot), one_hot.shape[1] + scaled.shape[1]),
                        dtype=np.result_type(one_hot, scaled))
        rows[:, :one_hot.shape[1]] = one_hot
        matrix = rows[inputs.combination]
        matrix[:, one_hot.shape[1]:] = scaled
        return self.pipeline_.named_steps["learn"].predict_proba(matrix)

    def fraud_score(self, table: pd.DataFrame) -> np.ndarray:
        """The learned probability that an investigation would record fraud."""
        return self.predict_proba(table)[:, 1]

    def flag(self, table: pd.DataFrame, cut_off: CutOff | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Flag the top ``capacity`` share (or apply a kept ``cut_off`` to the same rows).

        Returns
        -------
        flagged : ndarray of bool
        scores : ndarray of float
        """
        scores = self.fraud_score(table)
        if cut_off is None:
            flagged, self.cut_off_ = top_share(scores, self.capacity)
        else:
            flagged = cut_off.select(scores)
        return flagged, scores

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """Flagged or not: the top ``capacity`` share of ``table``."""
        return self.flag(table)[0]

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)
