"""Adapter for UK-style visa streaming with a feedback loop: run the yearly rounds under the
configured correction and the others, hand the last round's decisions to the runner's audit,
and add the round-by-round tables, the loop's gap and its figure to the report.

The pair of nationalities followed across rounds is fixed in advance by the experiment file
(its first ``[[audit.focus]]`` on nationality: the targeted nationality against the
untargeted reference), never chosen from the results. The growth of their gap is handed to the
runner's attribution as a contrast of the worlds of its knobs (the biased history, the loop
itself), so the growth is split between them with paired intervals.

The runner's train/held-out split is not used: in a feedback loop the training data are the
system's own records of earlier rounds. The population is split instead into ``rounds + 1``
cohorts by a seeded uniform per person (cohort 0 is the history before the first round,
cohort ``r`` applies in round ``r``); the audited decisions are those of the last round.

The cohorts and the checks are the loop's own randomness, drawn from the system seed, so
replicates redraw them on the same people. Whether the loop runs away for the targeted
nationality is then a share of replicate worlds: each run records its outcome per correction
(runaway.csv), and over replicates the first headline and a report section give that share and
the spread of the final gap in place of one world's gap.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from audit.figures import literal_text, new_figure, save_figure
from audit.intervals import newcombe_difference_interval, wilson_interval
from audit.levels import audit_levels
from experiments.config import Strict, system_seed
from experiments.errors import UsageError
from experiments.systems.contract import (
    Decisions,
    Hooks,
    PooledTables,
    SystemRun,
    Wording,
    WorldContrast,
    own_findings,
)
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Bullets, Figure, Heading, Paragraph, Table
from experiments.writing.names import named_labels
from synthetic.population.columns import in_values, text_values
from synthetic.systems.visa_streaming import (
    CORRECTIONS,
    RED,
    STREAMS,
    CheckNoise,
    FeedbackLoop,
    LoopRun,
    Scrutiny,
    VisaStreamer,
    assign_cohorts,
    true_adverse,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: How each correction is named in tables and figures.
CORRECTION_TITLES = {
    "none": "no correction",
    "random_checks": "learning from random checks",
    "inverse_scrutiny": "inverse-scrutiny weighting",
}
#: Rates of the per-round table: (name, numerator, denominator, in words).
ROUND_RATES = (
    ("red_share", "red", "applicants", "share streamed red"),
    ("wrongful_refusal_rate", "wrongful_refusals", "compliant",
     "wrongful refusal rate (refused among those who would have complied)"),
    ("recorded_rate", "recorded", "applicants", "recorded adverse-event rate"),
    ("refusal_rate", "refused", "applicants", "refusal rate"),
    ("true_rate", "adverse", "applicants", "true adverse-event rate"),
)
CONFIDENCE = 0.95


class Settings(Strict):
    """The ``[system]`` table of a visa-streaming experiment."""

    rounds: int = Field(default=10, ge=1, le=50, description="yearly rounds after the history")
    red_share: float = Field(default=0.10, gt=0, lt=1, description="share streamed red")
    amber_share: float = Field(default=0.30, ge=0, lt=1, description="share streamed amber")
    check_red: float = Field(default=0.9, ge=0, le=1,
                             description="probability a red application is checked")
    check_amber: float = Field(default=0.3, ge=0, le=1,
                               description="probability an amber application is checked")
    check_green: float = Field(default=0.05, ge=0, le=1,
                               description="probability a green application is checked")
    sensitivity: float = Field(default=0.9, gt=0, le=1,
                               description="probability a check finds a true adverse event")
    false_event_rate: float = Field(
        default=0.02, ge=0, le=1,
        description="probability a check records an event for someone who would have complied")
    audit_share: float = Field(default=0.10, gt=0, le=1,
                               description="share of each cohort given a uniform random check")
    memory: Literal["accumulate", "replace"] = Field(
        default="accumulate", description="add each year's records to the training data, or "
        "replace it")
    relearn: Literal["rating", "all"] = Field(
        default="rating", description="what each year's records retrain: the nationality "
        "rating only, or the application model too")
    correction: Literal["none", "random_checks", "inverse_scrutiny"] = Field(
        default="none", description="how the audited run learns; the others are run beside it")
    use_nationality: bool = Field(default=True, description="nationality rating in the score")
    rating_z: float = Field(default=2.0, ge=0, le=10, description="standard errors a "
                            "nationality's recorded difference must exceed to be rated")
    skip_visa_types: list[str] = Field(
        default_factory=lambda: ["Asylum"],
        description="routes that are not visa applications and are not streamed")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.red_share + self.amber_share > 1:
            raise ValueError(
                f"red_share + amber_share is {self.red_share + self.amber_share:g}; it must be "
                "at most 1")
        if self.correction == "inverse_scrutiny" and min(
                self.check_red, self.check_amber, self.check_green) <= 0:
            raise ValueError("correction 'inverse_scrutiny' needs check_red, check_amber and "
                             "check_green above 0 (it divides by them)")
        return self


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Run the loop under every correction; audit the last round of the configured one.

    ``train`` is not used (see the module docstring). The people and their recorded
    history come from the experiment's seed; the loop's own draws (which applicants form
    the history and apply in which year, which applications are checked and what a check
    finds) come from the system seed, which replicates redraw.
    """
    settings = config.system_settings()
    seed = system_seed(config)
    cohort = assign_cohorts(len(people), settings.rounds, seed)
    skipped = in_values(people["visa_type"], settings.skip_visa_types)
    cohort[skipped] = -1
    sizes = np.bincount(cohort[cohort >= 0], minlength=settings.rounds + 1)
    if sizes.min() < 50:
        raise ValueError(
            f"a cohort has only {sizes.min()} applicants; enlarge population.size or lower "
            "system.rounds")
    noise = CheckNoise.draw(len(people), seed)
    loop = feedback_loop(settings)
    targeted, untargeted = followed_pair(config, people)
    corrections = [settings.correction, *(c for c in CORRECTIONS if c != settings.correction)]
    if min(settings.check_red, settings.check_amber, settings.check_green) <= 0:
        corrections.remove("inverse_scrutiny")  # undefined weights: run the others only
    fitted: dict[tuple[int, str], tuple[pd.DataFrame, VisaStreamer]] = {}

    def history_model(world_loop: FeedbackLoop, world_people: pd.DataFrame) -> VisaStreamer:
        # Round 1 learns from the same history under every correction, and a world's people
        # are one frame for all its corrections: one fit per people and model settings. The
        # frame is kept with the model so that its id cannot be reused by another.
        key = (id(world_people), repr(world_loop.new_model().get_params()))
        if key not in fitted:
            fitted[key] = (world_people, world_loop.history_model(world_people, cohort))
        return fitted[key][1]

    loops = {correction: loop.run(people, cohort, noise, correction,
                                  start=history_model(loop, people))
             for correction in corrections}

    audited = loops[settings.correction]
    rows = audited.final_rows
    held_out = people.iloc[rows]
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=true_adverse(held_out),
        y_recorded=audited.final.recorded,
        decision=audited.final.refused,
        score=audited.final.scores,
    )
    model: VisaStreamer = audited.model
    cut_offs = model.cut_offs_

    def decide_twins(twins: pd.DataFrame) -> np.ndarray:
        # The same applicants' checks (same uniforms), streamed with the factual cuts.
        return loop.screen_rows(model, twins, rows, noise.take(rows), settings.correction,
                                cut_offs=cut_offs).refused

    by_round = round_table(loops, config.audit.confidence)
    # The stream levels are the first replicate's to report; a further one needs its loops
    # (the runaway outcomes) and decisions, not another audit of its levels.
    streams = (stream_levels(config, decisions, audited.final.streams) if own_findings()
               else pd.DataFrame())
    most, least = targeted, untargeted
    gaps = gap_table(by_round, most, least, config.audit.confidence)
    last = by_round["round"].max()
    details = {
        "training_people": int(audited.by_round["training_rows"].iloc[-1]),
        "held_out_people": int(len(held_out)),
        "rounds": settings.rounds,
        "cohort_sizes": [int(s) for s in sizes],
        "correction": settings.correction,
        "corrections_compared": corrections,
        "red_share": settings.red_share,
        "red_score_threshold": cut_offs[0].threshold,
        "followed_pair": [targeted, untargeted],
        "years_model_kept": {c: r.kept_models for c, r in loops.items()},
        "red_share_gap_first_last": {
            c: [float(g.loc[g["round"] == 1, "red_share_gap"].iloc[0]),
                float(g.loc[g["round"] == last, "red_share_gap"].iloc[0])]
            for c, g in gaps.groupby("correction", sort=False)
        },
        "nationality_rating_last_round": {
            k: round(float(v), 4) for k, v in model.nationality_rating_.items()},
        "features": model.feature_columns,
    }

    ledger = Ledger()
    found = [loop_headline(by_round, gaps, most, least, ledger, config.audit.confidence)]

    def write_extras(staging: Path) -> list[object]:
        path = plot_loop(by_round, most, least, staging / "figures" / "visa_streaming_loop.png")
        return loop_blocks(gaps, most, least, settings.correction, path, staging,
                           config.audit.confidence)

    first_rows = np.flatnonzero(cohort == 1)
    tracked = np.concatenate([first_rows, rows])
    nationality = text_values(people["nationality"])
    rounds_of = np.repeat([1, settings.rounds], [len(first_rows), len(rows)])
    labels = np.char.add(np.char.add(nationality[tracked].astype(str), " round "),
                         rounds_of.astype(str))

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # Only the world's own correction is run; the others are for the report.
        world_settings = world.system_settings()
        world_loop = feedback_loop(world_settings)
        same_world = world_people is people and world_settings.model_copy(
            update={"correction": settings.correction}) == settings
        # The report's loops already ran this world under every correction compared.
        result = loops[world_settings.correction] if same_world and (
            world_settings.correction in loops) else world_loop.run(
            world_people, cohort, noise, world_settings.correction,
            start=history_model(world_loop, world_people))
        first = first_round_red(world_loop, world_people, cohort, noise,
                                world_settings.correction,
                                history_model(world_loop, world_people))
        if first.sum() != result.by_round.loc[result.by_round["round"] == 1, "red"].sum():
            raise RuntimeError("round 1 replayed for the attribution disagrees with the loop")
        return {"decision": result.final.refused,
                "red": np.concatenate([first, result.final.streams == RED])}

    contrasts = [] if settings.rounds < 2 else [WorldContrast(
        grouping="nationality", group=targeted, reference=untargeted,
        metric="red_share_gap_growth", outcome="red", groups=labels,
        weights={f"{targeted} round {settings.rounds}": 1.0,
                 f"{untargeted} round {settings.rounds}": -1.0,
                 f"{targeted} round 1": -1.0, f"{untargeted} round 1": 1.0},
        label=(f"growth of the gap in the share streamed red between {targeted} and "
               f"{untargeted}, from round 1 to round {settings.rounds}"))]
    outcomes = loop_outcomes(loops, most, least, seed)
    system_run = SystemRun(
        decided=Decisions(
            table=decisions,
            details=details,
            extra_tables={"loop_by_round": by_round, "loop_gap": gaps, "stream_levels": streams},
            replicate_outcomes={"runaway": outcomes},
        ),
        wording=Wording(
            card=VisaStreamer.card(),
            decision_label="refused",
            error_phrase="refused in error (though they would have complied with their visa and "
                          "the law)",
            negative_phrase="who would have complied",
            headlines=found,
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_twins=decide_twins,
            decide_world=decide_world,
            world_contrasts=contrasts,
        ),
    )

    def pool_replicates(stacked: dict[str, pd.DataFrame], pooled: PooledTables) -> None:
        # Over replicate worlds the loop's finding is how often it runs away, so the one
        # world's gap of the first headline and section gives way to the distribution.
        worlds = runaway_table(stacked["runaway"])
        summary = runaway_summary_table(worlds)
        system_run.decided.extra_tables["runaway"] = worlds
        system_run.decided.extra_tables["runaway_summary"] = summary
        one_world = found[0]
        ledger.claims[:] = [c for c in ledger.claims if c.sentence != one_world]
        found[0] = runaway_headline(summary, settings, ledger)

        def write_pooled(staging: Path) -> list[object]:
            return [*runaway_blocks(summary, settings), *write_extras(staging)]

        system_run.wording.write_extras = write_pooled

    system_run.hooks.pool_replicates = pool_replicates
    return system_run


