"""The contract between the runner and a toy system's adapter.

An adapter module in :mod:`experiments.systems` exposes:

- ``Settings``: a pydantic model (subclass of :class:`experiments.config.Strict`) for the
  experiment file's ``[system]`` table;
- ``run(config, people, train, group_columns) -> SystemRun``: train the system on the training
  split's recorded world and decide on the held-out people.

and is listed in :data:`experiments.systems.SYSTEMS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass
class SystemRun:
    """What a system decided on the held-out people, and how to talk about it.

    Attributes
    ----------
    decisions : DataFrame
        One row per held-out person: the grouping columns, ``y_true`` (the true outcome the
        system claims to predict), ``y_recorded`` (the outcome as the records hold it),
        ``decision`` (bool, True = the harmful action: prioritised, flagged, revoked) and
        ``score`` (in [0, 1]).
    card : str
        The system's card (Markdown).
    decide_twins : callable or None
        Takes the twins' people table (same rows as the population) and returns their
        decisions for the held-out people with the factual run's cut-off; None when the system
        cannot decide twins.
    details : dict
        Facts for the manifest and report (training size, threshold, features).
    decision_label : str
        A positive decision as a participle phrase that reads after "people" and after
        "were": "prioritised for enforcement".
    error_phrase : str
        A false positive in the same form: "prioritised in error (...)".
    negative_phrase : str
        A true negative outcome that reads after "someone" and "people": "in no stated
        priority", "posing no threat".
    extra_tables : dict
        More tables to write as ``<name>.csv`` beside metrics.csv.
    write_extras : callable or None
        Called with the staging directory before the report is built; returns extra report
        blocks (figures included).
    headlines : list of str
        System-specific findings, quoted before the general ones (five at most in all).
    unit : str
        What one row of ``decisions`` is, in the plural: "people", or "verification attempts".
    decide_world : callable or None
        Takes a world's config (bias knobs switched) and people (mechanisms re-applied) and
        returns ``{"decision": ndarray, ...}`` for the same rows as ``decisions``, reusing what
        does not change between worlds; None: the runner calls ``run`` for each world.
    world_contrasts : list
        The system's own comparisons to attribute to the bias knobs
        (:class:`experiments.attribution.WorldContrast`), beside the focus comparisons.
    attribution : Attribution or None
        Filled in by the runner when the experiment has an ``[attribution]`` table.
    cluster : str or None
        A column of ``decisions`` naming each row's cluster when rows are not independent
        (people whose suspicion comes from one source); the run's audits then use clustered
        intervals (:mod:`audit.clusters`). None: rows are independent.
    remedy_model : RemedyModel or None
        What the model remedies need (:class:`experiments.remedies.RemedyModel`): the learned
        score, its training rows and its decision rule; None when the system has no learned
        score to remedy.
    """

    decisions: pd.DataFrame
    card: str
    decide_twins: Callable[[pd.DataFrame], np.ndarray] | None = None
    details: dict = field(default_factory=dict)
    decision_label: str = "prioritised for enforcement"
    error_phrase: str = "prioritised in error (selected though in no stated priority)"
    negative_phrase: str = "in no stated priority"
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    write_extras: Callable[[Path], list[object]] | None = None
    headlines: list[str] = field(default_factory=list)
    unit: str = "people"
    decide_world: Callable[..., dict[str, np.ndarray]] | None = None
    world_contrasts: list = field(default_factory=list)
    attribution: object | None = None
    cluster: str | None = None
    remedy_model: object | None = None
    #: The remedies run beside the system (:class:`experiments.remedies.RemedyResults`),
    #: filled in by the runner when the experiment has ``[remedies]``.
    remedies: object | None = None
