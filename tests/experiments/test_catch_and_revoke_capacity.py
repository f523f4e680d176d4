"""Catch and Revoke's capacity as a count of revocations, and the national experiment."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from audit.intervals import wilson_interval
from experiments.config import (
    ConfigError,
    builtin_experiments,
    load_config,
    parse_config,
    read_experiment_data,
)
from experiments.engine.runner import compute_run, run_experiment, table_files
from experiments.errors import UsageError
from tests.experiments.conftest import apply_changes

#: Small enough to be fast: 8,000 students, a small training corpus, a small bootstrap.
SMALL = {"population.size": 8_000, "system.training_posts": 6_000, "audit.n_boot": 100}


def national_data(**changes: object) -> dict:
    """The shipped national experiment (its base merged in), made small."""
    data = read_experiment_data(builtin_experiments()["catch-and-revoke-national"])
    return apply_changes(data, {**SMALL, **changes})


def test_the_national_file_holds_the_real_scale_and_a_count():
    config, _ = load_config("catch-and-revoke-national")
    settings = config.system_settings()
    assert config.population.size == 1_126_690
    assert settings.capacity == 4736 and isinstance(settings.capacity, int)
    assert config.experiment.name == "catch-and-revoke-national"
    # Everything else comes from the flagship: its knobs, focus comparisons and biases.
    flagship, _ = load_config("catch-and-revoke")
    assert config.attribution == flagship.attribution
    assert config.audit.focus == flagship.audit.focus
    assert "Open Doors" in config.experiment.description


@pytest.mark.parametrize("value, words", [
    (0, "a count of revocations must be at least 1"),
    (-5, "a count of revocations must be at least 1"),
    (1.5, "a share must lie in (0, 1]"),
    (4736.0, "write a whole number without a decimal point, e.g. 4736"),
    (True, "capacity must be a share"),
    ("4736", "capacity must be a share"),
])
def test_a_bad_capacity_is_named_in_one_line(value, words):
    with pytest.raises(ConfigError) as raised:
        load_config("catch-and-revoke", {"system.capacity": value})
    message = str(raised.value)
    assert "system.capacity" in message and words in message
    assert "\n" not in message


def test_a_share_stays_a_share_and_an_integer_is_a_count():
    share, _ = load_config("catch-and-revoke", {"system.capacity": 0.02})
    count, _ = load_config("catch-and-revoke", {"system.capacity": 25})
    assert share.system_settings().capacity == 0.02
    assert count.system_settings().capacity == 25
    assert isinstance(count.system_settings().capacity, int)


@pytest.fixture(scope="module")
def count_run(tmp_path_factory):
    data = national_data(**{"system.capacity": 120})
    out = tmp_path_factory.mktemp("national") / "run"
    return run_experiment(parse_config(data), Path("catch_and_revoke_national.toml"), out=out)


def test_a_count_capacity_revokes_exactly_that_many(count_run):
    decisions = count_run.decisions
    assert int(decisions["decision"].sum()) == 120
    assert count_run.manifest["details"]["revoked"] == 120
    assert count_run.manifest["details"]["capacity_kind"] == "count"


def test_the_headline_speaks_in_people_with_count_intervals(count_run):
    sentence = count_run.headlines[0]
    found = re.match(r"Of 120 revocations, (\d+) were wrongful, of students who posed no "
                     r"threat; (\d+) of them fell on students from Middle East and North "
                     r"Africa, who are [\d.]+% of the ([\d,]+) students decided\. Intervals: "
                     r"\d+ \(95% CI (\d+)–(\d+)\) wrongful, \d+ \(95% CI (\d+)–(\d+)\) on "
                     r"students from", sentence)
    assert found, sentence
    wrongful, in_group = int(found.group(1)), int(found.group(2))
    low, high, group_low, group_high = map(int, found.groups()[3:7])
    decisions = count_run.decisions
    revoked = decisions["decision"].to_numpy(bool)
    truth = decisions["y_true"].to_numpy(bool)
    assert wrongful == int((revoked & ~truth).sum())
    assert int(found.group(3).replace(",", "")) == len(decisions)
    focus = decisions["region_of_origin"].astype(str).to_numpy() == "Middle East and North Africa"
    assert in_group == int((revoked & ~truth & focus).sum())
    # Each count's interval is the number of revocations times its share's Wilson interval.
    for count, lo, hi in ((wrongful, low, high), (in_group, group_low, group_high)):
        w_low, w_high = wilson_interval(np.array([count]), np.array([120]), 0.95)
        assert (lo, hi) == (math.floor(120 * w_low[0]), math.ceil(120 * w_high[0]))
        assert lo <= count <= hi <= 120
    assert "the number of revocations is fixed by the experiment" in sentence
    report = (count_run.directory / "report.md").read_text(encoding="utf-8")
    assert "system.capacity = 120, a count of revocations" in report


def test_a_share_capacity_says_it_is_a_share(tmp_path):
    data = national_data(**{"system.capacity": 0.01, "attribution.enabled": False})
    result = run_experiment(parse_config(data), Path("car.toml"), out=tmp_path / "run")
    assert not any(re.match(r"Of [\d,]+ revocations", h) for h in result.headlines)
    assert any("The pipeline revoked the top 1.0% of threat scores" in h
               for h in result.headlines)
    assert result.manifest["details"]["capacity_kind"] == "share"


def test_a_count_above_the_people_decided_is_refused_in_one_line():
    config = parse_config(national_data(**{"system.capacity": 4736}))
    with pytest.raises(UsageError, match=r"system.capacity = 4,736 revocations is more than "
                                         r"the [\d,]+ held-out students"):
        compute_run(config, attribution=False)


def test_a_count_capacity_run_is_deterministic():
    config = parse_config(national_data(**{"system.capacity": 60}))
    first, second = (table_files(compute_run(config)) for _ in range(2))
    assert first.keys() == second.keys() and "attribution.csv" in first
    for name in first:
        assert first[name] == second[name], name
