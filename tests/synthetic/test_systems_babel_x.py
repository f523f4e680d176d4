"""The Babel X mimic: keyword flagger, learned classifier, persistent search, card."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from synthetic.population import generate
from synthetic.posts import generate_posts
from synthetic.posts import vocabulary as vocab
from synthetic.systems.babel_x import (
    DEFAULT_KEYWORDS,
    IDENTITY_KEYWORDS,
    LEXICONS,
    BabelXScorer,
    hashed_features,
    keyword_hits,
    persistent_search,
)

SEED = 5
MONTHS = 3.0


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate("us_visa_holders", 10_000, seed=SEED).people


@pytest.fixture(scope="module")
def held_out(people) -> pd.DataFrame:
    """Posts the systems were not trained on (another noise stream), 2% genuine threats."""
    return generate_posts(people, SEED, months=MONTHS, threat_rate=0.02, stream="held_out")


@pytest.fixture(scope="module")
def fitted(people) -> dict[float, tuple[BabelXScorer, pd.DataFrame]]:
    """A system fitted on unbiased and on biased annotators' labels, with its corpus."""
    out = {}
    for bias in (0.0, 3.0):
        corpus = generate_posts(people, SEED, months=MONTHS, threat_rate=0.02,
                                annotator_bias=bias, stream="corpus")
        system = BabelXScorer().fit(corpus["text"], corpus["annotator_threat"].to_numpy(),
                                    corpus["annotator_sentiment"].astype(str).to_numpy())
        out[bias] = system, corpus
    return out


def test_keywords_match_word_starts_in_any_case():
    texts = ["Stop the BOMBING", "Bombay mix", "a xbomb", "Gaza!", "hurting", "nothing"]
    assert keyword_hits(texts, ["bomb", "gaza", "hurt"]).tolist() == [
        True, True, False, True, True, False]


def test_keyword_hits_agree_with_a_direct_search(held_out):
    posts = held_out.head(20_000)
    pattern = re.compile(r"\b(?:" + "|".join(DEFAULT_KEYWORDS) + ")", re.IGNORECASE)
    direct = [bool(pattern.search(text)) for text in posts["text"]]
    assert keyword_hits(posts["text"], DEFAULT_KEYWORDS).tolist() == direct


def test_keyword_hits_in_blocks_of_texts_and_again_from_memory(held_out, monkeypatch):
    # The texts are split into words in blocks, numbered together, and kept for the next
    # lexicon: every way gives the hits of a direct search.
    from synthetic.systems import babel_x

    texts = pd.Series(held_out["text"].head(5_000).tolist() + ["", " ", "x  Bomb"],
                      dtype="str")
    for words in (DEFAULT_KEYWORDS, ("gaza", "free")):
        pattern = re.compile(r"\b(?:" + "|".join(words) + ")", re.IGNORECASE)
        direct = [bool(pattern.search(text)) for text in texts]
        babel_x.TEXT_WORDS.clear()
        assert keyword_hits(texts, words).tolist() == direct
        monkeypatch.setattr(babel_x, "FEATURE_BLOCK", 333)
        babel_x.TEXT_WORDS.clear()
        assert keyword_hits(texts, words).tolist() == direct
        assert keyword_hits(texts, words).tolist() == direct  # from the kept words
        monkeypatch.undo()
    assert keyword_hits(pd.Series([], dtype="str"), ["bomb"]).tolist() == []


def test_blank_keyword_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        keyword_hits(["x"], ["bomb", " "])


def test_scores_are_probabilities_and_flags_follow_the_rule(fitted):
    system, corpus = fitted[0.0]
    scored = system.score_posts(corpus["text"].head(5000))
    assert list(scored.columns) == ["keyword_hit", "threat_probability", "classifier_flag",
                                    "flagged", "predicted_sentiment"]
    assert scored["threat_probability"].between(0, 1).all()
    assert (scored["classifier_flag"] == (scored["threat_probability"] >= 0.5)).all()
    hits, classifier = scored["keyword_hit"].to_numpy(), scored["classifier_flag"].to_numpy()
    assert np.array_equal(scored["flagged"], hits | classifier)
    assert np.array_equal(BabelXScorer(flag_rule="keywords").combine(hits, classifier), hits)
    assert np.array_equal(BabelXScorer(flag_rule="classifier").combine(hits, classifier),
                          classifier)


