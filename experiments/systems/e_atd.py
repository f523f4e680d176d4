"""Adapter for the electronic alternative-to-detention check-in system: calibrate the voice
threshold on the first split's calls, run every person's check-in schedule, audit people
(wrongful violations) and check-ins (false rejections, violations per person, clustered by
person), and export every person's recorded violations for other experiments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from audit import audit
from audit.figures import literal_text, new_figure, save_figure
from audit.report import percent
from experiments.config import ConfigError, Strict, ints_as_floats
from experiments.config.remedies import MODEL_REMEDIES
from experiments.systems.composition import strata_words
from experiments.systems.contract import Decisions, Hooks, SystemRun, Wording
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from experiments.writing.names import named_labels
from synthetic.population import PopulationInputError, load_profile
from synthetic.systems.e_atd import (
    VIOLATIONS_COLUMN,
    CheckInNoise,
    CheckIns,
    CheckInVerifier,
    SpeechTables,
    simulate_checkins,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

#: The person-level column this system derives, which groupings may name.
ACCENT_COLUMN = "accent_group"
DERIVED_COLUMNS = (ACCENT_COLUMN,)
#: Extra tables: per-group check-in rates, and the exported violations of every person.
CHECKIN_TABLE = "checkin_rates"
EXPORT_TABLE = "atd_violations"
#: Largest number of retries the draws are made for (a world may use fewer).
MAX_RETRIES = 9


class Settings(Strict):
    """The ``[system]`` table of an e-atd experiment."""

    n_checkins: int = Field(default=26, ge=1, le=104,
                            description="scheduled check-ins over the period (weekly: 26)")
    retries: int = Field(default=2, ge=0, le=MAX_RETRIES,
                         description="attempts allowed after a rejected one before a check-in "
                                     "is recorded as missed")
    representation: float = Field(
        default=0.0, ge=0, le=1,
        description="voice model's training mix: 0 = vendor shares, 1 = accent groups alike")
    accent_gap: float = Field(default=0.2, ge=0, le=2,
                              description="voice score drop per unit of under-representation")
    asr_accent_gap: float = Field(
        default=0.2, ge=0, le=2,
        description="speech recognition failure rise (probit) per unit of under-representation")
    conditions_effect: float = Field(
        default=0.5, ge=0, le=3, description="voice and recognition penalty per unit of noise")
    face_tone_gap: float = Field(
        default=0.8, ge=0, le=3,
        description="selfie false non-match rise (probit) from skin tone 1 to 10")
    target_frr: float = Field(default=0.03, gt=0, lt=0.5,
                              description="voice check's first-attempt rejection on calibration")
    asr_failure: float = Field(default=0.005, gt=0, lt=0.5)
    face_frr: float = Field(default=0.005, gt=0, lt=0.5)
    person_sd: float = Field(default=0.5, ge=0, le=3,
                             description="spread of voices against enrolment, per person")

    @field_validator("representation", "accent_gap", "asr_accent_gap", "conditions_effect",
                     "face_tone_gap", "target_frr", "asr_failure", "face_frr", "person_sd",
                     mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return ints_as_floats(value)


def _verifier(settings: Settings, seed: int) -> CheckInVerifier:
    return CheckInVerifier(
        representation=settings.representation, accent_gap=settings.accent_gap,
        asr_accent_gap=settings.asr_accent_gap, conditions_effect=settings.conditions_effect,
        face_tone_gap=settings.face_tone_gap, target_frr=settings.target_frr,
        asr_failure=settings.asr_failure, face_frr=settings.face_frr,
        person_sd=settings.person_sd, random_state=seed)


def speech_tables(config: ExperimentConfig) -> SpeechTables:
    """The profile's speech varieties and recording conditions, or a one-line ConfigError."""
    try:
        profile = load_profile(config.population.profile)
        return SpeechTables.from_profile(profile.raw, profile.name)
    except (PopulationInputError, ValueError) as error:
        raise ConfigError(f"population.profile: {error}") from None


