"""Adapter for the Catch and Revoke pipeline: every stage audited, and the world of each stage's
bias handed to the runner's attribution.

The stages' biases are: (1) surveillance intensity (the population mechanism), (2) biased
annotators behind the social-media classifier, (3) label bias in criminal and overstay records
(the population mechanism), (4) the "countries of concern" points of the threat score; the
experiment file lists them as its ``[attribution]`` knobs. :func:`run` prepares what every
world shares (the held-out people's posts, their features, each post's pull-in noise) once, and
its ``decide_world`` reruns only what a knob changes: the classifier for another annotator bias
(trained once per setting), who is pulled in under another surveillance coverage, the threat
score with another list. The runner's attribution (:mod:`experiments.engine.attribution`) splits the
gap in wrongful revocation between the stages, with paired intervals from
:mod:`audit.paired`.

Speech: each held-out student's ``posted_palestine_solidarity`` ("yes", "no", "no posts") comes
from the topics of the posts they wrote in the window; the experiment's pre-specified speech
comparison ("yes" against "no") gets its stage-by-stage audit, and :func:`speech_twin` rewrites
only those posts (on another cause) to measure the direct effect of the speech on revocation.
"""

from __future__ import annotations

import hashlib
import math
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from audit import audit
from audit.counterfactual import flip_rates
from audit.figures import literal_text, new_figure, plain_log_labels, save_figure
from audit.intervals import wilson_interval
from audit.report import bounds, percent
from experiments.config import Strict, system_seed
from experiments.config.remedies import MODEL_REMEDIES
from experiments.errors import UsageError
from experiments.systems.babel_x import LexiconSettings, labelled_posts
from experiments.systems.composition import (
    composition_sentence,
    focus_adjusted,
    focus_row,
    strata_words,
)
from experiments.systems.contract import (
    Decisions,
    Hooks,
    PooledTables,
    RunPlan,
    SystemRun,
    Wording,
    own_findings,
    run_plan,
)
from experiments.writing.claims import Claim, Ledger, derived, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from experiments.writing.names import country_name, named_labels
from synthetic.posts import generate_posts, retopic
from synthetic.posts.generate import PostNoise, person_keys
from synthetic.posts.vocabulary import SOLIDARITY_TOPIC
from synthetic.systems.babel_x import FIT_THREAD, FITS_AHEAD, BabelXScorer, keyword_hits
from synthetic.systems.catch_and_revoke import (
    STAGE_TITLES,
    STAGES,
    CatchAndRevokePipeline,
    PulledPosts,
    RecordSignals,
    ThreatPoints,
    capacity_is_count,
)
from synthetic.systems.memo import RecentResults, content_key

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: This system fits its replicates' classifiers ahead on a second core (the run's plan,
#: :func:`experiments.systems.contract.run_plan`) and keeps their shared posts and features in
#: this process, so the sandbox keeps its replicates here rather than in worker processes
#: (:func:`experiments.serve.jobs.replicates_in_workers`).
WORKS_AHEAD = True
CORPUS_STREAM = "catch_and_revoke.corpus"
POSTS_STREAM = "catch_and_revoke.posts"
PULL_STREAM = "catch_and_revoke.pull"
#: Person-level columns this system derives from the posts it reads; groupings may name them.
#: ``posted_palestine_solidarity`` is "yes" for a student who wrote at least one post in support
#: of Palestinian rights in the window, "no" for one who wrote posts but none in support, and
#: "no posts" for one who wrote nothing (whom social-media monitoring cannot flag at all).
SPEECH_COLUMN = "posted_palestine_solidarity"
SPEECH_GROUPS = ("yes", "no", "no posts")
DERIVED_COLUMNS = (SPEECH_COLUMN,)
#: What the speech twin writes instead of a post in support of Palestinian rights: a post in
#: support of another cause (same template slot, style and noise).
SPEECH_TWIN_TOPIC = "solidarity_other"
#: The people's columns the pipeline's stages read (a world's recorded columns among them).
STAGE_INPUTS = ("person_id", "nationality", "region_of_origin", "surveillance_coverage",
                "protest_participation", "recorded_criminal_record", "recorded_overstay")
#: The focus of the wrongful-revocation shares when the experiment names none.
DEFAULT_SHARE_FOCUS = ("region_of_origin", "Middle East and North Africa")


class PointsSettings(Strict):
    """Points of the automated threat score (logit scale)."""

    intercept: float = -5.0
    social_flag: float = Field(default=2.5, ge=0)
    threat_probability: float = Field(default=2.0, ge=0)
    minor_record: float = Field(default=1.5, ge=0)
    serious_record: float = Field(default=3.0, ge=0)
    overstay: float = Field(default=2.0, ge=0)
    country_of_concern: float = Field(default=1.5, ge=0)


class Settings(LexiconSettings):
    """The ``[system]`` table of a Catch and Revoke experiment (``lexicon`` and ``keywords``:
    see :class:`experiments.systems.babel_x.LexiconSettings`)."""

    months: float = Field(default=3.0, gt=0, le=24, description="window of social-media search")
    annotator_bias: float = Field(default=1.5, ge=0, le=5)
    annotator_noise: float = Field(default=0.01, gt=0, le=0.2)
    annotator_miss_rate: float = Field(default=0.1, ge=0, lt=1)
    training_posts: int = Field(default=40_000, ge=2_000, le=2_000_000)
    training_threat_rate: float = Field(default=0.02, gt=0, le=0.5)
    protest_coverage: float = Field(
        default=0.0, ge=0, le=1,
        description="surveillance of protest sites: share of a protest participant's posts "
                    "pulled in, if above their group's coverage; 0 = no such surveillance")
    classifier_threshold: float = Field(default=0.5, gt=0, lt=1)
    flag_rule: Literal["either", "classifier", "keywords"] = "either"
    n_features: int = Field(default=2**18, ge=2**10, le=2**24)
    countries_of_concern: list[str] = Field(default_factory=list)
    points: PointsSettings = PointsSettings()
    rule: Literal["capacity", "threshold"] = "capacity"
    capacity: float | int = Field(
        default=0.01,
        description="under rule = 'capacity': a share of the held-out people to revoke, the "
                    "top scores (a number in (0, 1], e.g. 0.01), or a count of revocations (a "
                    "whole number of at least 1, e.g. 4736)")

    @field_validator("capacity", mode="before")
    @classmethod
    def _share_or_count(cls, value: Any) -> Any:
        # A TOML integer is a count, a TOML float a share: 4736 revokes 4,736 people, 0.01
        # revokes 1% of them (and 1.0 everyone, as before counts existed).
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("capacity must be a share (0 < share <= 1, e.g. 0.01) or a count "
                             "of revocations (a whole number >= 1, e.g. 4736)")
        if isinstance(value, int) and value < 1:
            raise ValueError("a count of revocations must be at least 1; for a "
                             "share write a number in (0, 1], e.g. 0.01")
        if isinstance(value, float) and not 0 < value <= 1:
            raise ValueError("a share must lie in (0, 1]; for a count of "
                             "revocations write a whole number without a decimal point, e.g. "
                             f"{int(value) if value.is_integer() and value >= 1 else 4736}")
        return value
    threshold: float = Field(default=0.5, gt=0, lt=1)


@dataclass
class _PeopleSide:
    """The people's side of a run's shared world: what the pipeline reads of the held-out
    people's posts (drawn from the experiment's seed), their distinct texts, authors, speech
    grouping and pull-in noise, and caches of what depends on these alone (keyword hits,
    hashed features, pulled-in posts).

    Of the posts' other columns, only the annotators' threat labels and the posts on
    :data:`SOLIDARITY_TOPIC` (which the speech twin rewrites) are kept: on a million people
    the whole table would hold a few hundred MB more for the rest of the run."""

    annotator_threat: np.ndarray
    solidarity_rows: np.ndarray
    solidarity_posts: pd.DataFrame
    text_code: np.ndarray
    texts: pd.Index
    author: np.ndarray
    posted: pd.Categorical
    post_uniform: np.ndarray
    keywords: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    pulled: dict = field(default_factory=dict)


