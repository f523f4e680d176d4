"""The report's "What changes it" section: each remedy against the unremedied run, by the true
and by the recorded outcome, with what it costs and who bears the change; and its figure."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.figures import literal_text, new_figure, save_figure
from audit.metrics import EXPLANATIONS
from audit.report import WITHHELD, bounds
from experiments.config.remedies import REMEDIES, REMEDY_TITLES
from experiments.systems.contract import RemedyResults
from experiments.writing.document import Bullets, Figure, Heading, Paragraph, Table

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig
    from experiments.systems.contract import SystemRun

FIGURE = "figures/remedies_truth_vs_records.png"


def records_fix_fails(recorded_low: Any, recorded_high: Any, true_low: Any, true_high: Any
                      ) -> Any:
    """Whether a remedied gap is a fix measured on the records that fails in truth.

    The records cannot tell the gap from zero (their interval holds zero) while the truth's
    interval lies wholly beyond the records' (the records rule out the gap the truth shows; a
    wide recorded interval that merely holds zero is no such case). Works on numbers and,
    element by element, on arrays or Series; a missing end makes it false.
    """
    return ((recorded_low <= 0) & (0 <= recorded_high)
            & (((true_low > 0) & (recorded_high < true_low))
               | ((true_high < 0) & (recorded_low > true_high))))


def _signed(value: float) -> str:
    """``+1.2``: percentage points to one decimal, with no "-0.0" for a rounded zero."""
    shown = round(100 * value, 1) + 0.0
    return f"{shown:+.1f}"


def points(value: float) -> str:
    """A difference of rates in percentage points, signed; an em dash when undefined."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{_signed(value)} pp"


def interval(low: float, high: float) -> str:
    """``[-1.2, +0.4] pp``, in the one convention of every report for an end that is missing
    (the interval withheld) or infinite (no bound on that side)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"(interval {WITHHELD})"
    return f"[{bounds(low, high, _signed, ', ')}] pp"


def verdict(low: float, high: float) -> str:
    """What a paired interval of a change says: a rise, a fall, or that the data cannot tell."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "cannot be judged (no interval)"
    if low > 0:
        return "rises"
    if high < 0:
        return "falls"
    return "the data cannot tell whether it changes"


def records_fix_fails_in_truth(true_row: pd.Series, recorded_row: pd.Series) -> bool:
    """:func:`experiments.engine.remedies.records_fix_fails` for one remedy's two rows."""
    return bool(records_fix_fails(recorded_row["remedied_ci_low"], recorded_row["remedied_ci_high"],
                                  true_row["remedied_ci_low"], true_row["remedied_ci_high"]))


#: A remedy acts on "far fewer" people when its overall selection rate falls below this share
#: of the unremedied one; a gap it closes is then closed mainly by deciding almost nobody.
FAR_FEWER = 0.5


def acts_on_far_fewer(base: float, remedied: float) -> bool:
    """Whether a remedy's overall selection rate fell by more than half (:data:`FAR_FEWER`).

    Parameters
    ----------
    base, remedied : float
        The share of people acted on without and with the remedy.

    Returns
    -------
    bool
    """
    return bool(base > 0 and remedied < FAR_FEWER * base)


def far_fewer_warning(rows: pd.DataFrame, decision_label: str) -> str:
    """A warning sentence when a remedy's rows (one remedy of remedies.csv) show it acting on
    far fewer people; empty otherwise."""
    overall = rows[(rows["kind"] == "overall") & (rows["view"] == "true")
                   & (rows["metric"] == "selection_rate")]
    if overall.empty:
        return ""
    r = overall.iloc[0]
    if not acts_on_far_fewer(float(r["base"]), float(r["remedied"])):
        return ""
    return (f"Warning: this remedy cut the share {decision_label} from {100 * r['base']:.1f}% "
            f"to {100 * r['remedied']:.1f}%, by more than half; any gap it closes it closes "
            "mainly by acting on far fewer people, not by deciding them more fairly.")