def round_table(loops: dict[str, LoopRun], confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per correction, round and nationality: counts, rates and Wilson intervals at
    ``confidence``."""
    table = pd.concat([r.by_round.assign(correction=c) for c, r in loops.items()],
                      ignore_index=True)
    table = table[["correction", *[c for c in table.columns if c != "correction"]]]
    table["nationality"] = table["nationality"].astype(str)
    for name, numerator, denominator, _ in ROUND_RATES:
        successes, trials = table[numerator].to_numpy(), table[denominator].to_numpy()
        table[name] = np.divide(successes, trials, out=np.full(len(table), np.nan),
                                where=trials > 0)
        table[f"{name}_ci_low"], table[f"{name}_ci_high"] = wilson_interval(
            successes, trials, confidence)
    return table


def stream_levels(config: ExperimentConfig, decisions: pd.DataFrame, streams: np.ndarray
                  ) -> pd.DataFrame:
    """The last round audited as the three-way decision it is.

    Per grouping and group: the share streamed green, amber and red with Wilson intervals;
    then, for the cut-offs "at least amber" and "red", each group's rate with its gap to the
    reference and the gap's interval (the instrument's :func:`audit.levels.audit_levels`).
    """
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    frame = decisions[[*singles, "y_true"]].assign(
        stream=np.asarray(STREAMS, dtype=object)[streams])
    reference = {k: v for k, v in config.audit.reference.items() if k in singles}
    levels = audit_levels(frame, singles, "y_true", "stream", STREAMS, reference=reference,
                          confidence=config.audit.confidence, n_boot=config.audit.n_boot,
                          min_count=config.audit.min_count,
                          suppress_below=config.audit.suppress_below)
    shares = levels.shares.assign(cut_off="", metric="share", reference="")
    cut_rows = []
    for cut_off, result in levels.cutoffs.items():
        table = result.table[result.table["metric"] == "selection_rate"]
        cut_rows.append(pd.DataFrame({
            "grouping": table["grouping"], "group": table["group"], "level": "",
            "n": table["denominator"], "count": table["numerator"], "share": table["value"],
            "ci_low": table["ci_low"], "ci_high": table["ci_high"], "cut_off": cut_off,
            "metric": "selection_rate", "reference": table["reference"],
            "difference": table["difference"], "diff_ci_low": table["diff_ci_low"],
            "diff_ci_high": table["diff_ci_high"], "flags": table["flags"]}))
    return pd.concat([shares, *cut_rows], ignore_index=True)


def feedback_loop(settings: Settings) -> FeedbackLoop:
    """The feedback loop of a ``[system]`` table."""
    return FeedbackLoop(
        rounds=settings.rounds, red_share=settings.red_share, amber_share=settings.amber_share,
        scrutiny=Scrutiny(
            check_red=settings.check_red, check_amber=settings.check_amber,
            check_green=settings.check_green, sensitivity=settings.sensitivity,
            false_event_rate=settings.false_event_rate, audit_share=settings.audit_share,
        ),
        memory=settings.memory, use_nationality=settings.use_nationality,
        rating_z=settings.rating_z, relearn=settings.relearn,
    )


def followed_pair(config: ExperimentConfig, people: pd.DataFrame) -> tuple[str, str]:
    """The targeted and the untargeted nationality followed across rounds: the first
    ``[[audit.focus]]`` on nationality, fixed before the run."""
    for focus in config.audit.focus:
        if focus.grouping == "nationality":
            reference = focus.reference or config.audit.reference.get("nationality", "")
            present = _present_values(people["nationality"])
            for value in (focus.group, reference):
                if value not in present:
                    raise UsageError(f"audit.focus: nationality {value!r} has no applicants in "
                                     "this population; name a nationality of the profile")
            return focus.group, reference
    raise UsageError(
        "visa streaming follows a pair of nationalities across rounds; name it in advance with "
        "an [[audit.focus]] entry: grouping = \"nationality\", group = the targeted "
        "nationality, reference = an untargeted one")


def _present_values(column: pd.Series) -> set[str]:
    """The values of a column, as text, that some row holds (a categorical's through its
    codes, without a string per row)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return set(column.astype(str))
    codes = column.cat.codes.to_numpy()
    held = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories)) > 0
    return {str(c) for c in column.cat.categories[held]}


