"""Adapter for the iBorderCtrl-style deception detector: draw a small pilot from the first
split, calibrate the threshold on it, interview the held-out travellers at the border, and
report the pilot's accuracy with its interval and what a flag is worth at the base rate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from scipy import special

from audit.figures import literal_text, new_figure, save_figure
from audit.intervals import wilson_interval
from audit.pooling import compare_intervals, pooled_ratio_text, ratio_summary, seed_interval
from audit.report import percent
from experiments.config import ConfigError, Strict, ints_as_floats, system_seed
from experiments.config.remedies import MODEL_REMEDIES
from experiments.systems.contract import Decisions, Hooks, SystemRun, Wording
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from synthetic.population import PopulationInputError, load_profile
from synthetic.population.columns import text_values
from synthetic.systems.iborderctrl import (
    CHANNELS,
    CUE_WEIGHTS,
    INTERPRETED,
    NOT_INTERPRETED,
    DeceptionDetector,
    DemeanourTables,
    demeanour,
    expected_precision,
    pilot_rows,
    true_deception,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: The person-level column this system derives, which groupings may name.
INTERPRETER_COLUMN = "interpreter"
DERIVED_COLUMNS = (INTERPRETER_COLUMN,)
PILOT_TABLE = "pilot"
PRECISION_TABLE = "precision_by_base_rate"
#: Stream of SeedSequence(seed) that draws the pilot and its instructed liars.
PILOT_STREAM = 31
#: The published lab figure: about 76% accuracy on 30 people (23 of 30 is the nearest count).
PUBLISHED_CORRECT, PUBLISHED_N = 23, 30
#: Base rates at which the report states what a flag is worth.
BASE_RATES = (0.5, 0.1, 0.01, 0.001, 0.0001)


class Settings(Strict):
    """The ``[system]`` table of an iborderctrl experiment."""

    base_rate: float = Field(default=0.001, gt=0, lt=1,
                             description="share of travellers truly deceiving at the border")
    pilot_size: int = Field(default=30, ge=4, le=20_000,
                            description="people in the pilot that calibrates the threshold")
    pilot_liar_share: float = Field(default=0.5, gt=0, lt=1,
                                    description="share of the pilot instructed to lie")
    pilot_region: str = Field(default="Europe and Central Asia",
                              description="region the unbalanced pilot is drawn from")
    pilot_balance: float = Field(
        default=0.0, ge=0, le=1,
        description="0 = pilot all from pilot_region without interpreters, 1 = like travellers")
    cultural_baselines: float = Field(default=1.0, ge=0, le=3,
                                      description="strength of the regions' display rules")
    interpreter_effect: float = Field(default=1.0, ge=0, le=3,
                                      description="strength of an interpreted interview's shift")
    setting_stress: float = Field(default=1.0, ge=0, le=3,
                                  description="strength of the stress of asking protection")
    truth_signal: float = Field(default=0.0, ge=0, le=5,
                                description="shift of deceivers along the cue direction (sd)")
    cue_weights: list[float] = Field(default=list(CUE_WEIGHTS), min_length=len(CHANNELS),
                                     max_length=len(CHANNELS),
                                     description=f"weights of {', '.join(CHANNELS)}")

    @field_validator("base_rate", "pilot_liar_share", "pilot_balance", "cultural_baselines",
                     "interpreter_effect", "setting_stress", "truth_signal", "cue_weights",
                     mode="before")
    @classmethod
    def _ints_are_floats(cls, value: Any) -> Any:
        return ints_as_floats(value)

    @field_validator("cue_weights")
    @classmethod
    def _some_weight(cls, value: list[float]) -> list[float]:
        if not any(value):
            raise ValueError("give at least one non-zero weight")
        return value


@dataclass
class Interviews:
    """One world's pilot, detector and border interviews of the held-out travellers."""

    detector: DeceptionDetector
    pilot: np.ndarray
    instructed: np.ndarray
    pilot_scores: np.ndarray
    deceptive: np.ndarray
    scores: np.ndarray
    flagged: np.ndarray


def demeanour_tables(config: ExperimentConfig) -> DemeanourTables:
    """The profile's demeanour baselines and interview languages, or a one-line ConfigError."""
    try:
        profile = load_profile(config.population.profile)
        return DemeanourTables.from_profile(profile.raw, profile.name)
    except (PopulationInputError, ValueError) as error:
        raise ConfigError(f"population.profile: {error}") from None