#: The people's side of the last run, by ``id`` of its people (an entry leaves with its
#: people): replicates of the system's randomness run again on the same people, and only the
#: classifier differs between them, so they reuse the posts instead of drawing them anew.
_PEOPLE_SIDES: dict[int, tuple[tuple, _PeopleSide]] = {}
#: Annotated training corpora by content: each replicate's, under each annotator setting (a
#: fit asked for ahead and the fit itself read the same corpus).
CORPORA = RecentResults(max_entries=8)


def _people_side(seed: int, people: pd.DataFrame, train: np.ndarray, settings: Settings
                 ) -> _PeopleSide:
    """The people's side of the shared world of ``people``, reused while the same people,
    split, seed and post settings come again."""
    key = (seed, settings.months, settings.annotator_bias, settings.annotator_noise,
           settings.annotator_miss_rate, hashlib.blake2b(
               np.ascontiguousarray(train, dtype=bool).tobytes()).hexdigest())
    cached = _PEOPLE_SIDES.get(id(people))
    if cached is not None and cached[0] == key:
        return cached[1]
    held_out = people.loc[~train].reset_index(drop=True)
    posts = generate_posts(
        held_out, seed, months=settings.months, rate_column="posts_per_month",
        stream=POSTS_STREAM, annotator_bias=settings.annotator_bias,
        annotator_noise=settings.annotator_noise,
        annotator_miss_rate=settings.annotator_miss_rate, text_dtype="category")
    # Posts repeat a finite vocabulary: each distinct text is featurised, scored and
    # searched once, and every post reads its text's result (the same numbers, far fewer
    # texts).
    # Each post's author among the held-out people, in 4 bytes a post rather than 8: the
    # people's side is kept for the whole run, over millions of posts.
    author = pd.Index(held_out["person_id"]).get_indexer(posts["person_id"]).astype(
        np.int32 if len(held_out) < 2**31 else np.int64)
    # Whether each held-out student wrote a post in support of Palestinian rights in the
    # window (whether or not the tool pulled it in): the speech comparison's grouping.
    wrote = np.bincount(author, minlength=len(held_out)) > 0
    in_support = np.bincount(
        author, weights=(posts["topic"] == SOLIDARITY_TOPIC).to_numpy(np.float64),
        minlength=len(held_out)) > 0
    solidarity = np.flatnonzero((posts["topic"] == SOLIDARITY_TOPIC).to_numpy())
    side = _PeopleSide(
        annotator_threat=posts["annotator_threat"].to_numpy(bool),
        solidarity_rows=solidarity, solidarity_posts=posts.iloc[solidarity],
        text_code=posts["text"].cat.codes.to_numpy(),
        texts=posts["text"].cat.categories, author=author,
        posted=pd.Categorical.from_codes(np.where(in_support, 0, np.where(wrote, 1, 2)),
                                         categories=list(SPEECH_GROUPS)),
        post_uniform=PostNoise(
            person_keys(seed, held_out["person_id"].to_numpy(), PULL_STREAM)[author],
            posts["post_index"].to_numpy()).uniform("pulled_in"))
    # One entry at a time: a run on other people need not keep these posts alive.
    _PEOPLE_SIDES.clear()
    _PEOPLE_SIDES[id(people)] = (key, side)
    weakref.finalize(people, _PEOPLE_SIDES.pop, id(people), None)
    return side


class _HeldOutView:
    """The held-out people of one world's people, and what the stages read of them that a
    knob of the pipeline changes little: each person's surveillance coverage (with its
    digest) per protest-site coverage, and their records per list of concern.

    ``people`` is a weak reference to the people read: a view is used again only while
    those very people are (they are not changed while a run reads them)."""

    def __init__(self, people: weakref.ref, held_out: pd.DataFrame) -> None:
        self.people = people
        self.held_out = held_out
        self._coverage: dict[float, tuple[np.ndarray, str]] = {}
        self._records: dict[tuple[str, ...], RecordSignals] = {}

    def coverage(self, protest_coverage: float) -> tuple[np.ndarray, str]:
        """Each person's coverage (:func:`coverage_of`) and its digest, which names the
        posts it pulls in."""
        if protest_coverage not in self._coverage:
            coverage = coverage_of(self.held_out, protest_coverage)
            self._coverage[protest_coverage] = (
                coverage, hashlib.blake2b(coverage.tobytes()).hexdigest())
        return self._coverage[protest_coverage]

    def records(self, pipeline: CatchAndRevokePipeline) -> RecordSignals:
        """:meth:`~CatchAndRevokePipeline.record_signals` of the held-out people."""
        key = pipeline.countries_of_concern
        if key not in self._records:
            self._records[key] = pipeline.record_signals(self.held_out)
        return self._records[key]