def first_round_red(loop: FeedbackLoop, people: pd.DataFrame, cohort: np.ndarray,
                    noise: CheckNoise, correction: str, model: VisaStreamer | None = None
                    ) -> np.ndarray:
    """Who in round 1's cohort is streamed red: round 1 learns from the history alone, under
    every correction, so it is replayed from the history without running the later rounds
    (``model``: the history's model, :meth:`FeedbackLoop.history_model`, when fitted)."""
    model = copy.copy(model) if model is not None else loop.history_model(people, cohort)
    members = np.flatnonzero(cohort == 1)
    return loop.screen_rows(model, people, members, noise.take(members),
                            correction).streams == RED


def gap_table(by_round: pd.DataFrame, most: str, least: str,
              confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per correction and round: each rate's difference between the followed pair (``most``,
    the targeted nationality, minus ``least``), with a Newcombe (hybrid Wilson score)
    interval at ``confidence``."""
    keys = ["correction", "round"]
    high = by_round[by_round["nationality"] == most].set_index(keys)
    low = by_round[by_round["nationality"] == least].set_index(keys)
    gaps = pd.DataFrame(index=high.index)
    for name, numerator, denominator, _ in ROUND_RATES[:3]:
        p1, p2 = high[name], low[name]
        gaps[f"{name}_{most}"] = p1
        gaps[f"{name}_{least}"] = p2
        gaps[f"{name}_gap"] = p1 - p2
        gaps[f"{name}_gap_ci_low"], gaps[f"{name}_gap_ci_high"] = newcombe_difference_interval(
            high[numerator].to_numpy(), high[denominator].to_numpy(),
            low[numerator].to_numpy(), low[denominator].to_numpy(), confidence)
    gaps = gaps.reset_index()
    gaps.insert(2, "targeted", most)
    gaps.insert(3, "untargeted", least)
    return gaps


def loop_outcomes(loops: dict[str, LoopRun], most: str, least: str, seed: int
                  ) -> pd.DataFrame:
    """Where one draw of the loop ended, per correction: one row of runaway.csv.

    The loop runs away for a nationality when its rating in the last round is above zero:
    by then the records put its adverse-event rate more than ``rating_z`` standard errors
    above the overall rate, so the nationality alone raises its applicants' score.
    """
    rows = []
    for correction, result in loops.items():
        table = result.by_round.assign(nationality=result.by_round["nationality"].astype(str))
        first, last = table["round"].min(), table["round"].max()

        def rate(nationality: str, year: int, numerator: str, denominator: str,
                 table: pd.DataFrame = table) -> float:
            row = table[(table["nationality"] == nationality) & (table["round"] == year)]
            total = float(row[denominator].iloc[0])
            return float(row[numerator].iloc[0]) / total if total > 0 else float("nan")

        rating = result.model.nationality_rating_
        wrongful = {n: rate(n, last, "wrongful_refusals", "compliant") for n in (most, least)}
        rows.append({
            "system_seed": seed, "correction": correction, "targeted": most,
            "untargeted": least,
            "rating_targeted": float(rating.get(most, 0.0)),
            "rating_untargeted": float(rating.get(least, 0.0)),
            "runs_away_targeted": bool(rating.get(most, 0.0) > 0),
            "runs_away_untargeted": bool(rating.get(least, 0.0) > 0),
            "red_share_gap_first": rate(most, first, "red", "applicants")
            - rate(least, first, "red", "applicants"),
            "red_share_gap_last": rate(most, last, "red", "applicants")
            - rate(least, last, "red", "applicants"),
            "wrongful_refusal_rate_targeted_last": wrongful[most],
            "wrongful_refusal_rate_untargeted_last": wrongful[least],
            "wrongful_refusal_gap_last": wrongful[most] - wrongful[least],
        })
    return pd.DataFrame(rows)


def runaway_table(stacked: pd.DataFrame) -> pd.DataFrame:
    """runaway.csv: every replicate world's outcome, by correction, then by replicate."""
    order = {c: i for i, c in enumerate(dict.fromkeys(stacked["correction"]))}
    table = stacked.sort_values(["correction", "replicate"], key=lambda column: column.map(
        order) if column.name == "correction" else column, kind="stable")
    first = ["replicate", "system_seed", "correction"]
    return table[[*first, *(c for c in table.columns if c not in first)]].reset_index(drop=True)


