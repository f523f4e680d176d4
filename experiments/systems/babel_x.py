"""Adapter for the Babel X-style post scorer: annotate a corpus, train, search persistently,
audit posts and people, and test the same content written in other styles.

The runner audits *people*: flagged as a threat when any post pulled in over the window is
flagged; the true outcome is the population's ``true_threat`` (the rare people who write
genuine threats), the recorded outcome is whether annotators labelled any of the person's
posts "threat". This module adds what is particular to posts: a post-level audit (against true
intent and against the annotators' labels), the keyword flagger's error by topic, the volume of
posts pulled in by group, and the counterfactual text test.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator
from scipy import stats

from audit import audit
from audit.figures import literal_text, new_figure, save_figure
from audit.intervals import wilson_interval
from audit.report import number, percent
from experiments.config import Strict, system_seed
from experiments.config.remedies import MODEL_REMEDIES
from experiments.systems.contract import (
    Decisions,
    Hooks,
    RunPlan,
    SystemRun,
    Wording,
    own_findings,
    run_plan,
)
from experiments.writing.document import Bullets, Figure, Heading, Paragraph, Table
from synthetic.posts import ARABIC_RENDERINGS, RENDERINGS, generate_posts, relabel, restyle
from synthetic.systems.babel_x import (
    FIT_THREAD,
    FITS,
    FITS_AHEAD,
    LEXICONS,
    BabelXScorer,
    persistent_search,
)
from synthetic.systems.memo import RecentResults, content_key

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: This system fits its replicates' classifiers ahead on a second core (the run's plan,
#: :func:`experiments.systems.contract.run_plan`) and keeps their shared posts and features in
#: this process, so the sandbox keeps its replicates here rather than in worker processes
#: (:func:`experiments.serve.jobs.replicates_in_workers`).
WORKS_AHEAD = True
#: Noise streams of the annotated training corpus and of the audited posts.
CORPUS_STREAM = "babel_x.corpus"
POSTS_STREAM = "babel_x.posts"
#: Stream of SeedSequence(seed) reserved for the counterfactual sample.
COUNTERFACTUAL_STREAM = 11
#: Post-level groupings beside the experiment's single-column ones.
POST_GROUPINGS = ("style", "topic")
VIEW_COLUMNS = {"true intent": "true_threat", "annotator labels": "annotator_threat"}
#: The held-out people's posts by their content and the draw's settings, each entry under
#: every annotators' setting asked for (:func:`labelled_posts`): a replicate redraws the
#: corpus and the fitting, never the audited posts, so each world's posts are drawn once.
HELD_OUT_POSTS = RecentResults(max_entries=8)
#: The annotated training corpora by the same: worlds that switch only the lexicon, which no
#: corpus reads, share one. Enough for every corpus of the default run (5 replicates × 2
#: populations, about 11 MB each at 100,000 posts): fits asked for ahead draw their corpora
#: early, and a corpus forgotten before its replicate came would be drawn twice.
CORPORA = RecentResults(max_entries=16)
#: The annotators' settings among a draw's (:func:`_annotation`): posts that differ in these
#: alone are the same posts labelled again (:func:`synthetic.posts.relabel`).
ANNOTATORS = ("annotator_bias", "annotator_noise", "annotator_miss_rate")


class LexiconSettings(Strict):
    """The keyword flagger's lexicon, a switchable bias (shared with Catch and Revoke).

    ``lexicon = "reported"`` is the lexicon as such lists are reported: threat words mixed with
    identity, religious and solidarity words (gaza, intifada, martyr, shaheed, jihad) and with
    war-news words that ordinary political speech uses (bomb, attack). ``"neutral"`` is its off
    position: threat words only, none of which an ordinary post uses
    (:data:`synthetic.systems.babel_x.LEXICONS`). ``keywords`` replaces both with a list of
    one's own.
    """

    lexicon: Literal["reported", "neutral"] = Field(
        default="reported",
        description="the keyword flagger's lexicon: 'reported' mixes threat words with "
                    "identity, solidarity and war-news words; 'neutral' holds threat words only")
    keywords: list[str] | None = Field(
        default=None, min_length=1,
        description="a lexicon of your own (prefixes), instead of the one 'lexicon' names")

    @field_validator("keywords")
    @classmethod
    def _words(cls, value: list[str] | None) -> list[str] | None:
        blank = [i for i, word in enumerate(value or []) if not word.strip()]
        if blank:
            raise ValueError(f"keywords must be non-empty words; entry {blank[0]} is blank")
        return value

    @model_validator(mode="after")
    def _one_lexicon(self) -> LexiconSettings:
        if self.keywords is not None and self.lexicon != "reported":
            raise ValueError(f"lexicon = {self.lexicon!r} and keywords both name a lexicon; "
                             "remove keywords to use a named lexicon")
        return self

    @property
    def lexicon_words(self) -> tuple[str, ...]:
        """The keyword flagger's words: ``keywords`` when given, else the named lexicon."""
        return tuple(self.keywords) if self.keywords else LEXICONS[self.lexicon]


