"""Adapters that run one toy system on a population and return who it decided what for.

Each adapter trains the system on the training split's recorded world, decides on the
held-out split, and returns one row per held-out person with the grouping columns, the true
and the recorded outcome, the decision and the score. Counterfactual twins are decided with
the same fitted system and the same cut-off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.config import ExperimentConfig
from synthetic.systems.immigration_os import (
    ImmigrationOSPrioritiser,
    recorded_priority,
    true_priority,
)


@dataclass
class SystemRun:
    """What a system decided on the held-out people.

    Attributes
    ----------
    decisions : DataFrame
        One row per held-out person: the grouping columns, ``y_true``, ``y_recorded``,
        ``decision``, ``score``.
    card : str
        The system's card (Markdown).
    decide_twins : callable
        Takes the twins' people table (same rows as the population) and returns their
        decisions for the held-out people, with the factual run's cut-off.
    details : dict
        Facts for the manifest and report (training size, threshold, features).
    outcome_label : str
        What ``y_true`` means, in words.
    decision_label : str
        What a positive decision means, in words.
    """

    decisions: pd.DataFrame
    card: str
    decide_twins: Callable[[pd.DataFrame], np.ndarray]
    details: dict = field(default_factory=dict)
    outcome_label: str = "truly in a stated priority"
    decision_label: str = "prioritised for enforcement"


def run_immigration_os(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Train the ImmigrationOS mimic on the training split and decide on the rest."""
    settings = config.system_settings()
    system = ImmigrationOSPrioritiser(
        model=settings.model, capacity=settings.capacity,
        use_nationality=settings.use_nationality, random_state=config.experiment.seed,
    )
    in_sample = people["in_training_sample"].to_numpy(dtype=bool) if (
        "in_training_sample" in people.columns) else np.ones(len(people), dtype=bool)
    training = people.loc[train & in_sample]
    system.fit(training)
    held_out = people.loc[~train]
    selected, scores = system.prioritise(held_out)
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=true_priority(held_out),
        y_recorded=recorded_priority(held_out),
        decision=selected,
        score=scores,
    )
    cut_off = system.cut_off_

    def decide_twins(twins: pd.DataFrame) -> np.ndarray:
        return system.prioritise(twins.loc[~train], cut_off=cut_off)[0]

    return SystemRun(
        decisions=decisions,
        card=system.card(),
        decide_twins=decide_twins,
        details={
            "training_people": int(len(training)),
            "held_out_people": int(len(held_out)),
            "score_threshold": cut_off.threshold,
            "features": system.feature_columns,
            "training_label_prevalence": float(recorded_priority(training).mean()),
        },
    )


SYSTEM_RUNNERS: dict[str, Callable[..., SystemRun]] = {"immigration_os": run_immigration_os}
