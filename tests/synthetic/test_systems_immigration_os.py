"""The ImmigrationOS mimic and capacity-limited selection."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.population import generate
from synthetic.systems.base import top_share
from synthetic.systems.immigration_os import (
    ImmigrationOSPrioritiser,
    recorded_priority,
    true_priority,
)


def test_top_share_selects_exactly_the_capacity_with_ties_by_position():
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1, 0.7])
    selected, cut = top_share(scores, 0.5)
    assert selected.tolist() == [True, True, False, False, False, True]
    assert cut.threshold == 0.5 and cut.last_tied_position == 1
    # the same scores under the same cut give the same decisions, ties included
    assert cut.select(scores).tolist() == selected.tolist()


def test_cut_off_moves_only_people_whose_score_changes():
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    selected, cut = top_share(scores, 0.5)
    changed = scores.copy()
    changed[2] = 0.95
    assert cut.select(changed).tolist() == [True, True, True, False]


@pytest.fixture(scope="module")
def people():
    mechanisms = {"label_bias": {"strength": 1.0, "targets": ["MEX"]},
                  "measurement_bias": {"strength": 2.0, "targets": ["MEX"]}}
    return generate("us_visa_holders", 20_000, 3, mechanisms=mechanisms).people


@pytest.mark.parametrize("model", ["gradient_boosting", "logistic_regression"])
def test_prioritises_the_capacity_and_beats_chance(people, model):
    system = ImmigrationOSPrioritiser(model=model, capacity=0.05).fit(people.iloc[:10_000])
    held_out = people.iloc[10_000:]
    selected, scores = system.prioritise(held_out)
    assert selected.sum() == 500
    assert scores.shape == (10_000,) and np.all((scores >= 0) & (scores <= 1))
    truth = true_priority(held_out)
    assert truth[selected].mean() > 2 * truth.mean()


def test_nationality_is_a_feature_only_when_asked(people):
    assert "nationality" not in ImmigrationOSPrioritiser().feature_columns
    assert "nationality" in ImmigrationOSPrioritiser(use_nationality=True).feature_columns


def test_recorded_label_differs_from_truth_only_through_mechanisms(people):
    assert recorded_priority(people).sum() != true_priority(people).sum()


def test_missing_recorded_columns_are_named(people):
    with pytest.raises(ValueError, match="recorded_gang_affiliation"):
        ImmigrationOSPrioritiser().fit(people.drop(columns=["recorded_gang_affiliation"]))


def test_card_says_what_it_mimics():
    card = ImmigrationOSPrioritiser.card()
    assert "What it imitates" in card and "What is simplified" in card and "Knobs" in card