def group_frame(people: pd.DataFrame, columns: list[str], accent: np.ndarray) -> pd.DataFrame:
    """The grouping columns of ``people``, the derived accent group included."""
    frame = pd.DataFrame({c: people[c].to_numpy() for c in columns if c != ACCENT_COLUMN})
    if ACCENT_COLUMN in columns:
        frame[ACCENT_COLUMN] = pd.Categorical(accent)
    return frame[columns]


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Run every person's check-ins; audit the held-out people and their check-ins.

    The decisions frame has one row per held-out person: ``y_true`` is whether they truly
    missed at least one check-in, ``decision`` whether at least one violation was recorded,
    and ``y_recorded`` what the agency's records say: the recorded violation itself.
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    speech = speech_tables(config)
    verifier = _verifier(settings, seed).fit(people.loc[train], speech)
    # Everyone checks in, the calibration split too: the export covers every person.
    noise = CheckInNoise.draw(people["person_id"].to_numpy(), seed, settings.n_checkins,
                              settings.retries + 1)
    parts = verifier.failure_parts(people, speech)
    checkins = simulate_checkins(parts["any"], noise, settings.retries)
    accent = speech.accent_groups(people)
    held = ~train
    decisions = _person_decisions(people, held, group_columns, accent, checkins,
                                  settings.n_checkins)
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    rates = checkin_rates(config, people.loc[held], accent[held], _rows(checkins, held),
                          singles, settings.n_checkins)
    export = violations_export(people, train, checkins)
    held_noise = CheckInNoise(noise.missed[held], noise.attempt[held])

    def decide_twins(twins: pd.DataFrame) -> np.ndarray:
        failure = verifier.failure_parts(twins.loc[held], speech)["any"]
        return simulate_checkins(failure, held_noise, settings.retries).violation.any(axis=1)

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        # The vendor recalibrates its threshold in every world; the draws stay the same.
        world_settings = world.system_settings()
        tool = _verifier(world_settings, seed).fit(world_people.loc[train], speech)
        failure = tool.failure_parts(world_people.loc[held], speech)["any"]
        outcome = simulate_checkins(failure, held_noise, world_settings.retries)
        return {"decision": outcome.violation.any(axis=1)}

    def write_extras(directory: Path) -> list[object]:
        return report_section(directory, rates, parts, accent, held, settings, verifier,
                              config.audit.confidence, config.audit.suppress_below)

    ledger = Ledger()
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "calibration_people": int(train.sum()),
                "held_out_people": int(held.sum()),
                "scheduled_checkins_per_person": settings.n_checkins,
                "attempts_per_checkin": settings.retries + 1,
                "voice_threshold": verifier.threshold_,
                "training_shares": verifier.training_shares_,
                "export": f"{EXPORT_TABLE}.csv, column {VIOLATIONS_COLUMN}",
            },
            extra_tables={CHECKIN_TABLE: rates, EXPORT_TABLE: export},
        ),
        wording=Wording(
            card=verifier.card(),
            decision_label="recorded with at least one violation",
            error_phrase="recorded with at least one violation though they made every check-in "
                          "call",
            negative_phrase="who made every check-in call",
            headlines=checkin_headlines(config, rates, settings.n_checkins, ledger),
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_twins=decide_twins,
            decide_world=decide_world,
        ),
    )


def _person_decisions(people: pd.DataFrame, held: np.ndarray, columns: list[str],
                      accent: np.ndarray, checkins: CheckIns, n_checkins: int) -> pd.DataFrame:
    violation = checkins.violation[held]
    return group_frame(people.loc[held], columns, accent[held]).assign(
        y_true=checkins.missed[held].any(axis=1),
        # The records hold the violations themselves: nothing in them tells a wrongful one.
        y_recorded=violation.any(axis=1),
        decision=violation.any(axis=1),
        score=violation.sum(axis=1) / n_checkins,
    )


