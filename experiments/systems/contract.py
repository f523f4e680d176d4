"""The contract between the runner and a toy system's adapter.

An adapter module in :mod:`experiments.systems` exposes:

- ``Settings``: a pydantic model (subclass of :class:`experiments.config.Strict`) for the
  experiment file's ``[system]`` table;
- ``run(config, people, train, group_columns) -> SystemRun``: train the system on the training
  split's recorded world and decide on the held-out people;

and is listed in :data:`experiments.config.registry.SYSTEMS`. While the runner computes a
further replicate, :func:`own_findings` is False: an adapter may then skip the findings only
the first replicate reports (its extra tables, audits and headlines), never its decisions,
hooks or ``replicate_outcomes``. A :class:`SystemRun` has three
parts from the adapter, each small and typed: what the system decided (:class:`Decisions`),
how to talk about it (:class:`Wording`) and what the runner may ask of it (:class:`Hooks`);
and one part the runner fills in, what the runner found (:class:`Findings`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.config import AttributionKnob, ExperimentConfig

#: False while a further replicate of a run is computed (see :func:`own_findings`).
_OWN_FINDINGS = contextvars.ContextVar("own_findings", default=True)


def own_findings() -> bool:
    """Whether this system run's own findings are reported: False in a run's further
    replicates, whose decisions, hooks and ``replicate_outcomes`` alone are read (the
    system's own findings, quoted among the headlines, rest on the first replicate)."""
    return _OWN_FINDINGS.get()


@contextlib.contextmanager
def decisions_only() -> Iterator[None]:
    """While the block runs, :func:`own_findings` is False."""
    token = _OWN_FINDINGS.set(False)
    try:
        yield
    finally:
        _OWN_FINDINGS.reset(token)


@dataclass
class RunPlan:
    """What this process will compute of a run, known before its first system run: an
    adapter may start work ahead (fits on another thread) for what it will be asked.

    Attributes
    ----------
    replicates : tuple of ExperimentConfig
        Every replicate this process will run, the run itself first.
    worlds : tuple of ExperimentConfig
        The attribution worlds each replicate decides here (as configured for the first
        replicate; a further replicate's worlds differ only in its system seed); empty
        without attribution or when a cluster decides them.
    """

    replicates: tuple[ExperimentConfig, ...]
    worlds: tuple[ExperimentConfig, ...] = ()
    _finishers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def on_finish(self, finisher: Callable[[], None]) -> None:
        """Call ``finisher`` when the run is done, or stops on an error (to drop work
        started ahead that nothing will take)."""
        self._finishers.append(finisher)


_PLAN: contextvars.ContextVar[RunPlan | None] = contextvars.ContextVar("run_plan",
                                                                       default=None)


def run_plan() -> RunPlan | None:
    """The plan of the run being computed (:class:`RunPlan`), None outside one."""
    return _PLAN.get()


@contextlib.contextmanager
def planned(plan: RunPlan) -> Iterator[RunPlan]:
    """While the block runs, :func:`run_plan` is ``plan``; its finishers run at the end."""
    token = _PLAN.set(plan)
    try:
        yield plan
    finally:
        _PLAN.reset(token)
        for finisher in plan._finishers:
            finisher()


@dataclass
class Decisions:
    """What a system decided on the held-out people.

    Attributes
    ----------
    table : DataFrame
        One row per held-out person: the grouping columns, ``y_true`` (the true outcome the
        system claims to predict), ``y_recorded`` (the outcome as the records hold it),
        ``decision`` (bool, True = the harmful action: prioritised, flagged, revoked) and
        ``score`` (in [0, 1]).
    details : dict
        Facts for the manifest and report (training size, threshold, features).
    extra_tables : dict
        More tables to write as ``<name>.csv`` beside metrics.csv.
    unit : str
        What one row of ``table`` is, in the plural: "people", or "verification attempts".
    cluster : str or None
        A column of ``table`` naming each row's cluster when rows are not independent
        (people whose suspicion comes from one source); the run's audits then use clustered
        intervals (:mod:`audit.clusters`). None: rows are independent.
    replicate_outcomes : dict
        The system's own outcomes of this draw of its randomness, as small tables by name
        (whether a feedback loop ran away, say). Under replicates the runner stacks each
        table over the replicates, with a ``replicate`` column, and hands the stacks to
        ``Hooks.pool_replicates``.
    """

    table: pd.DataFrame
    details: dict = field(default_factory=dict)
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    unit: str = "people"
    cluster: str | None = None
    replicate_outcomes: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class Wording:
    """How to talk about a system's decisions.

    Attributes
    ----------
    card : str
        The system's card (Markdown).
    decision_label : str
        A positive decision as a participle phrase that reads after "people" and after
        "were": "prioritised for enforcement".
    error_phrase : str
        A false positive in the same form: "prioritised in error (...)".
    negative_phrase : str
        A true negative outcome that reads after "someone" and "people": "in no stated
        priority", "posing no threat".
    headlines : list of str
        System-specific findings, quoted before the general ones (five at most in all).
    claims : list of Claim
        The claims (:class:`experiments.writing.claims.Claim`) behind every number the
        system's headlines print, each tied to its sentence: a headline rendered from claims
        (:meth:`experiments.writing.claims.Ledger.sentence`) cites its table rows.
    phrase_claims : list of Claim
        Claims on the numbers the phrases above print (an assumed mix of attempts): every
        sentence that uses a phrase carries them.
    focus_quoted : list of str
        Groupings of focus comparisons that the system's own headlines already quote crude
        and adjusted; the run does not headline them a second time.
    write_extras : callable or None
        Called with the staging directory before the report is built; returns extra report
        blocks (figures included).
    """

    card: str
    decision_label: str = "prioritised for enforcement"
    error_phrase: str = "prioritised in error (selected though in no stated priority)"
    negative_phrase: str = "in no stated priority"
    headlines: list[str] = field(default_factory=list)
    claims: list[Any] = field(default_factory=list)
    phrase_claims: list[Any] = field(default_factory=list)
    focus_quoted: list[str] = field(default_factory=list)
    write_extras: Callable[[Path], list[object]] | None = None


@dataclass
class Hooks:
    """What the runner may ask of a system beyond its decisions.

    Attributes
    ----------
    decide_twins : callable or None
        Takes the twins' people table (same rows as the population) and returns their
        decisions for the held-out people with the factual run's cut-off; None when the system
        cannot decide twins.
    decide_twins_by_effect : callable or None
        Like ``decide_twins``, also told the twin's effect (``"total"`` or ``"direct"``); used
        instead of it when set. A system whose own draws follow the attribute (an applicant's
        phone traces follow their nationality) holds those draws at their factual values for a
        direct twin and regenerates them for a total one, so it must know which is asked.
    decide_world : callable or None
        Takes a world's config (bias knobs switched) and people (mechanisms re-applied) and
        returns ``{"decision": ndarray, ...}`` for the same rows as the decisions, reusing
        what does not change between worlds; None: the runner calls ``run`` for each world.
    world_contrasts : list of WorldContrast
        The system's own comparisons to attribute to the bias knobs, beside the focus
        comparisons.
    remedy_model : RemedyModel or None
        What the model remedies need: the learned score, its training rows and its decision
        rule; None when the system has no learned score to remedy.
    pool_replicates : callable or None
        Called on the first replicate's run, when a run has more than one replicate, with
        each of ``Decisions.replicate_outcomes`` stacked over every replicate (the first
        included) and the run's pooled tables (:class:`PooledTables`); the system may then
        word its own findings over the replicates (its headlines, their claims, tables and
        report blocks) instead of over the first one.
    """

    decide_twins: Callable[[pd.DataFrame], np.ndarray] | None = None
    decide_twins_by_effect: Callable[[pd.DataFrame, str], np.ndarray] | None = None
    decide_world: Callable[..., dict[str, np.ndarray]] | None = None
    world_contrasts: list[WorldContrast] = field(default_factory=list)
    remedy_model: RemedyModel | None = None
    pool_replicates: Callable[[dict[str, pd.DataFrame], PooledTables], None] | None = None


@dataclass
class PooledTables:
    """A run's tables pooled over the replicates of the system's randomness, as written.

    Attributes
    ----------
    metrics : dict of str to DataFrame
        metrics.csv's rows by view (``"true"``, ``"recorded"``), without the view column.
    adjusted : DataFrame
        adjusted.csv (empty when no focus comparison declares strata).
    """

    metrics: dict[str, pd.DataFrame]
    adjusted: pd.DataFrame


@dataclass
class Findings:
    """What the runner found about a system's run, filled in by the engine.

    Attributes
    ----------
    attribution : Attribution or None
        Set when the experiment has an ``[attribution]`` table and worlds were run.
    remedies : RemedyResults or None
        Set when the experiment applies ``[remedies]``.
    """

    attribution: Attribution | None = None
    remedies: RemedyResults | None = None


@dataclass
class SystemRun:
    """A system's run: what it decided, how to talk about it, what the runner may ask of it,
    and what the runner found."""

    decided: Decisions
    wording: Wording
    hooks: Hooks = field(default_factory=lambda: Hooks())
    findings: Findings = field(default_factory=lambda: Findings())


#: Names of the two worlds every attribution table starts and ends with.
ALL_OFF = "all knobs off"
AS_CONFIGURED = "as configured"


@dataclass(frozen=True)
class WorldContrast:
    """A system's own comparison to attribute: a linear contrast of group rates of one of its
    world outcomes (e.g. the growth of a gap between two nationalities over rounds).

    ``groups`` labels each row of the decider's ``outcome`` array; ``weights`` gives each
    group label's weight in the contrast.
    """

    grouping: str
    group: str
    reference: str
    metric: str
    outcome: str
    groups: np.ndarray
    weights: dict[str, float]
    label: str = ""


@dataclass
class RemedyModel:
    """What a system offers the model remedies: its learned score, refitted on other labels,
    weights or features, and its rule from scores to decisions.

    Attributes
    ----------
    train_people : DataFrame
        The rows the system learns from (its estimator's ``X``).
    train_recorded : ndarray of bool
        Their recorded outcome: the label the system learned.
    sensitive_train : DataFrame
        The ``region_of_origin`` and ``nationality`` of ``train_people`` (same rows).
    audit_pool : DataFrame
        The training split a random audit draws from (every person of it, labelled or not).
    audit_true : ndarray of bool
        The true outcome of ``audit_pool``, which the audit establishes.
    held_out : DataFrame
        The rows the system decides, in the order of ``SystemRun.decisions``.
    sensitive_held_out : DataFrame
        The ``region_of_origin`` and ``nationality`` of ``held_out``.
    fitted : estimator
        The run's own fitted estimator (``predict_proba`` over people tables).
    make_estimator : callable
        A new, unfitted estimator of the system: ``fit(X, y, sample_weight=None)`` and
        ``predict_proba(X)`` over people tables.
    decide : callable
        The system's rule from the held-out people's scores to their decisions (its capacity
        or threshold).
    proxies : tuple of str
        Columns the system reads that are nationality or its named proxies (unawareness).
    sample_weight : bool
        Whether ``make_estimator``'s ``fit`` takes sample weights.
    label_note : str
        A sentence the remedies report prints before any remedy when the recorded label is a
        function of the features (an equalised-odds remedy then returns the recorded label
        itself, and every check of a fix against the records passes by construction); empty
        otherwise.
    """

    train_people: pd.DataFrame
    train_recorded: np.ndarray
    sensitive_train: pd.DataFrame
    audit_pool: pd.DataFrame
    audit_true: np.ndarray
    held_out: pd.DataFrame
    sensitive_held_out: pd.DataFrame
    fitted: Any
    make_estimator: Callable[[], Any]
    decide: Callable[[np.ndarray], np.ndarray]
    proxies: tuple[str, ...] = ()
    sample_weight: bool = True
    label_note: str = ""


def raised_share_capacity(config: ExperimentConfig) -> dict[str, float]:
    """``raise_capacity`` for a system whose ``system.capacity`` is a share of the people:
    the share times ``remedies.capacity_factor``, at most everyone."""
    return {"system.capacity": min(
        1.0, config.system_settings().capacity * config.remedies.capacity_factor)}


def group_labels(decisions: pd.DataFrame, grouping: str) -> np.ndarray:
    """Each row's group in a grouping named like the audit's (``"nationality × sex"``)."""
    columns = grouping.split(" × ")
    parts = [decisions[c].astype(str).to_numpy() for c in columns]
    return parts[0] if len(parts) == 1 else join_columns(parts)


def join_columns(parts: list[np.ndarray]) -> np.ndarray:
    """``"a × b"`` labels of an intersection, vectorised over people."""
    joined = parts[0].astype(object)
    for part in parts[1:]:
        joined = joined + " × " + part.astype(object)
    return joined.astype(str)


# What the runner finds about a system's run: filled in by the engine, read by the reports.


@dataclass
class Attribution:
    """The attribution of a run: the table written as attribution.csv, and how it was made."""

    table: pd.DataFrame
    knobs: list[AttributionKnob]
    baseline_cause: str
    method: str
    n_worlds: int
    seconds: float
    confidence: float
    notes: list[str] = field(default_factory=list)

    def rows(self, grouping: str, group: str, metric: str) -> pd.DataFrame:
        """The rows of one comparison, in order: all off, each knob, as configured."""
        t = self.table
        return t[(t["grouping"] == grouping) & (t["group"] == group) & (t["metric"] == metric)]


@dataclass
class RemedyResults:
    """The remedies of a run: remedies.csv, and what the report needs besides."""

    table: pd.DataFrame
    applied: list[str]
    unsupported: dict[str, str]
    seconds: dict[str, float]
    base_seconds: float
    notes: dict[str, str] = field(default_factory=dict)
    confidence: float = 0.95
    sensitive_feature: str = "region_of_origin"
    #: Each remedy's decisions for the held-out rows (the rows of ``SystemRun.decisions``).
    decisions: dict[str, np.ndarray] = field(default_factory=dict)
    #: The fitted fairlearn object of each post-processing or reductions remedy, with the
    #: sensitive groups it was fitted on (training rows), for inspection.
    fitted: dict[str, tuple[Any, np.ndarray]] = field(default_factory=dict)
