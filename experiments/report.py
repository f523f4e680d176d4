"""The run report: card, caveat, headlines, both views side by side, twins, how to cite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from audit import AuditResult
from audit.engine import grouping_name
from audit.metrics import EXPLANATIONS
from audit.report import (
    SPREAD_HEADER,
    interval_explanation,
    number,
    p_value,
    percent,
    rate_with_interval,
    ratio_with_interval,
    spread_cells,
)
from experiments import __version__
from experiments.document import (
    Bullets,
    Card,
    Caveat,
    Code,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
)
from experiments.headlines import twin_sentences
from experiments.manifest import git_commit

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig
    from experiments.systems.base import SystemRun

CAVEAT = (
    "These numbers come from a simulation of a toy mimic, not from a measurement of the real "
    "system. Nobody outside has the real system, its code or its data. The people are "
    "synthetic, the bias mechanisms and their strengths are assumptions set in the experiment "
    "file, and the toy system only imitates what public reporting says the real one does. "
    "What the numbers show is how a design like this one can produce unequal errors, and "
    "through which mechanism; not how often the real system errs."
)

SHOWN_METRICS = ("fpr", "fnr", "selection_rate", "ppv")


def _rows(result: AuditResult, grouping: str, metric: str) -> pd.DataFrame:
    table = result.table
    return table[(table["grouping"] == grouping) & (table["metric"] == metric)].set_index("group")


def views_table(views: dict[str, AuditResult], grouping: str) -> Table:
    """Per group: size, FPR and its ratio by each view, FNR and selection rate by truth."""
    truth, recorded = views["true"], views["recorded"]
    sizes = _rows(truth, grouping, "n")
    true_fpr, recorded_fpr = _rows(truth, grouping, "fpr"), _rows(recorded, grouping, "fpr")
    fnr, selection = _rows(truth, grouping, "fnr"), _rows(truth, grouping, "selection_rate")
    header = ["group", "people", "selection rate", "FPR (true outcome)",
              "FPR ratio, true outcome; p (Holm)", "FPR (recorded outcome)",
              "FPR ratio, recorded outcome; p (Holm)", "FNR (true outcome)", "notes"]
    rows = []
    for group, size in sizes.iterrows():
        suppressed = "suppressed" in str(size["flags"])
        notes = sorted({f for f in str(size["flags"]).split(";") if f}
                       | {f for f in str(true_fpr.loc[group, "flags"]).split(";")
                          if f in ("small_n", "undefined")})
        rows.append([
            group,
            "<10" if suppressed else f"{int(size['value']):,}",
            rate_with_interval(selection.loc[group]),
            rate_with_interval(true_fpr.loc[group]),
            _ratio_p(true_fpr.loc[group]),
            rate_with_interval(recorded_fpr.loc[group]),
            _ratio_p(recorded_fpr.loc[group]),
            rate_with_interval(fnr.loc[group]),
            ", ".join(notes),
        ])
    return Table(header, rows)


def _ratio_p(row: pd.Series) -> str:
    text = ratio_with_interval(row)
    if text in ("reference", "—") or text.startswith("— ") or "cannot tell" in text:
        return text
    return f"{text}; p {p_value(row['p_holm'])}"


def summary_rows(views: dict[str, AuditResult], grouping: str) -> Table:
    """Across-group measures, both views."""
    rows = []
    for view, result in views.items():
        summary = result.summary[result.summary["grouping"] == grouping]
        picked = summary[
            (summary["measure"].isin(["max_min_difference", "min_max_ratio"])
             & summary["metric"].isin(["fpr", "fnr"]))
            | summary["measure"].isin(["equalized_odds_difference", "demographic_parity_ratio"])
        ]
        for _, row in picked.iterrows():
            rows.append([view, row["measure"].replace("_", " "), row["metric"],
                         *spread_cells(row)])
    return Table(["view", "measure", "metric", *SPREAD_HEADER], rows)


def flips_table(flips: pd.DataFrame, decision_label: str) -> Table:
    """Counterfactual flip rates per intervention and group."""
    rows = []
    for _, row in flips.iterrows():
        suppressed = "suppressed" in str(row["flags"])
        rows.append([
            row["intervention"], row["effect"], row["grouping"], row["group"],
            "<10" if suppressed else f"{int(row['n']):,}",
            "suppressed" if suppressed else
            f"{percent(row['flip_rate'], 2)} ({percent(row['ci_low'], 2)}–"
            f"{percent(row['ci_high'], 2)})",
            "—" if suppressed else f"{int(row['flips_to_selected']):,}",
            "—" if suppressed else f"{int(row['flips_to_not_selected']):,}",
            row["flags"],
        ])
    return Table(["twin's value", "effect", "grouping", "group", "people", "flip rate (95% CI)",
                  f"became {decision_label}", f"ceased to be {decision_label}", "notes"], rows)


#: How a metric's gap is named in the attribution section.
GAP_NAMES = {"fpr": "false positive rate", "selection_rate": "selection rate",
             "fnr": "false negative rate", "tpr": "true positive rate"}


def _points(value: float, low: float, high: float) -> str:
    if not pd.notna(value):
        return "—"
    if not (pd.notna(low) and pd.notna(high)) or abs(low) == float("inf") \
            or abs(high) == float("inf"):
        return f"{100 * value:+.2f} (no finite interval)"
    return f"{100 * value:+.2f} ({100 * low:+.2f} to {100 * high:+.2f})"


def attribution_blocks(system_run: SystemRun) -> list[object]:
    """"Where the disparity comes from": the knobs-off baseline and each knob's contribution."""
    from experiments.attribution import ALL_OFF, AS_CONFIGURED

    attribution = system_run.attribution
    blocks: list[object] = [Heading("Where the disparity comes from")]
    if attribution is None:
        return blocks + [Paragraph(
            "This run computed no knobs-off world (the experiment lists no [attribution] knobs, "
            "or attribution was skipped), so nothing here separates what the bias mechanisms "
            "do from what the population's composition does.")]
    knobs = attribution.knobs
    level = f"{100 * attribution.confidence:.0f}%"
    method = ("every one of the " if attribution.method == "exact" else "a sample of ") + (
        f"{attribution.n_worlds} worlds")
    blocks.append(Paragraph((
        f"The system was run again in {method} in which each of the {len(knobs)} bias knobs "
        "below is on (as configured) or off, on the same people: the same truth, the same "
        "random noise, only the knobs changed. 'All knobs off' is the gap that remains without "
        "any of them: it comes from the simulated population itself"
        + (f" ({attribution.baseline_cause})" if attribution.baseline_cause else "")
        + ", not from a mechanism. Each knob's contribution is its Shapley value: the change "
        "it makes to the gap, averaged over every order of switching the knobs on, so 'all "
        "knobs off' plus the contributions equals the gap as configured exactly. 'Alone' is "
        "the change when only that knob is switched off. Gaps are in percentage points (the "
        f"group's rate minus the reference's) with {level} intervals from resampling people "
        "within the groups; an interval that includes 0 cannot tell the contribution from "
        "none. " + " ".join(attribution.notes)).strip()))
    blocks.append(Bullets([f"{k.name} ({k.key}, off = {json.dumps(k.off)})"
                           + (f": {k.explains}" if k.explains else "") for k in knobs]))
    table = attribution.table
    for (grouping, group, reference, metric), part in table.groupby(
            ["grouping", "group", "reference", "metric"], sort=False):
        label = part["label"].iloc[0]
        if metric in GAP_NAMES:
            caption = (f"{label or f'{group} against {reference}'} ({grouping}): gap in "
                       f"{GAP_NAMES[metric]}, n = {int(part['n_group'].iloc[0]):,} and "
                       f"{int(part['n_reference'].iloc[0]):,}")
        else:  # a system's own contrast, over several groups' rates
            caption = (f"{label or metric.replace('_', ' ')} ({grouping}), n = "
                       f"{int(part['n_group'].iloc[0]):,} in the rates compared")
        rows = []
        for _, r in part.iterrows():
            if r["source"] == ALL_OFF:
                what = attribution.baseline_cause or "the population's composition"
            elif r["source"] == AS_CONFIGURED:
                what = "the run as configured"
            else:
                what = r["knob_key"]
            rows.append([r["source"], what,
                         _points(r["contribution"], r["ci_low"], r["ci_high"]),
                         _points(r["one_at_a_time_change"], r["one_at_a_time_ci_low"],
                                 r["one_at_a_time_ci_high"])])
        blocks.append(Table(
            ["source", "what it is", f"gap or contribution (points, {level} CI)",
             f"change when switched off alone (points, {level} CI)"], rows, caption=caption))
    return blocks