def runaway_summary(worlds: pd.DataFrame, correction: str) -> dict[str, float]:
    """Over the replicate worlds of one correction: how many ran away for each nationality
    (with a Wilson interval of the targeted one's share), and the median, smallest and
    largest final gaps."""
    part = worlds[worlds["correction"] == correction]
    count, ran = len(part), int(part["runs_away_targeted"].sum())
    low, high = wilson_interval(np.array([ran]), np.array([count]), CONFIDENCE)
    summary: dict[str, float] = {
        "worlds": count, "targeted": ran, "untargeted": int(part["runs_away_untargeted"].sum()),
        "share": ran / count, "share_low": float(low[0]), "share_high": float(high[0])}
    for name in ("wrongful_refusal_gap_last", "red_share_gap_last"):
        values = part[name].to_numpy(dtype=float)
        summary |= {f"{name}_median": float(np.median(values)),
                    f"{name}_min": float(values.min()), f"{name}_max": float(values.max())}
    return summary


def runaway_summary_table(worlds: pd.DataFrame) -> pd.DataFrame:
    """runaway_summary.csv: :func:`runaway_summary` of each correction, one row each, which
    the headline's claims cite."""
    rows = []
    for correction in dict.fromkeys(worlds["correction"]):
        summary = runaway_summary(worlds, correction)
        rows.append({"correction": correction, "targeted": worlds["targeted"].iloc[0],
                     "untargeted": worlds["untargeted"].iloc[0], "worlds": summary["worlds"],
                     "ran_away_targeted": summary["targeted"],
                     "ran_away_untargeted": summary["untargeted"],
                     **{k: v for k, v in summary.items()
                        if k not in ("worlds", "targeted", "untargeted")}})
    return pd.DataFrame(rows)


