"""Catch and Revoke: the speech comparison (posted in support of Palestinian rights or not)
moves only with the biases that touch speech, and the speech twin rewrites only posts; a
world's revocation, and a twin's, read through the shared world are the whole pipeline's,
here and in another process."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from experiments.config import parse_config
from experiments.engine.runner import compute_run, table_files, train_split
from experiments.systems.catch_and_revoke import (
    POSTS_STREAM,
    SPEECH_COLUMN,
    SPEECH_GROUPS,
    _pipeline,
    _SharedWorld,
    coverage_of,
    speech_twin,
)
from synthetic.population import apply_mechanisms
from synthetic.posts import TOPIC_COLUMNS, generate_posts
from synthetic.posts.vocabulary import SOLIDARITY_TOPIC
from synthetic.systems.catch_and_revoke import pulled_in
from tests.experiments.conftest import apply_changes, shipped_data
from tests.synthetic.helpers import assert_same_frame

SIZE = 16_000
#: Every bias off: a neutral lexicon, unbiased annotators, equal surveillance, and the origin
#: biases off too, since who speaks differs by origin in the profile (so origin biases would
#: reach the comparison through who the speakers are, not through their speech).
NEUTRAL = {
    "system.lexicon": "neutral",
    "system.annotator_bias": 0.0,
    "system.protest_coverage": 0.0,
    "mechanisms.surveillance_intensity.strength": 0.0,
    "mechanisms.label_bias.strength": 0.0,
    "system.countries_of_concern": [],
}
#: Each bias that touches speech, switched on alone: each must widen the gap between students
#: who posted in support of Palestinian rights and those who posted otherwise. (Protest-site
#: surveillance at full coverage: at this size its effect at the shipped 0.6 is one student.)
SPEECH_BIASES = {
    "lexicon identity words": {"system.lexicon": "reported"},
    "annotator bias": {"system.annotator_bias": 1.5},
    "protest-site surveillance": {"system.protest_coverage": 1.0},
}


def speech_data(size: int = SIZE, **changes: object) -> dict:
    data = shipped_data("catch_and_revoke", size, 200)
    data["system"]["training_posts"] = 8_000
    data.pop("attribution", None)
    return apply_changes(data, changes)


@pytest.fixture(scope="module")
def neutral():
    return compute_run(parse_config(speech_data(**NEUTRAL)))


def _speech_gap(decisions, groups, truth) -> float:
    """Wrongful revocation rate of 'yes' minus that of 'no' (students posing no threat)."""
    rates = [decisions[(groups == g) & ~truth].mean() for g in SPEECH_GROUPS[:2]]
    return rates[0] - rates[1]


def _shared_world(run, settings=None):
    """The run's config, people and training split, ``settings`` (default: the run's) and a
    shared world of its own on them."""
    config = run.config
    people = run.population.people
    split = train_split(len(people), config.split.train_fraction, config.experiment.seed)
    settings = config.system_settings() if settings is None else settings
    return config, people, split, settings, _SharedWorld(config, people, split, settings)


def test_speech_comparison_shows_no_significant_difference_with_every_bias_off(neutral):
    stages = neutral.system_run.decided.extra_tables["stage_metrics"]
    row = stages[(stages["stage"] == "revoked") & (stages["grouping"] == SPEECH_COLUMN)
                 & (stages["metric"] == "fpr") & (stages["group"] == "yes")].iloc[0]
    assert row["reference"] == "no"
    assert row["p_holm"] >= 0.05, row
    twin = neutral.system_run.decided.extra_tables["speech_twin"]
    everyone = twin[twin["group"] == "(all)"].iloc[0]
    # Without a biased lexicon or annotators, rewriting the speech changes almost nobody's fate.
    assert everyone["flip_rate"] < 0.01


@pytest.mark.parametrize("bias", sorted(SPEECH_BIASES))
def test_each_speech_bias_widens_the_speech_gap(neutral, bias):
    people, decisions = neutral.population.people, neutral.decisions
    groups = decisions[SPEECH_COLUMN].astype(str).to_numpy()
    truth = decisions["y_true"].to_numpy(dtype=bool)
    base = _speech_gap(decisions["decision"].to_numpy(), groups, truth)
    world = parse_config(speech_data(**{**NEUTRAL, **SPEECH_BIASES[bias]}))
    mechanisms = {name: m.model_dump() for name, m in world.mechanisms.items()}
    world_people = apply_mechanisms(people, mechanisms, world.experiment.seed)
    revoked = neutral.system_run.hooks.decide_world(world, world_people)["decision"]
    assert _speech_gap(revoked, groups, truth) > base, bias


def test_speech_twin_rewrites_only_the_solidarity_posts(neutral):
    config, people, split, settings, shared = _shared_world(neutral)
    before = people.copy()
    _, twin_posts = speech_twin(shared, settings, people)
    assert_same_frame(people, before)  # every column of every student unchanged
    posts = generate_posts(people.loc[~split].reset_index(drop=True), config.experiment.seed,
                           months=settings.months, rate_column="posts_per_month",
                           stream=POSTS_STREAM, annotator_bias=settings.annotator_bias,
                           annotator_noise=settings.annotator_noise,
                           annotator_miss_rate=settings.annotator_miss_rate,
                           text_dtype="category")
    rewritten = (posts["topic"] == SOLIDARITY_TOPIC).to_numpy()
    # The world keeps just the posts the twin rewrites, with their rows among all posts.
    assert np.array_equal(shared.solidarity_rows, np.flatnonzero(rewritten))
    assert_same_frame(shared.solidarity_posts, posts[rewritten])
    assert len(shared.annotator_threat) == len(posts)
    assert np.array_equal(shared.annotator_threat, posts["annotator_threat"].to_numpy(bool))
    # The twin returns exactly the rewritten posts (every other post is the factual one).
    assert rewritten.any() and not (twin_posts["topic"] == SOLIDARITY_TOPIC).any()
    assert np.array_equal(twin_posts.index, posts.index[rewritten])
    for column in posts.columns:
        factual, twin = (posts.loc[rewritten, column].to_numpy(dtype=object),
                         twin_posts[column].to_numpy(dtype=object))
        if column not in TOPIC_COLUMNS:
            assert np.array_equal(factual, twin), column
    assert (twin_posts["text"].to_numpy(dtype=object)
            != posts.loc[rewritten, "text"].to_numpy(dtype=object)).all()


def test_speech_tables_are_deterministic():
    config = parse_config(speech_data(8_000))
    first, second = (table_files(compute_run(config)) for _ in range(2))
    for name in ("speech_twin.csv", "stage_metrics.csv", "metrics.csv"):
        assert first[name] == second[name], name


def test_each_worlds_revocation_is_read_from_its_own_people_and_settings(neutral):
    # A shared world reads each world's people once while they come again: a world on other
    # people, or with another list of concern or protest-site coverage, is not read from the
    # previous one.
    config, people, split, settings, shared = _shared_world(neutral)
    biased = apply_mechanisms(people, {
        **{name: m.model_dump() for name, m in config.mechanisms.items()},
        "label_bias": {"strength": 1.0, "targets": ["region:Middle East and North Africa"]},
        "surveillance_intensity": {"strength": 2.0, "targets": ["IRN", "EGY"]}},
        config.experiment.seed)
    concern = settings.model_copy(update={"countries_of_concern": ["IRN", "EGY"]})
    protest = settings.model_copy(update={"protest_coverage": 1.0})
    seen = []
    for world_settings, world_people in [(settings, people), (concern, people),
                                         (protest, people), (settings, biased),
                                         (concern, biased), (settings, people.copy())]:
        fresh = _SharedWorld(config, people, split, settings)
        expected = fresh.stages(world_settings, world_people)[0]["revoked"].to_numpy()
        revoked = shared.revoked(world_settings, world_people)
        assert np.array_equal(revoked, expected)
        seen.append(revoked)
    # The worlds differ, so a stale reading would have shown.
    assert len({r.tobytes() for r in seen[:5]}) == 5


def test_a_twin_read_on_the_pulled_in_posts_is_the_twin_of_every_post(neutral):
    # A twin's rescored posts are read among the pulled-in posts alone; its revocations are
    # those of the whole pipeline run on every post, cut at the factual cut-off.
    _, people, split, settings, shared = _shared_world(
        neutral, neutral.config.system_settings().model_copy(update={"protest_coverage": 0.5}))
    held_out = people.loc[~split].reset_index(drop=True)
    _, text_probability, text_flagged = shared.classifier(settings)
    probability, flagged = text_probability[shared.text_code], text_flagged[shared.text_code]
    rng = np.random.default_rng(3)
    rows = np.flatnonzero(rng.random(len(probability)) < 0.02)
    new_flagged, new_probability = rng.random(rows.size) < 0.5, rng.random(rows.size)
    twin_flagged, twin_probability = flagged.copy(), probability.copy()
    twin_flagged[rows], twin_probability[rows] = new_flagged, new_probability
    pulled = pulled_in(shared.author, shared.post_uniform,
                       coverage_of(held_out, settings.protest_coverage))
    assert 0 < pulled[rows].sum() < rows.size  # some rescored posts are pulled in, some not
    pipeline = _pipeline(settings)
    factual = pipeline.stages(held_out, shared.author, pulled, flagged, probability)["revoked"]
    expected = pipeline.stages(held_out, shared.author, pulled, twin_flagged, twin_probability,
                               cut_off=pipeline.cut_off_)["revoked"].to_numpy()
    revoked = shared.revoked_rescored(settings, people, rows, new_flagged, new_probability)
    assert np.array_equal(revoked, expected)
    assert not np.array_equal(expected, factual.to_numpy())


def test_a_shared_world_sent_to_another_process_decides_alike(neutral):
    # A Dask worker receives the shared world pickled: what names objects of this process
    # (arrays by id, people by weak reference) does not travel, and the copy decides alike.
    _, people, _, settings, shared = _shared_world(neutral)
    revoked = shared.revoked(settings, people)
    copy = pickle.loads(pickle.dumps(shared))
    assert copy._last_view is None and not copy._signals and not copy._highest
    assert np.array_equal(copy.revoked(settings, people), revoked)
