"""The run report: card, caveat, headlines, both views side by side, twins, how to cite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from audit import AuditResult
from audit.engine import grouping_name
from audit.metrics import EXPLANATIONS
from audit.report import number, p_value, percent, rate_with_interval, ratio_with_interval
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
    if text in ("reference", "—") or text.startswith("— "):
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
                         f"{number(row['value'], 3)} ({number(row['ci_low'], 3)}–"
                         f"{number(row['ci_high'], 3)})", str(row["groups_compared"])])
    return Table(["view", "measure", "metric", "value (95% interval)", "groups compared"], rows)


def flips_table(flips: pd.DataFrame, decision_label: str) -> Table:
    """Counterfactual flip rates per intervention and group."""
    rows = []
    for _, row in flips.iterrows():
        suppressed = "suppressed" in str(row["flags"])
        rows.append([
            row["intervention"], row["grouping"], row["group"],
            "<10" if suppressed else f"{int(row['n']):,}",
            "suppressed" if suppressed else
            f"{percent(row['flip_rate'], 2)} ({percent(row['ci_low'], 2)}–"
            f"{percent(row['ci_high'], 2)})",
            "—" if suppressed else f"{int(row['flips_to_selected']):,}",
            "—" if suppressed else f"{int(row['flips_to_not_selected']):,}",
            row["flags"],
        ])
    return Table(["twin's value", "grouping", "group", "people", "flip rate (95% CI)",
                  f"became {decision_label}", f"ceased to be {decision_label}", "notes"], rows)


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
        Heading("The system"),
        Card(system_run.card),
        Heading("The simulated world"),
        Paragraph("Bias mechanisms switched on in this run (0 = off):"),
        Table(["mechanism", "strength", "targets"],
              [[name, number(m.strength, 2), ", ".join(m.targets) or "everyone"]
               for name, m in config.mechanisms.items()] or [["none", "—", "—"]]),
        Heading("What the numbers mean"),
        Bullets([f"{EXPLANATIONS[m][0]}: {EXPLANATIONS[m][1]}." for m in SHOWN_METRICS]
                 + (["Flip rate: share of people whose decision changes when only one "
                     "attribute of theirs changes (their counterfactual twin)."]
                    if not flips.empty else [])),
        Paragraph(
            "Every rate is shown with its 95% Wilson interval. A ratio compares a group's rate "
            "with the reference group's (the largest group unless the experiment names one); "
            f"its 95% interval comes from {truth.settings['n_boot']:,} bootstrap resamples of "
            "the counts, and p (Holm) tests the difference, adjusted for the number of groups "
            f"compared. Groups with fewer than {config.audit.min_count} people behind a rate are "
            f"marked small_n; under {config.audit.suppress_below} the rate is suppressed, as "
            "statistical agencies suppress small cells."
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
                "Each held-out person's twin has one attribute changed and everything that "
                "depends on it regenerated from the person's own randomness (language, "
                "neighbourhood, records and how closely they are watched, where the mechanisms "
                "make those depend on origin). Both are scored by the same fitted system with "
                "the same cut-off. The flip rate is the share whose decision differs."
            ),
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
