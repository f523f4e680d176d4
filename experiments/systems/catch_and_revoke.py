"""Adapter for the Catch and Revoke pipeline: every stage audited, and the final disparity
in wrongful revocation attributed to the stages by switching each stage's bias off.

The stages' biases are: (1) surveillance intensity (the population mechanism), (2) biased
annotators behind the social-media classifier, (3) label bias in criminal and overstay records
(the population mechanism), (4) the "countries of concern" points of the threat score. The
2^4 worlds with each of them on or off share every person, post and noise draw, so their
differences are paired; contributions are Shapley values over the four stages, which add up to
the total exactly, and one-at-a-time changes (the world with one stage's bias off) are reported
beside them. Intervals resample people within groups: a multinomial draw over the distinct
patterns of decisions across worlds, never the rows.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from pydantic import Field  # noqa: E402

from audit import audit  # noqa: E402
from audit.figures import save_figure  # noqa: E402
from audit.intervals import percentile_interval, wilson_interval  # noqa: E402
from audit.report import percent  # noqa: E402
from experiments.commands import UsageError  # noqa: E402
from experiments.config import Strict  # noqa: E402
from experiments.document import Figure, Heading, Paragraph, Table  # noqa: E402
from experiments.systems.base import SystemRun  # noqa: E402
from synthetic.population import apply_mechanisms  # noqa: E402
from synthetic.posts import generate_posts  # noqa: E402
from synthetic.posts.generate import PostNoise, person_keys  # noqa: E402
from synthetic.systems.babel_x import DEFAULT_KEYWORDS, BabelXScorer, keyword_hits  # noqa: E402
from synthetic.systems.catch_and_revoke import (  # noqa: E402
    STAGE_TITLES,
    STAGES,
    CatchAndRevokePipeline,
    ThreatPoints,
    pulled_in,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

CORPUS_STREAM = "catch_and_revoke.corpus"
POSTS_STREAM = "catch_and_revoke.posts"
PULL_STREAM = "catch_and_revoke.pull"
#: Stream of SeedSequence(seed) for the attribution bootstrap.
ATTRIBUTION_STREAM = 13
#: The stages whose bias can be switched off, in pipeline order.
BIASED_STAGES = ("surveillance", "annotators", "record label bias", "countries of concern")
BIAS_SOURCES = {
    "surveillance": "mechanisms.surveillance_intensity (who is watched, and how closely)",
    "annotators": "system.annotator_bias (labels the social-media classifier learns from)",
    "record label bias": "mechanisms.label_bias (records of crimes and overstays)",
    "countries of concern": "system.countries_of_concern (points in the threat score)",
}


class PointsSettings(Strict):
    """Points of the automated threat score (logit scale)."""

    intercept: float = -5.0
    social_flag: float = Field(default=2.5, ge=0)
    threat_probability: float = Field(default=2.0, ge=0)
    minor_record: float = Field(default=1.5, ge=0)
    serious_record: float = Field(default=3.0, ge=0)
    overstay: float = Field(default=2.0, ge=0)
    country_of_concern: float = Field(default=1.5, ge=0)


class AttributionSettings(Strict):
    """Which disparity the attribution explains."""

    grouping: Literal["region_of_origin", "nationality"] = "region_of_origin"
    group: str = "Middle East and North Africa"
    reference: str = Field(default="", description="default: the largest other group")
    n_boot: int = Field(default=1000, ge=50, le=20_000)


class Settings(Strict):
    """The ``[system]`` table of a Catch and Revoke experiment."""

    months: float = Field(default=3.0, gt=0, le=24, description="window of social-media search")
    annotator_bias: float = Field(default=1.5, ge=0, le=5)
    annotator_noise: float = Field(default=0.01, gt=0, le=0.2)
    annotator_miss_rate: float = Field(default=0.1, ge=0, lt=1)
    training_posts: int = Field(default=40_000, ge=2_000, le=2_000_000)
    training_threat_rate: float = Field(default=0.02, gt=0, le=0.5)
    keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYWORDS), min_length=1)
    classifier_threshold: float = Field(default=0.5, gt=0, lt=1)
    flag_rule: Literal["either", "classifier", "keywords"] = "either"
    n_features: int = Field(default=2**18, ge=2**10, le=2**24)
    countries_of_concern: list[str] = Field(default_factory=list)
    points: PointsSettings = PointsSettings()
    rule: Literal["capacity", "threshold"] = "capacity"
    capacity: float = Field(default=0.01, gt=0, le=1)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    attribution: AttributionSettings = AttributionSettings()


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Run the pipeline in all 16 bias worlds on the held-out visa holders."""
    settings: Settings = config.system_settings()
    seed = config.experiment.seed
    held_out = people.loc[~train].reset_index(drop=True)
    _check_concern_list(settings.countries_of_concern, people)

    # Stage 2's classifier, trained twice on the same corpus: by the configured annotators and
    # by unbiased ones.
    scorers = {on: _train_scorer(people.loc[train], seed, settings,
                                 settings.annotator_bias if on else 0.0)
               for on in (True, False)}
    posts = generate_posts(held_out, seed, months=settings.months, rate_column="posts_per_month",
                           stream=POSTS_STREAM, annotator_bias=settings.annotator_bias,
                           annotator_noise=settings.annotator_noise,
                           annotator_miss_rate=settings.annotator_miss_rate)
    author = pd.Index(held_out["person_id"]).get_indexer(posts["person_id"])
    features = scorers[True].featurise(posts["text"].tolist())
    keyword = keyword_hits(posts["text"], settings.keywords)
    probability = {on: s.threat_probability(features) for on, s in scorers.items()}
    flagged = {on: scorers[on].combine(keyword, probability[on] >= settings.classifier_threshold)
               for on in (True, False)}
    post_uniform = PostNoise(person_keys(seed, held_out["person_id"].to_numpy(), PULL_STREAM)
                             [author], posts["post_index"].to_numpy()).uniform("pulled_in")

    mechanisms = {name: m.model_dump() for name, m in config.mechanisms.items()}
    recorded = {}
    for surveillance_on, label_on in itertools.product((True, False), repeat=2):
        variant = _switch(mechanisms, surveillance_intensity=surveillance_on, label_bias=label_on)
        recorded[surveillance_on, label_on] = apply_mechanisms(held_out, variant, seed)
    pulled = {on: pulled_in(author, post_uniform,
                            recorded[on, True]["surveillance_coverage"].to_numpy())
              for on in (True, False)}

    worlds: dict[tuple[bool, ...], pd.DataFrame] = {}
    for switches in itertools.product((True, False), repeat=len(BIASED_STAGES)):
        surveillance_on, annotators_on, label_on, concern_on = switches
        pipeline = _pipeline(settings, concern_on)
        worlds[switches] = pipeline.stages(
            recorded[surveillance_on, label_on], author, pulled[surveillance_on],
            flagged[annotators_on], probability[annotators_on])
    stages = worlds[(True,) * len(BIASED_STAGES)]

    truth = held_out["true_threat"].to_numpy(dtype=bool)
    annotated = np.bincount(author[pulled[True]], weights=posts["annotator_threat"].to_numpy(
        np.float64)[pulled[True]], minlength=len(held_out)) > 0
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=truth,
        y_recorded=annotated | stages["serious_record"].to_numpy(),
        decision=stages["revoked"].to_numpy(),
        score=stages["threat_score"].to_numpy(),
    )
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    stage_table = stage_audit(config, held_out, stages, singles, truth)
    attribution, disparity = attribute(config, settings, held_out, worlds, truth, seed)
    share = wrongful_share(held_out, stages, truth, settings.attribution, config.audit.confidence)
    found = _headlines(share, attribution, disparity, settings)
    facts = {
        "training_people": int(train.sum()),
        "held_out_people": int(len(held_out)),
        "held_out_posts_written": int(len(posts)),
        "held_out_posts_pulled_in": int(pulled[True].sum()),
        "revoked": int(stages["revoked"].sum()),
        "truly_threatening_people": int(truth.sum()),
        "training_label_threat_share": round(scorers[True].training_threat_share_, 6),
        "countries_of_concern": settings.countries_of_concern,
        "rule": settings.rule,
    }

    def write_extras(directory: Path) -> list[object]:
        return report_blocks(directory, stage_table, attribution, disparity, share, settings,
                             singles)

    return SystemRun(
        decisions=decisions,
        card=CatchAndRevokePipeline.card(),
        decide_twins=None,
        details=facts,
        decision_label="stripped of their visas",
        error_phrase="stripped of their visas in error (though they posed no threat)",
        negative_phrase="posing no threat",
        extra_tables={"stage_metrics": stage_table, "attribution": attribution,
                      "wrongful_revocation_share": share},
        write_extras=write_extras,
        headlines=found,
    )


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


