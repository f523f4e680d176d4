"""Adapter for the ImmigrationOS-style prioritiser: train on the recorded world, decide on
the held-out people, decide their counterfactual twins with the same cut-off."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from experiments.config import Strict, system_seed
from experiments.systems.contract import (
    Decisions,
    Hooks,
    RemedyModel,
    SystemRun,
    Wording,
    raised_share_capacity,
)
from synthetic.systems.base import top_share
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


#: The historical label is read off three of the score's own features, which the remedies
#: report must say before a reader takes a fix "by the records" as evidence.
LABEL_NOTE = (
    "The recorded label this system learns (a recorded serious crime, gang affiliation or "
    "overstay) is an exact function of three of its own features (recorded criminal record, "
    "recorded gang affiliation, recorded overstay). A remedy that equalises error rates "
    "against the records can therefore return the recorded label itself: its accuracy by "
    "the records is 100% and its gap by the records is zero by construction, which says "
    "nothing about fairness. Only the columns by the true outcome judge these remedies.")


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Train the ImmigrationOS mimic on the training split and decide on the rest.

    The model's fitting (gradient boosting holds out a random validation share for early
    stopping) is the system's own draw (:func:`system_seed`, redrawn by each replicate).
    """
    settings = config.system_settings()
    fit_seed = system_seed(config)
    system = ImmigrationOSPrioritiser(
        model=settings.model, capacity=settings.capacity,
        use_nationality=settings.use_nationality, random_state=fit_seed,
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

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # A world's decisions as its full run would make them, without the run's tables and
        # remedy inputs; the configured world is this run.
        world_settings = world.system_settings()
        world_seed = system_seed(world)
        if world_people is people and world_settings == settings and world_seed == fit_seed:
            return {"decision": selected.copy()}
        world_system = ImmigrationOSPrioritiser(
            model=world_settings.model, capacity=world_settings.capacity,
            use_nationality=world_settings.use_nationality, random_state=world_seed,
        )
        world_in_sample = world_people["in_training_sample"].to_numpy(dtype=bool) if (
            "in_training_sample" in world_people.columns) else np.ones(len(world_people),
                                                                       dtype=bool)
        world_system.fit(world_people.loc[train & world_in_sample])
        return {"decision": world_system.prioritise(world_people.loc[~train])[0]}

    features = list(dict.fromkeys([*system.feature_columns, "nationality"]))
    sensitive = ["region_of_origin", "nationality"]
    remedy_model = RemedyModel(
        train_people=training[features], train_recorded=recorded_priority(training),
        sensitive_train=training[sensitive], audit_pool=people.loc[train, features],
        audit_true=true_priority(people.loc[train]), held_out=held_out[features],
        sensitive_held_out=held_out[sensitive], fitted=system,
        make_estimator=lambda: ImmigrationOSPrioritiser(
            model=settings.model, capacity=settings.capacity,
            use_nationality=settings.use_nationality, random_state=fit_seed),
        decide=lambda scores: top_share(scores, settings.capacity)[0],
        proxies=UNAWARE_COLUMNS, label_note=LABEL_NOTE)

    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "training_people": int(len(training)),
                "held_out_people": int(len(held_out)),
                "score_threshold": cut_off.threshold,
                "features": system.feature_columns,
                "training_label_prevalence": float(recorded_priority(training).mean()),
            },
        ),
        wording=Wording(
            card=system.card(),
        ),
        hooks=Hooks(
            decide_twins=decide_twins,
            decide_world=decide_world,
            remedy_model=remedy_model,
        ),
    )


#: Nationality and the proxy of it the score reads: plate-reader hits follow where people
#: live. Unawareness holds them at one value for everyone.
UNAWARE_COLUMNS = ("nationality", "plate_reader_hits")

#: Design remedies as settings of this system (see experiments.engine.remedies).
REMEDY_KNOBS = {
    "raise_capacity": raised_share_capacity,
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    "remove_biased_list": "the score holds no list or stage to remove: its bias is in the "
                          "records it learns from (see the data remedies) and in the proxies "
                          "it reads (see unawareness)",
}
