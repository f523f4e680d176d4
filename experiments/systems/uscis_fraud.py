"""Adapter for the benefit-fraud classifier: simulate past investigations on the training
split (the history), train on the investigated applications only, flag the held-out ones, and
report what the records say against the truth and what random audit sampling changes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from audit import audit, compare
from audit.figures import literal_text, new_figure, save_figure
from audit.intervals import wilson_interval
from audit.report import percent
from experiments.config import Strict, system_seed
from experiments.errors import UsageError
from experiments.systems.contract import (
    Decisions,
    Hooks,
    RemedyModel,
    SystemRun,
    Wording,
    own_findings,
    raised_share_capacity,
)
from experiments.writing.claims import Claim, Ledger, from_row, setting
from experiments.writing.document import Figure, Heading, Paragraph, Table
from experiments.writing.names import named_labels
from synthetic.systems.base import top_share
from synthetic.systems.uscis_fraud import (
    FraudClassifier,
    Investigations,
    applications,
    check_targets,
    investigate,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig

RECORDS_TABLE = "records_vs_truth"
INVESTIGATIONS_TABLE = "investigations"
REMEDY_TABLE = "random_audit_remedy"


class Settings(Strict):
    """The ``[system]`` table of a benefit-fraud experiment."""

    model: Literal["logistic_regression", "gradient_boosting"] = "logistic_regression"
    capacity: float = Field(default=0.05, gt=0, le=1,
                            description="share of new applications flagged for a fraud referral")
    use_nationality: bool = Field(
        default=True, description="nationality (asked on the forms) and its region as features")
    C: float = Field(default=0.001, gt=0, le=1e6,
                     description="inverse L2 penalty of the logistic regression")
    fraud_rate: float = Field(default=0.02, gt=0, lt=1,
                              description="true fraud rate, the same in every group")
    investigation_rate: float = Field(default=0.08, gt=0, le=1,
                                      description="share of applications investigated")
    detection: float = Field(default=0.9, gt=0, le=1,
                             description="probability an investigation finds true fraud")
    targets: list[str] = Field(
        default_factory=list,
        description="ISO3 nationalities, 'region:<name>' or 'application:<visa class>'")
    targeting: float = Field(default=0.0, ge=0, le=20,
                             description="targeted applications investigated (1 + t) times as "
                                         "often, other things equal")
    finding_bias: float = Field(default=0.0, ge=0, le=1,
                                description="probability an investigation of a targeted "
                                            "application records fraud that is not there")
    audit_share: float = Field(default=0.0, ge=0, le=1,
                               description="share of investigations drawn at random, held to "
                                           "one standard (the remedy)")
    remedy_audit_share: float = Field(default=0.5, ge=0, le=1,
                                      description="audit_share of the comparison run")


def _fit_and_flag(settings: Settings, history: pd.DataFrame, held_out: pd.DataFrame,
                  seed: int, audit_share: float
                  ) -> tuple[FraudClassifier, Investigations, np.ndarray, np.ndarray]:
    """Investigate the history (the training split of the applications), train on the
    investigated cases, flag the held-out ones (the rest)."""
    found = investigate(history, seed, targets=settings.targets,
                        investigation_rate=settings.investigation_rate,
                        targeting=settings.targeting, finding_bias=settings.finding_bias,
                        audit_share=audit_share, detection=settings.detection)
    classifier = FraudClassifier(model=settings.model, capacity=settings.capacity,
                                 use_nationality=settings.use_nationality, C=settings.C,
                                 random_state=seed)
    try:
        classifier.fit(history.loc[found.investigated], found.recorded_fraud[found.investigated])
    except ValueError as error:
        raise UsageError(f"system: {error}") from None
    flagged, scores = classifier.flag(held_out)
    return classifier, found, flagged, scores


def run(
    config: ExperimentConfig, people: pd.DataFrame, train: np.ndarray, group_columns: list[str]
) -> SystemRun:
    """Train on the investigated part of the history and flag the held-out applications.

    The applications and the records of the new ones are drawn from the experiment's seed;
    which past applications were investigated (and what the investigations recorded), the
    cases the classifier learns from, and its fitting are the system's own draw
    (:func:`system_seed`, redrawn by each replicate).
    """
    settings = config.system_settings()
    seed = config.experiment.seed
    learn_seed = system_seed(config)
    table = applications(people, seed, settings.fraud_rate)
    try:
        check_targets(table, settings.targets)
    except ValueError as error:
        raise UsageError(f"system.targets: {error}") from None
    if (settings.targeting > 0 or settings.finding_bias > 0) and not settings.targets:
        raise UsageError("system.targets: targeting or finding_bias is on but no group is "
                         "targeted; list nationalities, regions or application classes")
    # The splits of the applications, taken once: every world on these people reads them.
    history, held_out = table.loc[train], table.loc[~train]
    # Fits on these splits by their settings: the world with every knob as configured is
    # this run, and the comparison run is the world with only the random share off.
    fitted: dict[tuple[str, float], tuple[FraudClassifier, Investigations, np.ndarray,
                                          np.ndarray]] = {}

    def fit_and_flag(run_settings: Settings, audit_share: float
                     ) -> tuple[FraudClassifier, Investigations, np.ndarray, np.ndarray]:
        key = (repr(sorted(run_settings.model_dump(
            exclude={"audit_share", "remedy_audit_share"}).items())), audit_share)
        if key not in fitted:
            fitted[key] = _fit_and_flag(run_settings, history, held_out, learn_seed,
                                        audit_share)
        return fitted[key]

    classifier, history_found, flagged, scores = fit_and_flag(settings, settings.audit_share)
    cut_off = classifier.cut_off_
    # What the records of the new applications would say: the same investigation process.
    held_out_found = investigate(held_out, seed, targets=settings.targets,
                                 investigation_rate=settings.investigation_rate,
                                 targeting=settings.targeting,
                                 finding_bias=settings.finding_bias,
                                 audit_share=settings.audit_share, detection=settings.detection)
    truth = held_out["true_fraud"].to_numpy(dtype=bool)
    decisions = held_out[group_columns].reset_index(drop=True).assign(
        y_true=truth, y_recorded=held_out_found.recorded_fraud, decision=flagged, score=scores)

    def decide_twins(twins: pd.DataFrame) -> np.ndarray:
        twin_table = applications(twins, seed, settings.fraud_rate)
        return classifier.flag(twin_table.loc[~train], cut_off=cut_off)[0]

    def decide_world(world: ExperimentConfig, world_people: pd.DataFrame
                     ) -> dict[str, np.ndarray]:
        world_settings = world.system_settings()
        if world_people is people and world_settings.fraud_rate == settings.fraud_rate:
            # The same applications as this run's (the knobs are the system's own): the
            # splits already taken, and any fit of the same settings already made.
            return {"decision": fit_and_flag(world_settings,
                                             world_settings.audit_share)[2].copy()}
        world_table = applications(world_people, seed, world_settings.fraud_rate)
        return {"decision": _fit_and_flag(world_settings, world_table.loc[train],
                                          world_table.loc[~train], learn_seed,
                                          world_settings.audit_share)[2]}

    if not own_findings():  # a further replicate: its decisions and worlds are all it gives
        return SystemRun(decided=Decisions(table=decisions),
                         wording=Wording(card=classifier.card()),
                         hooks=Hooks(decide_twins=decide_twins, decide_world=decide_world))
    singles = [g[0] for g in config.audit.groupings if len(g) == 1]
    references = {c: config.audit.reference[c] for c in singles if c in config.audit.reference}
    records, investigations = records_tables(history, history_found, singles, references,
                                             config)
    remedy_flags = fit_and_flag(settings, settings.remedy_audit_share)[2].copy()
    remedy = compare(decisions.assign(with_random_audits=remedy_flags), singles, "y_true",
                     "decision", "with_random_audits", references,
                     confidence=config.audit.confidence,
                     metrics=["fpr", "selection_rate", "tpr"]).table

    def write_extras(directory: Path) -> list[object]:
        return report_blocks(records, investigations, remedy, settings, directory,
                             config.audit.confidence)

    investigated = history_found.investigated
    history_fraud = history["true_fraud"].to_numpy(dtype=bool)
    sensitive = ["region_of_origin", "nationality"]
    learned_from = history.loc[investigated]
    remedy_model = RemedyModel(
        train_people=learned_from, train_recorded=history_found.recorded_fraud[investigated],
        sensitive_train=learned_from[sensitive], audit_pool=history, audit_true=history_fraud,
        held_out=held_out, sensitive_held_out=held_out[sensitive], fitted=classifier,
        make_estimator=lambda: FraudClassifier(
            model=settings.model, capacity=settings.capacity,
            use_nationality=settings.use_nationality, C=settings.C, random_state=learn_seed),
        decide=lambda scores: top_share(scores, settings.capacity)[0],
        proxies=UNAWARE_COLUMNS)
    ledger = Ledger()
    return SystemRun(
        decided=Decisions(
            table=decisions,
            details={
                "history_applications": int(len(history)),
                "investigated_applications": int(investigated.sum()),
                "random_audits": int(history_found.random_audit.sum()),
                "recorded_fraud_findings": int(history_found.recorded_fraud.sum()),
                "false_findings": int(history_found.false_finding.sum()),
                "history_true_fraud": int(history_fraud.sum()),
                "history_true_fraud_never_investigated": int((history_fraud & ~investigated).sum()),
                "held_out_applications": int(len(held_out)),
                "score_threshold": cut_off.threshold,
                "features": classifier.feature_columns,
            },
            extra_tables={RECORDS_TABLE: records, INVESTIGATIONS_TABLE: investigations,
                          REMEDY_TABLE: remedy},
        ),
        wording=Wording(
            card=classifier.card(),
            decision_label="flagged for a fraud referral",
            error_phrase="flagged for fraud though their application was not fraudulent",
            negative_phrase="whose application was not fraudulent",
            headlines=fraud_headlines(config, settings, history_found, history_fraud, records,
                                      remedy, ledger),
            claims=ledger.claims,
            write_extras=write_extras,
        ),
        hooks=Hooks(
            decide_twins=decide_twins,
            decide_world=decide_world,
            remedy_model=remedy_model,
        ),
    )


#: Nationality, its region and the form answers that track them (English spoken, a
#: transliterated name). Unawareness holds them at one value for everyone.
UNAWARE_COLUMNS = ("nationality", "region_of_origin", "speaks_english", "name_transliterated")

#: Design remedies as settings of this system (see experiments.engine.remedies).
REMEDY_KNOBS = {
    "raise_capacity": raised_share_capacity,
}

#: Remedies this system cannot take, and why.
REMEDIES_UNSUPPORTED = {
    "remove_biased_list": "its targeting list shaped past investigations, which a remedy "
                          "applied now cannot undo; learning from random audits "
                          "(random_audit_labels) is its remedy",
}


def records_tables(history: pd.DataFrame, found: Investigations, singles: list[str],
                   references: dict[str, str], config: ExperimentConfig
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history's recorded fraud against its true fraud, and who was investigated.

    Returns
    -------
    records : DataFrame
        :func:`audit.compare` of the true fraud indicator (a) and the recorded one (b) per
        group: ``value_a`` the true fraud rate, ``value_b`` the share recorded as fraud,
        ``change`` the records' excess with its paired interval and ``disparity_change`` the
        records' gap to the reference minus the true gap.
    investigations : DataFrame
        :func:`audit.audit` of "investigated" against true fraud: ``fpr`` is the share of
        applications without fraud that were investigated; ``ppv`` the share of
        investigated applications that were truly fraudulent.
    """
    frame = history[singles].reset_index(drop=True).assign(
        true_fraud=history["true_fraud"].to_numpy(dtype=bool),
        truly_fraudulent=history["true_fraud"].to_numpy(dtype=bool),
        recorded_fraud=found.recorded_fraud, investigated=found.investigated)
    records = compare(frame, singles, "true_fraud", "truly_fraudulent", "recorded_fraud",
                      references, confidence=config.audit.confidence,
                      metrics=["selection_rate"]).table
    investigations = audit(frame, [[c] for c in singles], "true_fraud", "investigated",
                           reference=references, n_boot=config.audit.n_boot,
                           confidence=config.audit.confidence, min_count=config.audit.min_count,
                           suppress_below=config.audit.suppress_below,
                           random_state=config.experiment.seed).table
    investigations = investigations[investigations["metric"].isin(
        ["selection_rate", "fpr", "ppv"])].reset_index(drop=True)
    return records, investigations