class _SharedWorld:
    """What every bias world of one run shares, and the parts a knob changes, each computed
    once per setting: the held-out people's posts and features, each post's pull-in noise, and
    a classifier per annotator setting.

    The people's posts and the pull-in noise are drawn from the experiment's seed; the
    annotated training corpus and the classifier's fitting are the system's own draw
    (``corpus_seed``, redrawn by each replicate)."""

    def __init__(self, config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray,
                 settings: Settings, training_people: pd.DataFrame | None = None) -> None:
        self.seed = config.experiment.seed
        self.corpus_seed = system_seed(config)
        self.train = train
        self.training_people = people.loc[train] if training_people is None else training_people
        side = _people_side(self.seed, people, train, settings)
        self.annotator_threat = side.annotator_threat  # one per post
        self.solidarity_rows, self.solidarity_posts = side.solidarity_rows, side.solidarity_posts
        self.text_code, self.texts = side.text_code, side.texts
        self.author, self.posted, self.post_uniform = side.author, side.posted, side.post_uniform
        self._scorers: dict[tuple, tuple[BabelXScorer, np.ndarray, np.ndarray]] = {}
        self._learned: dict[tuple, tuple[BabelXScorer, np.ndarray]] = {}
        # Keyword hits, features and pulled-in posts depend on the people's posts alone (the
        # features are hashed, not learned): replicates on the same people share them.
        self._keywords: dict[tuple[str, ...], np.ndarray] = side.keywords
        self._features: dict[int, object] = side.features
        self._signals: dict[tuple[int, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._highest: dict[tuple[int, str], np.ndarray] = {}
        self._pulled: dict[str, PulledPosts] = side.pulled
        self._last_view: _HeldOutView | None = None

    def __getstate__(self) -> dict[str, object]:
        # What is keyed by an array's id, or read through a weak reference, names objects of
        # this process only: another process (a Dask worker deciding worlds) reads it anew.
        return {**self.__dict__, "_last_view": None, "_signals": {}, "_highest": {}}

    def classifier(self, settings: Settings) -> tuple[BabelXScorer, np.ndarray, np.ndarray]:
        """The classifier of these settings, and the threat probability and flag of each
        distinct text (a post's are its text's: ``[self.text_code]``).

        The classifier is trained once per annotation and training setting, and the lexicon's
        keyword hits are computed once per lexicon: switching the lexicon retrains nothing.
        """
        learned = (settings.annotator_bias, settings.annotator_noise,
                   settings.annotator_miss_rate, settings.training_posts,
                   settings.training_threat_rate, settings.flag_rule, settings.n_features)
        if learned not in self._learned:
            scorer = _train_scorer(self.training_people, self.corpus_seed, settings,
                                   settings.annotator_bias)
            if settings.n_features not in self._features:
                self._features[settings.n_features] = scorer.featurise(pd.Series(self.texts))
            # Kept per distinct text, not per post: a few times smaller, for each setting.
            self._learned[learned] = (scorer, scorer.threat_probability(
                self._features[settings.n_features]))
        scorer, probability = self._learned[learned]
        words = settings.lexicon_words
        if words not in self._keywords:
            self._keywords[words] = keyword_hits(pd.Series(self.texts), words)
        key = (learned, words, settings.classifier_threshold)
        if key not in self._scorers:
            self._scorers[key] = (scorer, probability, scorer.combine(
                self._keywords[words], probability >= settings.classifier_threshold))
        return self._scorers[key]

    def stages(self, settings: Settings, people: pd.DataFrame) -> tuple[pd.DataFrame,
                                                                         np.ndarray]:
        """Every stage's output for the held-out people of ``people`` (a world's recorded
        columns), and which posts were pulled in."""
        view = self._view(people)
        pulled, signals = self._signals_of(settings, view)
        pipeline = _pipeline(settings)
        return (pipeline.stages_from_signals(view.held_out, *signals,
                                             records=view.records(pipeline)), pulled.mask)

    def revoked(self, settings: Settings, people: pd.DataFrame) -> np.ndarray:
        """Who of the held-out people of ``people`` is revoked (``revoked`` of
        :meth:`stages`), without the other stages' columns: a world's decision."""
        view = self._view(people)
        _, (_, flagged, highest) = self._signals_of(settings, view)
        pipeline = _pipeline(settings)
        return pipeline.revoked_from_signals(view.records(pipeline), flagged, highest)

    def revoked_rescored(self, settings: Settings, people: pd.DataFrame, rows: np.ndarray,
                         flagged: np.ndarray, probability: np.ndarray) -> np.ndarray:
        """Who of the held-out people of ``people`` is revoked when the posts at ``rows``
        (ascending positions among every written post) have these flags and threat
        probabilities instead of their texts', the score cut where :meth:`revoked` cuts it:
        a twin decided at the factual cut-off. Each post is pulled in exactly when it is
        in :meth:`stages`."""
        view = self._view(people)
        pulled, (_, person_flagged, highest) = self._signals_of(settings, view)
        pipeline = _pipeline(settings)
        records = view.records(pipeline)
        pipeline.revoked_from_signals(records, person_flagged, highest)  # the factual cut-off
        _, text_probability, text_flagged = self.classifier(settings)
        # The pulled-in posts' outputs, those of the rescored rows among them replaced.
        post_flagged, post_probability = text_flagged[pulled.text], text_probability[pulled.text]
        hit = pulled.mask[rows]
        at = np.searchsorted(np.flatnonzero(pulled.mask), rows[hit])
        post_flagged[at], post_probability[at] = flagged[hit], probability[hit]
        _, twin_flagged, twin_highest = pulled.pulled_signals(post_flagged, post_probability)
        return pipeline.revoked_from_signals(records, twin_flagged, twin_highest,
                                             cut_off=pipeline.cut_off_)

    def _view(self, people: pd.DataFrame) -> _HeldOutView:
        """The held-out people of ``people``, read once while the same people come again:
        the worlds of an attribution that share their people are decided one after
        another, and each reads the same columns."""
        view = self._last_view
        if view is None or view.people() is not people:
            # Only the columns the stages read, not a copy of every column per world.
            view = self._last_view = _HeldOutView(
                weakref.ref(people),
                people.loc[~self.train, list(STAGE_INPUTS)].reset_index(drop=True))
        return view

    def _signals_of(self, settings: Settings, view: _HeldOutView
                    ) -> tuple[PulledPosts, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The posts that ``settings`` pulls in of ``view``'s people, and what stages 1 and
        2 tell about each person from them (:func:`person_signals`)."""
        _, probability, flagged = self.classifier(settings)
        # Worlds with the same coverage pull in the same posts, and worlds that also flag them
        # alike share stages 1 and 2 (the flags are kept alive by the classifier's cache, so
        # their id names them).
        coverage, watched = view.coverage(settings.protest_coverage)
        if watched not in self._pulled:
            # The posts come sorted by author (generate_posts), as PulledPosts reads them.
            self._pulled[watched] = PulledPosts.of(
                len(view.held_out), self.author, self.post_uniform, coverage, self.text_code)
        pulled = self._pulled[watched]
        key = (id(flagged), watched)
        if key not in self._signals:
            # Each distinct text's outputs, read on the pulled-in posts alone; the highest
            # probability once per classifier, however many lexicons flag with it.
            highest = (id(probability), watched)
            if highest not in self._highest:
                self._highest[highest] = pulled.highest(probability)
            self._signals[key] = (pulled.count, pulled.flagged(flagged), self._highest[highest])
        return pulled, self._signals[key]


def coverage_of(held_out: pd.DataFrame, protest_coverage: float) -> np.ndarray:
    """Each held-out person's surveillance coverage, raised to ``protest_coverage`` for
    protest participants (surveillance of protest sites)."""
    coverage = held_out["surveillance_coverage"].to_numpy(dtype=np.float64)
    if protest_coverage > 0:
        protest = held_out["protest_participation"].to_numpy(dtype=bool)
        coverage = np.where(protest, np.maximum(coverage, protest_coverage), coverage)
    return coverage


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Run the pipeline on the held-out visa holders, stage by stage."""
    settings: Settings = config.system_settings()
    held_out = people.loc[~train].reset_index(drop=True)
    _check_concern_list(settings.countries_of_concern, people)
    if settings.rule == "capacity" and capacity_is_count(settings.capacity) \
            and settings.capacity > len(held_out):
        raise UsageError(
            f"system.capacity = {settings.capacity:,} revocations is more than the "
            f"{len(held_out):,} held-out students the pipeline decides on; use a smaller count, "
            "a larger --size or a smaller split.train_fraction")
    training_people = people.loc[train]
    shared = _SharedWorld(config, people, train, settings, training_people)
    plan = run_plan()
    if plan is not None and own_findings():
        # After the posts: fitting beside their drawing would add to the run's peak memory.
        _fit_ahead(plan, config, training_people)
    held_out[SPEECH_COLUMN] = shared.posted
    stages, pulled = shared.stages(settings, people)
    scorer = shared.classifier(settings)[0]
    author = shared.author

    truth = held_out["true_threat"].to_numpy(dtype=bool)
    annotated = np.bincount(author[pulled], weights=shared.annotator_threat[pulled].astype(
        np.float64), minlength=len(held_out)) > 0
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=truth,
        y_recorded=annotated | stages["serious_record"].to_numpy(),
        decision=stages["revoked"].to_numpy(),
        score=stages["threat_score"].to_numpy(),
    )

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        return {"decision": shared.revoked(world.system_settings(), world_people)}

    hooks = Hooks(decide_twins=None, decide_world=decide_world)
    if not own_findings():  # a further replicate: its decisions and worlds are all it gives
        return SystemRun(decided=Decisions(table=decisions),
                         wording=Wording(card=CatchAndRevokePipeline.card()), hooks=hooks)
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    stage_table = stage_audit(config, held_out, stages, singles, truth)
    grouping, group = ((config.audit.focus[0].grouping, config.audit.focus[0].group)
                       if config.audit.focus and " × " not in config.audit.focus[0].grouping
                       else DEFAULT_SHARE_FOCUS)
    share = wrongful_share(held_out, stages, truth, grouping, group, config.audit.confidence)
    ledger = Ledger()
    capacity = capacity_claims(settings, len(held_out), int(stages["revoked"].sum()), ledger)
    found = _headlines(share, group, capacity, ledger, config.audit.confidence)
    for claim in ledger.claims:  # the capacity's claims belong to the sentence quoting it
        if claim.id.startswith("capacity.") and found:
            claim.sentence = found[0]
    if settings.rule == "capacity" and capacity_is_count(settings.capacity):
        found.insert(0, revocation_count_headline(held_out, stages, truth, grouping, group,
                                                  config.audit.confidence, ledger))
    speech, sentence = pd.DataFrame(), ""
    speech_stages = speech_stage_adjusted(config, held_out, stages, truth)
    if SPEECH_COLUMN in singles:
        twin_revoked, _ = speech_twin(shared, settings, people)
        speech = speech_flips(config, held_out, stages["revoked"].to_numpy(), twin_revoked,
                              truth)
        adjusted = focus_adjusted(config, decisions)  # the same rows adjusted.csv holds
        sentence = speech_headline(config, speech_rates(stage_table), speech, settings,
                                   adjusted, ledger)
        if sentence:
            found.append(sentence)
    facts = {
        "training_people": int(train.sum()),
        "held_out_people": int(len(held_out)),
        "held_out_posts_written": len(shared.annotator_threat),
        "held_out_posts_pulled_in": int(pulled.sum()),
        "revoked": int(stages["revoked"].sum()),
        "truly_threatening_people": int(truth.sum()),
        "training_label_threat_share": round(scorer.training_threat_share_, 6),
        "countries_of_concern": settings.countries_of_concern,
        "rule": settings.rule,
        "capacity": settings.capacity,
        "capacity_kind": ("count" if capacity_is_count(settings.capacity) else "share")
        if settings.rule == "capacity" else "none (threshold rule)",
    }

    def write_extras(directory: Path) -> list[object]:
        # The report's detail names the setting itself; the headline says it in words.
        detail = capacity_words(settings, len(held_out), int(stages["revoked"].sum()))
        confidence = config.audit.confidence
        return (report_blocks(directory, stage_table, share, grouping, singles, detail,
                              confidence)
                + speech_blocks(stage_table, speech, speech_stages, confidence,
                                config.audit.suppress_below))

    def pool_replicates(stacked: dict[str, pd.DataFrame], pooled: PooledTables) -> None:
        # Over replicates the speech headline quotes the pooled rates and adjusted comparison
        # (metrics.csv, adjusted.csv), as the rest of the report does, not the first one's.
        if not sentence:
            return
        ledger.claims[:] = [c for c in ledger.claims if c.sentence != sentence]
        pooled_sentence = speech_headline(
            config, pooled_speech_rates(pooled.metrics["true"]), speech, settings,
            pooled.adjusted, ledger, replicates=config.experiment.replicates)
        found[found.index(sentence)] = pooled_sentence

    hooks.pool_replicates = pool_replicates
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details=facts,
            extra_tables={"stage_metrics": stage_table, "wrongful_revocation_share": share,
                          # rows a headline computed, which its claims cite
                          **{name.removesuffix(".csv"): pd.DataFrame(rows)
                             for name, rows in ledger.tables.items()},
                          **({"speech_twin": speech} if not speech.empty else {}),
                          **({"speech_stages_adjusted": speech_stages}
                             if not speech_stages.empty else {})},
        ),
        wording=Wording(
            card=CatchAndRevokePipeline.card(),
            decision_label="stripped of their visas",
            error_phrase="stripped of their visas in error (though they posed no threat)",
            negative_phrase="posing no threat",
            headlines=found,
            claims=ledger.claims,
            focus_quoted=[SPEECH_COLUMN] if sentence else [],
            write_extras=write_extras,
        ),
        hooks=hooks,
    )