class Settings(LexiconSettings):
    """The ``[system]`` table of a Babel X experiment."""

    months: float = Field(default=3.0, gt=0, le=60,
                          description="window of persistent search, in months")
    annotator_bias: float = Field(
        default=1.0, ge=0, le=5,
        description="0 = annotators' errors do not depend on who wrote the post")
    annotator_noise: float = Field(
        default=0.01, gt=0, le=0.2,
        description="chance that annotators label an unmarked non-threat post 'threat'")
    annotator_miss_rate: float = Field(default=0.1, ge=0, lt=1,
                                       description="chance that annotators miss a threat")
    threat_share: float = Field(default=0.25, gt=0, le=1,
                                description="share of a threat writer's posts that threaten")
    training_posts: int = Field(default=100_000, ge=1_000, le=5_000_000,
                                description="expected size of the annotated corpus")
    training_threat_rate: float = Field(
        default=0.02, gt=0, le=0.5,
        description="share of genuine threats in the annotated corpus (enriched)")
    threshold: float = Field(default=0.5, gt=0, lt=1,
                             description="threat probability that flags a post")
    flag_rule: Literal["either", "classifier", "keywords"] = "either"
    n_features: int = Field(default=2**18, ge=2**10, le=2**24,
                            description="hashed feature space")
    counterfactual_posts: int = Field(default=5_000, ge=100, le=200_000,
                                      description="posts re-rendered in every style")
    n_jobs: int = Field(default=1, ge=1, le=64, description="processes for featurising")



def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Train the Babel X mimic on an annotated corpus and search the held-out people."""
    settings = config.system_settings()
    seed = config.experiment.seed
    corpus_seed = system_seed(config)
    plan = run_plan()
    if plan is not None and own_findings():
        # Every other fit the run will ask for on these people starts on the fitting thread,
        # in the order they will be needed; this one is fitted here meanwhile (the thread
        # has the most to do: a replicate's posts are drawn and scored once for them all).
        plan.on_finish(FIT_THREAD.cancel_queued)
        same_people = same_people_fits(plan, config)
        asks = [(wanted, system_seed(replicate)) for replicate in plan.replicates
                for wanted in same_people
                if replicate is not plan.replicates[0] or _fit_of(wanted) != _fit_of(settings)]
        training_people = people.loc[train]
        for wanted, corpus_seed_of_replicate in asks[:FITS_AHEAD]:
            fit_ahead(wanted, training_people, corpus_seed_of_replicate)
    system, corpus, held_out, posts, searched = search_people(settings, people, train, seed,
                                                              corpus_seed)
    training_people = people.loc[train]
    author = pd.Index(held_out["person_id"]).get_indexer(posts["person_id"])
    recorded = np.bincount(author, weights=posts["annotator_threat"].to_numpy(np.float64),
                           minlength=len(held_out)) > 0
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=held_out["true_threat"].to_numpy(dtype=bool),
        y_recorded=recorded,
        decision=searched["flagged"].to_numpy(),
        score=searched["max_threat_probability"].to_numpy(),
    )


    #: The people whose worlds' fits were last asked for ahead (held weakly).
    asked_on: list[Callable[[], pd.DataFrame | None]] = [lambda: None]

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # Surveillance changes the corpus and the posts read, annotators the labels: a world
        # reruns the search, but none of the report's tables; the configured world is the run.
        world_settings = world.system_settings()
        if world_people is people and world_settings == settings:
            return {"decision": decisions["decision"].to_numpy(dtype=bool)}
        plan = run_plan()
        if world_people is not people and plan is not None and asked_on[0]() is not world_people:
            # The first world on these people starts their worlds' fits ahead, its own first
            # and before the fits queued for later replicates.
            asked_on[0] = weakref.ref(world_people)
            fits = same_people_fits(plan, world)
            training_people = world_people.loc[train]
            for other in reversed(fits):  # each goes to the front of the queue
                fit_ahead(other, training_people, corpus_seed, urgent=True)
            # The later replicates' worlds meet these people again under their own seeds:
            # their fits go to the back of the queue, where the thread takes them up while
            # this one goes on, when every fit of the run can be kept (a fit forgotten
            # before it is taken would be done twice).
            everything = len(plan.replicates) * fits_per_replicate(plan, config)
            for replicate in plan.replicates if everything <= FITS.max_entries else ():
                if system_seed(replicate) != corpus_seed:
                    for other in fits:
                        fit_ahead(other, training_people, system_seed(replicate))
        found = search_people(world_settings, world_people, train, seed, corpus_seed)[4]
        return {"decision": found["flagged"].to_numpy(dtype=bool)}

    hooks = Hooks(decide_twins=None, decide_world=decide_world)
    if not own_findings():  # a further replicate: its decisions and worlds are all it gives
        return SystemRun(decided=Decisions(table=decisions), wording=Wording(card=system.card()),
                         hooks=hooks)
    single = [g[0] for g in config.audit.groupings if len(g) == 1]
    post_frame = posts.assign(**{c: held_out[c].to_numpy()[author] for c in single})
    post_groups = [*single, *POST_GROUPINGS]
    post_views = post_audit(config, post_frame, post_groups)
    keywords = keyword_table(posts, config.audit.confidence)
    volume = volume_table(held_out, searched, single)
    counterfactual = text_counterfactual(posts, held_out, seed, system, settings,
                                         config.audit.confidence)
    facts = {
        "training_people": int(len(training_people)),
        "held_out_people": int(len(held_out)),
        "training_posts": int(len(corpus)),
        "training_label_threat_share": round(system.training_threat_share_, 6),
        "held_out_posts": int(len(posts)),
        "held_out_threat_posts": int(posts["true_threat"].sum()),
        "posts_flagged": int(posts["flagged"].sum()),
        "posts_keyword_hits": int(posts["keyword_hit"].sum()),
        "posts_classifier_flags": int(posts["classifier_flag"].sum()),
        "months_searched": settings.months,
        "annotator_bias": settings.annotator_bias,
        "flag_rule": settings.flag_rule,
        "threshold": settings.threshold,
        "features": f"hashed words and word pairs, {settings.n_features:,} columns",
        "keywords": list(settings.lexicon_words),
    }
    post_table = pd.concat([t.assign(view=v) for v, t in post_views.items()],
                           ignore_index=True)
    post_table = post_table[["view", *[c for c in post_table.columns if c != "view"]]]
    extra_tables = {
        "post_metrics": post_table,
        "keyword_flagger": keywords,
        "posts_pulled_in": volume,
        "text_counterfactual": counterfactual,
    }

    def write_extras(directory: Path) -> list[object]:
        return report_blocks(directory, post_table, keywords, volume, counterfactual, facts,
                             settings, single, config.audit.confidence)

    return SystemRun(
        decided=Decisions(
            table=decisions,
            details=facts,
            extra_tables=extra_tables,
        ),
        wording=Wording(
            card=system.card(),
            decision_label="flagged as a threat",
            error_phrase="flagged as a threat in error (though they posted no threat)",
            negative_phrase="with no threatening post",
            write_extras=write_extras,
        ),
        hooks=hooks,
    )


def _scorer(settings: Settings, corpus_seed: int) -> BabelXScorer:
    """The (unfitted) scorer of ``settings``, whose fitting ``corpus_seed`` draws."""
    return BabelXScorer(
        keywords=settings.lexicon_words, threshold=settings.threshold,
        flag_rule=settings.flag_rule, n_features=settings.n_features, n_jobs=settings.n_jobs,
        random_state=corpus_seed,
    )


def _annotation(settings: Settings) -> dict[str, float]:
    """The annotators' settings, as :func:`synthetic.posts.generate_posts` takes them."""
    return dict(annotator_bias=settings.annotator_bias,
                annotator_noise=settings.annotator_noise,
                annotator_miss_rate=settings.annotator_miss_rate,
                threat_share=settings.threat_share)