def _pp(value: float) -> str:
    return f"{100 * value:+.1f} percentage points"


def _ci(low: float, high: float) -> str:
    return f"{100 * low:+.1f} to {100 * high:+.1f}"


def fraud_headlines(config: ExperimentConfig, settings: Settings, found: Investigations,
                    fraud: np.ndarray, records: pd.DataFrame, remedy: pd.DataFrame,
                    ledger: Ledger | None = None) -> list[str]:
    """Three findings: the selective labels, the records against the truth for the first
    pre-specified group, and what random audit sampling changed for it. The first
    finding's numbers are claims on the manifest's counts, recorded in ``ledger``."""
    ledger = ledger if ledger is not None else Ledger()
    n, n_investigated = len(fraud), int(found.investigated.sum())
    missed = int((fraud & ~found.investigated).sum())

    def count(id: str, key: str, value: int) -> Claim:
        # The counts of the simulated history are the run's facts, held by the manifest.
        return ledger.add(Claim(f"history.{id}", value, unit="applications",
                                source="manifest.json", source_row={"key": f"details.{key}"},
                                style="count"))

    def share(id: str, part: Claim, whole: Claim) -> Claim:
        return ledger.add(Claim(f"history.{id}", part.value / max(whole.value, 1),
                                unit="share", source="manifest.json",
                                source_row={"ratio": f"{part.source_row['key']} / "
                                                     f"{whole.source_row['key']}"},
                                style="percent1"))

    total = count("applications", "history_applications", n)
    investigated = count("investigated", "investigated_applications", n_investigated)
    true_fraud = count("true_fraud", "history_true_fraud", int(fraud.sum()))
    never = count("never_investigated", "history_true_fraud_never_investigated", missed)
    false = count("false_findings", "false_findings", int(found.false_finding.sum()))
    investigated_share, missed_share = (share("investigated_share", investigated, total),
                                        share("missed_share", never, true_fraud))
    found_lines = [ledger.sentence(
        f"The classifier learned only from the {investigated.text()} of {total.text()} past "
        f"applications that were investigated ({investigated_share.text()}): "
        f"{never.text()} of the {true_fraud.text()} truly fraudulent ones "
        f"({missed_share.text()}) were never investigated, and {false.text()} investigated "
        "applications without fraud were recorded as fraud. These are counts in the "
        "simulated history, not estimates, so they carry no interval.",
        [total, investigated, true_fraud, never, false, investigated_share, missed_share])]
    focus = next((f for f in config.audit.focus if " × " not in f.grouping), None)
    if focus is None:
        return found_lines
    rows = records[(records["grouping"] == focus.grouping)].set_index("group")
    reference = focus.reference or str(rows["reference"].iloc[0])
    level_claim = ledger.add(setting("records.level", "config.audit.confidence",
                                     config.audit.confidence, style="level",
                                     unit="confidence level"))

    def row_claim(id: str, table: str, row: pd.Series, value: str, style: str,
                  ci: str | None = None, n: str | None = None, kind: str = "unadjusted"
                  ) -> Claim:
        keys = ("grouping", "group", "metric") if "metric" in row.index else ("grouping",
                                                                              "group")
        return ledger.add(from_row(
            id, row, source=f"{table}.csv", keys=keys, value=value,
            ci=(f"{ci}_ci_low", f"{ci}_ci_high") if ci else None, n=n, style=style,
            unit="share" if style == "percent2" else "percentage points",
            interval_kind=kind))

    def named(frame: pd.DataFrame, group: str) -> pd.Series:
        row = frame.loc[group].copy()
        row["group"] = group
        return row

    if focus.group in rows.index and reference in rows.index:
        g, r = named(rows, focus.group), named(rows, reference)
        recorded, truth = (row_claim("records.recorded", RECORDS_TABLE, g, "value_b",
                                     "percent2"),
                           row_claim("records.truth", RECORDS_TABLE, g, "value_a", "percent2"))
        excess = row_claim("records.excess", RECORDS_TABLE, g, "change", "signed_points1",
                           "change", "n", "paired")
        reference_recorded = row_claim("records.reference_recorded", RECORDS_TABLE, r,
                                       "value_b", "percent2", n="n")
        reference_truth = row_claim("records.reference_truth", RECORDS_TABLE, r, "value_a",
                                    "percent2")
        recorded_gap = row_claim("records.recorded_gap", RECORDS_TABLE, g, "disparity_b",
                                 "signed_points1")
        true_gap = row_claim("records.true_gap", RECORDS_TABLE, g, "disparity_a",
                             "signed_points1")
        difference = row_claim("records.gap_difference", RECORDS_TABLE, g, "disparity_change",
                               "signed_points1", "disparity_change")
        found_lines.append(ledger.sentence(
            f"What the records say: in the history, {recorded.text()} of applications from "
            f"{focus.group} were recorded as fraud against a true fraud rate of {truth.text()} "
            f"({excess.text()} percentage points, {level_claim.text()} CI "
            f"{excess.interval(' to ')}; n = {excess.text('n')}). For {reference} it was "
            f"{reference_recorded.text()} against {reference_truth.text()} (n = "
            f"{reference_recorded.text('n')}), so the records put the gap between the two at "
            f"{recorded_gap.text()} percentage points where the true gap is {true_gap.text()} "
            f"(difference {difference.text()}, {level_claim.text()} CI "
            f"{difference.interval(' to ')}).",
            [level_claim, recorded, truth, excess, reference_recorded, reference_truth,
             recorded_gap, true_gap, difference]))
    fpr = remedy[(remedy["grouping"] == focus.grouping) & (remedy["metric"] == "fpr")
                 ].set_index("group")
    if focus.group in fpr.index and settings.remedy_audit_share != settings.audit_share:
        g = named(fpr, focus.group)
        remedy_share = ledger.add(setting("remedy.audit_share",
                                          "config.system.remedy_audit_share",
                                          settings.remedy_audit_share, style="percent0",
                                          unit="share of investigations"))
        audit_share = ledger.add(setting("remedy.baseline_share", "config.system.audit_share",
                                         settings.audit_share, style="percent0",
                                         unit="share of investigations"))
        before = row_claim("remedy.before", REMEDY_TABLE, g, "value_a", "percent2")
        after = row_claim("remedy.after", REMEDY_TABLE, g, "value_b", "percent2")
        change = row_claim("remedy.change", REMEDY_TABLE, g, "change", "signed_points1",
                           "change", "n", "paired")
        gap = row_claim("remedy.gap_change", REMEDY_TABLE, g, "disparity_change",
                        "signed_points1", "disparity_change")
        inconclusive = g["disparity_change_ci_low"] <= 0 <= g["disparity_change_ci_high"]
        verdict = ("The data cannot tell whether that gap changed" if inconclusive
                   else f"Its gap to {reference} changed by {gap.text()} percentage points")
        found_lines.append(ledger.sentence(
            f"With {remedy_share.text()} of investigations drawn at random and held to one "
            f"standard (instead of {audit_share.text()}), the share of applicants from "
            f"{focus.group} without fraud who were flagged went from {before.text()} to "
            f"{after.text()} ({change.text()} percentage points, {level_claim.text()} paired "
            f"CI {change.interval(' to ')}; n = {change.text('n')}). {verdict} "
            f"({level_claim.text()} CI {gap.interval(' to ')}).",
            [level_claim, remedy_share, audit_share, before, after, change, gap]))
    return found_lines