def test_posts_sharing_a_text_are_scored_as_each_would_be_alone(fitted, held_out):
    system, _ = fitted[3.0]
    texts = held_out["text"].head(4000)
    assert texts.nunique() < len(texts)  # posts repeat texts
    scored = system.score_posts(texts)
    features = hashed_features(texts, system.n_features)  # one row per post
    assert np.array_equal(scored["threat_probability"], system.threat_probability(features))
    assert np.array_equal(scored["predicted_sentiment"].astype(str),
                          system.sentiment(features))
    assert np.array_equal(scored["keyword_hit"], keyword_hits(texts, system.keywords))
    # Any order and any repetition of the same texts: each post keeps its own score.
    order = np.random.default_rng(3).permutation(np.tile(np.arange(len(texts)), 2))
    again = system.score_posts(texts.iloc[order].reset_index(drop=True))
    pd.testing.assert_frame_equal(again, scored.iloc[order].reset_index(drop=True))
    for missing in (None, np.nan):
        with pytest.raises(ValueError, match="1 post.* no text .*row 1"):
            system.score_posts(pd.Series(["a post", missing, "a post"], dtype=object))


def test_classifier_learns_threats_and_sentiment(fitted, held_out):
    system, _ = fitted[0.0]
    test = held_out
    scored = system.score_posts(test["text"])
    threat = test["true_threat"].to_numpy()
    assert scored["classifier_flag"][threat].mean() > 0.9
    assert scored["classifier_flag"][~threat].mean() < 0.1
    accuracy = (scored["predicted_sentiment"].astype(str) == test["sentiment"].astype(str)).mean()
    assert accuracy > 0.9


def test_biased_labels_teach_the_classifier_that_arabic_terms_threaten(fitted, held_out):
    gaps = {}
    harmless = held_out[~held_out["true_threat"]]
    for bias, (system, _) in fitted.items():
        probability = system.score_posts(harmless["text"])["threat_probability"].to_numpy()
        arabic = harmless["arabic_or_islamic_terms"].to_numpy()
        gaps[bias] = probability[arabic].mean() - probability[~arabic].mean()
    assert gaps[3.0] > gaps[0.0] + 0.05


def test_fit_refuses_one_class_and_bad_settings():
    texts = ["a post", "another post"]
    with pytest.raises(ValueError, match="one class"):
        BabelXScorer().fit(texts, np.array([False, False]))
    with pytest.raises(ValueError, match="threshold"):
        BabelXScorer(threshold=1.5).fit(texts, np.array([False, True]))
    with pytest.raises(ValueError, match="flag_rule"):
        BabelXScorer(flag_rule="any").fit(texts, np.array([False, True]))


def test_persistent_search_flags_a_person_when_any_post_is_flagged():
    result = persistent_search(
        people_ids=np.array([10, 11, 12]),
        post_person_ids=np.array([10, 10, 12, 12, 12]),
        post_flagged=np.array([False, True, False, False, False]),
        post_score=np.array([0.2, 0.9, 0.1, 0.3, 0.2]),
    )
    assert result["posts_pulled_in"].tolist() == [2, 0, 3]
    assert result["flagged"].tolist() == [True, False, False]
    assert result["max_threat_probability"].tolist() == [0.9, 0.0, 0.3]
    with pytest.raises(ValueError, match="not among"):
        persistent_search(np.array([1]), np.array([2]), np.array([True]), np.array([0.5]))


def test_card_names_sources_and_knobs():
    card = BabelXScorer.card()
    for phrase in ("Babel X", "Public sources", "What is simplified", "Knobs",
                   "annotator_bias", "persistent search", "Sap et al.", "Dixon et al."):
        assert phrase in card


def _templates(topics) -> list[str]:
    """Every language version of every template of ``topics``, slots left in braces."""
    return [text for topic in topics for _, *texts in vocab.TEMPLATES[topic] for text in texts]


def test_neutral_lexicon_holds_threat_words_that_no_ordinary_post_uses():
    neutral = LEXICONS["neutral"]
    assert not set(neutral) & set(IDENTITY_KEYWORDS)
    assert not keyword_hits(_templates(vocab.TOPICS[:-1]), neutral).any()
    assert keyword_hits(_templates(["threat"]), neutral).any()


def test_reported_lexicon_flags_solidarity_speech_the_neutral_one_does_not():
    solidarity = _templates([vocab.SOLIDARITY_TOPIC])
    assert LEXICONS["reported"] == DEFAULT_KEYWORDS
    assert keyword_hits(solidarity, LEXICONS["reported"]).mean() > 0.4
    assert not keyword_hits(solidarity, LEXICONS["neutral"]).any()