def _fit_of(settings: Settings) -> tuple:
    """What of ``settings`` the annotated corpus and the fitted models depend on (the lexicon,
    threshold and flag rule do not enter them)."""
    return (sorted(_annotation(settings).items()), settings.training_posts,
            settings.training_threat_rate, settings.n_features)


def same_people_fits(plan: RunPlan, config: ExperimentConfig) -> list[Settings]:
    """One setting of each distinct fit (:func:`_fits_of`) among ``config`` and the worlds of
    ``plan`` on the same people (the worlds that leave its mechanisms as they are)."""
    return _fits_of([config.system_settings(), *(w.system_settings() for w in plan.worlds
                                                 if w.mechanisms == config.mechanisms)])


def fits_per_replicate(plan: RunPlan, config: ExperimentConfig) -> int:
    """How many distinct fits a replicate of ``config`` makes: one per population and fit
    among ``config`` and the worlds of ``plan``."""
    return len({(repr(each.mechanisms), repr(_fit_of(each.system_settings())))
                for each in (config, *plan.worlds)})


def _fits_of(settings: list[Settings]) -> list[Settings]:
    """``settings`` with one of each distinct fit (:func:`_fit_of`), in their order."""
    distinct = {}
    for each in settings:
        distinct.setdefault(repr(_fit_of(each)), each)
    return list(distinct.values())


def fit_ahead(settings: Settings, training_people: pd.DataFrame, corpus_seed: int,
              urgent: bool = False) -> None:
    """Draw the annotated corpus that :func:`search_people` will fit with ``settings`` and
    ``corpus_seed`` here, and start its fit on the fitting thread
    (:meth:`BabelXScorer.fit_ahead`): the models are the same, fitted on the second core."""
    corpus = annotated_corpus(training_people, corpus_seed, settings, _annotation(settings))
    _scorer(settings, corpus_seed).fit_ahead(corpus["text"],
                                             corpus["annotator_threat"].to_numpy(),
                                             urgent=urgent)