def _cell(value: float, low: float, high: float) -> str:
    return f"{percent(value, 2)} ({percent(low, 2)}–{percent(high, 2)})"


def _change(row: pd.Series, prefix: str = "change") -> str:
    value = row[prefix]
    if not np.isfinite(value):
        return "—"
    return f"{100 * value:+.2f} pp ({_ci(row[f'{prefix}_ci_low'], row[f'{prefix}_ci_high'])})"


def report_blocks(records: pd.DataFrame, investigations: pd.DataFrame, remedy: pd.DataFrame,
                  settings: Settings, directory: Path, confidence: float) -> list[object]:
    """The report's sections: the blind spot of the records, and the random-audit remedy."""
    level = f"{100 * confidence:g}%"
    grouping = ("region_of_origin" if "region_of_origin" in set(records["grouping"])
                else str(records["grouping"].iloc[0]))
    targets = ", ".join(settings.targets) or "nobody"
    blocks: list[object] = [
        Heading("Selective labels: what the records say and what is true"),
        Paragraph(
            "Only investigated applications have a fraud label. In the simulated history "
            f"(the training split), {percent(settings.investigation_rate, 0)} of applications "
            "were investigated, chosen by the traces in their files and, for the targeted "
            f"groups ({targets}), {1 + settings.targeting:g} times as often other things "
            "equal; an investigation of a targeted application recorded fraud that was not "
            f"there with probability {settings.finding_bias:g}. The table sets the share of "
            "each group's applications recorded as fraud beside its true fraud rate (the same "
            f"probability, {percent(settings.fraud_rate, 0)}, in every group); the records' "
            f"excess is a paired difference on the same applications with its {level} interval "
            f"(audit.compare). A real auditor sees only the recorded column. Every group is in "
            f"{RECORDS_TABLE}.csv and {INVESTIGATIONS_TABLE}.csv."),
    ]
    part = records[records["grouping"] == grouping]
    inv = investigations[investigations["grouping"] == grouping].pivot(
        index="group", columns="metric", values=["value", "ci_low", "ci_high"])
    rows = []
    for _, row in part.iterrows():
        group = row["group"]
        rows.append([
            str(group), f"{int(row['n']):,}", percent(row["value_a"], 2),
            percent(row["value_b"], 2), _change(row),
            _cell(inv.loc[group, ("value", "fpr")], inv.loc[group, ("ci_low", "fpr")],
                  inv.loc[group, ("ci_high", "fpr")]) if group in inv.index else "—",
            _cell(inv.loc[group, ("value", "ppv")],
                  inv.loc[group, ("ci_low", "ppv")],
                  inv.loc[group, ("ci_high", "ppv")]) if group in inv.index else "—",
        ])
    blocks.append(Table(
        [grouping, "applications", "true fraud", "recorded as fraud",
         f"records minus truth ({level} CI)",
         f"applications without fraud investigated ({level} CI)",
         f"investigated that were fraud ({level} CI)"], rows,
        caption="The historical records against the truth, and who was investigated."))
    path = plot_records(part, directory / "figures" / "records_vs_truth.png", grouping,
                        confidence)
    blocks.append(Figure(path, (
        f"True fraud rate (open) and share recorded as fraud (filled) by {grouping} in the "
        f"history, with {level} Wilson intervals."), relative_to=directory))
    fpr = remedy[(remedy["grouping"] == grouping) & (remedy["metric"] == "fpr")]
    blocks += [
        Heading("Random audit sampling"),
        Paragraph(
            f"The same held-out applications were flagged by a classifier trained on a history "
            f"in which {percent(settings.remedy_audit_share, 0)} of investigations (instead of "
            f"{percent(settings.audit_share, 0)}) were drawn at random and held to one standard, "
            "blind to nationality; the investigation budget is the same. The change in each "
            f"group's false flag rate is paired (Newcombe, {level}), as is the change in its "
            f"gap to the reference (MOVER). Every group and rate is in {REMEDY_TABLE}.csv."),
        Table([grouping, "applications without fraud", "false flags as configured",
               "with random audits", f"change ({level} CI)",
               f"change in gap to reference ({level} CI)"],
              [[str(r["group"]), f"{int(r['n']):,}", percent(r["value_a"], 2),
                percent(r["value_b"], 2), _change(r),
                "reference" if "reference" in str(r["flags"]) else
                _change(r, "disparity_change")] for _, r in fpr.iterrows()],
              caption="False flag rate (flagged, of applications without fraud) with and "
                      "without random audit sampling of investigations."),
    ]
    return blocks


@literal_text
def plot_records(part: pd.DataFrame, path: Path, grouping: str, confidence: float) -> Path:
    """True against recorded fraud rates per group, with Wilson intervals."""
    part = part.sort_values("value_b")
    n = part["n"].to_numpy(dtype=np.float64)
    y = np.arange(len(part))
    fig, axis = new_figure((7.5, max(2.5, 0.35 * len(part) + 1.2)))
    for column, offset, face, label in (("value_a", -0.12, "white", "true fraud"),
                                        ("value_b", 0.12, "#8b1a1a", "recorded as fraud")):
        value = part[column].to_numpy(dtype=np.float64)
        low, high = wilson_interval(np.round(value * n), n, confidence)
        error = np.clip(np.vstack([value - low, high - value]), 0, None)
        axis.errorbar(100 * value, y + offset, xerr=100 * error, fmt="o", capsize=2,
                      color="#8b1a1a", markerfacecolor=face, label=label)
    axis.set_yticks(y, named_labels(part["group"].astype(str)), fontsize=8)
    axis.set_xlabel("% of applications")
    axis.grid(axis="x", color="#eeeeee")
    axis.legend(fontsize=8, frameon=False, loc="lower right")
    axis.set_title(f"What the records say against the truth, by {grouping}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
