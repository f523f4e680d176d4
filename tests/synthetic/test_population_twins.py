"""Counterfactual twins: the same people under another nationality, region or language."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.population import (
    DIRECT_TWIN_COLUMNS,
    TOTAL_TWIN_COLUMNS,
    PopulationInputError,
    describe_twin,
    generate,
)
from tests.synthetic.helpers import assert_same_frame, changed_columns

MECHANISMS = {
    "label_bias": {"strength": 1.0, "targets": ["region:Middle East and North Africa"]},
    "surveillance_intensity": {"strength": 1.0, "targets": ["IRN", "SYR"]},
    "measurement_bias": {"strength": 1.0, "targets": ["region:South Asia"]},
}
#: Variables with no path from nationality in the causal graph.
NOT_DESCENDANTS_OF_NATIONALITY = {"person_id", "true_gang_affiliation", "true_threat"}


@pytest.fixture(scope="module")
def population():
    return generate("us_visa_holders", 30_000, seed=17, mechanisms=MECHANISMS)


def test_twin_under_own_nationality_is_the_person(population):
    people = population.people
    for code in ("GBR", "IRN", "MEX"):
        mask = (people["nationality"] == code).to_numpy()
        twins = population.counterfactual("nationality", code).people
        assert_same_frame(twins[mask], people[mask])


def test_twin_under_own_region_and_language_is_the_person(population):
    people = population.people
    mask = (people["region_of_origin"] == "South Asia").to_numpy()
    assert_same_frame(population.counterfactual("region_of_origin", "South Asia").people[mask],
                      people[mask])
    mask = (people["first_language"] == "Arabic").to_numpy()
    assert_same_frame(population.counterfactual("first_language", "Arabic").people[mask],
                      people[mask])


def test_nationality_twins_keep_order_size_and_non_descendants(population):
    twins = population.counterfactual("nationality", "GBR")
    assert twins.n == population.n and twins.seed == population.seed
    assert twins.intervention == ("nationality", "GBR")
    people = twins.people
    assert (people["nationality"] == "GBR").all()
    assert (people["region_of_origin"] == "Europe and Central Asia").all()
    changed = changed_columns(population.people, people)
    assert not changed & NOT_DESCENDANTS_OF_NATIONALITY
    assert {"nationality", "region_of_origin", "first_language", "skin_tone"} <= changed


def test_nationality_twin_changes_what_targeting_depends_on(population):
    people = population.people
    iranians = (people["nationality"] == "IRN").to_numpy()
    twins = population.counterfactual("nationality", "GBR").people
    assert np.allclose(people.loc[iranians, "surveillance_coverage"], 0.51)
    assert np.allclose(twins.loc[iranians, "surveillance_coverage"], 0.3)


def test_region_twins_change_only_region_skin_tone_and_targeting(population):
    twins = population.counterfactual("region_of_origin", "Sub-Saharan Africa").people
    assert (twins["nationality"] == population.people["nationality"]).all()
    changed = changed_columns(population.people, twins)
    downstream = {"region_of_origin", "skin_tone", "recorded_criminal_record",
                  "recorded_serious_crime", "recorded_overstay", "recorded_gang_affiliation",
                  "recorded_name_match_quality", "recorded_years_in_country", "prior_contacts"}
    assert {"region_of_origin", "skin_tone"} <= changed <= downstream
    assert twins["skin_tone"].mean() > population.people["skin_tone"].mean() + 2


def test_language_twins_change_language_dialect_and_english_only(population):
    twins = population.counterfactual("first_language", "English").people
    assert twins["speaks_english"].all()
    changed = changed_columns(population.people, twins)
    assert changed == {"first_language", "dialect", "speaks_english"}


#: Columns the recorded world adds; a twin may change them because targeting follows the twin.
RECORDED = {"recorded_criminal_record", "recorded_serious_crime", "recorded_overstay",
            "recorded_gang_affiliation", "recorded_name_match_quality",
            "recorded_years_in_country", "surveillance_coverage", "observed_posts_per_month",
            "plate_reader_hits", "in_training_sample", "prior_contacts"}
TWINS = [("nationality", "GBR"), ("region_of_origin", "Sub-Saharan Africa"),
         ("first_language", "English")]


@pytest.mark.parametrize(("attribute", "value"), TWINS)
@pytest.mark.parametrize("effect", ["total", "direct"])
def test_twin_changes_only_the_columns_its_effect_names(population, attribute, value, effect):
    twins = population.counterfactual(attribute, value, effect)
    assert twins.effect == effect and twins.intervention == (attribute, value)
    named = (DIRECT_TWIN_COLUMNS if effect == "direct" else TOTAL_TWIN_COLUMNS)[attribute]
    changed = changed_columns(population.people, twins.people)
    assert attribute in changed
    assert changed <= set(named) | RECORDED, changed - set(named) - RECORDED


def test_direct_nationality_twin_holds_true_outcomes_and_genuine_attributes(population):
    people = population.people
    direct = population.counterfactual("nationality", "GBR", "direct").people
    total = population.counterfactual("nationality", "GBR").people
    held = ["sex", "age", "visa_type", "true_overstay", "true_criminal_record", "skin_tone",
            "protest_participation", "palestine_solidarity"]
    assert not changed_columns(people[held], direct[held])
    assert {"visa_type", "true_overstay", "skin_tone"} <= changed_columns(people[held],
                                                                          total[held])
    assert (direct["nationality"] == "GBR").all()
    assert (direct["first_language"] == "English").all()  # a proxy the system sees


def test_direct_twin_under_own_value_is_the_person(population):
    people = population.people
    mask = (people["nationality"] == "IRN").to_numpy()
    assert_same_frame(population.counterfactual("nationality", "IRN", "direct").people[mask],
                      people[mask])


@pytest.mark.parametrize(("attribute", "value"), TWINS)
def test_only_the_direct_effect_is_described_as_holding_everything_else(attribute, value):
    direct, total = describe_twin(attribute, "direct"), describe_twin(attribute, "total")
    assert "held fixed" in direct and "held fixed" not in total
    assert "what follows from it" in total and "what follows from it" not in direct
    if attribute == "nationality":
        assert "visa type" in total and "true overstay" in total and "visa type" not in direct


def test_unknown_twin_effect_is_one_clear_error(population):
    with pytest.raises(PopulationInputError, match="unknown twin effect 'indirect'"):
        population.counterfactual("nationality", "GBR", "indirect")


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("nationality", "XYZ", "unknown nationality 'XYZ'.*choose one of: MEX, IND"),
        ("nationality", "gbr", "unknown nationality 'gbr'"),
        ("region_of_origin", "Atlantis", "unknown region_of_origin 'Atlantis'"),
        ("first_language", "Klingon", "unknown first_language 'Klingon'"),
        ("age", "30", "cannot intervene on 'age'; counterfactual attributes: nationality"),
    ],
)
def test_bad_counterfactual_is_one_clear_error(population, attribute, value, message):
    with pytest.raises(PopulationInputError, match=message):
        population.counterfactual(attribute, value)