def test_a_refit_on_the_same_corpus_reuses_the_models_and_equals_a_fresh_fit(fitted, held_out):
    from synthetic.systems.babel_x import FEATURES, FITS

    system, corpus = fitted[3.0]
    args = (corpus["text"], corpus["annotator_threat"].to_numpy(),
            corpus["annotator_sentiment"].astype(str).to_numpy())
    other_lexicon = BabelXScorer(keywords=IDENTITY_KEYWORDS).fit(*args)
    assert other_lexicon.threat_model_ is system.threat_model_  # keywords do not enter it
    FEATURES.clear()
    FITS.clear()
    fresh = BabelXScorer().fit(*args)
    assert fresh.threat_model_ is not system.threat_model_
    texts = held_out["text"].head(2_000)
    pd.testing.assert_frame_equal(fresh.score_posts(texts), system.score_posts(texts))
    # Labels changed by one post: a model of its own.
    flipped = args[1].copy()
    flipped[0] = not flipped[0]
    assert BabelXScorer().fit(args[0], flipped, args[2]).threat_model_ is not fresh.threat_model_


def test_a_fit_drawn_from_a_shared_generator_is_never_reused(fitted):
    _, corpus = fitted[0.0]
    args = (corpus["text"], corpus["annotator_threat"].to_numpy())
    rng = np.random.RandomState(1)
    first = BabelXScorer(random_state=rng).fit(*args)
    second = BabelXScorer(random_state=rng).fit(*args)
    assert first.threat_model_ is not second.threat_model_


def test_a_fit_asked_for_ahead_is_taken_by_fit_and_equals_a_fit_here(fitted, held_out):
    from synthetic.systems.ahead import Pending
    from synthetic.systems.babel_x import FEATURES, FITS

    _, corpus = fitted[3.0]
    args = (corpus["text"], corpus["annotator_threat"].to_numpy())
    FEATURES.clear()
    FITS.clear()
    here = BabelXScorer(random_state=11).fit(*args)
    FITS.clear()
    ahead = BabelXScorer(random_state=11)
    ahead.fit_ahead(*args)
    key = ahead._fit_key(args[0], args[1], None)
    assert isinstance(FITS.peek(key), Pending)
    ahead.fit(*args)
    assert not isinstance(FITS.peek(key), Pending)  # the models are kept in its place
    np.testing.assert_array_equal(ahead.threat_model_.coef_, here.threat_model_.coef_)
    texts = held_out["text"].head(2_000)
    pd.testing.assert_frame_equal(ahead.score_posts(texts), here.score_posts(texts))
    assert BabelXScorer(random_state=11).fit(*args).threat_model_ is ahead.threat_model_
    # Nothing is asked for where fit would not reuse it, or would refuse the labels.
    FITS.clear()
    BabelXScorer(random_state=np.random.RandomState(0)).fit_ahead(*args)
    BabelXScorer(random_state=11).fit_ahead(args[0], np.zeros(len(args[1]), dtype=bool))
    assert not FITS._results


def test_fits_of_one_corpus_asked_for_ahead_share_its_features(fitted, monkeypatch):
    from synthetic.systems import babel_x as system

    _, corpus = fitted[3.0]
    texts, labels = corpus["text"], corpus["annotator_threat"].to_numpy()
    other_labels = fitted[0.0][1]["annotator_threat"].to_numpy()[:len(labels)]
    calls = []
    real = system.hashed_features
    monkeypatch.setattr(system, "hashed_features",
                        lambda t, n: calls.append(len(t)) or real(t, n))
    system.FEATURES.clear()
    system.FEATURES_AHEAD.clear()
    system.FITS.clear()
    for these in (labels, other_labels):
        BabelXScorer(random_state=4).fit_ahead(texts, these)
    first = BabelXScorer(random_state=4).fit(texts, labels)
    second = BabelXScorer(random_state=4).fit(texts, other_labels)
    assert calls == [len(texts)]  # featurised once, for both fits
    system.FEATURES.clear()
    system.FITS.clear()
    np.testing.assert_array_equal(
        first.threat_model_.coef_, BabelXScorer(random_state=4).fit(texts, labels)
        .threat_model_.coef_)
    assert second.threat_model_ is not first.threat_model_
