"""What would fix it, and what does the fix cost: remedies run on the same people.

A remedy changes how the system learns or decides; it is run on the very people of the
unremedied run (same population, same training split, same held-out people), so every change
it makes is a paired difference with a paired interval (:func:`audit.compare`). Each remedy is
judged twice, as everywhere in this project: by the recorded outcome, which is all a real
agency could check its fix against, and by the true outcome, which only the simulation knows.
When the records carry the bias, a fix that equalises error rates on the records can leave the
true disparity in place, or move it onto another group.

Families of remedies (:data:`REMEDIES`):

- post-processing: fairlearn's ``ThresholdOptimizer`` (equalized odds, demographic parity)
  over the system's fitted score, fitted on the recorded outcomes of the training split;
- reductions: fairlearn's ``ExponentiatedGradient`` (equalized odds, demographic parity)
  around the system's own estimator, which must take sample weights;
- data: learning from a random audit sample's true outcomes, and reweighing (Kamiran and
  Calders 2012) of the recorded training labels;
- design: unawareness (nationality and its named proxies held constant, so the model cannot
  read them), removing a biased stage or list, raising the capacity.

The post-processing and reductions remedies decide by themselves (fairlearn's randomised
predictions), so a capacity the system had is not kept: the selection rate changes, and the
table says by how much. The data remedies and unawareness refit the system's score and decide
with the system's own rule (its capacity, its threshold). The design remedies that map onto
existing settings (a list, a lexicon, the capacity) are worlds of the experiment, run on the
same people with the machinery of :mod:`experiments.engine.attribution`.

A system offers the model remedies through ``SystemRun.remedy_model`` (a
:class:`RemedyModel`), its design remedies through ``REMEDY_KNOBS`` in its adapter module, and
says in ``REMEDIES_UNSUPPORTED`` why it cannot take the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from audit import compare
from audit.engine import grouping_name
from audit.intervals import newcombe_difference_interval
from experiments.config import ExperimentConfig, set_dotted, system_seed
from experiments.config.remedies import (
    REMEDIES,
    REMEDY_TITLES,
    Remedy,
    supported_remedies,
    unsupported_remedies,
)
from experiments.errors import UsageError
from experiments.systems.contract import RemedyModel, RemedyResults

if TYPE_CHECKING:
    from types import ModuleType

    from experiments.systems.contract import SystemRun

#: Stream of SeedSequence(system seed) for every random draw a remedy makes: a remedy's
#: subsample and audit draw belong to the system, not to the people it decides on.
REMEDY_STREAM = 23


#: Paired rates every remedy is judged on.
JUDGED_METRICS = ("fpr", "fnr", "selection_rate", "accuracy", "tpr")
#: The two views, as in the runner.
VIEWS = {"true": "y_true", "recorded": "y_recorded"}
COLUMNS = ["remedy", "family", "view", "kind", "grouping", "group", "reference", "metric", "n",
           "base", "remedied", "change", "change_ci_low", "change_ci_high", "remedied_ci_low",
           "remedied_ci_high", "p_holm", "rises", "label"]
#: The one-group column every overall figure is computed over.
EVERYONE = "everyone"


class RemedyError(UsageError):
    """A remedy that cannot run on this experiment; the message names the remedy and why."""


#: The group that sensitive groups too small for a fairness remedy are pooled into.
POOLED = "other groups (pooled)"


def fit_groups(name: str, groups: np.ndarray, label: np.ndarray, sensitive: str
               ) -> tuple[np.ndarray, list[str]]:
    """Sensitive groups as a fairness remedy can use them, and the groups pooled.

    fairlearn needs people with and without a recorded outcome in every group it equalises;
    a group of the training rows with one kind only (a small group, a rare outcome) is pooled
    with the others like it into :data:`POOLED`, and, while the pool still holds one kind
    only, with the smallest other group.

    Raises
    ------
    RemedyError
        When even the pooled group holds one kind of recorded outcome only.
    """
    codes, values = pd.factorize(pd.Series(groups), sort=True)
    positives = np.bincount(codes, weights=label.astype(float), minlength=len(values))
    sizes = np.bincount(codes, minlength=len(values))
    degenerate = (positives == 0) | (positives == sizes)
    if not degenerate.any():
        return groups, []
    def mixed() -> bool:
        return bool(0 < positives[degenerate].sum() < sizes[degenerate].sum())

    for smallest in [i for i in np.argsort(sizes, kind="stable") if not degenerate[i]]:
        if mixed():
            break
        degenerate[smallest] = True
    pooled = [str(v) for v, d in zip(values, degenerate, strict=True) if d]
    if not mixed() or len(pooled) == len(values):
        raise RemedyError(
            f"remedies.apply: {name!r} needs people with and without a recorded outcome in "
            f"every {sensitive} group of the training rows, and even pooled the groups hold "
            "one kind only; enlarge population.size or set "
            "remedies.sensitive_feature to another column")
    return pool_groups(groups, pooled), pooled


def pool_groups(groups: np.ndarray, pooled: list[str]) -> np.ndarray:
    """``groups`` with every group named in ``pooled`` replaced by :data:`POOLED`."""
    groups = np.asarray(groups, dtype=object)
    return np.where(np.isin(groups, pooled), POOLED, groups).astype(str)


def _pooled_note(pooled: list[str]) -> str:
    return (f"{', '.join(pooled)} pooled into one group, as a group of the training rows with "
            "one kind of recorded outcome only cannot be equalised alone") if pooled else ""


class RowClassifier(ClassifierMixin, BaseEstimator):
    """A system's estimator as fairlearn needs it, addressed by row position.

    fairlearn validates ``X`` as one array, which a people table of categories and numbers is
    not; so ``X`` here is a column of row positions into ``table``, and the system's estimator
    sees the people rows themselves. ``fit`` takes sample weights (the reductions pass them);
    ``predict`` is the class at probability 0.5, not the system's capacity rule. A
    cost-sensitive problem the reduction poses may hold one class only; the classifier then
    predicts that class, as the best response to such a problem does.

    Parameters
    ----------
    estimator : estimator
        ``fit(X, y, sample_weight=...)`` and ``predict_proba(X)`` over people tables.
    table : DataFrame
        The people the row positions point into.
    prefit : bool
        ``estimator`` is fitted already (the threshold optimiser's case): ``fit`` is not called.
    """

    def __init__(self, estimator: Any, table: pd.DataFrame, prefit: bool = False) -> None:
        self.estimator = estimator
        self.table = table
        self.prefit = prefit
        if prefit:  # scikit-learn's check_is_fitted looks for attributes ending in "_"
            self.fitted_, self.constant_, self.classes_ = estimator, None, np.array([0, 1])

    def _rows(self, X: np.ndarray) -> pd.DataFrame:  # noqa: N803 - scikit-learn's name
        return self.table.iloc[np.asarray(X, dtype=np.int64).reshape(-1)]

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
            ) -> RowClassifier:  # noqa: N803 - scikit-learn's name
        """Fit a clone of the estimator on the rows, with the given weights."""
        label = np.asarray(y).astype(bool)
        self.classes_ = np.array([0, 1])
        self.constant_ = None
        if label.all() or not label.any():
            self.constant_ = int(label[0]) if len(label) else 0
            return self
        self.fitted_ = clone(self.estimator).fit(self._rows(X), label,
                                                 sample_weight=sample_weight)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - scikit-learn's name
        """The estimator's probabilities for the rows."""
        if self.constant_ is not None:
            return np.tile(np.eye(2)[self.constant_], (len(X), 1))
        return self.fitted_.predict_proba(self._rows(X))

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - scikit-learn's name
        """1 where the probability of the positive class is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _stacked(model: RemedyModel) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The training rows and the held-out rows in one table, and each part's positions."""
    table = pd.concat([model.train_people, model.held_out], ignore_index=True)
    n = len(model.train_people)
    return (table, np.arange(n).reshape(-1, 1),
            np.arange(n, len(table)).reshape(-1, 1))


def requested_remedies(config: ExperimentConfig) -> list[str]:
    """The remedies a run applies: ``remedies.apply`` with 'all' expanded."""
    names = config.remedies.apply
    if "all" in names:
        return supported_remedies(config.experiment.system)
    return [n for n in REMEDIES if n in names]


def run_remedies(config: ExperimentConfig, adapter: ModuleType, people: pd.DataFrame,
                 train: np.ndarray, columns: list[str], system_run: SystemRun,
                 references: dict[str, str], base_seconds: float,
                 progress: Callable[[str], None] | None = None) -> RemedyResults:
    """Run the requested remedies on the run's people and compare each with the run.

    Parameters
    ----------
    config : ExperimentConfig
        The experiment, with its ``[remedies]`` table.
    adapter : module
        The system's adapter.
    people : DataFrame
        The population as generated for the run.
    train : ndarray of bool
        The run's training split.
    columns : list of str
        The grouping columns.
    system_run : SystemRun
        The unremedied run.
    references : dict
        The reference group the audit used, per grouping name.
    base_seconds : float
        How long the unremedied run took (for the report's cost sentence).
    progress : callable, optional

    Returns
    -------
    RemedyResults
    """
    say = progress or (lambda message: None)
    names = requested_remedies(config)
    seed = system_seed(config)
    settings = config.remedies
    decisions = system_run.decided.table
    parts, seconds, notes, decided, fitted_objects = [], {}, {}, {}, {}
    for index, name in enumerate(names):
        say(f"remedy {index + 1} of {len(names)}: {REMEDY_TITLES[name]}")
        started = time.perf_counter()
        rng = np.random.default_rng(np.random.SeedSequence([seed, REMEDY_STREAM, index]))
        remedied, note, fitted = _apply(name, config, adapter, people, train, columns,
                                        system_run, rng)
        if fitted is not None:
            fitted_objects[name] = fitted
        seconds[name] = round(time.perf_counter() - started, 2)
        decided[name] = np.asarray(remedied, dtype=bool)
        if note:
            notes[name] = note
        parts.append(judge(config, decisions, remedied, name, references))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    floats = table.select_dtypes(include="float").columns
    table[floats] = table[floats] + 0.0  # no "-0.0" for a change that is exactly none
    return RemedyResults(table, names, unsupported_remedies(config.experiment.system), seconds,
                         round(base_seconds, 2), notes, config.audit.confidence,
                         settings.sensitive_feature, decided, fitted_objects)


def _apply(name: str, config: ExperimentConfig, adapter: ModuleType, people: pd.DataFrame,
           train: np.ndarray, columns: list[str], system_run: SystemRun,
           rng: np.random.Generator) -> tuple[np.ndarray, str, Any]:
    """The remedied decisions of the held-out rows, a note on how they were made, and the
    fitted fairlearn object with its training groups (None for the other remedies)."""
    remedy = REMEDIES[name]
    if name in getattr(adapter, "REMEDY_KNOBS", {}):
        return _knob_world(name, config, adapter, people, train, columns, system_run), "", None
    model: RemedyModel | None = system_run.hooks.remedy_model
    if model is None:
        raise RemedyError(f"remedy {name!r}: the {config.experiment.system} run offers no "
                          "model to remedy")
    try:
        return _model_remedy(name, remedy, model, config.remedies, rng)
    except ValueError as error:  # a refit that cannot learn (one class in an audit sample)
        text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise RemedyError(f"remedies.apply: {name!r} could not be fitted: {text}; enlarge "
                          "population.size") from error


def _model_remedy(name: str, remedy: Remedy, model: RemedyModel, settings: Any,
                  rng: np.random.Generator) -> tuple[np.ndarray, str, Any]:
    """A remedy of the system's learned score (see :func:`_apply`)."""
    sensitive = settings.sensitive_feature
    seed = int(rng.integers(2**31 - 1))
    if remedy.family == "post-processing":
        return _threshold_optimizer(name, model, sensitive, seed)
    if remedy.family == "reductions":
        return _reductions(name, model, settings, sensitive, rng, seed)
    if name == "random_audit_labels":
        audited = rng.random(len(model.audit_pool)) < settings.audit_fraction
        estimator = model.make_estimator().fit(model.audit_pool.loc[audited],
                                               model.audit_true[audited])
        return (model.decide(estimator.predict_proba(model.held_out)[:, 1]),
                f"{int(audited.sum()):,} audited people of {len(model.audit_pool):,}", None)
    if name == "reweighing":
        weights = reweighing_weights(model.sensitive_train[sensitive].to_numpy(),
                                     model.train_recorded)
        estimator = model.make_estimator().fit(model.train_people, model.train_recorded,
                                               sample_weight=weights)
        return model.decide(estimator.predict_proba(model.held_out)[:, 1]), "", None
    if name == "unawareness":
        train_blind = _neutralise(model.train_people, model.proxies)
        held_blind = _neutralise(model.held_out, model.proxies)
        estimator = model.make_estimator().fit(train_blind, model.train_recorded)
        return (model.decide(estimator.predict_proba(held_blind)[:, 1]),
                "held constant: " + ", ".join(model.proxies), None)
    raise RemedyError(f"remedy {name!r} has no implementation")  # pragma: no cover


def _threshold_optimizer(name: str, model: RemedyModel, sensitive: str, seed: int
                         ) -> tuple[np.ndarray, str, Any]:
    """fairlearn's group-specific (randomised) thresholds over the fitted score."""
    from fairlearn.postprocessing import ThresholdOptimizer

    groups, pooled = fit_groups(name, model.sensitive_train[sensitive].astype(str).to_numpy(),
                                model.train_recorded, sensitive)
    table, train_rows, held_rows = _stacked(model)
    constraint = "equalized_odds" if name.endswith("equalized_odds") else "demographic_parity"
    optimiser = ThresholdOptimizer(estimator=RowClassifier(model.fitted, table, prefit=True),
                                   constraints=constraint, objective="accuracy_score",
                                   prefit=True, predict_method="predict_proba")
    optimiser.fit(train_rows, model.train_recorded.astype(int), sensitive_features=groups)
    held_groups = pool_groups(model.sensitive_held_out[sensitive].astype(str).to_numpy(),
                              pooled)
    decided = optimiser.predict(held_rows, sensitive_features=held_groups, random_state=seed)
    return np.asarray(decided, dtype=bool), _pooled_note(pooled), (optimiser, groups)


def _reductions(name: str, model: RemedyModel, settings: Any, sensitive: str,
                rng: np.random.Generator, seed: int) -> tuple[np.ndarray, str, Any]:
    """fairlearn's exponentiated gradient around the system's estimator."""
    from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

    if not model.sample_weight:
        raise RemedyError(f"remedy {name!r}: the system's estimator takes no sample weights")
    table, train_rows, held_rows = _stacked(model)
    n = len(train_rows)
    rows = np.arange(n)
    if n > settings.reductions_max_rows:
        # The search refits the estimator once per iteration: a bounded random subsample
        # keeps its cost a small multiple of the run's.
        rows = np.sort(rng.choice(n, settings.reductions_max_rows, replace=False))
        note = (f"fitted on a random {settings.reductions_max_rows:,} of the {n:,} training "
                f"rows, {settings.reductions_max_iter} iterations at most")
    else:
        note = (f"fitted on all {n:,} training rows, {settings.reductions_max_iter} "
                "iterations at most")
    constraint = EqualizedOdds() if name.endswith("equalized_odds") else DemographicParity()
    search = ExponentiatedGradient(RowClassifier(model.make_estimator(), table), constraint,
                                   max_iter=settings.reductions_max_iter)
    labels = model.train_recorded[rows].astype(int)
    groups, pooled = fit_groups(name, model.sensitive_train[sensitive].astype(str).to_numpy()[
        rows], labels, sensitive)
    if pooled:
        note += "; " + _pooled_note(pooled)
    from threadpoolctl import threadpool_limits

    # The search makes dozens of small fits: one thread each spares OpenMP's start-up and,
    # on a shared machine, its contention, which cost more than a second thread gains.
    with threadpool_limits(1):
        search.fit(train_rows[rows], labels, sensitive_features=groups)
    decided = search.predict(held_rows, random_state=np.random.RandomState(seed))
    return np.asarray(decided, dtype=bool), note, (search, groups)


def reweighing_weights(sensitive: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Kamiran and Calders' weights: P(group) P(label) / P(group, label), per row.

    With these weights the label is independent of the group in the weighted training set.
    Cells with nobody get no weight (they have no rows).
    """
    codes, groups = pd.factorize(pd.Series(sensitive).astype(str), sort=True)
    y = np.asarray(label, dtype=bool).astype(np.int64)
    cells = np.bincount(codes * 2 + y, minlength=2 * len(groups)).reshape(-1, 2).astype(float)
    total = cells.sum()
    expected = cells.sum(axis=1, keepdims=True) * cells.sum(axis=0, keepdims=True) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(cells > 0, expected / cells, 0.0)
    return weight[codes, y]


def _neutralise(table: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The table with each named column at one value for everyone (the system cannot read it).

    A constant column carries no information to any learner, so this removes the feature
    without changing the system's feature list.
    """
    blind = table.copy()
    for column in columns:
        if column not in blind.columns:
            continue
        kind = blind[column].dtype
        if pd.api.types.is_bool_dtype(kind):
            blind[column] = False
        elif pd.api.types.is_numeric_dtype(kind):
            blind[column] = np.zeros(len(blind), dtype=kind)
        else:  # categories and strings
            blind[column] = "unknown"
    return blind


def knob_overrides(name: str, config: ExperimentConfig, adapter: ModuleType
                   ) -> dict[str, Any]:
    """The dotted config keys a design remedy sets, from the adapter's ``REMEDY_KNOBS``."""
    knobs = getattr(adapter, "REMEDY_KNOBS", {})
    return knobs[name](config)


def remedy_config(config: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """The experiment with a design remedy's keys set (no attribution, no remedies)."""
    import copy

    data = copy.deepcopy(config.model_dump(mode="python"))
    data.pop("attribution", None)
    data["remedies"] = {}
    for key, value in overrides.items():
        set_dotted(data, key, value)
    return ExperimentConfig.model_validate(data)


def _knob_world(name: str, config: ExperimentConfig, adapter: ModuleType, people: pd.DataFrame,
                train: np.ndarray, columns: list[str], system_run: SystemRun) -> np.ndarray:
    """A design remedy's decisions: the experiment's world with the remedy's settings, on the
    same people, decided as attribution decides its knob worlds."""
    from experiments.engine.attribution import default_decider
    from synthetic.population import apply_mechanisms

    variant = remedy_config(config, knob_overrides(name, config, adapter))
    mechanisms = {k: m.model_dump() for k, m in variant.mechanisms.items()}
    configured = {k: m.model_dump() for k, m in config.mechanisms.items()}
    world_people = people if mechanisms == configured else apply_mechanisms(
        people, mechanisms, config.experiment.seed)
    decide = system_run.hooks.decide_world or default_decider(adapter, train, columns)
    result = decide(variant, world_people)
    decision = result["decision"] if isinstance(result, dict) else result
    return np.asarray(decision, dtype=bool)


def focus_labels(decisions: pd.DataFrame, grouping: str) -> np.ndarray:
    """Each row's group in a grouping named like the audit's (``"nationality × sex"``)."""
    from experiments.systems.contract import group_labels

    return group_labels(decisions, grouping)


def judge(config: ExperimentConfig, decisions: pd.DataFrame, remedied: np.ndarray, name: str,
          references: dict[str, str]) -> pd.DataFrame:
    """A remedy's rows of remedies.csv: focus disparities, overall rates and group rates,
    each against the unremedied run on the same people, by both views.

    Focus disparities are differences (group minus reference) of the focus metrics; their
    change has the paired interval of :func:`audit.compare` (MOVER over the two groups' paired
    changes) and the remedied disparity itself a Newcombe interval for two independent groups.
    Group rates are every group of the sensitive feature's false positive and false negative
    rates; ``rises`` marks those whose paired interval lies above zero (who bears the change).
    """
    settings = config.remedies
    sensitive = settings.sensitive_feature
    frame = pd.DataFrame({
        "y_true": decisions["y_true"].to_numpy(dtype=bool),
        "y_recorded": decisions["y_recorded"].to_numpy(dtype=bool),
        "decision": decisions["decision"].to_numpy(dtype=bool),
        "remedied": np.asarray(remedied, dtype=bool),
        EVERYONE: np.full(len(decisions), EVERYONE, dtype=object),
    })
    focus_columns: dict[str, str] = {}
    for focus in config.audit.focus:
        column = f"focus:{focus.grouping}"
        if column not in frame:
            frame[column] = focus_labels(decisions, focus.grouping)
        focus_columns[focus.grouping] = column
    has_sensitive = sensitive in decisions.columns
    if has_sensitive:
        frame[f"sensitive:{sensitive}"] = decisions[sensitive].astype(str).to_numpy()
    family = REMEDIES[name].family
    rows: list[dict[str, Any]] = []
    for view, outcome in VIEWS.items():
        groups = [EVERYONE, *dict.fromkeys(focus_columns.values())]
        if has_sensitive:
            groups.append(f"sensitive:{sensitive}")
        reference = {}
        for focus in config.audit.focus:
            reference[focus_columns[focus.grouping]] = (
                focus.reference or references.get(focus.grouping, ""))
        if has_sensitive and grouping_name([sensitive]) in references:
            reference.setdefault(f"sensitive:{sensitive}", references[grouping_name([sensitive])])
        reference = {k: v for k, v in reference.items() if v}
        table = compare(frame, groups, outcome, "decision", "remedied", reference,
                        confidence=config.audit.confidence, metrics=list(JUDGED_METRICS)).table
        base = {"remedy": name, "family": family, "view": view}
        overall = table[table["grouping"] == EVERYONE]
        for _, r in overall.iterrows():
            if r["metric"] not in ("accuracy", "selection_rate", "fpr", "fnr"):
                continue
            rows.append({**base, "kind": "overall", "grouping": EVERYONE, "group": EVERYONE,
                         "reference": "", "metric": r["metric"], "n": r["n"],
                         "base": r["value_a"], "remedied": r["value_b"], "change": r["change"],
                         "change_ci_low": r["change_ci_low"],
                         "change_ci_high": r["change_ci_high"], "p_holm": r["p_holm"],
                         "label": ""})
        for focus in config.audit.focus:
            column = focus_columns[focus.grouping]
            part = table[table["grouping"] == column]
            ref = focus.reference or references.get(focus.grouping, "")
            for metric in focus.metrics:
                metric_rows = part[part["metric"] == metric].set_index("group")
                if focus.group not in metric_rows.index or ref not in metric_rows.index:
                    continue
                g, r = metric_rows.loc[focus.group], metric_rows.loc[ref]
                low, high = newcombe_difference_interval(
                    np.round(g["value_b"] * g["n"]), g["n"], np.round(r["value_b"] * r["n"]),
                    r["n"], config.audit.confidence)
                rows.append({**base, "kind": "focus_disparity", "grouping": focus.grouping,
                             "group": focus.group, "reference": ref, "metric": metric,
                             "n": g["n"], "base": g["disparity_a"],
                             "remedied": g["disparity_b"], "change": g["disparity_change"],
                             "change_ci_low": g["disparity_change_ci_low"],
                             "change_ci_high": g["disparity_change_ci_high"],
                             "remedied_ci_low": float(low), "remedied_ci_high": float(high),
                             "label": focus.label})
        if has_sensitive:
            part = table[(table["grouping"] == f"sensitive:{sensitive}")
                         & table["metric"].isin(["fpr", "fnr"])]
            for _, r in part.iterrows():
                rows.append({**base, "kind": "group_rate", "grouping": sensitive,
                             "group": r["group"], "reference": "", "metric": r["metric"],
                             "n": r["n"], "base": r["value_a"], "remedied": r["value_b"],
                             "change": r["change"], "change_ci_low": r["change_ci_low"],
                             "change_ci_high": r["change_ci_high"], "p_holm": r["p_holm"],
                             "rises": "yes" if r["change_ci_low"] > 0 else "no", "label": ""})
    return pd.DataFrame(rows, columns=COLUMNS)


def bearers(table: pd.DataFrame, remedy: str, view: str = "true") -> dict[str, list[str]]:
    """Groups whose false positive or false negative rate rises under a remedy (paired
    interval above zero), by metric."""
    rows = table[(table["remedy"] == remedy) & (table["view"] == view)
                 & (table["kind"] == "group_rate") & (table["rises"] == "yes")]
    return {metric: list(rows.loc[rows["metric"] == metric, "group"])
            for metric in ("fpr", "fnr")}