def _rows(checkins: CheckIns, rows: np.ndarray) -> CheckIns:
    return CheckIns(*(getattr(checkins, name)[rows] for name in
                      ("missed", "first_rejected", "attempts", "violation", "wrongful")))


def violations_export(people: pd.DataFrame, train: np.ndarray, checkins: CheckIns
                      ) -> pd.DataFrame:
    """Every person's recorded violations, for other experiments to read by ``person_id``.

    ``recorded_atd_violations`` is what an agency's records hold; ``true_missed_checkins`` and
    ``wrongful_atd_violations`` are the simulation's truth, which no real record holds.
    """
    return pd.DataFrame({
        "person_id": people["person_id"].to_numpy(),
        "split": np.where(train, "calibration", "held out"),
        VIOLATIONS_COLUMN: checkins.recorded_violations.astype(np.int64),
        "true_missed_checkins": checkins.missed.sum(axis=1).astype(np.int64),
        "wrongful_atd_violations": checkins.wrongful.sum(axis=1).astype(np.int64),
    })


#: Measures of the check-in table: (name, audit over which rows, metric, scale).
CHECKIN_MEASURES = (
    ("first_attempt_rejection_rate", "attended", "selection_rate", 1.0),
    ("wrongful_violations_per_attended_checkin", "scheduled", "fpr", 1.0),
    ("recorded_violations_per_person", "scheduled", "selection_rate", None),
)


def checkin_rates(config: ExperimentConfig, held_people: pd.DataFrame, accent: np.ndarray,
                  checkins: CheckIns, singles: list[str], n_checkins: int) -> pd.DataFrame:
    """Per group: first-attempt false rejections, wrongful violations and violations per
    person, each with its interval and gap to the reference, from two clustered audits.

    Rows of both audits are check-ins, clustered by person (a person's check-ins share their
    voice, phone and housing): the attended check-ins, with "first attempt rejected" as the
    decision; and every scheduled check-in, with "violation recorded" as the decision and
    "truly missed" as the truth. Everyone has the same schedule, so violations per person are
    the scheduled audit's selection rate times the number of check-ins, interval included.
    """
    n, weeks = checkins.violation.shape
    groups = group_frame(held_people, singles, accent)
    expanded = pd.DataFrame({c: _repeat_labels(groups[c], weeks) for c in singles})
    expanded["person_id"] = np.repeat(held_people["person_id"].to_numpy(), weeks)
    expanded["missed"] = checkins.missed.ravel()
    expanded["violation"] = checkins.violation.ravel()
    expanded["first_rejected"] = checkins.first_rejected.ravel()
    expanded["genuine"] = np.zeros(len(expanded), dtype=bool)
    settings = config.audit
    options = dict(reference=settings.reference, n_boot=settings.n_boot,
                   confidence=settings.confidence, min_count=settings.min_count,
                   suppress_below=settings.suppress_below, cluster="person_id",
                   random_state=config.experiment.seed)
    groupings = [[c] for c in singles]
    results = {
        "attended": audit(expanded[~expanded["missed"]], groupings, "genuine",
                          "first_rejected", **options),
        "scheduled": audit(expanded, groupings, "missed", "violation", **options),
    }
    parts = []
    keep = ["grouping", "group", "value", "ci_low", "ci_high", "numerator", "denominator",
            "reference", "difference", "diff_ci_low", "diff_ci_high", "design_effect",
            "p_holm", "flags"]
    for measure, rows, metric, scale in CHECKIN_MEASURES:
        table = results[rows].table
        part = table.loc[table["metric"] == metric, keep].copy()
        factor = float(n_checkins) if scale is None else scale
        for column in ("value", "ci_low", "ci_high", "difference", "diff_ci_low",
                       "diff_ci_high"):
            part[column] = part[column] * factor  # a constant: the interval scales exactly
        part.insert(2, "measure", measure)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _repeat_labels(column: pd.Series, times: int) -> pd.Categorical:
    """Each value ``times`` times, as a categorical of its labels written as text (the order
    of the values kept), so that number-valued groupings such as skin tone audit as labels."""
    categorical = pd.Categorical(column)
    return pd.Categorical.from_codes(np.repeat(categorical.codes, times),
                                     [str(c) for c in categorical.categories])