def speech_twin(shared: _SharedWorld, settings: Settings, people: pd.DataFrame
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Each held-out student's revocation had their posts in support of Palestinian rights been
    posts in support of another cause: the direct effect of that speech.

    The same students, every other post, every attribute and every noise draw unchanged; each
    post on ``solidarity_palestine`` is rewritten on :data:`SPEECH_TWIN_TOPIC` in the same
    style and template slot (:func:`synthetic.posts.retopic`), scored by the same fitted
    classifier and lexicon, pulled in exactly when the original was, and the threat score is
    cut at the factual run's cut-off.

    Returns
    -------
    revoked : ndarray of bool
        The twin's revocation, per held-out student.
    posts : DataFrame
        The rewritten posts as the twin wrote them, with their rows' labels in the
        held-out people's posts (every other post is the factual one).
    """
    held_out = people.loc[~shared.train].reset_index(drop=True)
    scorer = shared.classifier(settings)[0]
    changed = shared.solidarity_rows
    # Only the posts on the topic change, each from its own noise: rewrite just those rows
    # (with their text as plain text, which the rewrite replaces).
    factual = shared.solidarity_posts
    twin_posts = retopic(factual.assign(text=factual["text"].astype("str")), held_out,
                         shared.seed, SOLIDARITY_TOPIC, SPEECH_TWIN_TOPIC,
                         annotator_bias=settings.annotator_bias,
                         annotator_noise=settings.annotator_noise,
                         annotator_miss_rate=settings.annotator_miss_rate, stream=POSTS_STREAM)
    rescored, reflagged = np.zeros(0), np.zeros(0, dtype=bool)
    if changed.size:
        texts = twin_posts["text"]
        rescored = scorer.threat_probability(scorer.featurise(texts))
        reflagged = scorer.combine(keyword_hits(texts, settings.lexicon_words),
                                   rescored >= settings.classifier_threshold)
    return shared.revoked_rescored(settings, people, changed, reflagged, rescored), twin_posts


def speech_flips(config: ExperimentConfig, held_out: pd.DataFrame, revoked: np.ndarray,
                 twin_revoked: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """Flip rates of revocation under the speech twin, among the students who posted in
    support of Palestinian rights and posed no threat, overall and by region of origin."""
    among = (held_out[SPEECH_COLUMN] == SPEECH_GROUPS[0]).to_numpy() & ~truth
    frame = pd.DataFrame({
        "region_of_origin": held_out["region_of_origin"].to_numpy()[among],
        "decision": revoked[among], "twin_decision": twin_revoked[among]})
    if frame.empty:
        return pd.DataFrame()
    table = flip_rates(frame, ["region_of_origin"], "decision", "twin_decision",
                       confidence=config.audit.confidence,
                       suppress_below=config.audit.suppress_below,
                       min_count=config.audit.min_count)
    # How many of them the factual run revoked (in error): what the twin's flips are out of.
    revoked_by_group = frame.groupby("region_of_origin", observed=True)["decision"].sum()
    counts = {str(k): int(v) for k, v in revoked_by_group.items()} | {
        "(all)": int(frame["decision"].sum())}
    table.insert(table.columns.get_loc("n") + 1, "revoked",
                 table["group"].astype(str).map(counts).astype("Int64"))
    table.insert(0, "effect", "direct")
    table.insert(0, "intervention", f"posts on {SOLIDARITY_TOPIC} rewritten on "
                                    f"{SPEECH_TWIN_TOPIC}")
    return table


def speech_rates(stage_table: pd.DataFrame) -> SpeechRates:
    """The speech groups' wrongful-revocation rates at the last stage, as stage_metrics.csv
    holds them (the first replicate's)."""
    rows = stage_table[(stage_table["stage"] == "revoked")
                       & (stage_table["grouping"] == SPEECH_COLUMN)
                       & (stage_table["metric"] == "fpr")]
    return SpeechRates(rows, "stage_metrics.csv", ("stage", "grouping", "group", "metric"))


def pooled_speech_rates(metrics: pd.DataFrame) -> SpeechRates:
    """The same rates from the run's metrics.csv by the true outcome, pooled over every
    replicate of the system's randomness (the revocation is the pipeline's decision)."""
    rows = metrics[(metrics["grouping"] == SPEECH_COLUMN) & (metrics["metric"] == "fpr")]
    return SpeechRates(rows, "metrics.csv", ("grouping", "group", "metric"), {"view": "true"})


@dataclass
class SpeechRates:
    """Rows of one table with the speech groups' rates, and how a claim cites them."""

    rows: pd.DataFrame
    source: str
    keys: tuple[str, ...]
    extra_keys: dict[str, str] = field(default_factory=dict)


def speech_headline(config: ExperimentConfig, rates: SpeechRates, speech: pd.DataFrame,
                    settings: Settings, adjusted: pd.DataFrame | None = None,
                    ledger: Ledger | None = None, replicates: int = 1) -> str:
    """The pre-specified speech comparison (an ``[[audit.focus]]`` entry on
    :data:`SPEECH_COLUMN`): wrongful revocation of students who posted in support of
    Palestinian rights against those who did not, crude and adjusted for the strata the
    comparison declares (region of origin: who posts is not spread evenly), and the speech
    twin's count against the wrongful revocations it could undo. Causal words about speech
    are kept for what the within-stratum comparison and the twin show. Every number is a
    claim on the table ``rates`` names, adjusted.csv or speech_twin.csv recorded in
    ``ledger``. With ``replicates`` above one, ``rates`` and ``adjusted`` are pooled over
    them and the twin, run on the first, says so. Empty when the experiment names no such
    comparison."""
    focus = next((f for f in config.audit.focus if f.grouping == SPEECH_COLUMN), None)
    rows = rates.rows.assign(group=rates.rows["group"].astype(str)).set_index(
        "group", drop=False)
    reference = (focus.reference or config.audit.reference.get(SPEECH_COLUMN, SPEECH_GROUPS[1])
                 ) if focus is not None else ""
    if focus is None or focus.group not in rows.index or reference not in rows.index:
        return ""
    g, r = rows.loc[focus.group], rows.loc[reference]
    ledger = ledger if ledger is not None else Ledger()
    source, keys = rates.source, rates.keys

    def from_rates(id: str, row: pd.Series, **kwargs: Any) -> Claim:
        return ledger.add(from_row(id, row, source=source, keys=keys,
                                   extra_keys=rates.extra_keys, **kwargs))

    rate = from_rates("speech.rate", g, style="percent2")
    base = from_rates("speech.reference_rate", r, style="percent2")
    level = ledger.add(setting("speech.level", "config.audit.confidence",
                               config.audit.confidence, style="level",
                               unit="confidence level"))
    claims = [rate, base, level]
    lexicon = ("the reported lexicon, with identity, solidarity and war-news words"
               if settings.keywords is None and settings.lexicon == "reported"
               else "a neutral lexicon" if settings.keywords is None else "a custom lexicon")
    who, whom = _speech_words(focus.group), _speech_words(reference)
    detail = f"Intervals at {level.text()}: rates {rate.interval()} and {base.interval()}"
    if str(g["reference"]) == reference and math.isfinite(g["ratio"]):
        ratio = from_rates("speech.ratio", g, value="ratio",
                           ci=("ratio_ci_low", "ratio_ci_high"), n=None, style="ratio",
                           unit="ratio")
        p_holm = from_rates("speech.p_holm", g, value="p_holm", ci=None, n=None, style="p",
                            unit="Holm-adjusted p-value")
        alpha = ledger.add(setting("speech.significance", "tool.significance", 0.05,
                                   unit="significance level"))
        claims += [ratio, p_holm, alpha]
        first = (f"{who[:1].upper()}{who[1:]} were stripped of their visas in error (though "
                 f"they posed no threat) at {ratio.text()} times the rate of {whom} "
                 f"({rate.text()} against {base.text()}), in a comparison named in advance.")
        excludes = ratio.has_interval and (ratio.ci_low > 1 or ratio.ci_high < 1)
        if excludes and g["p_holm"] >= 0.05:
            claims.append(ledger.add(setting("speech.no_difference", "tool.equal_rates_ratio",
                                             1.0, unit="ratio")))
        # The interval is unadjusted while the p-value is adjusted for every comparison the
        # audit made: where they disagree, the page says so rather than leave a reader to
        # take the interval as significance.
        verdict = ("" if g["p_holm"] < 0.05 else
                   "; the unadjusted interval excludes 1, but after the Holm adjustment the "
                   "data cannot tell this difference from chance" if excludes else
                   "; the data cannot tell this difference from chance")
        detail += (f"; crude ratio {ratio.interval()}, not adjusted for multiple comparisons "
                   f"(Holm-adjusted p = {p_holm.text()}, against {alpha.text()}{verdict})")
    else:
        first = (f"{who[:1].upper()}{who[1:]} were stripped of their visas in error (though "
                 f"they posed no threat) at a rate of {rate.text()}, against {base.text()} "
                 f"for {whom}, in a comparison named in advance.")
    sentence = (f"{first} {detail}; n = {rate.text('n')} and {base.text('n')} "
                f"({lexicon}).")
    row = focus_row(adjusted, focus) if adjusted is not None else None
    if row is not None:
        within = Ledger()  # the comparison's own claims, which this sentence then holds
        sentence += " " + composition_sentence(row, within, config.audit.confidence)
        claims += within.claims
    everyone = speech[speech["group"] == "(all)"]
    if not everyone.empty:
        t = everyone.iloc[0]
        twin_keys = ("intervention", "effect", "grouping", "group")

        def twin(id: str, column: str) -> Claim:
            return ledger.add(from_row(id, t, source="speech_twin.csv", keys=twin_keys,
                                       value=column, ci=None, n=None, style="count",
                                       unit="students"))

        kept, cost = twin("speech.kept", "flips_to_not_selected"), \
            twin("speech.cost", "flips_to_selected")
        flip = ledger.add(from_row("speech.flip_rate", t, source="speech_twin.csv",
                                   keys=twin_keys, value="flip_rate", n="n",
                                   style="percent2"))
        wrongful = ledger.add(from_row("speech.wrongful", t, source="speech_twin.csv",
                                       keys=twin_keys, value="revoked", ci=None, n=None,
                                       style="count", unit="students"))
        claims += [kept, cost, flip, wrongful]
        # The twin reruns the first replicate's pipeline; the rates above may be pooled.
        opening = " Rewriting"
        if replicates > 1:
            count = ledger.add(setting("speech.replicates", "config.experiment.replicates",
                                       replicates, unit="replicates"))
            claims.append(count)
            opening = (f" In the first of the {count.text()} replicates of the system's draw, "
                       "rewriting")
        sentence += (
            f"{opening} only those students' posts in support of Palestinian rights as posts "
            f"for another cause, with their other posts and everything else about them "
            f"unchanged (the direct effect of the speech), would have kept the visa of "
            f"{kept.text()} of the {wrongful.text()} students who posted in support and were "
            f"revoked in error, and cost {cost.text()} another their visa; among all "
            f"{flip.text('n')} such students who posed no threat, it changed {flip.text()} of "
            f"decisions ({level.text()} CI {flip.interval()}).")
    sentence += (
        " These are synthetic students run through a toy pipeline whose rates of speech are "
        "an assumption of the profile: what the design does to speech itself is what the "
        "comparison within strata and the rewrite show, not the crude gap, and nothing here "
        "says how often the real programme revoked anyone or why.")
    return ledger.sentence(sentence, claims)


def _speech_words(group: str) -> str:
    """Students of a speech group, in words."""
    return {"yes": "students who posted in support of Palestinian rights",
            "no": "students who posted, but not in support of Palestinian rights",
            "no posts": "students who posted nothing"}.get(group, f"students in group {group}")


def _check_concern_list(targets: list[str], people: pd.DataFrame) -> None:
    nationalities = set(people["nationality"].cat.categories)
    regions = set(people["region_of_origin"].cat.categories)
    for target in targets:
        known = (target.removeprefix("region:") in regions if target.startswith("region:")
                 else target in nationalities)
        if not known:
            raise UsageError(
                f"system.countries_of_concern: {target!r} is not a nationality or "
                f"'region:<name>' of this population; nationalities: "
                f"{', '.join(sorted(nationalities))}")


def _pipeline(settings: Settings) -> CatchAndRevokePipeline:
    return CatchAndRevokePipeline(
        points=ThreatPoints(**settings.points.model_dump()),
        countries_of_concern=settings.countries_of_concern,
        rule=settings.rule, capacity=settings.capacity, threshold=settings.threshold)


#: The longest window of posts the post generator draws (its ``months`` limit).
MAX_CORPUS_MONTHS = 600


def _training_corpus(training_people: pd.DataFrame, seed: int, settings: Settings,
                     annotator_bias: float) -> pd.DataFrame:
    """The annotated training corpus of ``settings``, drawn from ``seed`` (kept by content:
    a fit asked for ahead and the fit itself read the same corpus)."""
    # Kept by what draws the posts: another annotator setting labels the same posts again.
    key = content_key("catch-and-revoke corpus", seed, settings.training_posts,
                      settings.training_threat_rate, list(training_people.columns),
                      *(training_people[c] for c in training_people.columns))
    annotation = dict(annotator_bias=annotator_bias, annotator_noise=settings.annotator_noise,
                      annotator_miss_rate=settings.annotator_miss_rate)
    return labelled_posts(CORPORA, key, seed, CORPUS_STREAM, annotation,
                          lambda: _draw_corpus(training_people, seed, settings, annotator_bias))


def _draw_corpus(training_people: pd.DataFrame, seed: int, settings: Settings,
                 annotator_bias: float) -> pd.DataFrame:
    rate = np.nan_to_num(training_people["posts_per_month"].to_numpy(np.float64)).sum()
    # A tiny population posts too little to gather the training corpus within the months the
    # post generator allows (none at all divides by zero): refuse with the size that works.
    months = settings.training_posts / rate if rate > 0 else np.inf
    if months > MAX_CORPUS_MONTHS:
        larger = ("a larger --size (a few hundred people at least)" if rate == 0 else
                  f"a --size at least {int(np.ceil(months / MAX_CORPUS_MONTHS * 1.2))} times "
                  "larger")
        raise UsageError(
            f"population.size is too small for this system: the {len(training_people):,} "
            f"people of the training split post {rate:.1f} times a month, too few to gather "
            f"system.training_posts = {settings.training_posts:,} posts within "
            f"{MAX_CORPUS_MONTHS} months; use {larger}, or fewer system.training_posts"
        )
    return generate_posts(
        training_people, seed, months=months,
        rate_column="posts_per_month", threat_rate=settings.training_threat_rate,
        annotator_bias=annotator_bias, annotator_noise=settings.annotator_noise,
        annotator_miss_rate=settings.annotator_miss_rate, stream=CORPUS_STREAM)


def _scorer(settings: Settings, seed: int) -> BabelXScorer:
    return BabelXScorer(keywords=settings.lexicon_words,
                        threshold=settings.classifier_threshold, flag_rule=settings.flag_rule,
                        n_features=settings.n_features, random_state=seed)


def _train_scorer(training_people: pd.DataFrame, seed: int, settings: Settings,
                  annotator_bias: float) -> BabelXScorer:
    corpus = _training_corpus(training_people, seed, settings, annotator_bias)
    return _scorer(settings, seed).fit(corpus["text"], corpus["annotator_threat"].to_numpy())


def _fit_ahead(plan: RunPlan, config: ExperimentConfig, training_people: pd.DataFrame
               ) -> None:
    """Start the classifier fits of the run (each replicate's, for each annotator setting of
    its worlds) on the fitting thread, in the order they will be needed, but for the first
    replicate's configured one: the models are the same, fitted on the second core while
    this thread runs the pipeline and audits."""
    plan.on_finish(FIT_THREAD.cancel_queued)
    wanted = {}
    for each in [config.system_settings(), *(w.system_settings() for w in plan.worlds)]:
        wanted.setdefault((each.annotator_bias, each.annotator_noise, each.annotator_miss_rate,
                           each.training_posts, each.training_threat_rate, each.n_features),
                          each)
    configured = next(iter(wanted))
    # The first replicate's configured fit is done at once, here, while the thread fits the
    # next.
    asks = [(settings, system_seed(replicate)) for replicate in plan.replicates
            for learned, settings in wanted.items()
            if replicate is not plan.replicates[0] or learned != configured]
    for settings, seed in asks[:FITS_AHEAD]:
        corpus = _training_corpus(training_people, seed, settings, settings.annotator_bias)
        _scorer(settings, seed).fit_ahead(corpus["text"], corpus["annotator_threat"].to_numpy())


def stage_audit(config: ExperimentConfig, held_out: pd.DataFrame, stages: pd.DataFrame,
                groups: list[str], truth: np.ndarray) -> pd.DataFrame:
    """Every stage audited against the true threat, by each single grouping."""
    parts = []
    for stage in STAGES:
        frame = held_out[groups].assign(y_true=truth, selected=stages[stage].to_numpy())
        result = audit(frame, groups, "y_true", "selected", intersections=False,
                       reference=config.audit.reference, n_boot=config.audit.n_boot,
                       confidence=config.audit.confidence, min_count=config.audit.min_count,
                       suppress_below=config.audit.suppress_below,
                       random_state=config.experiment.seed)
        table = result.table[result.table["metric"].isin(["n", "selection_rate", "fpr"])]
        parts.append(table.assign(stage=stage))
    table = pd.concat(parts, ignore_index=True)
    return table[["stage", *[c for c in table.columns if c != "stage"]]]


def speech_stage_adjusted(config: ExperimentConfig, held_out: pd.DataFrame,
                          stages: pd.DataFrame, truth: np.ndarray) -> pd.DataFrame:
    """The speech comparison at every stage, crude and within the strata its focus entry
    declares (``adjust_for``): where the adjusted gap, not the crude one, enters.

    One row per stage: the instrument's adjusted false positive rate comparison
    (:func:`audit.audit` with ``adjust_for``). Empty when the experiment names no speech
    comparison or declares no strata for it.
    """
    focus = next((f for f in config.audit.focus if f.grouping == SPEECH_COLUMN), None)
    if focus is None or not focus.adjust_for or SPEECH_COLUMN not in held_out:
        return pd.DataFrame()
    reference = focus.reference or config.audit.reference.get(SPEECH_COLUMN, SPEECH_GROUPS[1])
    parts = []
    for stage in STAGES:
        frame = held_out[[SPEECH_COLUMN, *focus.adjust_for]].assign(
            y_true=truth, selected=stages[stage].to_numpy())
        result = audit(frame, [SPEECH_COLUMN], "y_true", "selected", intersections=False,
                       reference={SPEECH_COLUMN: reference}, n_boot=config.audit.n_boot,
                       confidence=config.audit.confidence, min_count=config.audit.min_count,
                       suppress_below=config.audit.suppress_below,
                       random_state=config.experiment.seed, adjust_for=list(focus.adjust_for),
                       adjust_view="true")
        rows = result.adjusted
        parts.append(rows[(rows["group"].astype(str) == focus.group)
                          & (rows["metric"] == "fpr")].assign(stage=stage))
    table = pd.concat(parts, ignore_index=True)
    return table[["stage", *[c for c in table.columns if c != "stage"]]]


def adjusted_entry_sentence(speech_stages: pd.DataFrame) -> str:
    """At which stage the speech gap within strata first shows (its interval above 1)."""
    if speech_stages.empty:
        return ""
    words = strata_words(speech_stages["adjust_for"].iloc[0])
    adjusted_first = None
    for _, row in speech_stages.iterrows():
        if adjusted_first is None and math.isfinite(row["adjusted_ratio_ci_low"]) \
                and row["adjusted_ratio_ci_low"] > 1:
            adjusted_first = row["stage"]
    if adjusted_first is None:
        return (f"Within strata of {words}, no stage shows a gap the data can tell from none: "
                "the crude gap at each stage is the groups' mix, as far as these data can say.")
    title = STAGE_TITLES[adjusted_first].split(". ", 1)[-1]
    return (f"Within strata of {words}, the gap first shows at the stage '{title}' (the "
            "first stage whose Mantel-Haenszel ratio has an interval wholly above 1); "
            "speech_stages_adjusted.csv gives every stage crude and adjusted.")


def wrongful_share(held_out: pd.DataFrame, stages: pd.DataFrame, truth: np.ndarray,
                   grouping: str, group: str, confidence: float) -> pd.DataFrame:
    """Each group's share of wrongful revocations against its share of the people."""
    groups = held_out[grouping].astype(str).to_numpy()
    if group not in set(groups):
        raise UsageError(f"audit.focus: {group!r} does not occur in {grouping}; groups: "
                         f"{', '.join(sorted(set(groups)))}")
    wrongful = stages["revoked"].to_numpy() & ~truth
    labels, codes = np.unique(groups, return_inverse=True)
    wrong = np.bincount(codes, weights=wrongful, minlength=len(labels))
    people = np.bincount(codes, minlength=len(labels))
    low, high = wilson_interval(wrong, wrongful.sum(), confidence)
    table = pd.DataFrame({
        "grouping": grouping, "group": labels, "people": people,
        "share_of_people": people / people.sum(), "wrongful_revocations": wrong.astype(np.int64),
        "share_of_wrongful_revocations": wrong / max(wrongful.sum(), 1),
        "ci_low": low, "ci_high": high,
    })
    return table.sort_values("share_of_wrongful_revocations", ascending=False,
                             kind="stable").reset_index(drop=True)


def capacity_words(settings: Settings, n_decided: int, n_revoked: int) -> str:
    """How the pipeline chose whom to revoke, naming whether ``system.capacity`` was a count
    or a share."""
    if settings.rule != "capacity":
        return (f"every threat score at or above {settings.threshold:g} was revoked "
                f"(system.rule = 'threshold'): {n_revoked:,} of the {n_decided:,} students "
                "decided")
    if capacity_is_count(settings.capacity):
        return (f"the {n_revoked:,} highest threat scores were revoked (system.capacity = "
                f"{settings.capacity}, a count of revocations) among the {n_decided:,} "
                "students decided")
    return (f"the top {percent(settings.capacity)} of threat scores were revoked "
            f"(system.capacity = {settings.capacity:g}, a share): {n_revoked:,} of the "
            f"{n_decided:,} students decided")


def capacity_claims(settings: Settings, n_decided: int, n_revoked: int, ledger: Ledger
                    ) -> str:
    """:func:`capacity_words` for a headline, in a reader's words, every number a claim
    (the setting, and the counts the manifest's details hold)."""
    decided = ledger.add(Claim("capacity.decided", n_decided, unit="people",
                               source="manifest.json",
                               source_row={"key": "details.held_out_people"}, style="count"))
    revoked = ledger.add(Claim("capacity.revoked", n_revoked, unit="people",
                               source="manifest.json",
                               source_row={"key": "details.held_out_selected"}, style="count"))
    if settings.rule != "capacity":
        cut = ledger.add(setting("capacity.threshold", "config.system.threshold",
                                 settings.threshold))
        return (f"every threat score at or above {cut.text()} was revoked: {revoked.text()} "
                f"of the {decided.text()} students decided")
    if capacity_is_count(settings.capacity):
        return (f"the pipeline revoked a fixed number, the {revoked.text()} highest threat "
                f"scores among the {decided.text()} students decided")
    top = ledger.add(setting("capacity.share", "config.system.capacity", settings.capacity,
                             style="percent1", unit="share"))
    return (f"the pipeline revoked the top {top.text()} of threat scores: {revoked.text()} "
            f"of the {decided.text()} students decided")


def _headlines(share: pd.DataFrame, group: str, capacity: str,
               ledger: Ledger | None = None, confidence: float = 0.95) -> list[str]:
    """Where the wrongful revocations fell: the named group's share of them beside its share
    of the people, every number a claim on wrongful_revocation_share.csv."""
    ledger = ledger if ledger is not None else Ledger()
    found = []
    row = share[share["group"] == group]
    total = int(share["wrongful_revocations"].sum())
    if not row.empty and total:
        r = row.iloc[0]
        source, keys = "wrongful_revocation_share.csv", ("grouping", "group")
        part = ledger.add(from_row("share.wrongful", r, source=source, keys=keys,
                                   value="share_of_wrongful_revocations", n=None,
                                   style="percent1"))
        part.n, part.columns["n"] = total, "sum of wrongful_revocations"
        count = ledger.add(from_row("share.count", r, source=source, keys=keys,
                                    value="wrongful_revocations", ci=None, n=None,
                                    style="count", unit="people"))
        people = ledger.add(from_row("share.people", r, source=source, keys=keys,
                                     value="share_of_people", ci=None, n=None,
                                     style="percent1"))
        audited = ledger.add(derived("share.audited", int(share["people"].sum()),
                                     source=source, source_row={"column": "people"},
                                     unit="people"))
        level = ledger.add(setting("share.level", "config.audit.confidence", confidence,
                                   style="level", unit="confidence level"))
        # The interval stands beside the share it belongs to, before the share of people.
        text = (f"{part.text()} of wrongful revocations ({level.text()} CI {part.interval()}; "
                f"{count.text()} of {part.text('n')}) fell on students from {r['group']}, who "
                f"are {people.text()} of the {audited.text()} student-visa holders audited. "
                f"{capacity[:1].upper()}{capacity[1:]}.")
        found.append(ledger.sentence(text, [part, count, people, audited, level]))
    return found


def _count_interval(count: int, total: int, confidence: float) -> str:
    """A count among ``total`` with its interval: ``total`` times the Wilson interval of the
    count's share of ``total``, in whole people."""
    low, high = wilson_interval(np.array([count]), np.array([total]), confidence)
    level = f"{100 * confidence:g}%"
    return (f"{count:,} ({level} CI {math.floor(total * low[0]):,}–"
            f"{math.ceil(total * high[0]):,})")


#: The file holding the counts of revocations a count-capacity headline quotes.
REVOCATION_COUNTS = "revocation_counts.csv"


def revocation_count_headline(held_out: pd.DataFrame, stages: pd.DataFrame, truth: np.ndarray,
                              grouping: str, group: str, confidence: float,
                              ledger: Ledger | None = None) -> str:
    """The revocations in people, for a capacity given as a count: how many were wrongful,
    how many of those fell on the focus group and on the nationality with the most.

    Each count's interval is the number of revocations times the Wilson interval of the
    count's share of the revocations (the revocations are fixed by the capacity; which of them
    are wrongful, and whose, is what varies). The counts are written as rows of
    revocation_counts.csv, and every number is a claim in ``ledger``.
    """
    ledger = ledger if ledger is not None else Ledger()
    revoked = stages["revoked"].to_numpy(dtype=bool)
    n_revoked = int(revoked.sum())
    wrongful = revoked & ~truth
    n_wrongful = int(wrongful.sum())
    labels = held_out[grouping].astype(str).to_numpy()
    in_group = int((wrongful & (labels == group)).sum())
    group_share = float((labels == group).mean())
    nationality = held_out["nationality"].astype(str).to_numpy()
    codes, counts = np.unique(nationality[wrongful], return_counts=True)
    rows = ledger.tables.setdefault(REVOCATION_COUNTS, [])

    def count(id: str, what: str, value: int) -> Claim:
        low, high = wilson_interval(np.array([value]), np.array([n_revoked]), confidence)
        row = {"count": what, "value": value, "ci_low": math.floor(n_revoked * low[0]),
               "ci_high": math.ceil(n_revoked * high[0]), "revocations": n_revoked,
               "confidence": confidence}
        rows.append(row)
        return ledger.add(from_row(id, row, source=REVOCATION_COUNTS, keys=("count",),
                                   n="revocations", style="count", unit="people"))

    def with_interval(claim: Claim) -> str:
        return f"{claim.text()} ({level.text()} CI {claim.interval()})"

    level = ledger.add(setting("counts.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    wrong = count("counts.wrongful", "wrongful", n_wrongful)
    focus = count("counts.focus_group", f"wrongful, {grouping} {group}", in_group)
    share = ledger.add(Claim("counts.group_share", group_share, unit="share",
                             source="metrics.csv",
                             source_row={"view": "true", "grouping": grouping, "group": group,
                                         "metric": "n"}, style="percent1"))
    decided = ledger.add(Claim("counts.decided", len(held_out), unit="people",
                               source="manifest.json",
                               source_row={"key": "details.held_out_people"}, style="count"))
    claims = [level, wrong, focus, share, decided]
    most = ""
    if counts.size:
        top = int(np.argmax(counts))  # ties: the first code alphabetically
        most_claim = count("counts.top_nationality", f"wrongful, nationality {codes[top]}",
                           int(counts[top]))
        claims.append(most_claim)
        most = (f", and the most of any nationality, {with_interval(most_claim)}, on students "
                f"from {country_name(str(codes[top])) or codes[top]}")
    text = (f"Of {wrong.text('n')} revocations, {wrong.text()} were wrongful, of students who "
            f"posed no threat; {focus.text()} of them fell on students from {group}, who are "
            f"{share.text()} of the {decided.text()} students decided. Intervals: "
            f"{with_interval(wrong)} wrongful, {with_interval(focus)} on students from "
            f"{group}{most}; the number of revocations is fixed by the experiment, and each "
            f"interval is {wrong.text('n')} times the Wilson interval of its share of the "
            "revocations.")
    return ledger.sentence(text, claims)


def report_blocks(directory: Path, stage_table: pd.DataFrame, share: pd.DataFrame,
                  share_grouping: str, groupings: list[str], capacity: str = "",
                  confidence: float = 0.95) -> list[object]:
    """The stage-by-stage section of the report (the stages' contributions to the gap are in
    the report's attribution section), with intervals at ``confidence``."""
    grouping = share_grouping if share_grouping in groupings else groupings[0]
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("The pipeline, stage by stage"),
        Paragraph(
            "Each stage's output is audited on its own against the true threat, which nobody "
            "in this simulation has more of than anyone else. A share that rises from stage to "
            "stage faster for one group than another is where a disparity enters and "
            f"compounds. Rates are shares of the group with their {level} Wilson intervals."
            + (f" At stage 5, {capacity}." if capacity else "")),
        _stage_rates_table(stage_table, grouping),
    ]
    path = _plot_cascade(stage_table, grouping, directory / "figures" / "cascade.png")
    blocks.append(Figure(path, f"From watched to revoked, by {grouping}: the share of each "
                               f"group reaching each stage (log scale), with {level} "
                               "intervals.",
                         directory))
    blocks += [
        Heading("Who bears the wrongful revocations"),
        Table(["group", "share of students", f"share of wrongful revocations ({level} CI)",
               "wrongful revocations"],
              [[r["group"], percent(r["share_of_people"]),
                f"{percent(r['share_of_wrongful_revocations'])} ({percent(r['ci_low'])}–"
                f"{percent(r['ci_high'])})", f"{int(r['wrongful_revocations']):,}"]
               for _, r in share.iterrows()]),
    ]
    return blocks


def speech_blocks(stage_table: pd.DataFrame, speech: pd.DataFrame,
                  speech_stages: pd.DataFrame | None = None, confidence: float = 0.95,
                  suppress_below: int = 10) -> list[object]:
    """The speech section: the stage-by-stage audit by whether a student posted in support of
    Palestinian rights, crude and within the declared strata, and the speech twin; intervals
    at ``confidence``, and groups under ``suppress_below`` students withheld."""
    if SPEECH_COLUMN not in set(stage_table["grouping"]):
        return []
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("Speech in support of Palestinian rights, stage by stage"),
        Paragraph(
            f"{SPEECH_COLUMN} is 'yes' for a student who wrote at least one post in support of "
            "Palestinian rights in the window, whether or not the tool pulled it in, 'no' for "
            "one who posted but not in support, and 'no posts' for one who wrote nothing (whom "
            "social-media monitoring cannot flag, so the comparison is 'yes' against 'no'). Who "
            "speaks is an assumption of the population profile (its [speech] table: a share "
            "by origin, higher for protest participants), not a measured rate. Each stage is "
            "audited among the students who pose no threat (the false positive rate of that "
            f"stage), with {level} Wilson intervals; where the gap opens is where speech enters "
            "the pipeline. How much each bias knob contributes to the gap in revocation is "
            "in attribution.csv and the attribution section."),
        _stage_rates_table(stage_table, SPEECH_COLUMN, "fpr"),
    ]
    if speech_stages is not None and not speech_stages.empty:
        blocks += [
            Paragraph("The crude gap at a stage mixes what the stage does to speech with who "
                      "speaks (their region, say). " + adjusted_entry_sentence(speech_stages)),
            Table(["stage", "crude ratio", f"ratio within strata ({level} CI)",
                   f"gap within strata, points ({level} CI)", "composition share of the gap"],
                  [[STAGE_TITLES[r["stage"]].split(". ", 1)[-1],
                    f"{r['crude_ratio']:.2f}" if math.isfinite(r["crude_ratio"]) else "undefined",
                    (f"{r['adjusted_ratio']:.2f} ("
                     + bounds(r["adjusted_ratio_ci_low"], r["adjusted_ratio_ci_high"],
                              lambda v: f"{v:.2f}") + ")")
                    if math.isfinite(r["adjusted_ratio"]) else "undefined",
                    (f"{100 * r['adjusted_diff']:+.2f} ("
                     + bounds(r["adjusted_diff_ci_low"], r["adjusted_diff_ci_high"],
                              lambda v: f"{100 * v:+.2f}", separator=" to ") + ")")
                    if math.isfinite(r["adjusted_diff"]) else "undefined",
                    f"{100 * r['composition_share']:.0f}%"
                    if math.isfinite(r["composition_share"]) else "undefined"]
                   for _, r in speech_stages.iterrows()]),
        ]
    if not speech.empty:
        blocks += [
            Paragraph(
                "The speech twin: the same students, with every post in support of Palestinian "
                "rights rewritten as a post in support of another cause (same style, template "
                "slot and noise), every other post and attribute unchanged, scored by the same "
                "classifier and lexicon and cut at the same threshold. The flip rate is the "
                "share of the students who posted and posed no threat whose revocation "
                "changes: the direct effect of the speech. Written to speech_twin.csv."),
            Table(["group", "students", f"flip rate ({level} CI)", "revoked only as the twin",
                   "revoked only with the speech"],
                  [[r["group"], f"<{suppress_below}" if "suppressed" in str(r["flags"])
                    else f"{int(r['n']):,}",
                    "suppressed" if "suppressed" in str(r["flags"]) else
                    f"{percent(r['flip_rate'], 2)} ({percent(r['ci_low'], 2)}–"
                    f"{percent(r['ci_high'], 2)})",
                    f"{int(r['flips_to_selected']):,}", f"{int(r['flips_to_not_selected']):,}"]
                   for _, r in speech.iterrows()]),
        ]
    return blocks


def _stage_rates_table(stage_table: pd.DataFrame, grouping: str,
                       metric: str = "selection_rate") -> Table:
    rows = stage_table[(stage_table["grouping"] == grouping)
                       & (stage_table["metric"] == metric)]
    groups = list(dict.fromkeys(rows["group"]))
    body = []
    for group in groups:
        cells = [group]
        for stage in STAGES:
            r = rows[(rows["stage"] == stage) & (rows["group"] == group)].iloc[0]
            flags = str(r["flags"])
            cells.append("suppressed" if "suppressed" in flags else
                         f"{percent(r['value'], 2)} ({percent(r['ci_low'], 2)}–"
                         f"{percent(r['ci_high'], 2)})")
        body.append(cells)
    return Table([grouping, *(STAGE_TITLES[s] for s in STAGES)], body)


@literal_text
def _plot_cascade(stage_table: pd.DataFrame, grouping: str, path: Path) -> Path:
    rows = stage_table[(stage_table["grouping"] == grouping)
                       & (stage_table["metric"] == "selection_rate")]
    rows = rows[~rows["flags"].fillna("").str.contains("suppressed")]
    fig, axis = new_figure((8, 4.5))
    x = np.arange(len(STAGES))
    for group, part in rows.groupby("group", sort=True):
        part = part.set_index("stage").reindex(list(STAGES))
        value = part["value"].to_numpy(dtype=float)
        low = np.clip(value - part["ci_low"].to_numpy(dtype=float), 0, None)
        high = np.clip(part["ci_high"].to_numpy(dtype=float) - value, 0, None)
        axis.errorbar(x, 100 * value, yerr=100 * np.vstack([low, high]), marker="o",
                      capsize=2, label=named_labels([group])[0])
    axis.set_yscale("log")
    plain_log_labels(axis.yaxis)
    axis.set_xticks(x, [STAGE_TITLES[s].split(". ", 1)[1] for s in STAGES], fontsize=8)
    axis.set_ylabel("% of the group (log scale)")
    axis.set_title(f"The cascade from watched to revoked, by {grouping}", fontsize=10)
    if axis.get_legend_handles_labels()[0]:  # every group suppressed: no legend to draw
        axis.legend(fontsize=7, frameon=False, ncol=2)
    axis.grid(axis="y", color="#eeeeee")
    fig.tight_layout()
    return save_figure(fig, path)


#: Design remedies as settings of this system (see experiments.engine.remedies): stage 2's lexicon
#: without identity words and stage 4's list of countries of concern emptied.
REMEDY_KNOBS = {
    "remove_biased_list": lambda config: {"system.countries_of_concern": [],
                                          "system.lexicon": "neutral", "system.keywords": None},
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its revocation is a points rule over the pipeline's stages, and its only learned part "
        "scores posts from annotators' labels; there is no classifier of the person for the "
        "model remedies to refit or post-process"),
    "raise_capacity": "no student in it is a threat, so every added revocation is a wrongful "
                      "one; raising its capacity (system.capacity) is more harm, not a remedy, "
                      "and how the gaps move with it is a sweep of system.capacity",
}