def build_report(
    *,
    config: ExperimentConfig,
    run_id: str,
    views: dict[str, AuditResult],
    flips: pd.DataFrame,
    decisions: pd.DataFrame,
    system_run: SystemRun,
    headlines: list[str],
    figures: dict[str, list[tuple[Path, str]]],
    extra_blocks: list[object],
    directory: Path,
    cite_hashes: dict[str, str],
    config_file: Path,
) -> Document:
    """Assemble the report of one run."""
    experiment = config.experiment
    truth = views["true"]
    document = Document(f"{experiment.title}: audit report")
    who = ("synthetic people" if system_run.unit == "people"
           else f"{system_run.unit} by synthetic people")
    document.add(
        Paragraph(
            f"Run {run_id}. {len(decisions):,} held-out {who} from the "
            f"'{config.population.profile}' profile (population "
            f"{config.population.size:,}, seed {experiment.seed}); the training split held "
            f"{system_run.details.get('training_people', 0):,} people."
        ),
        Caveat("A simulation of a mimic, not a measurement of the real system", CAVEAT),
        Heading("Headline findings"),
        Bullets(headlines),
        *attribution_blocks(system_run),
        Heading("The system"),
        Card(system_run.card),
        Heading("The simulated world"),
        Paragraph("Bias mechanisms switched on in this run (0 = off):"),
        Table(["mechanism", "strength", "targets"],
              [[name, number(m.strength, 2), ", ".join(m.targets) or "everyone"]
               for name, m in config.mechanisms.items()] or [["none", "—", "—"]]),
        Heading("What the numbers mean"),
        Bullets([f"{EXPLANATIONS[m][0]}: {EXPLANATIONS[m][1]}." for m in SHOWN_METRICS]
                 + (["Flip rate: share of people whose decision differs from their "
                     "counterfactual twin's (a total effect when the twin's attribute and what "
                     "follows from it change, a direct effect when only the attribute and the "
                     "proxies the system sees change)."]
                    if not flips.empty else [])),
        Paragraph(
            interval_explanation(truth.settings)
        ),
        Heading("Two views: the true outcome and the recorded outcome"),
        Paragraph(
            "A real auditor can judge the system's decisions only against the agency's records. "
            "This simulation also knows the truth. The 'true outcome' view counts an error when "
            f"someone {system_run.negative_phrase} was {system_run.decision_label}; the "
            "'recorded outcome' view counts an error only when the records disagree with the "
            "decision. "
            "When the records over-record some groups (label bias), the recorded view calls "
            "those errors correct: a disparity that is large by the truth can vanish in the "
            "records. The difference between the two columns below is that blind spot."
        ),
    )
    for grouping in config.audit.groupings:
        name = grouping_name(grouping)
        reference = _rows(truth, name, "n")["reference"].iloc[0]
        document.add(
            Heading(f"By {name}", 3),
            Paragraph(f"Reference group: {reference}."),
            views_table(views, name),
            summary_rows(views, name),
        )
        for path, caption in figures.get(name, []):
            document.add(Figure(path, caption, relative_to=directory))
    if not flips.empty:
        document.add(
            Heading("Counterfactual twins"),
            Paragraph(
                "Each held-out person has two twins, both scored by the same fitted system with "
                "the same cut-off; the flip rate is the share whose decision differs. The "
                "total-effect twin has the attribute changed and everything that follows from "
                "it in this simulated world regenerated from the person's own randomness "
                "(language, visa type, age, neighbourhood, even the true outcome), so it "
                "measures what the attribute does through every path, the profile's "
                "composition included. The direct-effect twin changes only the attribute and "
                "the proxies the system sees; every other attribute and the true outcome keep "
                "the person's own values. In both, the recorded world is re-applied, so "
                "targeting by origin follows the twin."
            ),
            Bullets([twin_sentences(flips, intervention)
                     for intervention in dict.fromkeys(flips["intervention"])]),
            flips_table(flips, system_run.decision_label),
        )
    document.add(*extra_blocks)
    commit = git_commit() or "not a git checkout"
    document.add(
        Heading("How to cite"),
        Code(
            f"bias-audit-sandbox {__version__} (commit {commit}). Experiment "
            f"'{experiment.name}' ({config_file.name}), run {run_id}, seed {experiment.seed}, "
            f"population {config.population.size:,} ({config.population.profile}).\n"
            + "\n".join(f"sha256 {name}: {digest}" for name, digest in cite_hashes.items())
            + "\nFull configuration, package versions and file hashes: manifest.json. "
            "A simulation of a toy mimic, not a measurement of the real system."
        ),
        Paragraph("Every metric for every group and both views, with intervals, tests and "
                  "flags, is in metrics.csv (and metrics.json); across-group measures are in "
                  "summary.csv; flip rates in flip_rates.csv."),
    )
    return document