def remedies_blocks(config: ExperimentConfig, system_run: SystemRun, directory: Path
                    ) -> list[object]:
    """The "What changes it" section of a run's report (empty when no remedy was run).

    Parameters
    ----------
    config : ExperimentConfig
    system_run : SystemRun
        With ``remedies`` (:class:`experiments.engine.remedies.RemedyResults`) set by the runner.
    directory : Path
        The run folder (the figure is written under ``figures/``).
    """
    results: RemedyResults | None = system_run.findings.remedies
    if results is None:
        return []
    table = results.table
    level = f"{100 * results.confidence:g}%"
    blocks: list[object] = [Heading("What changes it"), Paragraph(
        f"Each remedy below was run on the same {len(system_run.decided.table):,} held-out "
        f"{system_run.decided.unit} as the unremedied system (same population, same training "
        "split), "
        "so every change is paired: its interval rests on the people whose decision the "
        f"remedy changed ({level} Newcombe paired intervals; a gap's change combines the two "
        "groups' paired changes). Each is judged by the recorded outcome, all a real agency "
        "could check its fix against, and by the true outcome, which only the simulation "
        "knows. The fairness remedies equalise over "
        f"{results.sensitive_feature.replace('_', ' ')}. The threshold optimiser and the "
        "reductions decide by themselves (fairlearn's randomised predictions, fitted on the "
        "training split's recorded outcomes), so a capacity the system had is not kept and "
        "the overall selection rate changes with them; the data remedies and unawareness "
        "refit the system's score and decide with its own rule; the design remedies are the "
        "experiment with one setting changed.")]
    model = system_run.hooks.remedy_model
    if model is not None and model.label_note:
        blocks.append(Paragraph(model.label_note))
    if not results.applied:
        blocks.append(Paragraph("No remedy this system supports was requested."))
    for name in results.applied:
        blocks.append(Heading(REMEDY_TITLES[name], 3))
        note = results.notes.get(name, "")
        blocks.append(Paragraph(f"{REMEDIES[name].description[0].upper()}"
                                f"{REMEDIES[name].description[1:]}"
                                + (f" ({note})" if note else "") + "."))
        blocks.append(Bullets(_remedy_sentences(table[table["remedy"] == name],
                                                system_run, level)))
    if results.applied:
        blocks.append(_summary_table(table, results.applied))
        path = plot_truth_against_records(table, directory / FIGURE,
                                          confidence=results.confidence)
        if path is not None:
            blocks.append(Figure(path, (
                "Each remedy's focus disparity (group minus reference"
                + ("; selection rates, which both views share, are left out"
                   if (table.loc[table["kind"] == "focus_disparity", "metric"]
                       != "selection_rate").any() else "")
                + ") by the true outcome "
                "(across) against the same disparity by the recorded outcome (up), with "
                f"{level} Newcombe intervals for two independent groups; the unremedied run is "
                "the square. Points on the diagonal are remedies the records judge as the "
                "truth does; a point near the horizontal zero line but away from the vertical "
                "one is a fix that looks fair on the records and is not."), directory))
        blocks.append(Paragraph(_timing_sentence(results)))
    if results.unsupported:
        blocks.append(Paragraph(f"Remedies {config.experiment.system} cannot take:"))
        blocks.append(Bullets([f"{REMEDY_TITLES[n]} ({n}): {why}."
                               for n, why in results.unsupported.items()]))
    blocks.append(Paragraph("Every number here, with its interval, is in remedies.csv (one row "
                            "per remedy, view, comparison and rate)."))
    return blocks