def search_people(settings: Settings, people: pd.DataFrame, train: np.ndarray, seed: int,
                  corpus_seed: int | None = None
                  ) -> tuple[BabelXScorer, pd.DataFrame, pd.DataFrame, pd.DataFrame,
                             pd.DataFrame]:
    """Train the scorer on the training split's annotated corpus and search the held-out
    people's posts: the scorer, the corpus, the held-out people, their scored posts and the
    person-level result of the search.

    ``seed`` draws the held-out people's posts; ``corpus_seed`` (default: ``seed``) draws the
    annotated training corpus and the scorer's fitting, the system's own randomness that
    replicates redraw."""
    corpus_seed = seed if corpus_seed is None else corpus_seed
    system = _scorer(settings, corpus_seed)
    annotation = _annotation(settings)
    corpus = annotated_corpus(people.loc[train], corpus_seed, settings, annotation)
    # The threat model alone: a flag comes from it and the keywords, and no table or sentence
    # of the run reads a post's sentiment, so a sentiment model would be fitted for nothing.
    # (Fitted before the posts are drawn: the fit leaves Python's lock free for the fitting
    # thread's featurising, which drawing the posts would contend for.)
    system.fit(corpus["text"], corpus["annotator_threat"].to_numpy())

    held_out = people.loc[~train].reset_index(drop=True)
    key = content_key("held-out posts", seed, settings.months, _draw_of(annotation),
                      list(held_out.columns), *(held_out[c] for c in held_out.columns))
    posts = labelled_posts(HELD_OUT_POSTS, key, seed, POSTS_STREAM, annotation,
                           lambda: generate_posts(held_out, seed, months=settings.months,
                                                  stream=POSTS_STREAM, **annotation))
    posts = pd.concat([posts, system.score_posts(posts["text"])], axis=1)
    searched = persistent_search(
        held_out["person_id"].to_numpy(), posts["person_id"].to_numpy(),
        posts["flagged"].to_numpy(), posts["threat_probability"].to_numpy(),
    )
    return system, corpus, held_out, posts, searched


def annotated_corpus(training_people: pd.DataFrame, seed: int, settings: Settings,
                     annotation: dict) -> pd.DataFrame:
    """Posts of the training split, enriched in genuine threats, labelled by annotators.

    The corpus window is chosen so that about ``settings.training_posts`` posts come in.
    """
    rate = np.nan_to_num(training_people["observed_posts_per_month"].to_numpy(np.float64)).sum()
    if rate <= 0:
        raise ValueError("the training split posts nothing; enlarge the population")
    key = content_key("corpus", seed, settings.training_posts, settings.training_threat_rate,
                      _draw_of(annotation), list(training_people.columns),
                      *(training_people[c] for c in training_people.columns))
    return labelled_posts(CORPORA, key, seed, CORPUS_STREAM, annotation, lambda: generate_posts(
        training_people, seed, months=settings.training_posts / rate,
        threat_rate=settings.training_threat_rate, stream=CORPUS_STREAM, **annotation))


def _draw_of(annotation: dict[str, float]) -> list[tuple[str, float]]:
    """What of ``annotation`` (:func:`_annotation`) changes the posts themselves, not only
    their annotators' labels."""
    return sorted((k, v) for k, v in annotation.items() if k not in ANNOTATORS)


def labelled_posts(kept: RecentResults, key: bytes, seed: int, stream: str,
                   annotation: dict[str, float], draw: Callable[[], pd.DataFrame]
                   ) -> pd.DataFrame:
    """The posts that ``draw()`` gives, looked up in ``kept`` under ``key`` (which names what
    draws them, the annotators' settings left out), labelled by ``annotation``'s annotators.

    Posts are drawn once per key. Under other annotators' settings (a world that switches
    annotator bias off) the posts kept are labelled again (:func:`synthetic.posts.relabel`):
    the same frame as drawing them anew, without rendering a text.
    """
    labelled: dict[str, pd.DataFrame] = kept.get(key, dict)
    annotators = {name: annotation[name] for name in ANNOTATORS}
    label = repr(sorted(annotators.items()))
    if label not in labelled:
        labelled[label] = (relabel(next(iter(labelled.values())), seed, stream=stream,
                                   **annotators)
                           if labelled else draw())
    return labelled[label]


def post_audit(config: ExperimentConfig, posts: pd.DataFrame, groups: list[str]
               ) -> dict[str, pd.DataFrame]:
    """The post-level audit, against true intent and against the annotators' labels.

    Each grouping is audited on its own (a loop per grouping): counting all of them jointly
    would make a cell for every combination of nationality, language, style and topic. Posts
    by one author are not independent (the same style, the same annotators' reading), so the
    audit clusters them by author: every interval and test uses effective counts.

    Returns
    -------
    dict
        View name -> tidy audit table (as ``AuditResult.table``) of every grouping.
    """
    settings = config.audit
    reference = {k: v for k, v in settings.reference.items() if k in groups}
    reference.setdefault("style", "english")
    tables: dict[str, pd.DataFrame] = {}
    for view, column in VIEW_COLUMNS.items():
        parts = [
            audit(posts, [group], y_true=column, y_pred="flagged", score="threat_probability",
                  reference={k: v for k, v in reference.items() if k == group},
                  intersections=False, n_boot=settings.n_boot, confidence=settings.confidence,
                  min_count=settings.min_count, suppress_below=settings.suppress_below,
                  cluster="person_id", random_state=config.experiment.seed).table
            for group in groups
        ]
        tables[view] = pd.concat(parts, ignore_index=True)
    return tables


