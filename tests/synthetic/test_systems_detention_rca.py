"""The Risk Classification Assessment mimic: points, levels, the release branch, the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic.population import generate
from synthetic.systems.detention_rca import (
    DETAIN,
    RELEASE,
    SUPERVISOR,
    RiskClassificationAssessment,
    true_flight_risk,
    true_risk,
)


def person(**changes: object) -> dict:
    """A person with no risk points at all, unless changed."""
    base = {
        "recorded_criminal_record": "none", "recorded_gang_affiliation": False,
        "prior_contacts": 0, "recorded_overstay": False, "visa_type": "LPR",
        "recorded_years_in_country": 5.0, "n_family_ties": 4, "employer_sector": "retail",
    }
    return base | changes


def frame(*people: dict) -> pd.DataFrame:
    return pd.DataFrame(list(people))


def test_points_follow_the_card():
    table = frame(
        person(),
        person(recorded_criminal_record="minor", prior_contacts=5),
        person(recorded_criminal_record="serious"),
        person(recorded_gang_affiliation=True),
        person(recorded_overstay=True, visa_type="none/asylum seeker",
               recorded_years_in_country=0.5, n_family_ties=0, employer_sector="unemployed"),
        person(recorded_years_in_country=np.nan, n_family_ties=1),
    )
    safety, flight = RiskClassificationAssessment().points(table)
    assert safety.tolist() == [0, 2 + 3, 8, 8, 0, 0]
    assert flight.tolist() == [0, 0, 0, 0, 3 + 1 + 2 + 2 + 1, 2 + 1]


def test_levels_make_the_recommendation_and_removal_turns_release_into_detain():
    table = frame(
        person(),                                                   # low, low
        person(recorded_criminal_record="minor"),                   # medium safety
        person(recorded_years_in_country=0.5, n_family_ties=0),     # flight 4: medium
        person(recorded_criminal_record="serious"),                 # high safety
    )
    tool = RiskClassificationAssessment()
    with_branch = tool.recommend(table, release_branch=True)
    without_branch = tool.recommend(table, release_branch=False)
    assert with_branch.tolist() == [RELEASE, SUPERVISOR, SUPERVISOR, DETAIN]
    assert without_branch.tolist() == [DETAIN, SUPERVISOR, SUPERVISOR, DETAIN]
    no_supervisor = RiskClassificationAssessment(release_branch=True, supervisor_band=False)
    assert no_supervisor.recommend(table).tolist() == [RELEASE, DETAIN, DETAIN, DETAIN]


def test_bad_cut_offs_and_missing_columns_are_named():
    with pytest.raises(ValueError, match="flight_risk_cuts"):
        RiskClassificationAssessment(flight_risk_cuts=(6, 4)).points(frame(person()))
    with pytest.raises(ValueError, match="recorded_overstay"):
        RiskClassificationAssessment().points(frame(person()).drop(columns="recorded_overstay"))


@pytest.fixture(scope="module")
def people():
    return generate("southern_border_asylum", 20_000, 5).people


def test_truth_is_keyed_by_person_not_by_row_order(people):
    whole = true_flight_risk(people, 5)
    shuffled = people.sample(frac=1.0, random_state=0)
    again = true_flight_risk(shuffled, 5)
    assert np.array_equal(whole[shuffled.index.to_numpy()], again)
    assert 0.02 < whole.mean() < 0.2
    assert true_risk(people, 5).mean() >= whole.mean()


def test_score_is_a_caseload_percentile(people):
    tool = RiskClassificationAssessment().fit(people.iloc[:10_000])
    score = tool.risk_score(people.iloc[10_000:])
    assert score.min() >= 0 and score.max() <= 1
    total = np.add(*tool.points(people.iloc[10_000:]))
    # more points never means a lower score
    order = np.argsort(total, kind="stable")
    assert np.all(np.diff(score[order]) >= 0)


def test_removing_the_release_branch_only_adds_detentions(people):
    tool = RiskClassificationAssessment().fit(people)
    before = tool.recommend(people, release_branch=True)
    after = tool.recommend(people, release_branch=False)
    assert (after == RELEASE).sum() == 0
    changed = before != after
    assert np.all(before[changed] == RELEASE) and np.all(after[changed] == DETAIN)
    assert 0.2 < (before == RELEASE).mean() < 0.7