def interview(settings: Settings, people: pd.DataFrame, train: np.ndarray,
              tables: DemeanourTables, seed: int, pilot_seed: int | None = None
              ) -> Interviews:
    """Draw the pilot from the first split, calibrate, and interview the held-out people.

    ``seed`` draws the travellers' own truth and demeanour; ``pilot_seed`` (default: ``seed``)
    draws the pilot and its lab session, the system's own randomness that replicates redraw.
    """
    pilot_seed = seed if pilot_seed is None else pilot_seed
    rng = np.random.default_rng(np.random.SeedSequence([pilot_seed, PILOT_STREAM]))
    first = people.loc[train]
    try:
        rows = pilot_rows(first, tables, settings.pilot_size, settings.pilot_region,
                          settings.pilot_balance, rng)
    except ValueError as error:
        raise ConfigError(f"system.pilot_size: {error}") from None
    pilot = first.iloc[rows]
    n_liars = min(max(int(round(settings.pilot_liar_share * len(rows))), 1), len(rows) - 1)
    instructed = np.zeros(len(rows), dtype=bool)
    instructed[rng.permutation(len(rows))[:n_liars]] = True
    shifts = dict(cultural_baselines=settings.cultural_baselines,
                  interpreter_effect=settings.interpreter_effect,
                  setting_stress=settings.setting_stress, truth_signal=settings.truth_signal)
    detector = DeceptionDetector(tuple(settings.cue_weights))
    pilot_features = demeanour(pilot, tables, instructed, pilot_seed, setting="lab", **shifts)
    detector.fit(pilot_features, instructed)
    held = people.loc[~train]
    deceptive = true_deception(held, seed, settings.base_rate)
    features = demeanour(held, tables, deceptive, seed, setting="border", **shifts)
    scores = detector.score(features)
    return Interviews(detector, rows, instructed, detector.score(pilot_features), deceptive,
                      scores, scores >= detector.threshold_)


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Calibrate on the pilot and flag the held-out travellers.

    One row per held-out traveller: ``y_true`` is whether they truly deceive, ``decision``
    whether they were flagged, and ``y_recorded`` what the border's records hold: deception is
    only ever found among flagged travellers sent to a second-line check.
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    tables = demeanour_tables(config)
    if settings.pilot_region not in set(text_values(people["region_of_origin"])):
        raise ConfigError(f"system.pilot_region: {settings.pilot_region!r} is not a region of "
                          f"profile {config.population.profile!r}")
    pilot_seed = system_seed(config)
    result = interview(settings, people, train, tables, seed, pilot_seed)
    held = people.loc[~train]
    interpreted = tables.interpreted(held)
    groups = pd.DataFrame({c: held[c].to_numpy() for c in group_columns
                           if c != INTERPRETER_COLUMN})
    if INTERPRETER_COLUMN in group_columns:
        groups[INTERPRETER_COLUMN] = np.where(interpreted, INTERPRETED, NOT_INTERPRETED)
    decisions = groups[group_columns].assign(
        y_true=result.deceptive,
        y_recorded=result.deceptive & result.flagged,
        decision=result.flagged,
        score=special.ndtr(result.scores),  # the score mapped to [0, 1], not a probability
    )
    pilot = pilot_table(result, settings, config.audit.confidence)
    precision = precision_table(result, settings, config.audit.confidence)
    ledger = Ledger()

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # Each world draws the same pilot and the same people's noise; only shifts change.
        return {"decision": interview(world.system_settings(), world_people, train, tables,
                                      seed, pilot_seed).flagged}

    def write_extras(directory: Path) -> list[object]:
        return report_section(directory, pilot, precision, result, held, interpreted,
                              settings, config.audit.confidence)

    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "pilot_people": int(len(result.pilot)),
                "pilot_instructed_to_lie": int(result.instructed.sum()),
                "pilot_accuracy": result.detector.pilot_accuracy_,
                "threshold": result.detector.threshold_,
                "held_out_people": int(len(held)),
                "held_out_deceivers": int(result.deceptive.sum()),
            },
            extra_tables={PILOT_TABLE: pilot, PRECISION_TABLE: precision},
        ),
        wording=Wording(
            card=DeceptionDetector.card(),
            decision_label="flagged as deceptive",
            error_phrase="flagged as deceptive though they told the truth",
            negative_phrase="telling the truth",
            headlines=pilot_headlines(pilot, precision, settings, ledger,
                                      config.audit.confidence),
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_twins=None,
            decide_world=decide_world,
        ),
    )