def keyword_table(posts: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """False positive rates of the keyword flagger and of the classifier, by topic.

    Counted from the posts themselves: among posts that are not threats, the share with a
    keyword hit, and the share the classifier flags; among threats, the share each catches.
    """
    harmless = ~posts["true_threat"].to_numpy(dtype=bool)
    frame = pd.DataFrame({
        "topic": posts["topic"].astype(str),
        "harmless": harmless,
        "keyword_false": harmless & posts["keyword_hit"].to_numpy(),
        "classifier_false": harmless & posts["classifier_flag"].to_numpy(),
        "threat": ~harmless,
        "keyword_caught": ~harmless & posts["keyword_hit"].to_numpy(),
    })
    sums = frame.groupby("topic", sort=True).sum()
    sums.loc["(all)"] = sums.sum()
    table = pd.DataFrame({"topic": sums.index, "posts": sums[["harmless", "threat"]].sum(axis=1),
                          "non_threat_posts": sums["harmless"]})
    for name, column in (("keyword", "keyword_false"), ("classifier", "classifier_false")):
        low, high = wilson_interval(sums[column], sums["harmless"], confidence)
        table[f"{name}_false_positives"] = sums[column].to_numpy()
        table[f"{name}_fpr"] = np.divide(sums[column], sums["harmless"],
                                         out=np.full(len(sums), np.nan),
                                         where=sums["harmless"] > 0)
        table[f"{name}_fpr_ci_low"], table[f"{name}_fpr_ci_high"] = low, high
    table["threat_posts"] = sums["threat"].to_numpy()
    table["keyword_caught"] = sums["keyword_caught"].to_numpy()
    return table.reset_index(drop=True)


def volume_table(held_out: pd.DataFrame, searched: pd.DataFrame, groups: list[str]
                 ) -> pd.DataFrame:
    """Per group: people, posts pulled in per person, and share flagged among non-threats."""
    harmless = ~held_out["true_threat"].to_numpy(dtype=bool)
    parts = []
    for column in groups:
        frame = pd.DataFrame({
            "group": held_out[column].astype(str).to_numpy(),
            "people": 1, "posts_pulled_in": searched["posts_pulled_in"].to_numpy(),
            "harmless": harmless,
            "flagged_harmless": harmless & searched["flagged"].to_numpy(),
            "coverage": held_out["surveillance_coverage"].to_numpy(np.float64),
        })
        sums = frame.groupby("group", sort=True).sum()
        low, high = wilson_interval(sums["flagged_harmless"], sums["harmless"])
        parts.append(pd.DataFrame({
            "grouping": column, "group": sums.index, "people": sums["people"].to_numpy(),
            "mean_surveillance_coverage": (sums["coverage"] / sums["people"]).to_numpy(),
            "posts_pulled_in_per_person": (sums["posts_pulled_in"] / sums["people"]).to_numpy(),
            "fpr": (sums["flagged_harmless"] / sums["harmless"]).to_numpy(),
            "fpr_ci_low": low, "fpr_ci_high": high,
        }))
    return pd.concat(parts, ignore_index=True)


def text_counterfactual(
    posts: pd.DataFrame, people: pd.DataFrame, seed: int, system: BabelXScorer,
    settings: Settings, confidence: float,
) -> pd.DataFrame:
    """The same content written in each style: flip rates of the flags and score shifts.

    A sample of held-out posts without threatening intent is re-rendered under every entry of
    :data:`synthetic.posts.RENDERINGS` (the topic, template and fillers kept), scored by the
    fitted system, and compared with the baseline rendering (plain English). Flip rates come
    with Wilson intervals; mean shifts of the threat probability with t intervals.
    """
    harmless = np.flatnonzero(~posts["true_threat"].to_numpy(dtype=bool))
    rng = np.random.default_rng(np.random.SeedSequence([seed, COUNTERFACTUAL_STREAM]))
    size = min(settings.counterfactual_posts, harmless.size)
    sample = posts.iloc[np.sort(rng.choice(harmless, size=size, replace=False))]
    texts = np.concatenate([restyle(sample, people, seed, r, stream=POSTS_STREAM)
                            for r in RENDERINGS])
    scored = system.score_posts(pd.Series(texts, dtype="str"))
    shape = (len(RENDERINGS), size)
    probability = scored["threat_probability"].to_numpy().reshape(shape)
    classifier = scored["classifier_flag"].to_numpy().reshape(shape)
    flagged = scored["flagged"].to_numpy().reshape(shape)
    shift = probability - probability[0]
    n = np.full(len(RENDERINGS), size)
    table = pd.DataFrame({"rendering": [r.name for r in RENDERINGS], "posts": n})
    for name, flags in (("threat_flag", classifier), ("post_flag", flagged)):
        flips = (flags != flags[0]).sum(axis=1)
        low, high = wilson_interval(flips, n, confidence)
        table[f"{name}_flips"] = flips
        table[f"{name}_flip_rate"] = flips / n
        table[f"{name}_flip_ci_low"], table[f"{name}_flip_ci_high"] = low, high
        table[f"{name}_flips_to_flagged"] = (flags & ~flags[0]).sum(axis=1)
        table[f"{name}_rate"] = flags.mean(axis=1)
    mean = shift.mean(axis=1)
    half = stats.t.ppf(0.5 + confidence / 2, size - 1) * shift.std(axis=1, ddof=1) / np.sqrt(size)
    table["mean_score_shift"] = mean
    table["shift_ci_low"], table["shift_ci_high"] = mean - half, mean + half
    table["mean_threat_probability"] = probability.mean(axis=1)
    table["arabic_style"] = table["rendering"].isin(ARABIC_RENDERINGS)
    return table


# --------------------------------------------------------------------------- report


def report_blocks(
    directory: Path, post_table: pd.DataFrame, keywords: pd.DataFrame, volume: pd.DataFrame,
    counterfactual: pd.DataFrame, facts: dict, settings: Settings, groups: list[str],
    confidence: float = 0.95,
) -> list[object]:
    """The report's section on posts: findings, tables and figures, whose intervals are at
    ``confidence``."""
    level = f"{100 * confidence:g}%"
    figures = directory / "figures"
    flips_png = _plot_counterfactual(counterfactual, figures / "text_counterfactual.png",
                                     level)
    keyword_png = _plot_keywords(keywords, figures / "keyword_flagger_by_topic.png", level)
    blocks: list[object] = [
        Heading("Posts: the post-level audit, the keyword flagger and the text counterfactual"),
        Paragraph(
            f"The classifier was trained on {facts['training_posts']:,} annotated posts "
            f"({percent(facts['training_label_threat_share'], 2)} labelled 'threat'; annotator "
            f"bias {number(settings.annotator_bias, 2)}). Over {number(settings.months, 1)} "
            f"months of persistent search it read {facts['held_out_posts']:,} posts of the "
            f"held-out people, of which {facts['held_out_threat_posts']:,} were genuine "
            f"threats; it flagged {facts['posts_flagged']:,} ({facts['posts_keyword_hits']:,} "
            f"keyword hits, {facts['posts_classifier_flags']:,} classifier flags; rule: "
            f"'{settings.flag_rule}')."
        ),
        Bullets(_findings(post_table, keywords, volume, counterfactual, groups, level)),
        Heading("Posts pulled in and people flagged in error", 3),
        Paragraph(
            "Persistent search reads more of the posts of the people it watches more closely. "
            "The same per-post error then compounds: a person is flagged when any post is. "
            "FPR here is the share of people without any threatening post who were flagged."
        ),
        _volume_blocks(volume, _summary_grouping(groups), level),
        Heading("Post-level false positive rate", 3),
        Paragraph(
            "Per post, by the author's group and by the post's writing style: the share of "
            "posts without threatening intent that were flagged (true intent), and the share "
            "of posts the annotators did not label 'threat' that were flagged (annotator "
            "labels). An auditor holding only the annotations sees the second column. Posts "
            "by one author are counted as one cluster: intervals and tests allow for their "
            "errors going together (post_metrics.csv gives each rate's design effect)."
        ),
        _post_fpr_table(post_table, "style", level),
        Heading("The keyword flagger, by topic", 3),
        Paragraph(
            "Measured on the generated posts, not assumed: among posts without threatening "
            f"intent, the share matching the lexicon ({', '.join(settings.lexicon_words)}), "
            "against the share the learned classifier flags."
        ),
        _keyword_table(keywords, level),
        Figure(keyword_png, "False positive rate of the keyword flagger and of the classifier "
               f"by topic, among posts without threatening intent ({level} Wilson intervals).",
               relative_to=directory),
        Heading("Counterfactual text test", 3),
        Paragraph(
            f"In the spirit of the Equity Evaluation Corpus (Kiritchenko and Mohammad, 2018): "
            f"{int(counterfactual['posts'].iloc[0]):,} held-out posts without threatening "
            "intent were written again in each style, with the same topic, template and "
            "fillers, and scored by the same fitted system. A flip is a post whose threat flag "
            "differs from that of its plain-English baseline; the score shift is the change in "
            "threat probability. Any change of wording moves some borderline posts across "
            "the threshold, so read the Arabic renderings against the controls (a Christian "
            "phrase, Hispanic names, Nigerian English markers) and against a run with "
            "annotator bias 0. Changes of language also change which English keywords "
            "match, which the 'post flag' column shows."
        ),
        _counterfactual_table(counterfactual, level),
        Figure(flips_png, f"Flip rate of the classifier's threat flag ({level} Wilson interval) "
               f"and mean shift of the threat probability ({level} t interval) when the same "
               "content is written in another style.", relative_to=directory),
        Paragraph("Tables: post_metrics.csv (post-level audit, both views), "
                  "keyword_flagger.csv, posts_pulled_in.csv, text_counterfactual.csv."),
    ]
    return blocks


def _findings(post_table: pd.DataFrame, keywords: pd.DataFrame, volume: pd.DataFrame,
              counterfactual: pd.DataFrame, groups: list[str], level: str
              ) -> list[str]:
    found = []
    solidarity = keywords[keywords["topic"] == "solidarity_palestine"]
    daily = keywords[keywords["topic"] == "daily_life"]
    if not solidarity.empty and not daily.empty:
        s, d = solidarity.iloc[0], daily.iloc[0]
        found.append(
            f"The keyword flagger matched {percent(s['keyword_fpr'], 1)} of posts in "
            f"solidarity with Palestinians ({level} CI {percent(s['keyword_fpr_ci_low'], 1)}–"
            f"{percent(s['keyword_fpr_ci_high'], 1)}; n = {int(s['non_threat_posts']):,}), "
            f"none of them threats, against {percent(d['keyword_fpr'], 1)} of posts about "
            f"daily life (n = {int(d['non_threat_posts']):,})."
        )
    arabic = counterfactual[counterfactual["arabic_style"]]
    if not arabic.empty:
        top = arabic.loc[arabic["threat_flag_flip_rate"].idxmax()]
        found.append(
            f"Writing the same harmless content as '{top['rendering']}' changed the "
            f"classifier's threat flag for {percent(top['threat_flag_flip_rate'], 2)} of posts "
            f"({level} CI {percent(top['threat_flag_flip_ci_low'], 2)}–"
            f"{percent(top['threat_flag_flip_ci_high'], 2)}; n = {int(top['posts']):,}), and "
            f"moved the threat probability by {top['mean_score_shift']:+.3f} on average ({level} "
            f"CI {top['shift_ci_low']:+.3f} to {top['shift_ci_high']:+.3f})."
        )
    if groups:
        rows = volume[volume["grouping"] == _summary_grouping(groups)]
        rows = rows[rows["people"] >= 30]
        if len(rows) > 1:
            most = rows.loc[rows["posts_pulled_in_per_person"].idxmax()]
            least = rows.loc[rows["posts_pulled_in_per_person"].idxmin()]
            found.append(
                f"Persistent search read {most['posts_pulled_in_per_person']:.1f} posts per "
                f"person from {most['group']} against {least['posts_pulled_in_per_person']:.1f} "
                f"from {least['group']}; {percent(most['fpr'], 1)} of the former without any "
                f"threatening post were flagged ({level} CI {percent(most['fpr_ci_low'], 1)}–"
                f"{percent(most['fpr_ci_high'], 1)}; n = {int(most['people']):,}) against "
                f"{percent(least['fpr'], 1)} ({level} CI {percent(least['fpr_ci_low'], 1)}–"
                f"{percent(least['fpr_ci_high'], 1)}; n = {int(least['people']):,})."
            )
    return found


def _summary_grouping(groups: list[str]) -> str:
    """The grouping the section summarises: region of origin when audited, else the first."""
    return "region_of_origin" if "region_of_origin" in groups else groups[0]


def _volume_blocks(volume: pd.DataFrame, grouping: str, level: str) -> Table:
    rows = volume[volume["grouping"] == grouping]
    return Table(
        [grouping.replace("_", " "), "people", "surveillance coverage",
         "posts pulled in per person", f"flagged without any threat ({level} CI)"],
        [[str(r["group"]), f"{int(r['people']):,}", number(r["mean_surveillance_coverage"], 2),
          number(r["posts_pulled_in_per_person"], 1),
          f"{percent(r['fpr'], 1)} ({percent(r['fpr_ci_low'], 1)}–"
          f"{percent(r['fpr_ci_high'], 1)})"] for _, r in rows.iterrows()],
    )


def _post_fpr_table(post_table: pd.DataFrame, grouping: str, level: str) -> Table:
    rows = post_table[(post_table["grouping"] == grouping) & (post_table["metric"] == "fpr")]
    wide = rows.pivot(index="group", columns="view",
                      values=["value", "ci_low", "ci_high", "denominator", "ratio", "p_holm"])
    out = []
    for group in wide.index:
        cells = [str(group)]
        for view in VIEW_COLUMNS:
            cells.append(f"{percent(wide.loc[group, ('value', view)], 2)} "
                         f"({percent(wide.loc[group, ('ci_low', view)], 2)}–"
                         f"{percent(wide.loc[group, ('ci_high', view)], 2)})")
            cells.append(number(wide.loc[group, ("ratio", view)], 2))
        cells.append(f"{int(wide.loc[group, ('denominator', 'true intent')]):,}")
        out.append(cells)
    return Table([grouping, f"FPR, true intent ({level} CI)", "ratio", "FPR, annotator labels "
                  f"({level} CI)", "ratio", "posts without threat"], out)


def _keyword_table(keywords: pd.DataFrame, level: str) -> Table:
    keywords = keywords[keywords["non_threat_posts"] > 0]  # the threat topic has none
    return Table(
        ["topic", "posts without threat", f"keyword FPR ({level} CI)",
         f"classifier FPR ({level} CI)"],
        [[r["topic"].replace("_", " "), f"{int(r['non_threat_posts']):,}",
          f"{percent(r['keyword_fpr'], 2)} ({percent(r['keyword_fpr_ci_low'], 2)}–"
          f"{percent(r['keyword_fpr_ci_high'], 2)})",
          f"{percent(r['classifier_fpr'], 2)} ({percent(r['classifier_fpr_ci_low'], 2)}–"
          f"{percent(r['classifier_fpr_ci_high'], 2)})"] for _, r in keywords.iterrows()],
    )


def _counterfactual_table(table: pd.DataFrame, level: str) -> Table:
    return Table(
        ["rendering", "threat flag rate", f"threat flag flip rate ({level} CI)", "became flagged",
         f"mean score shift ({level} CI)", f"post flag flip rate ({level} CI)"],
        [[r["rendering"], percent(r["threat_flag_rate"], 2),
          f"{percent(r['threat_flag_flip_rate'], 2)} ({percent(r['threat_flag_flip_ci_low'], 2)}"
          f"–{percent(r['threat_flag_flip_ci_high'], 2)})",
          f"{int(r['threat_flag_flips_to_flagged']):,}",
          f"{r['mean_score_shift']:+.3f} ({r['shift_ci_low']:+.3f} to {r['shift_ci_high']:+.3f})",
          f"{percent(r['post_flag_flip_rate'], 2)} ({percent(r['post_flag_flip_ci_low'], 2)}–"
          f"{percent(r['post_flag_flip_ci_high'], 2)})"] for _, r in table.iterrows()],
    )



@literal_text
def _plot_counterfactual(table: pd.DataFrame, path: Path, level: str) -> Path:
    rows = table.iloc[1:].iloc[::-1]  # the baseline has nothing to compare with
    y = np.arange(len(rows))
    colours = np.where(rows["arabic_style"], "#c55a11", "#1f4e79")
    fig, (left, right) = new_figure((10, 0.35 * len(rows) + 1.6), 1, 2, sharey=True)
    rate = 100 * rows["threat_flag_flip_rate"].to_numpy()
    left.errorbar(rate, y, xerr=np.clip(np.vstack([
        rate - 100 * rows["threat_flag_flip_ci_low"], 100 * rows["threat_flag_flip_ci_high"] - rate
    ]), 0, None), fmt="none", ecolor="#7f9fbf", capsize=2)
    left.scatter(rate, y, c=colours, s=18, zorder=3)
    left.set_xlabel(f"threat flag flip rate, % ({level} interval)")
    shift = rows["mean_score_shift"].to_numpy()
    right.errorbar(shift, y, xerr=np.vstack([shift - rows["shift_ci_low"],
                                             rows["shift_ci_high"] - shift]),
                   fmt="none", ecolor="#7f9fbf", capsize=2)
    right.scatter(shift, y, c=colours, s=18, zorder=3)
    right.axvline(0, color="#b0b0b0", linestyle="--", linewidth=1)
    right.set_xlabel(f"mean shift of threat probability ({level} interval)")
    left.set_yticks(y, rows["rendering"], fontsize=8)
    for axis in (left, right):
        axis.grid(axis="x", color="#eeeeee")
    fig.suptitle("Same content, another style: against the plain-English baseline "
                 "(Arabic styles in orange)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


@literal_text
def _plot_keywords(table: pd.DataFrame, path: Path, level: str) -> Path:
    rows = table[(table["topic"] != "(all)") & (table["non_threat_posts"] > 0)].iloc[::-1]
    y = np.arange(len(rows))
    fig, axis = new_figure((7, 0.4 * len(rows) + 1.4))
    for offset, name, colour in ((-0.15, "keyword", "#c55a11"), (0.15, "classifier", "#1f4e79")):
        value = 100 * rows[f"{name}_fpr"].to_numpy()
        error = np.clip(np.vstack([value - 100 * rows[f"{name}_fpr_ci_low"],
                                   100 * rows[f"{name}_fpr_ci_high"] - value]), 0, None)
        axis.errorbar(value, y + offset, xerr=error, fmt="o", color=colour, capsize=2,
                      markersize=4, label=name)
    axis.set_yticks(y, rows["topic"].str.replace("_", " "), fontsize=8)
    axis.set_xlabel(f"false positive rate among posts without threat, % ({level} interval)")
    axis.legend(fontsize=8, frameon=False)
    axis.grid(axis="x", color="#eeeeee")
    fig.tight_layout()
    return save_figure(fig, path)


#: Design remedies as settings of this system (see experiments.engine.remedies).
REMEDY_KNOBS = {
    "remove_biased_list": lambda config: {"system.lexicon": "neutral", "system.keywords": None},
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its learned part scores posts from annotators' labels and a person is flagged when "
        "any post (or a keyword) is; there is no classifier of the person, trained on a "
        "person's outcome, for the model remedies to refit or post-process"),
    "raise_capacity": "it flags every post over its threshold; it has no capacity",
}
