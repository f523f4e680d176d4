"""Stages 1 and 2 of the visa revocation pipeline read each person's posts: read from each
distinct text's outputs on the pulled-in posts alone, they give what reading every post
gives."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.systems.catch_and_revoke import PulledPosts, author_runs, person_signals


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
