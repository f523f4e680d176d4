"""Stages 1 and 2 of the visa revocation pipeline read each person's posts: reduced over each
author's run of posts, they give what gathering the pulled-in posts gives."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic.systems.catch_and_revoke import author_runs, person_signals


@pytest.mark.parametrize("seed", range(5))
def test_signals_by_run_equal_signals_by_gathering(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    counts = rng.poisson(rng.uniform(0.2, 6), n)  # some people write nothing
    author = np.repeat(np.arange(n), counts)
    pulled = rng.random(author.size) < rng.uniform(0, 1)
    flagged = rng.random(author.size) < 0.2
    probability = rng.random(author.size) * (rng.random(author.size) < 0.7)
    runs = author_runs(author)
    if not author.size:
        assert runs is None
        return
    by_run = person_signals(n, author, pulled, flagged, probability, runs)
    gathered = person_signals(n, author, pulled, flagged, probability)
    for ours, theirs in zip(by_run, gathered, strict=True):
        assert ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)


def test_runs_need_each_authors_posts_together():
    assert author_runs(np.array([0, 0, 2, 2, 3])).tolist() == [0, 2, 4]
    assert author_runs(np.array([1, 0, 1])) is None
    assert author_runs(np.array([], dtype=np.int64)) is None