def _remedy_sentences(rows: pd.DataFrame, system_run: SystemRun, level: str) -> list[str]:
    sentences = []
    focus = rows[rows["kind"] == "focus_disparity"]
    for (label, group, reference, metric), part in focus.groupby(
            ["label", "group", "reference", "metric"], sort=False):
        by_view = {r["view"]: r for _, r in part.iterrows()}
        if set(by_view) != {"true", "recorded"}:
            continue
        true_row, recorded_row = by_view["true"], by_view["recorded"]
        name = EXPLANATIONS[metric][0].lower()
        who = label or f"{group} against {reference}"
        text = (f"{who}, {name} gap: by the records {points(recorded_row['base'])} before, "
                f"{points(recorded_row['remedied'])} after (change "
                f"{points(recorded_row['change'])}, {interval(recorded_row['change_ci_low'], recorded_row['change_ci_high'])}); "  # noqa: E501
                f"by the truth {points(true_row['base'])} before, "
                f"{points(true_row['remedied'])} after (change {points(true_row['change'])}, "
                f"{interval(true_row['change_ci_low'], true_row['change_ci_high'])}).")
        if records_fix_fails_in_truth(true_row, recorded_row):
            text += (" The records cannot tell the remedied gap from zero (" + interval(
                recorded_row["remedied_ci_low"], recorded_row["remedied_ci_high"])
                + "), but the truth can (" + interval(true_row["remedied_ci_low"],
                                                      true_row["remedied_ci_high"])
                + "), and the two intervals are apart: a fix measured on the records that "
                "fails in truth.")
        sentences.append(text)
    overall = rows[rows["kind"] == "overall"].set_index(["view", "metric"])
    for view, label in (("true", "the true outcome"), ("recorded", "the recorded outcome")):
        if (view, "accuracy") in overall.index:
            r = overall.loc[(view, "accuracy")]
            sentences.append(
                f"Accuracy against {label}: {100 * r['base']:.1f}% before, "
                f"{100 * r['remedied']:.1f}% after (change {points(r['change'])}, "
                f"{interval(r['change_ci_low'], r['change_ci_high'])}; "
                f"{verdict(r['change_ci_low'], r['change_ci_high'])}).")
    if ("true", "selection_rate") in overall.index:
        r = overall.loc[("true", "selection_rate")]
        sentences.append(
            f"Share {system_run.wording.decision_label}: {100 * r['base']:.1f}% before, "
            f"{100 * r['remedied']:.1f}% after (change {points(r['change'])}, "
            f"{interval(r['change_ci_low'], r['change_ci_high'])}).")
        warning = far_fewer_warning(rows, system_run.wording.decision_label)
        if warning:
            # Leads the remedy's bullets: a reader who stops at the first one must see it.
            sentences.insert(0, warning)
    rates = rows[(rows["kind"] == "group_rate") & (rows["view"] == "true")]
    if not rates.empty:
        risen = rates[rates["rises"] == "yes"]
        parts = []
        for metric, word in (("fpr", "false positive rate"), ("fnr", "false negative rate")):
            groups = list(risen.loc[risen["metric"] == metric, "group"])
            if groups:
                parts.append(f"the {word} of {', '.join(groups)}")
        sentences.append(
            "Who bears the change, by the true outcome: " + ("; ".join(parts) + " rose "
                                                             f"({level} paired intervals above "
                                                             "zero)." if parts else
                                                             "no group's false positive or "
                                                             "false negative rate rose beyond "
                                                             "its interval."))
    return sentences


def _summary_table(table: pd.DataFrame, applied: list[str]) -> Table:
    focus = table[table["kind"] == "focus_disparity"]
    first = focus.drop_duplicates(["grouping", "group", "reference", "metric"]).head(1)
    rows = []
    for name in applied:
        cells = [REMEDY_TITLES[name]]
        for view in ("true", "recorded"):
            if first.empty:
                cells.append("—")
                continue
            key = first.iloc[0]
            match = focus[(focus["remedy"] == name) & (focus["view"] == view)
                          & (focus["group"] == key["group"]) & (focus["metric"] == key["metric"])
                          & (focus["grouping"] == key["grouping"])]
            if match.empty:
                cells.append("—")
                continue
            r = match.iloc[0]
            # The interval is the change's, so it stands beside the change, not the value.
            cells.append(f"{points(r['base'])} → {points(r['remedied'])}; change "
                         f"{points(r['change'])} "
                         f"{interval(r['change_ci_low'], r['change_ci_high'])}")
        overall = table[(table["remedy"] == name) & (table["kind"] == "overall")
                        & (table["view"] == "true")].set_index("metric")
        for metric in ("accuracy", "selection_rate"):
            if metric in overall.index:
                r = overall.loc[metric]
                fewer = (" — acts on far fewer people (rate more than halved)"
                         if metric == "selection_rate"
                         and acts_on_far_fewer(float(r["base"]), float(r["remedied"])) else "")
                cells.append(f"{points(r['change'])} "
                             f"{interval(r['change_ci_low'], r['change_ci_high'])}{fewer}")
            else:
                cells.append("—")
        bear = table[(table["remedy"] == name) & (table["view"] == "true")
                     & (table["kind"] == "group_rate") & (table["rises"] == "yes")]
        cells.append(", ".join(f"{g} ({m})" for g, m in zip(bear["group"], bear["metric"],
                                                             strict=True)) or "nobody")
        rows.append(cells)
    caption = ""
    if not first.empty:
        key = first.iloc[0]
        caption = (f"Gap: {key['label'] or key['group'] + ' against ' + key['reference']}, "
                   f"{EXPLANATIONS[key['metric']][0].lower()}, before → after, then the change "
                   "with its paired interval. Accuracy and selection rate: change overall, by the "
                   "true outcome.")
    return Table(["remedy", "gap by the truth", "gap by the records", "accuracy change",
                  "selection rate change", "error rate rises (truth)"], rows, caption=caption)


