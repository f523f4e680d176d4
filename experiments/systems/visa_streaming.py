"""Adapter for UK-style visa streaming with a feedback loop: run the yearly rounds under the
configured correction and the others, hand the last round's decisions to the runner's audit,
and add the round-by-round tables, the loop's gap and its figure to the report.

The runner's train/held-out split is not used: in a feedback loop the training data are the
system's own records of earlier rounds. The population is split instead into ``rounds + 1``
cohorts by a seeded uniform per person (cohort 0 is the history before the first round,
cohort ``r`` applies in round ``r``); the audited decisions are those of the last round.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from audit.figures import save_figure  # also selects the file-only matplotlib backend
from audit.intervals import wilson_interval
from experiments.config import Strict
from experiments.document import Figure, Heading, Paragraph, Table
from experiments.systems.base import SystemRun
from synthetic.systems.visa_streaming import (
    CORRECTIONS,
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
    min_applicants: int = Field(
        default=100, ge=1, description="last-round applicants a nationality needs to be named "
        "most or least scrutinised")

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

    ``train`` is not used (see the module docstring).
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    cohort = assign_cohorts(len(people), settings.rounds, seed)
    skipped = people["visa_type"].astype(str).isin(settings.skip_visa_types).to_numpy()
    cohort[skipped] = -1
    sizes = np.bincount(cohort[cohort >= 0], minlength=settings.rounds + 1)
    if sizes.min() < 50:
        raise ValueError(
            f"a cohort has only {sizes.min()} applicants; enlarge population.size or lower "
            "system.rounds")
    noise = CheckNoise.draw(len(people), seed)
    loop = FeedbackLoop(
        rounds=settings.rounds, red_share=settings.red_share, amber_share=settings.amber_share,
        scrutiny=Scrutiny(
            check_red=settings.check_red, check_amber=settings.check_amber,
            check_green=settings.check_green, sensitivity=settings.sensitivity,
            false_event_rate=settings.false_event_rate, audit_share=settings.audit_share,
        ),
        memory=settings.memory, use_nationality=settings.use_nationality,
        rating_z=settings.rating_z, relearn=settings.relearn,
    )
    corrections = [settings.correction, *(c for c in CORRECTIONS if c != settings.correction)]
    if min(settings.check_red, settings.check_amber, settings.check_green) <= 0:
        corrections.remove("inverse_scrutiny")  # undefined weights: run the others only
    loops = {correction: loop.run(people, cohort, noise, correction)
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
        return loop.screen(model, twins.iloc[rows], noise.take(rows), settings.correction,
                           cut_offs=cut_offs).refused

    by_round = round_table(loops)
    most, least = most_and_least_scrutinised(loops["none"], settings.min_applicants)
    gaps = gap_table(by_round, most, least)
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
        "most_scrutinised": most,
        "least_scrutinised": least,
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

    found = [loop_headline(by_round, gaps, most, least)]

    def write_extras(staging: Path) -> list[object]:
        path = plot_loop(by_round, most, least, staging / "figures" / "visa_streaming_loop.png")
        return loop_blocks(gaps, most, least, settings.correction, path, staging)

    # System-specific headlines go through SystemRun.headlines where the runner has it.
    extra = {"headlines": found} if "headlines" in SystemRun.__dataclass_fields__ else {}
    return SystemRun(
        **extra,
        decisions=decisions,
        card=VisaStreamer.card(),
        decide_twins=decide_twins,
        details=details,
        decision_label="refused",
        error_phrase=("refused in error (though they would have complied with their visa and "
                      "the law)"),
        negative_phrase="who would have complied",
        extra_tables={"loop_by_round": by_round, "loop_gap": gaps},
        write_extras=write_extras,
    )


def round_table(loops: dict[str, LoopRun]) -> pd.DataFrame:
    """Per correction, round and nationality: counts, rates and 95% Wilson intervals."""
    table = pd.concat([r.by_round.assign(correction=c) for c, r in loops.items()],
                      ignore_index=True)
    table = table[["correction", *[c for c in table.columns if c != "correction"]]]
    table["nationality"] = table["nationality"].astype(str)
    for name, numerator, denominator, _ in ROUND_RATES:
        successes, trials = table[numerator].to_numpy(), table[denominator].to_numpy()
        table[name] = np.divide(successes, trials, out=np.full(len(table), np.nan),
                                where=trials > 0)
        table[f"{name}_ci_low"], table[f"{name}_ci_high"] = wilson_interval(
            successes, trials, CONFIDENCE)
    return table


def most_and_least_scrutinised(uncorrected: LoopRun, min_applicants: int) -> tuple[str, str]:
    """Nationalities with the highest and lowest share streamed red in the last round of the
    uncorrected loop, among those with at least ``min_applicants`` applicants in it."""
    rows = uncorrected.by_round
    last = rows[(rows["round"] == rows["round"].max()) & (rows["applicants"] >= min_applicants)]
    if len(last) < 2:
        raise ValueError(
            f"fewer than two nationalities have {min_applicants} applicants in the last round; "
            "enlarge population.size or lower system.min_applicants")
    share = last["red"] / last["applicants"]
    nationality = last["nationality"]
    return str(nationality[share.idxmax()]), str(nationality[share.idxmin()])


def gap_table(by_round: pd.DataFrame, most: str, least: str) -> pd.DataFrame:
    """Per correction and round: each rate's difference between the most and the least
    scrutinised nationality, with a 95% Newcombe (hybrid Wilson score) interval."""
    keys = ["correction", "round"]
    high = by_round[by_round["nationality"] == most].set_index(keys)
    low = by_round[by_round["nationality"] == least].set_index(keys)
    gaps = pd.DataFrame(index=high.index)
    for name, *_ in ROUND_RATES[:3]:
        p1, l1, u1 = (high[f"{name}{s}"] for s in ("", "_ci_low", "_ci_high"))
        p2, l2, u2 = (low[f"{name}{s}"] for s in ("", "_ci_low", "_ci_high"))
        gaps[f"{name}_{most}"] = p1
        gaps[f"{name}_{least}"] = p2
        gaps[f"{name}_gap"] = p1 - p2
        gaps[f"{name}_gap_ci_low"] = p1 - p2 - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        gaps[f"{name}_gap_ci_high"] = p1 - p2 + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    gaps = gaps.reset_index()
    gaps.insert(2, "most_scrutinised", most)
    gaps.insert(3, "least_scrutinised", least)
    return gaps


def loop_headline(by_round: pd.DataFrame, gaps: pd.DataFrame, most: str, least: str) -> str:
    """The loop in one quotable sentence: the red-share gap, first and last round, with and
    without the correction."""
    first, last = gaps["round"].min(), gaps["round"].max()

    def gap(correction: str, year: int) -> pd.Series:
        return gaps[(gaps["correction"] == correction) & (gaps["round"] == year)].iloc[0]

    def size(nationality: str) -> int:
        rows = by_round[(by_round["correction"] == "none") & (by_round["round"] == last)
                        & (by_round["nationality"] == nationality)]
        return int(rows["applicants"].iloc[0])

    start, end = gap("none", first), gap("none", last)
    sentence = (
        f"Over {last} yearly rounds without correction, the share of applicants from {most} "
        f"streamed red went from {100 * start[f'red_share_{most}']:.1f}% to "
        f"{100 * end[f'red_share_{most}']:.1f}% and from {least} from "
        f"{100 * start[f'red_share_{least}']:.1f}% to {100 * end[f'red_share_{least}']:.1f}%: a "
        f"gap of {_gap_text(start, 'red_share')} percentage points in round {first} and "
        f"{_gap_text(end, 'red_share')} in round {last} (95% CI; n = {size(most):,} and "
        f"{size(least):,} in round {last})"
    )
    if "random_checks" in set(gaps["correction"]):
        sentence += (f"; learning only from random checks, it was "
                     f"{_gap_text(gap('random_checks', last), 'red_share')} in round {last}")
    return sentence + "."


def plot_loop(by_round: pd.DataFrame, most: str, least: str, path: Path) -> Path:
    """Rates by round for the most and least scrutinised nationalities, per correction."""
    styles = {"none": "-", "random_checks": "--", "inverse_scrutiny": ":"}
    colours = {most: "#b2182b", least: "#2166ac"}
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), sharex=True)
    for axis, (name, _, _, words) in zip(axes, ROUND_RATES[:3], strict=True):
        for correction, style in styles.items():
            for nationality, colour in colours.items():
                rows = by_round[(by_round["correction"] == correction)
                                & (by_round["nationality"] == nationality)]
                if rows.empty:
                    continue
                x = rows["round"].to_numpy()
                axis.plot(x, 100 * rows[name], style, color=colour, marker="o", markersize=3,
                          label=f"{nationality}, {CORRECTION_TITLES[correction]}")
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
    gaps: pd.DataFrame, most: str, least: str, configured: str, figure: Path, directory: Path
) -> list[object]:
    """The report's section on the loop: what it does, the gap by round, the figure."""
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
        f"Without correction, the gap in the share streamed red between {most} (the most "
        f"scrutinised nationality in the last round) and {least} (the least) was "
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
            "nationalities' rates, with 95% Newcombe intervals; loop_by_round.csv has every "
            "nationality, round and setting, loop_gap.csv these gaps."
        ),
        Paragraph(" ".join(sentences)),
        Table(header, rows, caption=f"Gap between {most} and {least}, by round (percentage "
              "points, 95% interval)."),
        Figure(figure, f"Share streamed red, wrongful refusal rate and recorded adverse-event "
               f"rate by round for {most} (most scrutinised) and {least} (least scrutinised): "
               "solid without correction (shaded: 95% Wilson interval), dashed learning from "
               "random checks, dotted with inverse-scrutiny weights.", relative_to=directory),
    ]
