"""The visa-streaming mimic: stream shares, merged-row fitting, the nationality rating, checks,
cohorts and the loop's corrections."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

from synthetic.population import generate
from synthetic.systems.visa_streaming import (
    AMBER,
    RED,
    CheckNoise,
    FeedbackLoop,
    Scrutiny,
    VisaStreamer,
    application_features,
    assign_cohorts,
    initial_records,
    true_adverse,
)


@pytest.fixture(scope="module")
def applicants():
    people = generate("uk_visa_applicants", 30_000, seed=5).people
    return people[people["visa_type"].astype(str) != "Asylum"].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(applicants):
    return VisaStreamer().fit(applicants, true_adverse(applicants))


def test_streams_take_exactly_their_shares(fitted, applicants):
    streams, scores = fitted.stream(applicants)
    assert (streams == RED).sum() == round(0.10 * len(applicants))
    assert (streams == AMBER).sum() == round(0.40 * len(applicants)) - round(0.10 * len(applicants))
    assert scores[streams == RED].min() >= scores[streams != RED].max()


def test_same_cut_offs_on_the_same_people_give_the_same_streams(fitted, applicants):
    streams, _ = fitted.stream(applicants)
    again, _ = fitted.stream(applicants, cut_offs=fitted.cut_offs_)
    assert np.array_equal(streams, again)


def test_merged_rows_fit_like_the_rows_themselves(applicants):
    label = true_adverse(applicants)
    merged = VisaStreamer().fit(applicants, label)
    features = application_features(applicants)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(features)
    direct = LogisticRegression(max_iter=2000).fit(encoder.transform(features), label)
    expected = direct.decision_function(encoder.transform(features))
    got = merged.pipeline_.decision_function(features)
    assert np.allclose(got, expected, atol=1e-3)


def test_nationality_rating_needs_evidence(applicants):
    label = true_adverse(applicants)  # no nationality effect beyond route, sex and age
    strict = VisaStreamer(rating_z=50.0).fit(applicants, label)
    assert np.all(strict.nationality_rating_ == 0)
    unused = VisaStreamer(use_nationality=False).fit(applicants, label)
    assert np.all(unused.nationality_rating_ == 0)
    nigerian = applicants["nationality"].astype(str).to_numpy() == "NGA"
    over_recorded = VisaStreamer().fit(applicants, label | (nigerian & (np.arange(len(label)) % 4
                                                                       == 0)))
    assert over_recorded.nationality_rating_["NGA"] > 0.3


def test_new_rating_keeps_the_application_model(fitted, applicants):
    refreshed = fitted.with_new_rating(applicants, initial_records(applicants))
    assert refreshed.pipeline_ is fitted.pipeline_
    assert refreshed is not fitted


def test_checks_find_true_events_and_false_ones_only_at_their_rates():
    n = 200_000
    rng = np.random.default_rng(0)
    adverse = rng.random(n) < 0.2
    findings = Scrutiny(sensitivity=0.9, false_event_rate=0.02).findings(adverse, rng.random(n))
    assert abs(findings[adverse].mean() - 0.9) < 0.01
    assert abs(findings[~adverse].mean() - 0.02) < 0.003
    assert not Scrutiny(false_event_rate=0.0).findings(adverse, rng.random(n))[~adverse].any()


def test_cohorts_are_even_and_reproducible():
    cohort = assign_cohorts(110_000, 10, seed=3)
    assert np.array_equal(cohort, assign_cohorts(110_000, 10, seed=3))
    sizes = np.bincount(cohort)
    assert len(sizes) == 11 and sizes.min() > 9_500
    with pytest.raises(ValueError, match="rounds"):
        assign_cohorts(10, 0, seed=3)


def test_loop_runs_every_correction_from_the_same_start(applicants):
    cohort = assign_cohorts(len(applicants), 3, seed=1)
    noise = CheckNoise.draw(len(applicants), seed=1)
    loop = FeedbackLoop(rounds=3)
    runs = {c: loop.run(applicants, cohort, noise, c)
            for c in ("none", "random_checks", "inverse_scrutiny")}
    first = {c: r.by_round[r.by_round["round"] == 1]["red"].to_numpy() for c, r in runs.items()}
    assert np.array_equal(first["none"], first["random_checks"])
    assert np.array_equal(first["none"], first["inverse_scrutiny"])
    for run in runs.values():
        table = run.by_round
        assert (table["wrongful_refusals"] <= table["compliant"]).all()
        assert (table["red"] <= table["refused"]).all()
        assert len(run.final_rows) == (cohort == 3).sum()
    with pytest.raises(ValueError, match="correction"):
        loop.run(applicants, cohort, noise, "audit")
    with pytest.raises(ValueError, match="above 0"):
        FeedbackLoop(scrutiny=Scrutiny(check_green=0.0)).run(applicants, cohort, noise,
                                                              "inverse_scrutiny")


def test_card_names_the_loop_and_its_source():
    card = " ".join(VisaStreamer.card().split())
    assert "Ensign" in card and "Runaway Feedback Loops in Predictive Policing" in card
    assert "random_checks" in card and "inverse_scrutiny" in card
