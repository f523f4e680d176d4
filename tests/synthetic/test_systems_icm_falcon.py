"""The social graph and the ICM/FALCON-style link analysis: ties, homophily, scores, tips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from synthetic.networks import SocialGraph, build_graph
from synthetic.population import generate
from synthetic.systems.icm_falcon import LinkAnalysis, enforcement_records, tip_line, true_interest

SEED = 4


@pytest.fixture(scope="module")
def people():
    return generate("us_visa_holders", 30_000, SEED).people


def test_graph_is_symmetric_without_self_ties_and_homophily_sets_who_meets_whom(people):
    closed = build_graph(people, SEED, homophily_origin=1.0, homophily_language=0.0)
    adjacency = closed.adjacency
    assert (adjacency != adjacency.T).nnz == 0
    assert adjacency.diagonal().sum() == 0
    assert all(share == 1.0 for share in closed.same_origin_share.values())
    open_graph = build_graph(people, SEED, homophily_origin=0.0, homophily_language=0.0)
    shares = people["nationality"].value_counts(normalize=True).to_numpy()
    chance = float((shares ** 2).sum())
    for kind, share in open_graph.same_origin_share.items():
        assert share == pytest.approx(chance, abs=0.03), kind
    # ties of every kind exist, and only people with co-workers have a workplace
    assert all(count > 0 for count in closed.edges.values())
    assert closed.edges["household"] == pytest.approx(len(people), rel=0.01)


def test_graph_is_keyed_by_person_not_by_row_order(people):
    graph = build_graph(people, SEED)
    order = np.random.default_rng(0).permutation(len(people))
    shuffled = build_graph(people.iloc[order], SEED)
    expected = graph.adjacency[order][:, order]
    assert (shuffled.adjacency != expected).nnz == 0


def test_bad_graph_input_is_named(people):
    with pytest.raises(ValueError, match="homophily_origin"):
        build_graph(people, SEED, homophily_origin=1.5)
    with pytest.raises(ValueError, match="employer_sector"):
        build_graph(people.drop(columns="employer_sector"), SEED)
    with pytest.raises(ValueError, match="unknown tie kinds"):
        build_graph(people, SEED, weights={"church": 1.0})


def test_scores_add_discounted_points_along_ties_without_paths_back():
    # a path a - b - c, weights 1; a has a record, c a tip
    adjacency = sparse.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    graph = SocialGraph(adjacency)
    seeds, tips = np.array([True, False, False]), np.array([False, False, True])
    scores = LinkAnalysis(seed_weight=1.0, tip_weight=0.5, decay=0.5).score(graph, seeds, tips)
    # a: own 1, c two ties away 0.25 * 0.5; b: half of a and of c; c: own 0.5, a two ties away
    assert scores.score.tolist() == pytest.approx([1 + 0.125, 0.5 * 1.5, 0.5 + 0.25])
    assert LinkAnalysis(capacity=1 / 3).flag(graph, seeds, tips)[0].tolist() == [
        True, False, False]
    with pytest.raises(ValueError, match="one value per person"):
        LinkAnalysis().score(graph, seeds[:2], tips)
    # a and c are their own sources; b's strongest direct source is a (1 point against 0.5)
    sources = LinkAnalysis(tip_weight=0.5).suspicion_sources(graph, seeds, tips)
    assert sources.tolist() == [0, 0, 2]


def test_tips_follow_the_truth_and_bias_reaches_the_targets(people):
    truth = true_interest(people)
    fair = tip_line(people, SEED, neighbourhood_effect=0.0)
    biased = tip_line(people, SEED, neighbourhood_effect=0.0, tip_bias=9.0, targets=["MEX"])
    mexican = (people["nationality"] == "MEX").to_numpy()
    assert fair[truth].mean() > 20 * fair[~truth].mean()
    assert biased[~truth & mexican].mean() > 5 * fair[~truth & mexican].mean()
    assert np.array_equal(biased[~mexican], fair[~mexican])
    watched = tip_line(people, SEED, neighbourhood_effect=5.0, false_tip_rate=0.02)
    hood = people["neighbourhood"].astype(str).to_numpy()
    assert (watched[~truth & (hood == "downtown core")].mean()
            > 2 * watched[~truth & (hood == "rural")].mean())
    with pytest.raises(ValueError, match="false_tip_rate"):
        tip_line(people, SEED, false_tip_rate=2.0)
    assert enforcement_records(pd.DataFrame({"recorded_serious_crime": [True, False],
                                             "recorded_gang_affiliation": [False, False]})
                               ).tolist() == [True, False]
