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


def test_a_knob_that_lowers_a_gap_says_why_that_is_not_better_treatment():
    from experiments.config.experiment import AttributionKnob
    from experiments.reports.headlines import attribution_clause
    from experiments.systems.contract import (
        ALL_OFF,
        AS_CONFIGURED,
        Attribution,
        Decisions,
        SystemRun,
        Wording,
    )

    base = {"grouping": "nationality", "group": "HTI", "reference": "MEX", "metric": "fpr",
            "n_group": 2000, "n_reference": 20000, "label": "", "knob_key": ""}
    table = pd.DataFrame([
        {**base, "source": ALL_OFF, "kind": "baseline", "contribution": 0.02,
         "ci_low": 0.01, "ci_high": 0.03},
        {**base, "source": "record label bias", "kind": "knob", "contribution": -0.01,
         "ci_low": -0.015, "ci_high": -0.005, "knob_key": "mechanisms.label_bias.strength"},
        {**base, "source": AS_CONFIGURED, "kind": "total", "contribution": 0.01,
         "ci_low": 0.0, "ci_high": 0.02},
    ])
    knob = AttributionKnob(name="record label bias", key="mechanisms.label_bias.strength",
                           off=0.0, if_it_lowers="a case moved out of the count")
    run = SystemRun(decided=Decisions(table=pd.DataFrame()), wording=Wording(card=""))
    run.findings.attribution = Attribution(table, [knob], "", "exact", 2, 0.0, 0.95)
    clause = attribution_clause(run, "nationality", "HTI", "fpr")
    assert "record label bias removes 1.00" in clause
    assert "(a case moved out of the count)" in clause
    # Where the knob adds to the gap, the reason is not given.
    table.loc[1, ["contribution", "ci_low", "ci_high"]] = [0.01, 0.005, 0.015]
    assert "moved out of the count" not in attribution_clause(run, "nationality", "HTI", "fpr")


def test_the_detention_experiment_says_why_record_label_bias_can_lower_the_gap():
    from experiments.config import load_config

    knobs = {k.name: k for k in load_config("detention-rca")[0].attribution.knobs}
    assert "not counted as a detention" in knobs["record label bias"].if_it_lowers
