"""The iBorderCtrl mimic: profile tables, the truth, each knob's direction, the pilot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic.population import generate, load_profile
from synthetic.systems.iborderctrl import (
    CHANNELS,
    PROTECTION_TYPE,
    DeceptionDetector,
    DemeanourTables,
    demeanour,
    expected_precision,
    pilot_rows,
    true_deception,
)

OFF = dict(cultural_baselines=0.0, interpreter_effect=0.0, setting_stress=0.0, truth_signal=0.0)


@pytest.fixture(scope="module")
def tables():
    return DemeanourTables.from_profile(load_profile("eu_border_travellers").raw, "eu")


@pytest.fixture(scope="module")
def people():
    return generate("eu_border_travellers", 30_000, 4).people


def test_interpreter_needed_without_english_or_an_interview_language(tables):
    table = pd.DataFrame({"first_language": ["Arabic", "Arabic", "Hungarian", "Greek"],
                          "speaks_english": [False, True, False, False]})
    assert tables.interpreted(table).tolist() == [True, False, False, False]


def test_profiles_without_or_with_broken_tables_are_refused_by_name():
    with pytest.raises(ValueError, match=r"\[demeanour_baselines\].*eu_border_travellers"):
        DemeanourTables.from_profile(load_profile("uk_visa_applicants").raw, "uk")
    raw = load_profile("eu_border_travellers").raw
    broken = {**raw, "demeanour_baselines": {**raw["demeanour_baselines"],
                                             "South Asia": {"gaze_aversion": 1.0}}}
    with pytest.raises(ValueError, match=r"South Asia must give a number for each of"):
        DemeanourTables.from_profile(broken, "broken")
    no_languages = {**raw, "interviews": {"languages": "English"}}
    with pytest.raises(ValueError, match=r"\[interviews\].languages"):
        DemeanourTables.from_profile(no_languages, "broken")


def test_deception_is_drawn_at_the_base_rate_and_keyed_by_person(people):
    deceptive = true_deception(people, 4, 0.2)
    assert deceptive.mean() == pytest.approx(0.2, abs=0.01)
    by_region = pd.Series(deceptive).groupby(people["region_of_origin"].astype(str)
                                             .to_numpy()).mean()
    assert by_region.max() - by_region.min() < 0.05
    order = np.random.default_rng(1).permutation(len(people))
    assert np.array_equal(true_deception(people.iloc[order], 4, 0.2), deceptive[order])
    with pytest.raises(ValueError, match="base_rate"):
        true_deception(people, 4, 0.0)


def test_with_every_knob_off_the_channels_ignore_who_the_traveller_is(people, tables):
    lying = np.zeros(len(people), dtype=bool)
    features = demeanour(people, tables, lying, 4, **OFF)
    # The same people with every attribute but their identity scrambled read the same.
    scrambled = people.assign(**{c: people[c].sample(frac=1.0, random_state=2).to_numpy()
                                 for c in ("region_of_origin", "first_language",
                                           "speaks_english", "visa_type")})
    assert np.array_equal(demeanour(scrambled, tables, lying, 4, **OFF), features)
    assert features.shape == (len(people), len(CHANNELS))
    assert abs(features.mean()) < 0.02 and features.std() == pytest.approx(1.0, abs=0.02)


def test_each_knob_raises_the_score_of_the_group_it_names(people, tables):
    detector = DeceptionDetector()
    lying = true_deception(people, 4, 0.05)

    def mean_gap(mask: np.ndarray, **knob: float) -> float:
        score = detector.score(demeanour(people, tables, lying, 4, **{**OFF, **knob}))
        return score[mask].mean() - score[~mask].mean()

    mena = people["region_of_origin"].astype(str).to_numpy() == "Middle East and North Africa"
    interpreted = tables.interpreted(people)
    protection = people["visa_type"].astype(str).to_numpy() == PROTECTION_TYPE
    for mask, knob in ((mena, {"cultural_baselines": 1.0}),
                       (interpreted, {"interpreter_effect": 1.0}),
                       (protection, {"setting_stress": 1.0}),
                       (lying, {"truth_signal": 1.0})):
        assert mean_gap(mask, **knob) > mean_gap(mask) + 0.3, knob


def test_the_pilot_flags_as_many_as_were_told_to_lie():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, len(CHANNELS)))
    instructed = np.arange(30) < 15
    detector = DeceptionDetector().fit(features, instructed)
    flagged = detector.predict(features)
    assert flagged.sum() == 15
    assert detector.pilot_correct_ == int((flagged == instructed).sum())
    assert detector.pilot_accuracy_ == pytest.approx(detector.pilot_correct_ / 30)
    proba = detector.predict_proba(features)
    assert ((proba >= 0) & (proba <= 1)).all()
    with pytest.raises(ValueError, match="instructed to lie and one telling the truth"):
        DeceptionDetector().fit(features, np.ones(30, dtype=bool))
    with pytest.raises(ValueError, match="must have 6 columns"):
        detector.predict(features[:, :3])
    with pytest.raises(ValueError, match="all zero"):
        DeceptionDetector(cue_weights=(0.0,) * 6).score(features)


def test_an_unbalanced_pilot_comes_from_one_region_without_interpreters(people, tables):
    rows = pilot_rows(people, tables, 200, "Europe and Central Asia", 0.0,
                      np.random.default_rng(0))
    chosen = people.iloc[rows]
    assert len(np.unique(rows)) == 200
    assert (chosen["region_of_origin"].astype(str) == "Europe and Central Asia").all()
    assert not tables.interpreted(chosen).any()
    assert (chosen["visa_type"].astype(str) != PROTECTION_TYPE).all()
    mixed = people.iloc[pilot_rows(people, tables, 2000, "Europe and Central Asia", 1.0,
                                   np.random.default_rng(0))]
    assert (mixed["region_of_origin"].astype(str) != "Europe and Central Asia").any()
    with pytest.raises(ValueError, match="the pilot needs 40,000 people from"):
        pilot_rows(people, tables, 40_000, "Europe and Central Asia", 0.0,
                   np.random.default_rng(0))


def test_precision_follows_bayes_rule():
    assert expected_precision(0.76, 0.24, 0.001) == pytest.approx(
        0.76 * 0.001 / (0.76 * 0.001 + 0.24 * 0.999))
    assert expected_precision(0.5, 0.5, 0.5) == pytest.approx(0.5)
    assert np.isnan(expected_precision(0.0, 0.0, 0.01))
