"""Headline sentences: ratios when the reference rate is positive, differences when it is 0."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit import audit
from experiments.reports.headlines import disparity_headline


def _result(rate_a: float, rate_b: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], 4000, p=[0.6, 0.4])
    decision = rng.random(4000) < np.where(group == "B", rate_b, rate_a)
    frame = pd.DataFrame({"g": group, "y": np.zeros(4000, bool), "d": decision})
    return audit(frame, ["g"], "y", "d", n_boot=100)


def test_ratio_to_a_reference_with_errors():
    sentence, group = disparity_headline(_result(0.05, 0.2), "g", "fpr", "flagged in error",
                                         "people from")
    assert group == "B"
    assert sentence.startswith("People from B were flagged in error at ")
    assert "times the rate of people from A" in sentence and "ratio 95% CI" in sentence


def test_difference_when_the_reference_has_no_errors():
    sentence, group = disparity_headline(_result(0.0, 0.2), "g", "fpr", "flagged in error",
                                         "people from")
    assert group == "B"
    assert "against none of people from A." in sentence and "; difference 20.4" in sentence
    # An interval is never described as "a rate of 0% or 100%".
    assert "a rate of 0% or 100%" not in sentence
    assert "nan" not in sentence and "inf" not in sentence


def test_no_significant_group_is_said_plainly():
    sentence, group = disparity_headline(_result(0.1, 0.1), "g", "fpr", "flagged in error",
                                         "people from")
    assert group == "A"
    assert sentence.startswith("No group of g was flagged in error significantly more often")


def test_a_group_harmed_less_is_not_the_headline():
    sentence, group = disparity_headline(_result(0.2, 0.05), "g", "fpr", "flagged in error",
                                         "people from")
    assert group == "A" and "was flagged in error significantly more often" in sentence
