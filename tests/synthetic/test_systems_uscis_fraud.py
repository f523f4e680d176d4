"""The benefit-fraud mimic: applications, investigations with their knobs, the classifier."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.population import generate
from synthetic.systems.uscis_fraud import (
    FraudClassifier,
    applications,
    check_targets,
    investigate,
    targeted_applications,
)

SEED = 11
TARGETS = ["NGA", "region:Middle East and North Africa"]


@pytest.fixture(scope="module")
def table():
    return applications(generate("us_visa_holders", 60_000, SEED).people, SEED)


def test_applications_are_keyed_by_person_and_fraud_ignores_nationality(table):
    shuffled = table.sample(frac=1.0, random_state=0)
    again = applications(shuffled.drop(columns=["true_fraud", "application_class"]), SEED)
    assert np.array_equal(again["true_fraud"].to_numpy(),
                          table.loc[shuffled.index, "true_fraud"].to_numpy())
    assert 0.015 < table["true_fraud"].mean() < 0.025
    by_region = table.groupby("region_of_origin", observed=True)["true_fraud"].mean()
    assert by_region.max() - by_region.min() < 0.015
    # fraud leaves traces: more discrepancies in fraudulent files
    means = table.groupby("true_fraud")["document_discrepancies"].mean()
    assert means[True] > means[False] + 1.0


def test_budget_is_kept_and_targeting_moves_investigations_to_the_targets(table):
    plain = investigate(table, SEED, targets=TARGETS)
    targeted = investigate(table, SEED, targets=TARGETS, targeting=3.0)
    assert plain.investigated.mean() == pytest.approx(0.08, abs=0.005)
    assert targeted.investigated.mean() == pytest.approx(0.08, abs=0.005)
    mask = targeted_applications(table, TARGETS)
    assert targeted.investigated[mask].mean() > 2 * plain.investigated[mask].mean()
    assert targeted.investigated[~mask].mean() < plain.investigated[~mask].mean()
    # without finding bias, a finding is always a detected true fraud
    assert not targeted.false_finding.any()
    assert table["true_fraud"].to_numpy()[targeted.recorded_fraud].all()


def test_finding_bias_records_fraud_only_for_targeted_suspicion_investigations(table):
    found = investigate(table, SEED, targets=TARGETS, finding_bias=0.5, audit_share=0.3)
    mask = targeted_applications(table, TARGETS)
    assert found.false_finding.any()
    assert not found.false_finding[~mask].any()
    assert not found.false_finding[found.random_audit].any()
    assert not found.false_finding[table["true_fraud"].to_numpy()].any()
    every_random = investigate(table, SEED, targets=TARGETS, targeting=3.0, finding_bias=0.5,
                               audit_share=1.0)
    assert not every_random.false_finding.any()
    assert np.array_equal(every_random.investigated, every_random.random_audit)


def test_classifier_flags_its_capacity_and_reads_the_traces(table):
    found = investigate(table, SEED)
    history = table.iloc[:30_000]
    seen = found.investigated[:30_000]
    classifier = FraudClassifier(capacity=0.05).fit(history[seen],
                                                    found.recorded_fraud[:30_000][seen])
    new = table.iloc[30_000:]
    flagged, scores = classifier.flag(new)
    assert flagged.sum() == round(0.05 * len(new))
    fraud = new["true_fraud"].to_numpy()
    assert flagged[fraud].mean() > 5 * flagged[~fraud].mean()
    again, _ = classifier.flag(new, cut_off=classifier.cut_off_)
    assert np.array_equal(again, flagged)


def test_bad_input_is_named(table):
    with pytest.raises(ValueError, match="'region:Atlantis'"):
        check_targets(table, ["region:Atlantis"])
    with pytest.raises(ValueError, match="classes: B-1/B-2 visitor"):
        check_targets(table, ["application:asylum"])
    with pytest.raises(ValueError, match="finding_bias"):
        investigate(table, SEED, finding_bias=1.5)
    with pytest.raises(ValueError, match="one class only"):
        FraudClassifier().fit(table.iloc[:100], np.zeros(100, dtype=bool))
    with pytest.raises(ValueError, match="document_discrepancies"):
        FraudClassifier().fit(table.drop(columns="document_discrepancies").iloc[:100],
                              np.arange(100) % 2 == 0)
    with pytest.raises(ValueError, match="fraud_rate"):
        applications(table, SEED, fraud_rate=0.0)
