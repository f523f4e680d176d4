"""The e-atd check-in mimic: profile tables, calibration, each knob's direction, the schedule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthetic.population import generate, load_profile
from synthetic.systems.e_atd import (
    VIOLATIONS_COLUMN,
    CheckInNoise,
    CheckInVerifier,
    SpeechTables,
    record_violations,
    simulate_checkins,
)

INDIGENOUS, SPANISH = "Indigenous languages of the Americas", "Latin American Spanish"


@pytest.fixture(scope="module")
def speech():
    return SpeechTables.from_profile(load_profile("us_atd_enrollees").raw, "us_atd_enrollees")


@pytest.fixture(scope="module")
def people():
    return generate("us_atd_enrollees", 20_000, 3).people


def alike(**changes: float) -> CheckInVerifier:
    """Every bias knob off, unless changed."""
    return CheckInVerifier(**{"representation": 1.0, "conditions_effect": 0.0,
                              "face_tone_gap": 0.0, "random_state": 3, **changes})


def test_accent_by_dialect_then_language_then_default(speech):
    table = pd.DataFrame({
        "dialect": ["Spanish (Caribbean)", "Spanish (Mexican)", "Mam (Central American)",
                    "Klingon (Nowhere)"],
        "first_language": ["Spanish", "Spanish", "Mam", "Klingon"],
    })
    assert speech.accent_groups(table).tolist() == [
        "Caribbean Spanish", SPANISH, INDIGENOUS, "other languages"]


def test_call_noise_is_the_mean_of_housing_and_work(speech):
    table = pd.DataFrame({"neighbourhood": ["border shelter", "nowhere"],
                          "employer_sector": ["construction", "unemployed"]})
    assert speech.noise(table).tolist() == pytest.approx([(0.8 + 0.9) / 2, (0.5 + 0.3) / 2])


def test_a_profile_without_the_tables_is_refused_by_name():
    with pytest.raises(ValueError, match=r"\[speech_varieties\].*us_atd_enrollees"):
        SpeechTables.from_profile(load_profile("southern_border_asylum").raw, "southern")
    raw = load_profile("us_atd_enrollees").raw
    broken = {**raw, "speech_varieties": {**raw["speech_varieties"],
                                          "vendor_training_share": {"Chinese": 1.0}}}
    with pytest.raises(ValueError, match="vendor_training_share.*lacks"):
        SpeechTables.from_profile(broken, "broken")


def test_the_threshold_rejects_the_target_share_of_calibration_first_attempts(people, speech):
    verifier = CheckInVerifier(target_frr=0.05, random_state=3).fit(people, speech)
    voice = verifier.failure_parts(people, speech)["voice"]
    assert voice.mean() == pytest.approx(0.05, abs=1e-6)


def test_with_every_knob_off_no_accent_tone_or_noise_changes_an_attempt(people, speech):
    parts = alike().fit(people, speech).failure_parts(people, speech)
    assert np.ptp(parts["speech"]) < 1e-12 and np.ptp(parts["selfie"]) < 1e-12
    accent = speech.accent_groups(people)
    # The voice varies by person only: accent groups differ by chance (a mean of ~0.03 with
    # a person-level spread), never by design.
    by_group = pd.Series(parts["voice"]).groupby(accent).mean()
    assert by_group.max() - by_group.min() < 0.02


def test_each_knob_moves_its_disparity_the_stated_way(people, speech):
    accent = speech.accent_groups(people)
    base = alike().fit(people, speech).failure_parts(people, speech)
    skewed = alike(representation=0.0).fit(people, speech).failure_parts(people, speech)

    def gap(parts: dict, key: str, mask_a: np.ndarray, mask_b: np.ndarray) -> float:
        return parts[key][mask_a].mean() - parts[key][mask_b].mean()

    indigenous, spanish = accent == INDIGENOUS, accent == SPANISH
    for key in ("voice", "speech", "any"):
        assert gap(skewed, key, indigenous, spanish) > gap(base, key, indigenous, spanish) + 0.03
    noise = speech.noise(people)
    noisy, quiet = noise >= 0.7, noise <= 0.4
    loud = alike(conditions_effect=1.0).fit(people, speech).failure_parts(people, speech)
    assert gap(loud, "any", noisy, quiet) > gap(base, "any", noisy, quiet) + 0.02
    tone = people["skin_tone"].to_numpy()
    faces = alike(face_tone_gap=1.0).fit(people, speech).failure_parts(people, speech)
    assert gap(faces, "selfie", tone >= 8, tone <= 3) > 0.02
    assert gap(base, "selfie", tone >= 8, tone <= 3) == pytest.approx(0.0)


def test_violations_follow_the_schedule_and_retries(people, speech):
    failure = CheckInVerifier(random_state=3).fit(people, speech).predict_proba(people, speech)
    noise = CheckInNoise.draw(people["person_id"].to_numpy(), 3, 10, 4)
    none = simulate_checkins(failure, noise, 0)
    two = simulate_checkins(failure, noise, 2)
    called = ~noise.missed
    # No retry: a call is recorded as missed exactly when its first attempt is rejected.
    assert np.array_equal(none.violation, noise.missed | none.first_rejected)
    assert np.array_equal(none.first_rejected, two.first_rejected)
    # Retries only remove violations, never the true misses; wrongful ones are calls.
    assert np.all(two.violation <= none.violation) and np.all(two.violation >= noise.missed)
    assert two.violation.sum() < none.violation.sum()
    assert np.array_equal(two.wrongful, two.violation & called)
    assert np.all(two.attempts[called] >= 1) and np.all(two.attempts[~called] == 0)
    assert two.attempts.max() == 3
    with pytest.raises(ValueError, match="retries = 4"):
        simulate_checkins(failure, noise, 4)


def test_draws_and_failures_are_keyed_by_person_not_by_row(people, speech):
    verifier = CheckInVerifier(random_state=3).fit(people, speech)
    order = np.random.default_rng(0).permutation(len(people))
    shuffled = people.iloc[order]
    assert np.array_equal(verifier.predict_proba(shuffled, speech),
                          verifier.predict_proba(people, speech)[order])
    ids = people["person_id"].to_numpy()
    whole = CheckInNoise.draw(ids, 3, 5, 2)
    again = CheckInNoise.draw(ids[order], 3, 5, 2)
    assert np.array_equal(again.missed, whole.missed[order])
    assert np.array_equal(again.attempt, whole.attempt[order])


def test_true_misses_do_not_depend_on_who_the_person_is(people):
    noise = CheckInNoise.draw(people["person_id"].to_numpy(), 3, 26, 1)
    missed = pd.Series(noise.missed.any(axis=1)).groupby(
        people["region_of_origin"].astype(str).to_numpy()).agg(["mean", "size"])
    large = missed[missed["size"] > 500]
    assert large["mean"].max() - large["mean"].min() < 0.06


def test_recorded_violations_become_a_column(people, speech):
    failure = CheckInVerifier(random_state=3).fit(people, speech).predict_proba(people, speech)
    checkins = simulate_checkins(failure, CheckInNoise.draw(people["person_id"].to_numpy(), 3,
                                                            4, 1), 0)
    table = record_violations(people, checkins)
    assert np.array_equal(table[VIOLATIONS_COLUMN].to_numpy(), checkins.violation.sum(axis=1))
    with pytest.raises(ValueError, match="people but check-ins"):
        record_violations(people.iloc[:10], checkins)