def _switch(mechanisms: dict, **on: bool) -> dict:
    """The mechanism config with the named mechanisms switched off where ``on`` is False."""
    variant = {name: dict(spec) for name, spec in mechanisms.items()}
    for name, keep in on.items():
        if not keep and name in variant:
            variant[name] = {"strength": 0.0}
    return variant


def _pipeline(settings: Settings, concern_on: bool) -> CatchAndRevokePipeline:
    return CatchAndRevokePipeline(
        points=ThreatPoints(**settings.points.model_dump()),
        countries_of_concern=settings.countries_of_concern if concern_on else (),
        rule=settings.rule, capacity=settings.capacity, threshold=settings.threshold)


def _train_scorer(training_people: pd.DataFrame, seed: int, settings: Settings,
                  annotator_bias: float) -> BabelXScorer:
    rate = np.nan_to_num(training_people["posts_per_month"].to_numpy(np.float64)).sum()
    corpus = generate_posts(
        training_people, seed, months=settings.training_posts / rate,
        rate_column="posts_per_month", threat_rate=settings.training_threat_rate,
        annotator_bias=annotator_bias, annotator_noise=settings.annotator_noise,
        annotator_miss_rate=settings.annotator_miss_rate, stream=CORPUS_STREAM)
    scorer = BabelXScorer(keywords=tuple(settings.keywords),
                          threshold=settings.classifier_threshold, flag_rule=settings.flag_rule,
                          n_features=settings.n_features, random_state=seed)
    return scorer.fit(corpus["text"], corpus["annotator_threat"].to_numpy())


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