def _cell(row: pd.Series, scale: float = 100.0, digits: int = 1, suffix: str = "%") -> str:
    if "suppressed" in str(row["flags"]):
        return "suppressed"
    return (f"{scale * row['value']:.{digits}f}{suffix} ({scale * row['ci_low']:.{digits}f}–"
            f"{scale * row['ci_high']:.{digits}f})")


def checkin_headlines(config: ExperimentConfig, rates: pd.DataFrame, n_checkins: int,
                      ledger: Ledger | None = None) -> list[str]:
    """The first focus comparison in check-ins: first-attempt false rejections and
    violations per person, each with its interval (clustered by person) and the gap's, every
    number a claim on checkin_rates.csv recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    if not config.audit.focus:
        return []
    focus = config.audit.focus[0]
    part = rates[rates["grouping"] == focus.grouping]
    if part.empty:
        return []
    reference = focus.reference or str(part["reference"].iloc[0])
    by = {m: part[part["measure"] == m].set_index("group", drop=False)
          for m, *_ in CHECKIN_MEASURES}
    frr, per_person = by["first_attempt_rejection_rate"], by["recorded_violations_per_person"]
    if focus.group not in frr.index or reference not in frr.index:
        return []
    g, r = frr.loc[focus.group], frr.loc[reference]
    gv, rv = per_person.loc[focus.group], per_person.loc[reference]
    if any("suppressed" in str(x["flags"]) for x in (g, r, gv, rv)):
        return []
    source, keys = f"{CHECKIN_TABLE}.csv", ("grouping", "group", "measure")

    def claim(id: str, row: pd.Series, style: str = "percent1", n: str | None = "denominator",
              value: str = "value", ci: tuple[str, str] = ("ci_low", "ci_high")) -> Claim:
        return ledger.add(from_row(id, row, source=source, keys=keys, value=value, ci=ci,
                                   n=n, style=style, unit="share" if style == "percent1"
                                   else "violations per person"))

    level = ledger.add(setting("checkin.level", "config.audit.confidence",
                               config.audit.confidence, style="level",
                               unit="confidence level"))
    rate, base = claim("checkin.rate", g), claim("checkin.reference_rate", r)
    violations = claim("checkin.violations", gv, "ratio", None)
    reference_violations = claim("checkin.reference_violations", rv, "ratio", None)
    scheduled = ledger.add(setting("checkin.scheduled", "config.system.n_checkins",
                                   n_checkins, unit="check-ins"))
    claims = [level, rate, base, violations, reference_violations, scheduled]
    who = f'people with {strata_words(focus.grouping)} "{focus.group}"'
    gap = ""
    if str(g["reference"]) == reference:
        difference = claim("checkin.difference", g, "signed_points1", None, "difference",
                           ("diff_ci_low", "diff_ci_high"))
        claims.append(difference)
        gap = (f"; the gap is {difference.text()} percentage points ({level.text()} CI "
               f"{difference.interval(' to ')})")
    return [ledger.sentence(
        f"At check-in calls, {who} were rejected at the first attempt in {rate.text()} of "
        f"the check-ins they attended, against {base.text()} for {reference}; over "
        f"{scheduled.text()} scheduled check-ins they were recorded with "
        f"{violations.text()} violations per person against {reference_violations.text()}. "
        f"Intervals at {level.text()}, clustered by person: {rate.interval()} (n = "
        f"{rate.text('n')} check-ins) and {base.interval()} (n = {base.text('n')}){gap}; "
        f"violations per person {violations.interval()} and "
        f"{reference_violations.interval()}.", claims)]


MEASURE_TITLES = {
    "first_attempt_rejection_rate": "first attempt rejected, of attended check-ins",
    "wrongful_violations_per_attended_checkin": "wrongful violations per 100 attended "
                                                "check-ins",
    "recorded_violations_per_person": "recorded violations per person",
}


def report_section(directory: Path, rates: pd.DataFrame, parts: dict[str, np.ndarray],
                   accent: np.ndarray, held: np.ndarray, settings: Settings,
                   verifier: CheckInVerifier, confidence: float, suppress_below: int = 10
                   ) -> list[object]:
    """Report blocks: per-group check-in rates, failure by check, the export, a figure
    (intervals at ``confidence``; groups under ``suppress_below`` people withheld)."""
    level = f"{100 * confidence:g}%"
    blocks: list[object] = [
        Heading("Check-ins: rejected calls, wrongful violations and violations per person"),
        Paragraph(
            "The audit above counts people: a held-out person is 'selected' when at least one "
            f"of their {settings.n_checkins} scheduled check-ins was recorded as missed, and "
            "the true outcome is whether they truly missed one. Its false positive rate is "
            "the share of people who made every check-in call yet were recorded with a "
            "violation. The agency's records hold only the violations, so an audit by the "
            "recorded outcome finds no error at all: every recorded violation looks real. "
            "Below, rows are check-ins, and every interval is clustered by person (a person's "
            "check-ins share their voice, phone and housing), from the instrument's effective "
            f"counts ({level} Wilson; gaps by Newcombe's interval). A check-in is recorded as "
            f"missed when the person did not call, or when all {settings.retries + 1} "
            "attempts were rejected; attempts of one person fail independently of each other "
            "given that person's failure probability (an assumption of the mimic). Everyone "
            "has the same schedule, so violations per person are the share of scheduled "
            f"check-ins recorded as missed times {settings.n_checkins}."
        ),
    ]
    shown = [g for g in (ACCENT_COLUMN, "first_language", "nationality")
             if g in set(rates["grouping"])] or list(dict.fromkeys(rates["grouping"]))[:1]
    header = ["grouping", "group", "attended check-ins",
              *[f"{MEASURE_TITLES[m]} ({level} CI)" for m in MEASURE_TITLES]]
    rows = []
    for grouping in shown:
        part = rates[rates["grouping"] == grouping]
        by = {m: part[part["measure"] == m].set_index("group") for m in MEASURE_TITLES}
        for group in by["first_attempt_rejection_rate"].index:
            frr = by["first_attempt_rejection_rate"].loc[group]
            wrongful = by["wrongful_violations_per_attended_checkin"].loc[group]
            per_person = by["recorded_violations_per_person"].loc[group]
            attended = (f"<{suppress_below}" if "suppressed" in str(frr["flags"])
                        else f"{int(frr['denominator']):,}")
            rows.append([grouping, group, attended, _cell(frr), _cell(wrongful, 100, 2, ""),
                         _cell(per_person, 1, 2, "")])
    blocks.append(Table(header, rows, caption=(
        f"Every group and measure, with gaps to the reference and design effects, is in "
        f"{CHECKIN_TABLE}.csv.")))
    blocks += stage_blocks(parts, accent, held, verifier)
    path = plot_rates(rates, shown[0], directory / "figures" / "checkin_rejections.png")
    blocks.append(Figure(path, (
        f"First-attempt rejection of attended check-ins and recorded violations per person, "
        f"by {shown[0]}, with {level} intervals clustered by person."), relative_to=directory))
    blocks += [
        Heading("Recorded violations, exported for other systems", 3),
        Paragraph(
            f"{EXPORT_TABLE}.csv holds one row per person of the population (both splits): "
            f"person_id, split, {VIOLATIONS_COLUMN} (the violations an agency's records hold "
            "over the period, which risk tools and case systems read as non-compliance), and "
            "the simulation's truth, which no real record holds: true_missed_checkins and "
            "wrongful_atd_violations. Another experiment on the same profile, size and seed "
            "generates the same people with the same person_id, so it can join the column by "
            "person_id; in Python, synthetic.systems.e_atd.record_violations adds it to a "
            "people table."
        ),
    ]
    return blocks


def stage_blocks(parts: dict[str, np.ndarray], accent: np.ndarray, held: np.ndarray,
                 verifier: CheckInVerifier) -> list[object]:
    """Mean failure probability of one attempt at each check, by accent group.

    These are the mimic's own probabilities averaged over the held-out people, not estimates
    from outcomes, so they carry no interval.
    """
    frame = pd.DataFrame({ACCENT_COLUMN: accent[held],
                          **{k: v[held] for k, v in parts.items()}})
    means = frame.groupby(ACCENT_COLUMN, sort=True).agg(
        people=("any", "size"), voice=("voice", "mean"), speech=("speech", "mean"),
        selfie=("selfie", "mean"), any=("any", "mean"))
    rows = [[group, f"{int(r['people']):,}",
             f"{100 * verifier.training_shares_.get(group, float('nan')):.1f}%",
             percent(r["voice"]), percent(r["speech"]), percent(r["selfie"]), percent(r["any"])]
            for group, r in means.iterrows()]
    return [
        Heading("Which check fails, by accent group", 3),
        Paragraph(
            "The probability that one attempt fails each check, as the mimic sets it, averaged "
            "over the held-out people of each accent group: the voice check (one global "
            f"threshold, score {verifier.threshold_:.3f}, set so that "
            f"{100 * verifier.target_frr:.1f}% of the calibration split's first attempts fail "
            "it), the recognition of the spoken answer, and the selfie. These are the model's "
            "own probabilities, not estimates, so they carry no interval."
        ),
        Table(["accent group", "held-out people", "share of voice training speech",
               "voice check", "spoken answer", "selfie", "any check"], rows),
    ]


@literal_text
def plot_rates(rates: pd.DataFrame, grouping: str, path: Path) -> Path:
    """Two panels: first-attempt rejection rate and violations per person, by group."""
    part = rates[(rates["grouping"] == grouping) & ~rates["flags"].astype(str).str.contains(
        "suppressed")]
    measures = ("first_attempt_rejection_rate", "recorded_violations_per_person")
    order = (part[part["measure"] == measures[0]].sort_values("value")["group"].tolist())
    position = {group: i for i, group in enumerate(order)}
    fig, axes = new_figure((10, max(2.5, 0.32 * len(order) + 1.3)), 1, 2, sharey=True)
    for axis, measure, scale, label in zip(
            axes, measures, (100.0, 1.0), ("% of attended check-ins", "violations per person"),
            strict=True):
        rows = part[part["measure"] == measure]
        y = rows["group"].map(position).to_numpy(dtype=float)
        value = scale * rows["value"].to_numpy()
        error = np.clip(np.vstack([value - scale * rows["ci_low"].to_numpy(),
                                   scale * rows["ci_high"].to_numpy() - value]), 0, None)
        axis.errorbar(value, y, xerr=error, fmt="o", capsize=2, markersize=5, color="#1f4e79")
        axis.set_title(MEASURE_TITLES[measure], fontsize=9)
        axis.set_xlabel(label)
        axis.grid(axis="x", color="#eeeeee")
    axes[0].set_yticks(range(len(order)), named_labels(order), fontsize=8)
    fig.suptitle(f"Check-ins by {grouping}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


#: Remedies this system cannot take, and why (see experiments.engine.remedies).
REMEDIES_UNSUPPORTED = {
    **dict.fromkeys(
        MODEL_REMEDIES,
        "its decisions are voice and face check-in failures at a fixed false-rejection target; "
        "nothing is learned from people's outcomes, so there is no estimator to refit or "
        "post-process"),
    "raise_capacity": "it checks everyone enrolled; it has no capacity",
    "remove_biased_list": "it keeps no list or stage that targets a group; its accent gap is in "
                          "the verifier itself",
}
