"""Controls come from the models that read experiment files, and the page's values are judged
by those same models."""

from __future__ import annotations

import pytest

from experiments.config import builtin_experiments, load_config
from experiments.serve.catalogue import shipped_experiments
from experiments.serve.controls import (
    ATTRIBUTION_KEY,
    PAGE_DEFAULT_SIZE,
    FormError,
    errors_by_control,
    experiment_page,
    read_submission,
)


@pytest.fixture(scope="module")
def flagship():
    return experiment_page("catch-and-revoke")


def test_every_shipped_experiment_gets_its_knobs_first(flagship):
    for name, shipped in shipped_experiments().items():
        page = experiment_page(name)
        config, _ = load_config(name)
        knobs = [c.key for c in page.controls if c.is_knob]
        present = [k.key for k in config.attribution.knobs if page.control(k.key)]
        assert knobs == present, name
        assert shipped.title == config.experiment.title
    assert set(shipped_experiments()) == set(builtin_experiments())


def test_a_knob_keeps_its_limits_and_marks_its_off_value(flagship):
    knob = flagship.control("system.annotator_bias")
    assert (knob.kind, knob.minimum, knob.maximum, knob.off) == ("range", 0, 5, 0.0)
    listed = flagship.control("system.countries_of_concern")
    assert listed.kind == "checkboxes" and listed.off == []
    assert {"IRN", "EGY", "PAK", "SAU"} <= {value for value, _ in listed.options}
    assert flagship.control("system.lexicon").options == (("reported", "reported"),
                                                          ("neutral", "neutral"))
    assert flagship.control("population.size").value == PAGE_DEFAULT_SIZE


def test_only_changed_values_become_overrides(flagship):
    config, _, attribution, overrides = read_submission(flagship, {
        "system.annotator_bias": "0", "system.months": 3.0, "population.size": "10000",
        ATTRIBUTION_KEY: False, "system.countries_of_concern": ["SAU", "IRN", "EGY", "PAK"]})
    assert overrides == {"system.annotator_bias": 0.0, "population.size": 10_000}
    assert attribution is False
    assert config.system["annotator_bias"] == 0.0


def test_share_or_count_reads_as_the_file_would(flagship):
    _, _, _, overrides = read_submission(flagship, {"system.capacity": "50"})
    assert overrides == {"system.capacity": 50, "population.size": PAGE_DEFAULT_SIZE}
    _, _, _, overrides = read_submission(flagship, {"system.capacity": "0.02"})
    assert overrides == {"system.capacity": 0.02, "population.size": PAGE_DEFAULT_SIZE}


def test_a_run_without_a_size_gets_the_pages_size_not_the_files():
    # The national file asks for 1,126,690 students, far above what the page runs.
    national = experiment_page("catch-and-revoke-national")
    config, _, _, overrides = read_submission(national, {ATTRIBUTION_KEY: False})
    assert config.population.size == PAGE_DEFAULT_SIZE
    assert overrides == {"population.size": PAGE_DEFAULT_SIZE}


@pytest.mark.parametrize(("submitted", "key", "words"), [
    ({"mechanisms.label_bias.strength": 6}, "mechanisms.label_bias.strength", "[0, 5]"),
    ({"system.months": "0"}, "system.months", "greater than 0"),
    ({"system.capacity": 0}, "system.capacity", "at least 1"),
    ({"system.lexicon": "loud"}, "system.lexicon", "one of reported, neutral"),
    ({"system.countries_of_concern": ["XXX"]}, "system.countries_of_concern", "listed"),
    ({"population.size": 500}, "population.size", "[1,000, 200,000]"),
    ({"experiment.seed": -1}, "experiment.seed", "greater than or equal to 0"),
    ({"system.keywords": ["x"]}, "", "not a control"),
    ({"system.annotator_bias": "NaN"}, "system.annotator_bias", "finite"),
])
def test_refusals_name_their_control(flagship, submitted, key, words):
    with pytest.raises(FormError) as refused:
        read_submission(flagship, submitted)
    assert words in refused.value.errors[key]


def test_a_message_goes_to_the_longest_key_it_names(flagship):
    found = errors_by_control("catch_and_revoke.toml: system.points.overstay: too big; "
                              "system.months: too long", flagship)
    assert found == {"system.points.overstay": "system.points.overstay: too big",
                     "system.months": "system.months: too long"}
    assert errors_by_control("something else", flagship) == {"": "something else"}