def _focus_and_reference(held_out: pd.DataFrame, attribution: AttributionSettings
                         ) -> tuple[np.ndarray, np.ndarray, str]:
    groups = held_out[attribution.grouping].astype(str)
    if attribution.group not in set(groups):
        raise UsageError(
            f"system.attribution.group: {attribution.group!r} does not occur in "
            f"{attribution.grouping}; groups: {', '.join(sorted(set(groups)))}")
    reference = attribution.reference or groups[groups != attribution.group].value_counts(
        sort=True).index[0]
    if reference not in set(groups):
        raise UsageError(f"system.attribution.reference: {reference!r} does not occur in "
                         f"{attribution.grouping}")
    return (groups == attribution.group).to_numpy(), (groups == reference).to_numpy(), reference


def _shapley_weights(n: int) -> np.ndarray:
    """Matrix turning the 2^n world values into n Shapley values (world index: bit i = stage
    i's bias on)."""
    weights = np.zeros((n, 2**n))
    for i in range(n):
        for world in range(2**n):
            if world >> i & 1:
                continue
            size = bin(world).count("1")
            w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            weights[i, world | 1 << i] += w
            weights[i, world] -= w
    return weights


def attribute(
    config: ExperimentConfig, settings: Settings, held_out: pd.DataFrame,
    worlds: dict[tuple[bool, ...], pd.DataFrame], truth: np.ndarray, seed: int,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """How much of the gap in wrongful revocation enters at each stage, with intervals."""
    n_stages = len(BIASED_STAGES)
    focus, reference, reference_name = _focus_and_reference(held_out, settings.attribution)
    # One bit per world: world index w has bit i set when stage i's bias is on.
    pattern = np.zeros(len(held_out), dtype=np.int64)
    world_index = {}
    for switches, stages in worlds.items():
        w = sum(1 << i for i, on in enumerate(switches) if on)
        world_index[w] = switches
        pattern |= stages["revoked"].to_numpy().astype(np.int64) << w
    bits = np.arange(2**n_stages)  # world numbers
    rng = np.random.default_rng(np.random.SeedSequence([seed, ATTRIBUTION_STREAM]))
    n_boot = settings.attribution.n_boot
    rates, boot_rates = [], []
    for members in (focus & ~truth, reference & ~truth):
        values, counts = np.unique(pattern[members], return_counts=True)
        revoked_in = (values[:, None] >> bits) & 1  # (patterns, worlds)
        total = counts.sum()
        rates.append(counts @ revoked_in / total)
        draws = rng.multinomial(total, counts / total, size=n_boot)
        boot_rates.append(draws @ revoked_in / total)
    gap = rates[0] - rates[1]
    boot_gap = boot_rates[0] - boot_rates[1]
    shapley = _shapley_weights(n_stages)
    contribution, boot_contribution = shapley @ gap, boot_gap @ shapley.T
    all_on, all_off = 2**n_stages - 1, 0
    one_off = np.array([gap[all_on] - gap[all_on & ~(1 << i)] for i in range(n_stages)])
    boot_one_off = np.stack([boot_gap[:, all_on] - boot_gap[:, all_on & ~(1 << i)]
                             for i in range(n_stages)], axis=1)
    confidence = config.audit.confidence
    c_low, c_high = percentile_interval(boot_contribution, confidence)
    o_low, o_high = percentile_interval(boot_one_off, confidence)
    total_gap = gap[all_on] - gap[all_off]
    t_low, t_high = percentile_interval((boot_gap[:, all_on] - boot_gap[:, all_off])[:, None],
                                        confidence)
    g_low, g_high = percentile_interval(boot_gap[:, [all_on, all_off]], confidence)
    rows = [{
        "stage": stage, "bias_source": BIAS_SOURCES[stage],
        "one_at_a_time_change": one_off[i], "one_at_a_time_ci_low": o_low[i],
        "one_at_a_time_ci_high": o_high[i],
        "contribution": contribution[i], "contribution_ci_low": c_low[i],
        "contribution_ci_high": c_high[i],
        "share_of_total": contribution[i] / total_gap if total_gap else math.nan,
    } for i, stage in enumerate(BIASED_STAGES)]
    rows.append({"stage": "total (all biases on minus all off)", "bias_source": "",
                 "one_at_a_time_change": math.nan, "one_at_a_time_ci_low": math.nan,
                 "one_at_a_time_ci_high": math.nan, "contribution": total_gap,
                 "contribution_ci_low": t_low[0], "contribution_ci_high": t_high[0],
                 "share_of_total": 1.0})
    table = pd.DataFrame(rows)
    table.insert(0, "reference", reference_name)
    table.insert(0, "group", settings.attribution.group)
    table.insert(0, "grouping", settings.attribution.grouping)
    disparity = {
        "gap_all_on": gap[all_on], "gap_all_on_ci_low": g_low[0], "gap_all_on_ci_high": g_high[0],
        "gap_all_off": gap[all_off], "gap_all_off_ci_low": g_low[1],
        "gap_all_off_ci_high": g_high[1],
        "rate_focus_all_on": rates[0][all_on], "rate_reference_all_on": rates[1][all_on],
        "n_focus": int((focus & ~truth).sum()), "n_reference": int((reference & ~truth).sum()),
        "reference": reference_name,
    }
    return table, disparity


def wrongful_share(held_out: pd.DataFrame, stages: pd.DataFrame, truth: np.ndarray,
                   attribution: AttributionSettings, confidence: float) -> pd.DataFrame:
    """Each group's share of wrongful revocations against its share of the people."""
    groups = held_out[attribution.grouping].astype(str).to_numpy()
    wrongful = stages["revoked"].to_numpy() & ~truth
    labels, codes = np.unique(groups, return_inverse=True)
    wrong = np.bincount(codes, weights=wrongful, minlength=len(labels))
    people = np.bincount(codes, minlength=len(labels))
    low, high = wilson_interval(wrong, wrongful.sum(), confidence)
    table = pd.DataFrame({
        "grouping": attribution.grouping, "group": labels, "people": people,
        "share_of_people": people / people.sum(), "wrongful_revocations": wrong.astype(np.int64),
        "share_of_wrongful_revocations": wrong / max(wrongful.sum(), 1),
        "ci_low": low, "ci_high": high,
    })
    return table.sort_values("share_of_wrongful_revocations", ascending=False,
                             kind="stable").reset_index(drop=True)


def _headlines(share: pd.DataFrame, attribution: pd.DataFrame, disparity: dict,
               settings: Settings) -> list[str]:
    found = []
    row = share[share["group"] == settings.attribution.group]
    total = int(share["wrongful_revocations"].sum())
    if not row.empty and total:
        r = row.iloc[0]
        found.append(
            f"{percent(r['share_of_wrongful_revocations'])} of wrongful revocations fell on "
            f"students from {r['group']}, who are {percent(r['share_of_people'])} of the "
            f"student-visa holders audited (95% CI {percent(r['ci_low'])}–"
            f"{percent(r['ci_high'])}; {int(r['wrongful_revocations']):,} of {total:,} wrongful "
            f"revocations; n = {int(share['people'].sum()):,} students).")
    stages = attribution.iloc[:-1]
    if disparity["gap_all_on"] > 0 and not stages.empty:
        top = stages.loc[stages["contribution"].idxmax()]
        found.append(
            f"The gap in wrongful revocation between students from {settings.attribution.group} "
            f"and from {disparity['reference']} is {100 * disparity['gap_all_on']:.2f} "
            f"percentage points (95% CI {100 * disparity['gap_all_on_ci_low']:.2f}–"
            f"{100 * disparity['gap_all_on_ci_high']:.2f}; n = {disparity['n_focus']:,} and "
            f"{disparity['n_reference']:,}); the stage contributing most is {top['stage']} "
            f"({100 * top['contribution']:.2f} points, 95% CI "
            f"{100 * top['contribution_ci_low']:.2f}–{100 * top['contribution_ci_high']:.2f}).")
    return found


def report_blocks(directory: Path, stage_table: pd.DataFrame, attribution: pd.DataFrame,
                  disparity: dict, share: pd.DataFrame, settings: Settings,
                  groupings: list[str]) -> list[object]:
    """The stage-by-stage section of the report."""
    grouping = settings.attribution.grouping if settings.attribution.grouping in groupings \
        else groupings[0]
    blocks: list[object] = [
        Heading("The pipeline, stage by stage"),
        Paragraph(
            "Each stage's output is audited on its own against the true threat, which nobody "
            "in this simulation has more of than anyone else. A share that rises from stage to "
            "stage faster for one group than another is where a disparity enters and "
            "compounds. Rates are shares of the group with their 95% Wilson intervals."),
        _stage_rates_table(stage_table, grouping),
    ]
    path = _plot_cascade(stage_table, grouping, directory / "figures" / "cascade.png")
    blocks.append(Figure(path, f"From watched to revoked, by {grouping}: the share of each "
                               "group reaching each stage (log scale), with 95% intervals.",
                         directory))
    blocks += [
        Heading("Where the disparity enters"),
        Paragraph(
            f"The gap explained is the difference in wrongful revocation rate (revoked, truly "
            f"no threat) between students from {settings.attribution.group} and from "
            f"{disparity['reference']}: {100 * disparity['gap_all_on']:.2f} percentage points "
            f"with every bias on (95% CI {100 * disparity['gap_all_on_ci_low']:.2f}–"
            f"{100 * disparity['gap_all_on_ci_high']:.2f}) and "
            f"{100 * disparity['gap_all_off']:.2f} with every bias off. The pipeline was run in "
            "all sixteen worlds with each stage's bias on or off, on the same people and posts. "
            "'Switched off alone' is the change in the gap when only that stage's bias is "
            "removed. 'Contribution' averages that change over every combination of the other "
            "stages (a Shapley value), so the contributions add up exactly to the total; "
            "intervals come from resampling people within the two groups."),
        _attribution_table(attribution),
        Heading("Who bears the wrongful revocations"),
        Table(["group", "share of students", "share of wrongful revocations (95% CI)",
               "wrongful revocations"],
              [[r["group"], percent(r["share_of_people"]),
                f"{percent(r['share_of_wrongful_revocations'])} ({percent(r['ci_low'])}–"
                f"{percent(r['ci_high'])})", f"{int(r['wrongful_revocations']):,}"]
               for _, r in share.iterrows()]),
    ]
    return blocks


def _stage_rates_table(stage_table: pd.DataFrame, grouping: str) -> Table:
    rows = stage_table[(stage_table["grouping"] == grouping)
                       & (stage_table["metric"] == "selection_rate")]
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


def _attribution_table(attribution: pd.DataFrame) -> Table:
    def points(value: float, low: float, high: float) -> str:
        if not math.isfinite(value):
            return "—"
        return f"{100 * value:.2f} ({100 * low:.2f}–{100 * high:.2f})"

    rows = []
    for _, r in attribution.iterrows():
        rows.append([r["stage"], r["bias_source"],
                     points(r["one_at_a_time_change"], r["one_at_a_time_ci_low"],
                            r["one_at_a_time_ci_high"]),
                     points(r["contribution"], r["contribution_ci_low"],
                            r["contribution_ci_high"]),
                     percent(r["share_of_total"], 0) if math.isfinite(r["share_of_total"])
                     else "—"])
    return Table(["stage", "bias", "gap change when switched off alone (points, 95% CI)",
                  "contribution (points, 95% CI)", "share of total"], rows)


def _plot_cascade(stage_table: pd.DataFrame, grouping: str, path: Path) -> Path:
    rows = stage_table[(stage_table["grouping"] == grouping)
                       & (stage_table["metric"] == "selection_rate")]
    rows = rows[~rows["flags"].fillna("").str.contains("suppressed")]
    fig, axis = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(STAGES))
    for group, part in rows.groupby("group", sort=True):
        part = part.set_index("stage").reindex(list(STAGES))
        value = part["value"].to_numpy(dtype=float)
        low = np.clip(value - part["ci_low"].to_numpy(dtype=float), 0, None)
        high = np.clip(part["ci_high"].to_numpy(dtype=float) - value, 0, None)
        axis.errorbar(x, 100 * value, yerr=100 * np.vstack([low, high]), marker="o",
                      capsize=2, label=str(group))
    axis.set_yscale("log")
    axis.set_xticks(x, [STAGE_TITLES[s].split(". ", 1)[1] for s in STAGES], fontsize=8)
    axis.set_ylabel("% of the group (log scale)")
    axis.set_title(f"The cascade from watched to revoked, by {grouping}", fontsize=10)
    axis.legend(fontsize=7, frameon=False, ncol=2)
    axis.grid(axis="y", color="#eeeeee")
    fig.tight_layout()
    return save_figure(fig, path)