def _timing_sentence(results: RemedyResults) -> str:
    parts = [f"{REMEDY_TITLES[n]} {s:.1f} s ({s / results.base_seconds:.1f}×)"
             if results.base_seconds > 0 else f"{REMEDY_TITLES[n]} {s:.1f} s"
             for n, s in results.seconds.items()]
    return (f"Cost in time on this machine: the unremedied run took {results.base_seconds:.1f} "
            f"s; each remedy added {', '.join(parts)} (the factor is to the unremedied run).")


@literal_text
def plot_truth_against_records(table: pd.DataFrame, path: Path, *, confidence: float = 0.95
                               ) -> Path | None:
    """Disparity by the truth against disparity by the records, one point per remedy and one
    panel per focus comparison, with intervals; None when there is no focus comparison."""
    focus = table[table["kind"] == "focus_disparity"]
    # A selection rate does not depend on the outcome: both views always agree on it, so its
    # panels are left out when an error rate is there to show.
    judged = focus[focus["metric"] != "selection_rate"]
    focus = judged if not judged.empty else focus
    keys = focus.drop_duplicates(["grouping", "group", "reference", "metric"])
    if keys.empty:
        return None
    keys = keys.head(4)
    from matplotlib import colormaps

    fig, axes = new_figure((4.6 * len(keys), 4.4), 1, len(keys), squeeze=False)
    colours = colormaps["tab10"]
    for axis, (_, key) in zip(axes[0], keys.iterrows(), strict=True):
        part = focus[(focus["grouping"] == key["grouping"]) & (focus["group"] == key["group"])
                     & (focus["reference"] == key["reference"])
                     & (focus["metric"] == key["metric"])]
        base_done = False
        # Several remedies often land on one point (two that return the same decisions):
        # each gets its own hollow marker shape, and the legend names those that coincide.
        seen: dict[tuple[float, float], str] = {}
        for index, name in enumerate(dict.fromkeys(part["remedy"])):
            rows = part[part["remedy"] == name].set_index("view")
            if not {"true", "recorded"} <= set(rows.index):
                continue
            t, r = rows.loc["true"], rows.loc["recorded"]
            if not base_done:
                axis.plot(100 * t["base"], 100 * r["base"], "s", color="black", markersize=7,
                          label="unremedied")
                base_done = True
            x, y = 100 * t["remedied"], 100 * r["remedied"]
            xerr = np.clip([[x - 100 * t["remedied_ci_low"]], [100 * t["remedied_ci_high"] - x]],
                           0, None)
            yerr = np.clip([[y - 100 * r["remedied_ci_low"]], [100 * r["remedied_ci_high"] - y]],
                           0, None)
            title = REMEDY_TITLES.get(name, name)
            point = (round(float(x), 1), round(float(y), 1))
            label = title + (f" (same point as {seen[point]})" if point in seen else "")
            seen.setdefault(point, title)
            axis.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr),
                          fmt=MARKERS[index % len(MARKERS)], color=colours(index % 10),
                          capsize=2, markersize=4 + 2 * (index % 3), fillstyle="none",
                          label=label)
        low, high = axis.get_xlim()
        low2, high2 = axis.get_ylim()
        span = (min(low, low2), max(high, high2))
        axis.plot(span, span, color="#b0b0b0", linestyle="--", linewidth=1)
        axis.axhline(0, color="#d0d0d0", linewidth=1)
        axis.axvline(0, color="#d0d0d0", linewidth=1)
        name = EXPLANATIONS[key["metric"]][0]
        axis.set_xlabel(f"{name} gap by the true outcome (pp)", fontsize=8)
        axis.set_ylabel(f"{name} gap by the recorded outcome (pp)", fontsize=8)
        title = key["label"] or f"{key['group']} against {key['reference']}"
        axis.set_title("\n".join(_wrap(title, 48)), fontsize=8)
        axis.grid(color="#eeeeee")
    # The legend sits below the panels, never on the data.
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, frameon=False, loc="lower center",
               ncol=min(3, max(1, len(labels))))
    fig.suptitle("\n".join(_wrap(
        "Remedies: the gap by the truth against the gap by the records "
        f"({100 * confidence:.0f}% Newcombe intervals)", 70)), fontsize=10)
    rows_of_legend = -(-len(labels) // 3)
    fig.tight_layout(rect=(0, 0.06 * rows_of_legend, 1, 1))
    return save_figure(fig, path)


#: Marker shapes of the remedies, in order, so that remedies at one point stay visible.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]