def _composition(settings: Settings) -> str:
    if settings.pilot_balance == 0:
        return f"all from {settings.pilot_region}, interviewed without an interpreter"
    if settings.pilot_balance == 1:
        return "drawn like the travellers"
    return (f"{100 * (1 - settings.pilot_balance):.0f}% from {settings.pilot_region} without "
            "an interpreter, the rest drawn like the travellers")


def pilot_table(result: Interviews, settings: Settings, confidence: float = 0.95
                ) -> pd.DataFrame:
    """This run's pilot accuracy and the published lab figure, each with a Wilson interval."""
    correct = np.array([result.detector.pilot_correct_, PUBLISHED_CORRECT])
    n = np.array([result.detector.pilot_size_, PUBLISHED_N])
    low, high = wilson_interval(correct, n, confidence)
    return pd.DataFrame({
        "pilot": ["this run", "published lab study"],
        "people": n,
        "instructed_to_lie": [int(result.instructed.sum()), np.nan],
        "correct": correct,
        "accuracy": correct / n,
        "ci_low": low,
        "ci_high": high,
        "composition": [_composition(settings),
            "about 30 volunteers in a lab study; about 76% accuracy reported (23 of 30 is the "
            "nearest count)",
        ],
    })


def precision_table(result: Interviews, settings: Settings, confidence: float = 0.95
                    ) -> pd.DataFrame:
    """What a flag is worth at several base rates, by Bayes' rule.

    Two detectors: this run's, with the true and false positive rates measured on the
    held-out travellers (Wilson intervals), and a detector whose sensitivity and specificity
    both equal the published lab accuracy. Bounds pair the rates' interval ends (highest true
    positive rate with lowest false positive rate, and the reverse); each rate's interval has
    the stated coverage, so the pair holds with at least ``2 * confidence - 1``.
    """
    deceptive, flagged = result.deceptive, result.flagged
    hits, liars = int((flagged & deceptive).sum()), int(deceptive.sum())
    false, truthful = int((flagged & ~deceptive).sum()), int((~deceptive).sum())
    tpr_low, tpr_high = wilson_interval(np.array(hits), np.array(liars), confidence)
    fpr_low, fpr_high = wilson_interval(np.array(false), np.array(truthful), confidence)
    lab_low, lab_high = wilson_interval(np.array(PUBLISHED_CORRECT), np.array(PUBLISHED_N),
                                        confidence)
    lab = PUBLISHED_CORRECT / PUBLISHED_N
    rates = np.array(sorted({*BASE_RATES, settings.base_rate}, reverse=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = hits / liars if liars else np.nan
        fpr = false / truthful if truthful else np.nan
    rows = pd.DataFrame({
        "base_rate": np.concatenate([rates, rates]),
        "detector": ["this run"] * len(rates) + ["lab accuracy as sensitivity and specificity"]
        * len(rates),
        "tpr": np.r_[np.full(len(rates), tpr), np.full(len(rates), lab)],
        "fpr": np.r_[np.full(len(rates), fpr), np.full(len(rates), 1 - lab)],
        "precision": np.r_[expected_precision(tpr, fpr, rates),
                           expected_precision(lab, 1 - lab, rates)],
        "precision_low": np.r_[expected_precision(tpr_low, fpr_high, rates),
                               expected_precision(lab_low, 1 - lab_low, rates)],
        "precision_high": np.r_[expected_precision(tpr_high, fpr_low, rates),
                                expected_precision(lab_high, 1 - lab_high, rates)],
        "deceivers_measured": [liars] * len(rates) + [np.nan] * len(rates),
        "truthful_measured": [truthful] * len(rates) + [np.nan] * len(rates),
    })
    return rows


def _rate_words(rate: float) -> str:
    return f"1 in {round(1 / rate):,}" if rate < 0.5 else f"{100 * rate:g}%"


def pilot_headlines(pilot: pd.DataFrame, precision: pd.DataFrame, settings: Settings,
                    ledger: Ledger | None = None, confidence: float = 0.95) -> list[str]:
    """Two findings: what the pilot's accuracy says, and what a flag is worth at the base
    rate. Every number is a claim on pilot.csv, precision_by_base_rate.csv or a setting,
    recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    pilot_file, precision_file = f"{PILOT_TABLE}.csv", f"{PRECISION_TABLE}.csv"
    own, published = pilot.iloc[0], pilot.iloc[1]

    def pilot_claim(id: str, row: pd.Series, column: str, style: str = "count",
                    unit: str = "people") -> Claim:
        return ledger.add(from_row(id, row, source=pilot_file, keys=("pilot",), value=column,
                                   ci=None, n=None, style=style, unit=unit))

    level = ledger.add(setting("pilot.level", "config.audit.confidence", confidence,
                               style="level", unit="confidence level"))
    accuracy = ledger.add(from_row("pilot.accuracy", own, source=pilot_file, keys=("pilot",),
                                   value="accuracy", n="people", style="percent1",
                                   unit="share"))
    lied, correct = (pilot_claim("pilot.instructed_to_lie", own, "instructed_to_lie"),
                     pilot_claim("pilot.correct", own, "correct"))
    chance_claim = ledger.add(setting("pilot.chance", "tool.chance_accuracy", 0.5,
                                      style="percent0", unit="share"))
    lab = ledger.add(setting("pilot.published_accuracy", "tool.published_accuracy", 0.76,
                             style="percent0", unit="share"))
    lab_row = ledger.add(from_row("pilot.published", published, source=pilot_file,
                                  keys=("pilot",), value="accuracy", n="people",
                                  style="percent1", unit="share"))
    lab_correct = pilot_claim("pilot.published_correct", published, "correct")
    chance = "includes" if own["ci_low"] <= 0.5 <= own["ci_high"] else "excludes"
    first = ledger.sentence(
        f"The lie detector, set on a pilot of {accuracy.text('n')} people ({lied.text()} told "
        f"to lie), judged {correct.text()} of them correctly: {accuracy.text()}, an accuracy "
        f"whose {level.text()} interval {accuracy.interval()} {chance} the "
        f"{chance_claim.text()} of a coin toss. The published lab figure of about "
        f"{lab.text()} rests on {lab_row.text('n')} people ({lab_correct.text()} of "
        f"{lab_row.text('n')} correct; {level.text()} Wilson interval "
        f"{lab_row.interval()}).",
        [level, accuracy, lied, correct, chance_claim, lab, lab_row, lab_correct])
    found = [first]
    at = precision[np.isclose(precision["base_rate"], settings.base_rate)]
    run, lab_at = at.iloc[0], at.iloc[1]
    if np.isfinite(run["precision"]):
        keys = ("base_rate", "detector")

        def bound(id: str, row: pd.Series) -> Claim:
            return ledger.add(from_row(
                id, row, source=precision_file, keys=keys, value="precision",
                ci=("precision_low", "precision_high"), n=None, style="percent",
                unit="share", interval_kind="bounds with stated confidence"))

        def measured(id: str, value: str, n: str) -> Claim:
            return ledger.add(from_row(id, run, source=precision_file, keys=keys,
                                       value=value, ci=None, n=n, style="percent1",
                                       unit="share"))

        base = ledger.add(setting("precision.base_rate", "config.system.base_rate",
                                  settings.base_rate, style="one_in", unit="share"))
        joint = ledger.add(setting("precision.joint_level", "config.audit.confidence",
                                   confidence, style="joint_level",
                                   unit="confidence level"))
        tpr, fpr = (measured("precision.tpr", "tpr", "deceivers_measured"),
                    measured("precision.fpr", "fpr", "truthful_measured"))
        share, lab_share = bound("precision.this_run", run), bound("precision.lab", lab_at)
        lab_accuracy = ledger.add(from_row("precision.lab_accuracy", lab_at,
                                           source=precision_file, keys=keys, value="tpr",
                                           ci=None, n=None, style="percent1", unit="share"))
        found.append(ledger.sentence(
            f"If {base.text()} travellers lied, {share.text()} of this detector's flags would "
            f"fall on liars, and most flags on people telling the truth. Bayes' rule on this "
            f"run's measured rates (flags for {tpr.text()} of {tpr.text('n')} liars and "
            f"{fpr.text()} of {fpr.text('n')} truthful travellers) puts the share at "
            f"{share.text()}, between {share.interval(' and ')} with at least {joint.text()} "
            f"confidence; a detector whose sensitivity and specificity both equalled the "
            f"lab's {lab_accuracy.text()} would be right in {lab_share.text()} of its flags "
            f"(between {lab_share.interval(' and ')} with at least {joint.text()} "
            "confidence).",
            [base, joint, tpr, fpr, share, lab_share, lab_accuracy]))
    return found


def report_section(directory: Path, pilot: pd.DataFrame, precision: pd.DataFrame,
                   result: Interviews, held: pd.DataFrame, interpreted: np.ndarray,
                   settings: Settings, confidence: float) -> list[object]:
    """Report blocks: the pilot, precision by base rate, scores by group, a figure."""
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("The pilot, and what a flag is worth"),
        Paragraph(
            "The detector combines six channels of a camera-based interview with the vendor's "
            "cue weights and flags a traveller whose score reaches one threshold. That "
            f"threshold was set on a pilot of {len(result.pilot)} people drawn from the first "
            f"split, {int(result.instructed.sum())} of them instructed to lie, so that the "
            "pilot's flags number its liars. In this world the channels carry "
            + ("no trace of deception" if settings.truth_signal == 0 else
               f"a trace of deception of {settings.truth_signal:g} standard units")
            + ". Accuracies carry "
            f"{level} Wilson intervals."
        ),
        Table(["pilot", "people", "instructed to lie", "correct", f"accuracy ({level} CI)",
               "composition"],
              [[r["pilot"], f"{int(r['people'])}",
                "—" if not np.isfinite(r["instructed_to_lie"]) else
                f"{int(r['instructed_to_lie'])}", f"{int(r['correct'])}",
                f"{percent(r['accuracy'])} ({percent(r['ci_low'])}–{percent(r['ci_high'])})",
                r["composition"]] for _, r in pilot.iterrows()]),
        Paragraph(
            "Share of flags that fall on deceivers at several base rates, by Bayes' rule: for "
            "this run's detector, from the true and false positive rates measured on the "
            "held-out travellers; for a detector whose sensitivity and specificity both "
            "equal the lab's accuracy, from that accuracy. Bounds pair the ends of the two "
            f"rates' {level} Wilson intervals, so they hold with at least "
            f"{100 * (2 * confidence - 1):.0f}% confidence. Every value is in "
            f"{PRECISION_TABLE}.csv."
        ),
        Table(["base rate of deceivers", "detector", "flags that fall on deceivers (bounds)"],
              [[_rate_words(r["base_rate"]), r["detector"],
                f"{percent(r['precision'], 2)} ({percent(r['precision_low'], 2)}–"
                f"{percent(r['precision_high'], 2)})"] for _, r in precision.iterrows()]),
    ]
    truthful = ~result.deceptive
    frame = pd.DataFrame({
        "region": text_values(held["region_of_origin"])[truthful],
        "interview": np.where(interpreted, INTERPRETED, NOT_INTERPRETED)[truthful],
        "score": result.scores[truthful], "flagged": result.flagged[truthful]})
    rows = []
    for column in ("region", "interview"):
        for group, part in frame.groupby(column, sort=True):
            low, high = wilson_interval(np.array(int(part["flagged"].sum())),
                                        np.array(len(part)), confidence)
            rows.append([column, group, f"{len(part):,}", f"{part['score'].mean():+.2f}",
                         f"{percent(part['flagged'].mean())} ({percent(low)}–{percent(high)})"])
    blocks += [
        Heading("Why truthful travellers are flagged unequally", 3),
        Paragraph(
            f"Truthful held-out travellers only. Each person's own noise moves their score "
            f"with a standard deviation of 1, so a group's mean score varies by about 1/√n "
            f"from chance; the threshold is {result.detector.threshold_:+.2f}. A group whose "
            "display rules, "
            "interpreted interview or fear of the setting raise the channels the vendor reads "
            "as cues is flagged more, though none of it has to do with lying."
        ),
        Table(["by", "group", "truthful travellers", "mean score",
               f"flagged ({level} Wilson CI)"], rows),
    ]
    path = plot_scores(frame, result.detector.threshold_,
                       directory / "figures" / "deception_scores.png")
    blocks.append(Figure(path, (
        "Distribution of the deception score of truthful held-out travellers by region of "
        "origin, with the threshold calibrated on the pilot (dashed)."), relative_to=directory))
    return blocks


@literal_text
def plot_scores(frame: pd.DataFrame, threshold: float, path: Path) -> Path:
    """Score densities of truthful travellers per region, and the threshold."""
    fig, axis = new_figure((7, 4))
    bins = np.linspace(-4.5, 6.5, 56)
    for region, part in frame.groupby("region", sort=True):
        axis.hist(part["score"], bins=bins, density=True, histtype="step", linewidth=1.4,
                  label=f"{region} (n = {len(part):,})")
    axis.axvline(threshold, color="#444444", linestyle="--", linewidth=1, label="threshold")
    axis.set_xlabel("deception score (truthful travellers)")
    axis.set_ylabel("density")
    axis.set_title("Truthful travellers' scores against the pilot's threshold", fontsize=10)
    axis.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


#: Grid keys of the base-rate sweep.
BASE_RATE_KEY, PILOT_SIZE_KEY = "system.base_rate", "system.pilot_size"


def base_rate_answer(config: ExperimentConfig, summary: pd.DataFrame) -> str:
    """The base-rate sweep's answer (``sweep.answer = "base_rate"``), in words.

    Every figure is a mean over the sweep's seeds; intervals are Student t over the seeds
    (:func:`audit.pooling.seed_interval`), and a difference is stated only where
    the intervals it compares are apart.
    """
    sweep = config.sweep
    keys = [k for k in (BASE_RATE_KEY, PILOT_SIZE_KEY) if k in sweep.grid]
    if BASE_RATE_KEY not in keys:
        return ("This analysis needs system.base_rate in sweep.grid; add it (and "
                "system.pilot_size) to the grid.")
    group = sweep.focus_group
    rows = summary[(summary["view"] == "true") & (summary["grouping"] == sweep.focus_grouping)
                   & (summary["group"] == group)]
    if rows.empty:
        return (f"The focus ({sweep.focus_grouping} = {group}) did not occur in the results; "
                "check sweep.focus_grouping and sweep.focus_group.")
    ppv = rows[rows["metric"] == "ppv"].sort_values(keys, ascending=[False, True][:len(keys)])
    parts, below_half = [], {}
    for _, r in ppv.iterrows():
        low, high = seed_interval(r["value_mean"], r["value_sd"], int(r["seeds"]))
        low, high = max(low, 0.0), min(high, 1.0)  # a share: the t interval clipped to [0, 1]
        where = f"base rate {_rate_words(r[BASE_RATE_KEY])}"
        if PILOT_SIZE_KEY in keys:
            where += f", pilot {int(r[PILOT_SIZE_KEY])}"
        bounds = (f" ({percent(low, 2)}–{percent(high, 2)})"
                  if np.isfinite(low) and np.isfinite(high) else " (interval withheld: "
                  "fewer than two seeds)")
        parts.append(f"{where}: {percent(r['value_mean'], 2)}{bounds}")
        rate = float(r[BASE_RATE_KEY])
        below_half[rate] = below_half.get(rate, True) and bool(np.isfinite(high) and high < 0.5)
    text = (f"Share of flags on travellers from {group} that fell on deceivers (precision), mean "
            f"over {len(sweep.seeds)} seeds with a 95% interval over seeds (Student t, "
            "clipped to 0–100%): "
            + "; ".join(parts) + ". ")
    # The largest base rate at and below which every grid point's interval lies under 50%.
    rarest_first = sorted(below_half)
    qualifying = [rate for i, rate in enumerate(rarest_first)
                  if all(below_half[r] for r in rarest_first[:i + 1])]
    if qualifying:
        text += (f"At every base rate of {_rate_words(max(qualifying))} or rarer in the grid, "
                 "the whole interval lies below 50% at every pilot size: most flags fall on "
                 "truthful travellers. ")
    else:
        text += "No base rate in the grid gives an interval wholly below 50%. "
    if PILOT_SIZE_KEY in keys:
        ratios = ratio_summary(rows[rows["metric"] == sweep.focus_metric], [PILOT_SIZE_KEY],
                                "true")
        if len(ratios) >= 2:
            verdict = {
                "lower": "the ratio is smaller with the largest pilot than with the smallest",
                "higher": "the ratio is larger with the largest pilot than with the smallest",
                "cannot tell": ("the seeds cannot tell the ratio with the largest pilot from "
                                "the one with the smallest: no sign that a larger pilot removes "
                                "the disparity, as expected when the pilot sets only a "
                                "threshold"),
            }[compare_intervals(ratios.iloc[-1], ratios.iloc[0])]
            text += (f"The ratio of {group}'s false positive rate to the reference group's, "
                     "averaged over the base rates: "
                     + "; ".join(f"pilot {int(size)}: {pooled_ratio_text(r)}"
                                 for size, r in ratios.iterrows())
                     + f"; {verdict}.")
    return text.strip()


#: Remedies this system cannot take, and why (see experiments.engine.remedies).
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its deception score is calibrated on a small pilot of cue measurements with no relation "
        "to truth; a remedy of the score cannot find a signal that is not there"),
    "raise_capacity": "it flags every traveller over its threshold; it has no capacity",
    "remove_biased_list": "it keeps no list; its cultural baselines are in the cues themselves",
}


#: This system's own sweep answers, by ``sweep.answer`` name (read by the sweep report).
SWEEP_ANSWERS = {"base_rate": base_rate_answer}