def runaway_headline(summary: pd.DataFrame, settings: Settings,
                     ledger: Ledger | None = None) -> str:
    """The loop over replicate worlds in one quotable sentence: how often it ran away for the
    targeted nationality, how far the final gap spread, and the same for the untargeted
    nationality and without the loop. Every number is a claim on runaway_summary.csv
    (``summary``) or a setting, recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    rows = summary.set_index("correction", drop=False)
    loop = rows.loc["none"]
    most, least = loop["targeted"], loop["untargeted"]

    def cell(id: str, row: pd.Series, column: str, style: str = "count",
             unit: str = "replicate worlds", ci: tuple[str, str] | None = None) -> Claim:
        return ledger.add(from_row(id, row, source="runaway_summary.csv",
                                   keys=("correction",), value=column, ci=ci, n=None,
                                   style=style, unit=unit))

    def spread(prefix: str, row: pd.Series, name: str) -> tuple[str, list[Claim]]:
        parts = [cell(f"{prefix}.{name}_{which}", row, f"{name}_{which}",
                      style="signed_points1", unit="percentage points")
                 for which in ("median", "min", "max")]
        return (f"a median of {parts[0].text()} percentage points (smallest "
                f"{parts[1].text()}, largest {parts[2].text()})", parts)

    count = cell("runaway.worlds", loop, "worlds")
    ran = cell("runaway.targeted", loop, "ran_away_targeted")
    share = cell("runaway.share", loop, "share", style="percent0", unit="share of worlds",
                 ci=("share_low", "share_high"))
    level = ledger.add(setting("runaway.level", "tool.runaway_confidence", CONFIDENCE,
                               style="level", unit="confidence level"))
    last = ledger.add(setting("runaway.rounds", "config.system.rounds", settings.rounds,
                              style="count", unit="rounds"))
    z = ledger.add(setting("runaway.rating_z", "config.system.rating_z", settings.rating_z,
                           unit="standard errors"))
    wrongful, wrongful_claims = spread("runaway", loop, "wrongful_refusal_gap_last")
    red, red_claims = spread("runaway", loop, "red_share_gap_last")
    untargeted = cell("runaway.untargeted", loop, "ran_away_untargeted")
    claims = [count, ran, share, level, last, z, *wrongful_claims, *red_claims, untargeted]
    sentence = (
        f"Without correction, the loop ran away for {most}, the targeted nationality, in "
        f"{ran.text()} of {count.text()} replicate worlds ({share.text()}, {level.text()} "
        f"Wilson interval {share.interval(' to ')}): by round {last.text()} its recorded "
        f"adverse-event rate was more than {z.text()} standard errors above the overall "
        f"rate, so its nationality alone raised its applicants' score. Whether that happens "
        f"is a chance event of the loop's own draws, so how often it does is the finding. "
        f"Over the {count.text()} worlds, the gap to "
        f"{least} in wrongful refusals in round {last.text()} had {wrongful}, and in the share "
        f"streamed red {red}. For {least}, the untargeted nationality, the loop ran away in "
        f"{untargeted.text()} of {count.text()}"
    )
    if "random_checks" in rows.index:
        checks = rows.loc["random_checks"]
        checked = cell("runaway.random_checks.targeted", checks, "ran_away_targeted")
        checked_count = cell("runaway.random_checks.worlds", checks, "worlds")
        gap, gap_claims = spread("runaway.random_checks", checks, "wrongful_refusal_gap_last")
        claims += [checked, checked_count, *gap_claims]
        sentence += (f"; learning only from random checks, it ran away for {most} in "
                     f"{checked.text()} of {checked_count.text()}, and the wrongful-refusal "
                     f"gap had {gap}")
    return ledger.sentence(sentence + " (runaway.csv).", claims)


def runaway_blocks(summary: pd.DataFrame, settings: Settings) -> list[object]:
    """The report's section on the replicate worlds: what running away means, and how often
    the loop ran away under each setting (from runaway_summary.csv, the table the headline
    cites; runaway.csv has every world)."""
    most, least = summary["targeted"].iloc[0], summary["untargeted"].iloc[0]
    rows = []
    for _, row in summary.iterrows():
        rows.append([
            CORRECTION_TITLES[row["correction"]], f"{row['worlds']}",
            f"{row['ran_away_targeted']} ({100 * row['share']:.0f}%; "
            f"{100 * row['share_low']:.0f}% to {100 * row['share_high']:.0f}%)",
            f"{row['ran_away_untargeted']}",
            *(f"{_points(row[f'{name}_median'])} ({_points(row[f'{name}_min'])} to "
              f"{_points(row[f'{name}_max'])})"
              for name in ("wrongful_refusal_gap_last", "red_share_gap_last")),
        ])
    last = settings.rounds
    return [
        Heading("Does the loop run away? Replicate worlds"),
        Paragraph(
            "Whether the targeted nationality's rating crosses its threshold early is a "
            "chance event that the loop then amplifies (Ensign et al., 2018), so one world's "
            "gap, with an interval that covers only the draw of its applicants, is not the "
            "finding. The loop was run in several replicate worlds on the same applicants; "
            "each world redraws which of them form the history and apply in which year, and "
            "which applications are checked and what the checks find. The table counts the "
            "worlds in which the loop ran away (with a 95% Wilson interval of that share, "
            "which covers the worlds drawn, not the applicants) and gives the median, "
            "smallest and largest final gap over them; runaway.csv has every world. The "
            "round-by-round table and figure of the next section follow the first world."),
        Bullets([
            f"runs away: in round {last}, a nationality's rating is above zero, that is, "
            "the adverse events recorded by then put its rate more than "
            f"{settings.rating_z:g} standard errors (rating_z) above the overall rate, so "
            "its nationality alone raises its applicants' score",
            "replicate world: one draw of the loop's own randomness on the same applicants",
            f"final gap: {most}'s rate minus {least}'s in round {last}, in percentage points",
        ]),
        Table(["setting", "worlds", f"ran away for {most} (share; 95% interval)",
               f"ran away for {least}",
               f"wrongful-refusal gap, round {last}: median (smallest to largest)",
               f"red-share gap, round {last}: median (smallest to largest)"], rows,
              caption=f"The loop over replicate worlds: {most} (targeted) against {least} "
                      "(untargeted)."),
    ]


def loop_headline(by_round: pd.DataFrame, gaps: pd.DataFrame, most: str, least: str,
                  ledger: Ledger | None = None, confidence: float = 0.95) -> str:
    """The loop in one quotable finding: the red-share gap, first and last round, with and
    without the correction; every number a claim on loop_gap.csv or loop_by_round.csv,
    recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    first, last = gaps["round"].min(), gaps["round"].max()
    gap_keys, round_keys = ("correction", "round"), ("correction", "round", "nationality")

    def gap(id: str, correction: str, year: int) -> Claim:
        row = gaps[(gaps["correction"] == correction) & (gaps["round"] == year)].iloc[0]
        return ledger.add(from_row(id, row, source="loop_gap.csv", keys=gap_keys,
                                   value="red_share_gap", ci=("red_share_gap_ci_low",
                                                              "red_share_gap_ci_high"),
                                   n=None, style="signed_points1", unit="percentage points"))

    def share(id: str, nationality: str, year: int) -> Claim:
        row = by_round[(by_round["correction"] == "none") & (by_round["round"] == year)
                       & (by_round["nationality"] == nationality)].iloc[0]
        return ledger.add(from_row(id, row, source="loop_by_round.csv", keys=round_keys,
                                   value="red_share", ci=("red_share_ci_low",
                                                          "red_share_ci_high"),
                                   n="applicants", style="percent1"))

    level = ledger.add(setting("loop.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    start, end = gap("loop.gap_first", "none", first), gap("loop.gap_last", "none", last)
    most_first, most_last = share("loop.most_first", most, first), \
        share("loop.most_last", most, last)
    least_first, least_last = share("loop.least_first", least, first), \
        share("loop.least_last", least, last)
    rounds = [ledger.add(Claim(f"loop.round_{which}", float(value), unit="round",
                               source="loop_gap.csv",
                               source_row={"correction": "none", "round": int(value)},
                               style="count"))
              for which, value in (("first", first), ("last", last))]
    claims = [level, start, end, most_first, most_last, least_first, least_last, *rounds]

    def with_interval(c: Claim) -> str:
        return f"{c.text()} ({c.interval(' to ')})"

    sentence = (
        f"Over {rounds[1].text()} yearly rounds without correction, the share of applicants "
        f"from {most} streamed red went from {most_first.text()} to {most_last.text()}, and "
        f"from {least} from {least_first.text()} to {least_last.text()}. The gap between "
        f"them was {with_interval(start)} percentage points in round {rounds[0].text()} and "
        f"{with_interval(end)} in round {rounds[1].text()} ({level.text()} CIs; n = "
        f"{most_last.text('n')} and {least_last.text('n')} in round {rounds[1].text()})")
    if "random_checks" in set(gaps["correction"]):
        random = gap("loop.gap_random", "random_checks", last)
        claims.append(random)
        sentence += (f"; learning only from random checks, it was {with_interval(random)} in "
                     f"round {rounds[1].text()}")
    return ledger.sentence(sentence + ".", claims)


@literal_text
def plot_loop(by_round: pd.DataFrame, most: str, least: str, path: Path) -> Path:
    """Rates by round for the followed pair of nationalities, per correction."""
    styles = {"none": "-", "random_checks": "--", "inverse_scrutiny": ":"}
    colours = {most: "#b2182b", least: "#2166ac"}
    fig, axes = new_figure((13.5, 4.2), 1, 3, sharex=True)
    for axis, (name, _, _, words) in zip(axes, ROUND_RATES[:3], strict=True):
        for correction, style in styles.items():
            for nationality, colour in colours.items():
                rows = by_round[(by_round["correction"] == correction)
                                & (by_round["nationality"] == nationality)]
                if rows.empty:
                    continue
                x = rows["round"].to_numpy()
                axis.plot(x, 100 * rows[name], style, color=colour, marker="o", markersize=3,
                          label=f"{named_labels([nationality])[0]}, "
                                f"{CORRECTION_TITLES[correction]}")
                if correction == "none":
                    axis.fill_between(x, 100 * rows[f"{name}_ci_low"],
                                      100 * rows[f"{name}_ci_high"], color=colour, alpha=0.12,
                                      linewidth=0)
        axis.set_title(words[0].upper() + words[1:].split(" (")[0], fontsize=10)
        axis.set_xlabel("round (year)")
        axis.set_ylabel("%")
        axis.grid(color="#eeeeee")
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def _points(value: float) -> str:
    return f"{100 * value:+.1f}" if np.isfinite(value) else "—"


def _gap_text(row: pd.Series, name: str) -> str:
    """A difference in percentage points with its interval: ``+23.0 (+19.1 to +26.8)``."""
    return (f"{_points(row[f'{name}_gap'])} ({_points(row[f'{name}_gap_ci_low'])} to "
            f"{_points(row[f'{name}_gap_ci_high'])})")


def loop_blocks(
    gaps: pd.DataFrame, most: str, least: str, configured: str, figure: Path, directory: Path,
    confidence: float = CONFIDENCE,
) -> list[object]:
    """The report's section on the loop: what it does, the gap by round, the figure
    (intervals at ``confidence``)."""
    level = f"{100 * confidence:g}%"
    corrections = list(dict.fromkeys(gaps["correction"]))
    header = ["round", *[f"red-share gap, {CORRECTION_TITLES[c]}" for c in corrections],
              *[f"wrongful-refusal gap, {CORRECTION_TITLES[c]}" for c in corrections]]
    rows = []
    for year, part in gaps.groupby("round"):
        by_correction = part.set_index("correction")
        rows.append([str(year),
                     *[_gap_text(by_correction.loc[c], "red_share") for c in corrections],
                     *[_gap_text(by_correction.loc[c], "wrongful_refusal_rate")
                       for c in corrections]])
    first, last = gaps["round"].min(), gaps["round"].max()

    def at(correction: str, year: int) -> pd.Series:
        return gaps[(gaps["correction"] == correction) & (gaps["round"] == year)].iloc[0]

    sentences = [
        f"Without correction, the gap in the share streamed red between {most} (the "
        f"targeted nationality the experiment file names in advance) and {least} (the "
        f"untargeted one) was "
        f"{_gap_text(at('none', first), 'red_share')} percentage points in round {first} "
        f"and {_gap_text(at('none', last), 'red_share')} in round {last}."
    ]
    for correction in corrections:
        if correction != "none":
            sentences.append(
                f"With {CORRECTION_TITLES[correction]}, it was "
                f"{_gap_text(at(correction, last), 'red_share')} in round {last}.")
    return [
        Heading("The feedback loop, year by year"),
        Paragraph(
            "Each year, a new cohort of applicants is streamed by a score learned from the "
            "adverse events recorded so far. Red applications are refused and checked most "
            "often, green ones least, so the more a nationality is streamed red, the more of its "
            "adverse events (true and false) are written down, and the higher its rating the "
            "next year: the runaway feedback loop of Ensign et al. (2018). The audit above is of "
            f"the last round under the configured setting ({CORRECTION_TITLES[configured]}); "
            "here every setting is run on the same applicants from the same start (round 1 "
            "learns from the same history in each). Gaps are differences between the two "
            f"nationalities' rates, with {level} Newcombe intervals; loop_by_round.csv has every "
            "nationality, round and setting, loop_gap.csv these gaps. The last round's "
            "decision is three-way: stream_levels.csv gives each group's share streamed green, "
            "amber and red (Wilson intervals), and the cut-offs 'at least amber' and 'red' with "
            "each group's gap to the reference and its interval."
        ),
        Paragraph(" ".join(sentences)),
        Table(header, rows, caption=f"Gap between {most} and {least}, by round (percentage "
              f"points, {level} interval)."),
        Figure(figure, f"Share streamed red, wrongful refusal rate and recorded adverse-event "
               f"rate by round for {most} (targeted) and {least} (untargeted), the pair the "
               "experiment file names: "
               f"solid without correction (shaded: {level} Wilson interval), dashed learning from "
               "random checks, dotted with inverse-scrutiny weights.", relative_to=directory),
    ]


#: Design and data remedies as settings of this system (see experiments.engine.remedies): the
#: nationality rating dropped, and learning only from uniform random checks.
REMEDY_KNOBS = {
    "unawareness": lambda config: {"system.use_nationality": False},
    "random_audit_labels": lambda config: {"system.correction": "random_checks"},
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        ("threshold_equalized_odds", "threshold_demographic_parity",
         "reductions_equalized_odds", "reductions_demographic_parity", "reweighing"),
        "its score is relearned every round from the events its own streaming recorded; a "
        "remedy of one fitted model would be undone by the next round, and its own "
        "corrections (system.correction) are the remedies of the loop"),
    "remove_biased_list": "its nationality rating is the biased input; unawareness removes it",
    "raise_capacity": "its red share is not a capacity to act on but the share refused "
                      "scrutiny-free processing; raising it is no remedy",
}
