"""Adapter for the ImmigrationOS-style prioritiser: train on the recorded world, decide on
the held-out people, decide their counterfactual twins with the same cut-off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from experiments.config import Strict
from experiments.systems.base import SystemRun
from synthetic.systems.immigration_os import (
    ImmigrationOSPrioritiser,
    recorded_priority,
    true_priority,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig


class Settings(Strict):
    """The ``[system]`` table of an ImmigrationOS experiment."""

    model: Literal["gradient_boosting", "logistic_regression"] = "gradient_boosting"
    capacity: float = Field(default=0.05, gt=0, le=1,
                            description="share of people the agency can act on")
    use_nationality: bool = Field(default=False, description="nationality as a feature")


def run(
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
