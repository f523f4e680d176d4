"""What a sweep found: the answer to its research question, its tables, figures and report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from audit.figures import save_figure  # noqa: E402
from audit.metrics import EXPLANATIONS  # noqa: E402
from audit.report import number  # noqa: E402
from experiments.document import Caveat, Document, Figure, Heading, Paragraph, Table  # noqa: E402
from experiments.report import CAVEAT  # noqa: E402

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig
    from experiments.sweep import SweepPoint

VIEWS = ("true", "recorded")


def focus_rows(config: ExperimentConfig, summary: pd.DataFrame) -> pd.DataFrame:
    """Summary rows of the sweep's focus: one grouping, group and metric, both views."""
    sweep = config.sweep
    rows = summary[(summary["grouping"] == sweep.focus_grouping)
                   & (summary["metric"] == sweep.focus_metric)]
    if sweep.focus_group:
        rows = rows[rows["group"] == sweep.focus_group]
    return rows


def _mean_by(rows: pd.DataFrame, key: str, view: str, column: str = "ratio_mean") -> pd.Series:
    part = rows[rows["view"] == view]
    return part.groupby(key, sort=True)[column].mean()


def answer_question(config: ExperimentConfig, summary: pd.DataFrame) -> str:
    """A paragraph stating what the sweep found, for the built-in research questions."""
    sweep = config.sweep
    rows = focus_rows(config, summary)
    group = sweep.focus_group or "the focus group"
    metric = EXPLANATIONS[sweep.focus_metric][0].lower()
    seeds = len(sweep.seeds)
    if rows.empty:
        return (f"The focus ({sweep.focus_grouping} = {group}, {metric}) did not occur in the "
                "results; check sweep.focus_grouping and sweep.focus_group.")
    if sweep.answer == "blind_spot":
        key = "mechanisms.label_bias.strength"
        truth, recorded = _mean_by(rows, key, "true"), _mean_by(rows, key, "recorded")
        significant = _mean_by(rows, key, "recorded", "significant_share")
        twofold = [s for s in truth.index if truth[s] >= 2]
        missed = [s for s in twofold if recorded[s] < 2]
        if not twofold:
            return (f"Across label-bias strengths {', '.join(f'{s:g}' for s in truth.index)}, "
                    f"the {metric} ratio of {group} by the true outcome never reached 2 (mean "
                    f"over {seeds} seeds; highest {truth.max():.2f}).")
        first = min(twofold)
        text = (f"By the true outcome, {group}'s {metric} reached at least twice the reference "
                f"group's from label-bias strength {first:g} (mean ratio {truth[first]:.2f} over "
                f"{seeds} seeds). ")
        if missed:
            s = min(missed)
            text += (f"From strength {s:g} on, an audit by recorded outcomes misses that twofold "
                     f"disparity: it measures a ratio of {recorded[s]:.2f} where the truth is "
                     f"{truth[s]:.2f}, and finds it significant in {100 * significant[s]:.0f}% "
                     "of seeds. ")
        else:
            text += ("An audit by recorded outcomes still sees a ratio of at least 2 at every "
                     "strength tried, so within this grid it does not miss the disparity. ")
        return text + ("The records that train the system are the records that would be used "
                       "to audit it, and label bias makes both agree.")
    if sweep.answer == "unawareness":
        key_n, key_p = "system.use_nationality", "mechanisms.proxy_leakage.strength"
        truth = rows[rows["view"] == "true"].groupby([key_p, key_n])["ratio_mean"].mean()
        parts = []
        for leak in sorted({k[0] for k in truth.index}):
            with_n = truth.get((leak, True), math.nan)
            without = truth.get((leak, False), math.nan)
            removed = (with_n - without) / (with_n - 1) if with_n and with_n != 1 else math.nan
            parts.append(
                f"with proxy leakage {leak:g}, dropping nationality moved {group}'s {metric} "
                f"ratio from {with_n:.2f} to {without:.2f}"
                + (f" ({100 * removed:.0f}% of the excess over parity removed)"
                   if math.isfinite(removed) else "")
            )
        levels = sorted({k[0] for k in truth.index})
        unaware = [truth.get((leak, False), math.nan) for leak in levels]
        if not all(math.isfinite(v) for v in unaware) or len(levels) < 2:
            verdict = ""
        elif unaware[-1] > 1.25 * unaware[0]:
            verdict = (" Without nationality, the disparity grows with proxy leakage: where "
                       "language, neighbourhood and name track nationality, a model that never "
                       "sees nationality still reaches it through them.")
        else:
            verdict = (" Without nationality, the disparity hardly depends on proxy leakage "
                       f"({unaware[0]:.2f} at leakage {levels[0]:g}, {unaware[-1]:.2f} at "
                       f"{levels[-1]:g}): it comes from the biased records themselves (label "
                       "bias, presumed gang membership, surveillance), which the model reads "
                       "whether or not it sees nationality. Leaving nationality out is not "
                       "enough to remove it.")
        return ("By the true outcome (means over " f"{seeds} seeds): " + "; ".join(parts) + "."
                + verdict)
    if sweep.answer == "capacity":
        key = "system.capacity"
        truth = _mean_by(rows, key, "true")
        difference = _mean_by(rows, key, "true", "difference_mean")
        values = ", ".join(
            (f"{truth[k]:.2f}" if math.isfinite(truth[k]) else
             f"undefined (the reference group had no wrongful prioritisations; {group} "
             f"{100 * difference[k]:.2f} points above it)") + f" at k = {k:g}"
            for k in truth.index)
        defined = truth.dropna()
        if len(defined) < 2:
            trend = "Too few capacities gave a defined ratio to tell a trend."
        elif defined.iloc[0] > defined.iloc[-1]:
            trend = ("The disparity shrinks as capacity grows: a narrow capacity concentrates "
                     "wrongful prioritisation on the groups the records over-represent.")
        else:
            trend = "The disparity does not shrink as capacity grows in this grid."
        return (f"By the true outcome, {group}'s {metric} ratio to the reference group was "
                f"{values} (means over {seeds} seeds). {trend}")
    return ""


