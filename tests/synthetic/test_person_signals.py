"""Stages 1 and 2 of the visa revocation pipeline read each person's posts: read from each
distinct text's outputs on the pulled-in posts alone, they give what reading every post
gives. Stages 4 and 5 read from a person's signals give the score's formula, and a world's
revocation alone is the one the whole pipeline gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from synthetic.systems.catch_and_revoke import (
    CatchAndRevokePipeline,
    PulledPosts,
    ThreatPoints,
    author_runs,
    person_signals,
)


@pytest.mark.parametrize("seed", range(6))
def test_signals_of_pulled_posts_equal_signals_of_every_post(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    counts = rng.poisson(rng.uniform(0.2, 6), n)  # some people write nothing
    author = np.repeat(np.arange(n), counts)
    uniform = rng.random(author.size)
    coverage = rng.uniform(0, 1, n) * (rng.random(n) < 0.9)  # some people are not watched
    n_texts = int(rng.integers(1, 50))
    text = rng.integers(0, n_texts, author.size)
    text_flagged = rng.random(n_texts) < 0.2
    text_probability = rng.random(n_texts) * (rng.random(n_texts) < 0.7)
    pulled = PulledPosts.of(n, author, uniform, coverage, text)
    expected = person_signals(n, author, uniform < coverage[author], text_flagged[text],
                              text_probability[text])
    assert np.array_equal(pulled.mask, uniform < coverage[author])
    for ours, theirs in zip(pulled.signals(text_flagged, text_probability), expected,
                            strict=True):
        assert ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)


def test_runs_need_each_authors_posts_together():
    assert author_runs(np.array([0, 0, 2, 2, 3])).tolist() == [0, 2, 4]
    assert author_runs(np.array([1, 0, 1])) is None
    assert author_runs(np.array([], dtype=np.int64)) is None
    with pytest.raises(ValueError, match="consecutive"):
        PulledPosts.of(2, np.array([1, 0, 1]), np.zeros(3), np.ones(2), np.zeros(3, int))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rule", ["capacity", "threshold"])
def test_score_and_revocation_equal_the_formula_written_out(seed, rule):
    # The score is summed term by term into one array; its bytes are those of the formula
    # written as one expression, whatever the points (whole numbers among them).
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    people = pd.DataFrame({
        "nationality": pd.Categorical(rng.choice(["IRN", "EGY", "IND", "CHN"], n)),
        "region_of_origin": pd.Categorical(rng.choice(["Middle East and North Africa",
                                                       "East Asia and Pacific"], n)),
        "recorded_criminal_record": pd.Categorical(rng.choice(["none", "minor", "serious"], n)),
        "recorded_overstay": rng.random(n) < 0.1,
    })
    points = ThreatPoints(intercept=float(rng.normal(-5, 1)), social_flag=2,
                          threat_probability=float(rng.normal(2, 1)), minor_record=-0.0,
                          serious_record=float(rng.normal(3, 1)), overstay=1,
                          country_of_concern=float(rng.normal(1.5, 1)))
    pipeline = CatchAndRevokePipeline(points, ["IRN", "region:East Asia and Pacific"], rule=rule,
                                      capacity=0.1 if seed % 2 else 7, threshold=0.3)
    pulled = rng.poisson(2, n)
    flagged = rng.random(n) < 0.3
    highest = rng.random(n) * (pulled > 0)
    record = people["recorded_criminal_record"]
    concern = (people["nationality"] == "IRN").to_numpy() | (
        people["region_of_origin"] == "East Asia and Pacific").to_numpy()
    p = points
    expected = expit(p.intercept + p.social_flag * flagged + p.threat_probability * highest
                     + p.minor_record * (record == "minor").to_numpy()
                     + p.serious_record * (record == "serious").to_numpy()
                     + p.overstay * people["recorded_overstay"].to_numpy() + p.country_of_concern
                     * concern)
    stages = pipeline.stages_from_signals(people, pulled, flagged, highest)
    assert stages["threat_score"].to_numpy().tobytes() == expected.tobytes()
    records = pipeline.record_signals(people)
    assert np.array_equal(records.concern, concern)
    revoked = pipeline.revoked_from_signals(records, flagged, highest)
    assert np.array_equal(revoked, stages["revoked"].to_numpy())
    assert revoked.any() or rule == "threshold"
    again = pipeline.stages_from_signals(people, pulled, flagged, highest, records=records)
    pd.testing.assert_frame_equal(again, stages)
