"""ImmigrationOS-style enforcement prioritisation: a risk score over fused records, with a
capacity limit.

The mimic learns from *recorded* historical enforcement outcomes (which carry past bias) over
features fused from several databases: the recorded visa overstay, the recorded criminal
record, a recorded "gang affiliation" presumed from tattoo reports, licence-plate-reader hits
(driven by where people live and how closely they are watched), prior recorded contacts, visa
type and time in the country, and optionally nationality itself. Only the top ``capacity``
share of scores is prioritised for enforcement. See ``immigration_os.md`` for its card.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from synthetic.population.columns import text_values
from synthetic.systems.base import CutOff, read_card, top_share
from synthetic.systems.memo import RecentResults, content_key

#: Fused record columns the score is learned from.
CATEGORICAL_FEATURES = ("visa_type", "recorded_criminal_record")
NUMERIC_FEATURES = (
    "recorded_overstay", "recorded_gang_affiliation", "plate_reader_hits", "prior_contacts",
    "recorded_years_in_country", "age",
)
#: The enforcement priorities the system claims to find: serious criminals, gang (TCO)
#: members and visa overstays.
TRUE_OUTCOME_PARTS = ("true_serious_crime", "true_gang_affiliation", "true_overstay")
RECORDED_OUTCOME_PARTS = ("recorded_serious_crime", "recorded_gang_affiliation",
                          "recorded_overstay")

#: A run fits and scores the same people's features many times: each attribution world
#: (whose knobs change only some columns) is rerun in every replicate, on the same people,
#: with another seed. The feature encoding (fitted without randomness) and the encoded
#: matrices are looked up by the content of the columns they read; a model fitted on the
#: same matrix, label, weights and integer seed, and its scores of the same matrix, too.
ENCODINGS = RecentResults(max_entries=12)
MATRICES = RecentResults(max_entries=16)
FITS = RecentResults(max_entries=8)
SCORES = RecentResults(max_entries=8)


def true_priority(people: pd.DataFrame) -> np.ndarray:
    """Whether a person truly falls in a stated enforcement priority (known only here)."""
    return np.logical_or.reduce([people[c].to_numpy(dtype=bool) for c in TRUE_OUTCOME_PARTS])


def recorded_priority(people: pd.DataFrame) -> np.ndarray:
    """Whether the records say a person falls in a priority: the historical label."""
    return np.logical_or.reduce(
        [people[c].to_numpy(dtype=bool) for c in RECORDED_OUTCOME_PARTS]
    )


class ImmigrationOSPrioritiser(ClassifierMixin, BaseEstimator):
    """Risk score trained on recorded enforcement outcomes, acted on up to a capacity.

    Parameters
    ----------
    model : {"gradient_boosting", "logistic_regression"}
        The learner behind the score.
    capacity : float
        Share of the scored population the agency can act on (top scores first).
    use_nationality : bool
        Whether nationality itself is a feature (beside the proxies that track it anyway).
    random_state : int or None
        Seeds the learner.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted feature encoding and classifier.
    cut_off_ : CutOff
        Where the last capacity-limited call to :meth:`prioritise` cut.
    """

    card_name = "immigration_os"

    def __init__(
        self,
        model: Literal["gradient_boosting", "logistic_regression"] = "gradient_boosting",
        capacity: float = 0.05,
        use_nationality: bool = False,
        random_state: int | None = 0,
    ) -> None:
        self.model = model
        self.capacity = capacity
        self.use_nationality = use_nationality
        self.random_state = random_state

    @property
    def feature_columns(self) -> list[str]:
        """Columns of the people table the score reads."""
        extra = ["nationality"] if self.use_nationality else []
        return [*CATEGORICAL_FEATURES, *extra, *NUMERIC_FEATURES]

    def _pipeline(self) -> Pipeline:
        categorical = [*CATEGORICAL_FEATURES, *(["nationality"] if self.use_nationality else [])]
        numeric_steps: object = "passthrough"  # gradient boosting handles missing values
        if self.model == "logistic_regression":
            # Records missing for some people (measurement bias) are filled with the median
            # and flagged, so that missingness itself stays visible to the model.
            numeric_steps = Pipeline([
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ])
            learner = LogisticRegression(max_iter=1000)
        elif self.model == "gradient_boosting":
            learner = HistGradientBoostingClassifier(
                max_iter=150, learning_rate=0.1, random_state=self.random_state
            )
        else:
            raise ValueError(
                f"model must be 'gradient_boosting' or 'logistic_regression', got {self.model!r}"
            )
        encode = ColumnTransformer([
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             categorical),
            ("numbers", numeric_steps, list(NUMERIC_FEATURES)),
        ])
        return Pipeline([("encode", encode), ("learn", learner)])

    def _categorical(self) -> list[str]:
        return [*CATEGORICAL_FEATURES, *(["nationality"] if self.use_nationality else [])]

    def _check_columns(self, people: pd.DataFrame) -> None:
        missing = [c for c in self.feature_columns if c not in people.columns]
        if missing:
            raise ValueError(
                f"people table lacks the columns {missing}; apply the population's "
                "mechanisms (which add the recorded_* columns) before fitting or scoring"
            )

    def _features(self, people: pd.DataFrame) -> pd.DataFrame:
        self._check_columns(people)
        features = people[self.feature_columns].copy()
        for column in ("recorded_overstay", "recorded_gang_affiliation"):
            features[column] = features[column].astype(np.float32)
        for column in self._categorical():
            # The text of each row, read through the categories (object dtype: the encoder
            # reads it as it reads a string column, without a string per row built twice).
            features[column] = pd.Series(text_values(features[column]), index=features.index,
                                         dtype=object)
        return features

    def _table_key(self, people: pd.DataFrame) -> bytes:
        """Digest of the columns :meth:`_features` reads, as it reads them."""
        self._check_columns(people)
        parts: list[Any] = [self.model, self.use_nationality, len(people)]
        for column in self.feature_columns:
            values = people[column]
            if isinstance(values.dtype, pd.CategoricalDtype):
                parts += [column, [str(c) for c in values.cat.categories],
                          values.cat.codes.to_numpy()]
            elif isinstance(values.dtype, np.dtype) and values.dtype != object:
                parts += [column, values.to_numpy()]
            else:
                parts += [column, values]
        return content_key("features", *parts)

    def _encoded(self, people: pd.DataFrame) -> tuple[ColumnTransformer, np.ndarray, bytes]:
        """The feature encoding fitted on ``people``, their encoded matrix and its key."""
        key = self._table_key(people)

        def fit_encoding() -> tuple[ColumnTransformer, np.ndarray]:
            encode = self._pipeline().named_steps["encode"]
            matrix = np.asarray(encode.fit_transform(self._features(people)))
            matrix.flags.writeable = False
            return encode, matrix

        encode, matrix = ENCODINGS.get(key, fit_encoding)
        # Each fit keeps its own copy of the (small) encoder, so that refitting one pipeline
        # never changes another's.
        return copy.deepcopy(encode), matrix, key

    def fit(self, people: pd.DataFrame, y: np.ndarray | None = None,
            sample_weight: np.ndarray | None = None) -> ImmigrationOSPrioritiser:
        """Learn the score from people's records and their recorded priority label.

        Parameters
        ----------
        people : DataFrame
            People with the recorded_* columns.
        y : array of bool, optional
            Training label; default :func:`recorded_priority` of ``people``.
        sample_weight : array of float, optional
            Weight of each person in the learner's loss (reweighing and fairness reductions
            use it); default equal weights.
        """
        if not 0 < self.capacity <= 1:
            raise ValueError(f"capacity must lie in (0, 1], got {self.capacity}")
        self._check_columns(people)
        label = recorded_priority(people) if y is None else np.asarray(y, dtype=bool)
        if label.all() or not label.any():
            raise ValueError("the training label has one class only; enlarge the training set")
        unfitted = self._pipeline().named_steps["learn"]  # validates the model's name
        # The pipeline's own steps, one by one: the encoding's fit_transform, then the
        # learner's fit on its matrix (as Pipeline.fit does, with the weights routed to it).
        encode, matrix, features_key = self._encoded(people)
        weights = None if sample_weight is None else np.asarray(sample_weight)
        fit_key = content_key("fit", features_key, self.random_state, label,
                              None if weights is None else weights)

        def fit_learner() -> Any:
            return unfitted.fit(matrix, label, sample_weight=weights)

        reused = isinstance(self.random_state, int | np.integer)
        # A fit drawn afresh (None) or from a shared generator is never reused.
        learner = FITS.get(fit_key, fit_learner) if reused else fit_learner()
        self.pipeline_ = Pipeline([("encode", encode), ("learn", learner)])
        self.classes_ = self.pipeline_.classes_
        self.memo_keys_ = (self.pipeline_, features_key, fit_key if reused else None)
        return self

    def predict_proba(self, people: pd.DataFrame) -> np.ndarray:
        """Probability of each class (False, True) for each person."""
        check_is_fitted(self, "pipeline_")
        pipeline, features_key, fit_key = getattr(self, "memo_keys_", (None, None, None))
        if pipeline is not self.pipeline_:  # a pipeline set from outside
            return self.pipeline_.predict_proba(self._features(people))
        encode = self.pipeline_.named_steps["encode"]
        learner = self.pipeline_.named_steps["learn"]
        # The matrix the pipeline's transform gives: the same people under the encoding
        # fitted on the same training features read it the same way.
        matrix_key = content_key("matrix", features_key, self._table_key(people))

        def transform() -> np.ndarray:
            matrix = np.asarray(encode.transform(self._features(people)))
            matrix.flags.writeable = False
            return matrix

        matrix = MATRICES.get(matrix_key, transform)
        if fit_key is None:
            return learner.predict_proba(matrix)

        def score() -> np.ndarray:
            proba = learner.predict_proba(matrix)
            proba.flags.writeable = False
            return proba

        # A copy: the caller may change its scores.
        return SCORES.get(content_key("scores", fit_key, matrix_key), score).copy()

    def risk_score(self, people: pd.DataFrame) -> np.ndarray:
        """The risk score: the learned probability of a recorded priority outcome."""
        return self.predict_proba(people)[:, 1]

    def prioritise(
        self, people: pd.DataFrame, cut_off: CutOff | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decide who is prioritised for enforcement.

        Without ``cut_off``, the top ``capacity`` share of ``people`` by score is selected and
        the cut is kept in ``cut_off_``. With it (for counterfactual twins: the same rows,
        changed people), the same cut is applied, so a person whose score does not change
        keeps their decision.

        Returns
        -------
        selected : ndarray of bool
        scores : ndarray of float
        """
        scores = self.risk_score(people)
        if cut_off is None:
            selected, self.cut_off_ = top_share(scores, self.capacity)
        else:
            selected = cut_off.select(scores)
        return selected, scores

    def predict(self, people: pd.DataFrame) -> np.ndarray:
        """Prioritised or not: the top ``capacity`` share of ``people``."""
        return self.prioritise(people)[0]

    @classmethod
    def card(cls) -> str:
        """The system's card (Markdown)."""
        return read_card(cls.card_name)