def plot_knob(rows: pd.DataFrame, key: str, other_keys: list[str], path: Path, title: str,
              ylabel: str) -> Path:
    """Focus ratio against one swept knob: mean line and min-max band over seeds, by view."""
    fig, axis = plt.subplots(figsize=(7, 4))
    colours = {"true": "#1f4e79", "recorded": "#c55a11"}
    groups = list(rows.groupby(other_keys, sort=True)) if other_keys else [((), rows)]
    styles = ("-", "--", "-.", ":")
    for index, (other, part) in enumerate(groups):
        other = other if isinstance(other, tuple) else (other,)
        label_rest = ", ".join(f"{k.split('.')[-2] if k.count('.') else k}={v}"
                               for k, v in zip(other_keys, other, strict=True))
        for view in VIEWS:
            line = part[part["view"] == view].groupby(key, sort=True).agg(
                mean=("ratio_mean", "mean"), low=("ratio_min", "min"), high=("ratio_max", "max"))
            if line.empty:
                continue
            x = [float(v) for v in line.index]
            label = f"{view} outcome" + (f" ({label_rest})" if label_rest else "")
            axis.plot(x, line["mean"], marker="o", color=colours[view], label=label,
                      linestyle=styles[index % len(styles)])
            axis.fill_between(x, line["low"], line["high"], color=colours[view], alpha=0.15)
    axis.axhline(1, color="#999999", linewidth=1, linestyle=":")
    axis.set_xlabel(key)
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def write_sweep_outputs(
    directory: Path,
    config: ExperimentConfig,
    points: list[SweepPoint],
    tidy: pd.DataFrame,
    summary: pd.DataFrame,
    answer: str,
) -> None:
    """Write sweep_metrics.csv, sweep_summary.csv, figures and the sweep report."""
    from experiments.sweep import write_table

    write_table(tidy, directory / "sweep_metrics.csv")
    write_table(summary, directory / "sweep_summary.csv")
    sweep = config.sweep
    keys = list(sweep.grid)
    rows = focus_rows(config, summary)
    metric = EXPLANATIONS[sweep.focus_metric][0]
    group = sweep.focus_group or "focus group"
    document = Document(f"Sweep: {config.experiment.title}")
    document.add(
        Caveat("A simulation of a mimic, not a measurement of the real system", CAVEAT),
        Heading("The question"),
        Paragraph(sweep.question or "(no question stated in sweep.question)"),
        Heading("What this sweep found"),
        Paragraph(answer or "No built-in analysis was chosen (sweep.answer = 'none'); see "
                            "the table and figures."),
        Heading("The grid"),
        Paragraph(f"{len(points)} runs: {len(points) // len(sweep.seeds)} grid points × "
                  f"{len(sweep.seeds)} seeds ({', '.join(map(str, sweep.seeds))}), "
                  f"{config.population.size:,} people each."),
    )
    table_rows = []
    for params, part in rows.groupby(keys, sort=True) if keys else [((), rows)]:
        params = params if isinstance(params, tuple) else (params,)
        cells = [str(v) for v in params]
        for view in VIEWS:
            r = part[part["view"] == view]
            if r.empty:
                cells += ["—", "—"]
                continue
            r = r.iloc[0]
            cells += [f"{number(r['ratio_mean'])} ({number(r['ratio_min'])}–"
                      f"{number(r['ratio_max'])})", f"{100 * r['significant_share']:.0f}%"]
        table_rows.append(cells)
    document.add(Table(
        [*keys, f"{metric} ratio, true outcome: mean (min–max over seeds)",
         "significant (Holm) in", f"{metric} ratio, recorded outcome: mean (min–max)",
         "significant (Holm) in"],
        table_rows, caption=f"{group} against the reference group, by {sweep.focus_grouping}"))
    for key in keys:
        path = plot_knob(rows, key, [k for k in keys if k != key],
                         directory / "figures" / f"sweep_{key.replace('.', '_')}.png",
                         f"{metric} ratio of {group} against {key}",
                         f"{metric} ratio to reference (mean, band: min–max over seeds)")
        document.add(Figure(path, f"{metric} ratio of {group} to the reference group as "
                                  f"{key} varies; the band spans the seeds.", directory))
    document.add(
        Heading("Files"),
        Paragraph("sweep_metrics.csv holds every metric of every point (grid values, seed, "
                  "view, grouping, group, metric, value, intervals); sweep_summary.csv "
                  "summarises it across seeds; points/<point>/ holds each run's tables and "
                  "manifest; sweep_manifest.json lists every point and hashes every file."),
    )
    (directory / "sweep_report.md").write_text(document.to_markdown(), encoding="utf-8")
    (directory / "sweep_report.html").write_text(document.to_html(), encoding="utf-8")
