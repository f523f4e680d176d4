"""What a sweep found: the answer to its research question, its tables, figures and report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

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


def seed_interval(mean: float, sd: float, n: int, confidence: float = 0.95,
                  lowest: float = -math.inf) -> tuple[float, float]:
    """Student-t interval of a mean over ``n`` seeds (NaN with fewer than two seeds).

    ``lowest`` is the smallest value the quantity can take (0 for a ratio): a t-interval
    ignores it, so its lower end is cut there rather than printed as an impossible value.
    """
    if n < 2 or not (math.isfinite(mean) and math.isfinite(sd)):
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return max(mean - half, lowest), mean + half


def _ratio_summary(rows: pd.DataFrame, keys: list[str], view: str) -> pd.DataFrame:
    """Per grid value: the focus ratio's mean over seeds and its across-seed interval."""
    part = rows[rows["view"] == view].groupby(keys, sort=True).agg(
        mean=("ratio_mean", "mean"), sd=("ratio_sd", "mean"), seeds=("seeds", "min"))
    bounds = [seed_interval(r["mean"], r["sd"], int(r["seeds"]), lowest=0.0)  # ratios
              for _, r in part.iterrows()]
    part["low"] = [b[0] for b in bounds]
    part["high"] = [b[1] for b in bounds]
    return part


def _with_interval(row: pd.Series) -> str:
    if not math.isfinite(row["mean"]):
        return "undefined"
    if not (math.isfinite(row["low"]) and math.isfinite(row["high"])):
        return f"{row['mean']:.2f} (no interval over seeds)"
    return f"{row['mean']:.2f} (95% interval over seeds {row['low']:.2f} to {row['high']:.2f})"


def _compare(first: pd.Series, second: pd.Series) -> str:
    """"higher", "lower" or "cannot tell": whether two across-seed intervals are apart."""
    if not all(math.isfinite(v) for v in (first["low"], first["high"], second["low"],
                                          second["high"])):
        return "cannot tell"
    if first["low"] > second["high"]:
        return "higher"
    if first["high"] < second["low"]:
        return "lower"
    return "cannot tell"


def _mechanisms_off_but(config: ExperimentConfig, key: str) -> bool:
    """Whether every bias mechanism but the swept one is off in the sweep's base config."""
    swept = key.split(".")[1] if key.startswith("mechanisms.") else ""
    return all(m.strength == 0 for name, m in config.mechanisms.items()
               if name not in (swept, "proxy_leakage"))


def answer_question(config: ExperimentConfig, summary: pd.DataFrame) -> str:
    """A paragraph stating what the sweep found, for the built-in research questions.

    Every claim rests on intervals over the seeds (Student t on the seeds' ratios): a change
    is stated only when the intervals it compares are apart, and otherwise the paragraph says
    the seeds cannot tell. Where the grid holds a world with every bias knob off, what remains
    there is named as not coming from the mechanisms.
    """
    sweep = config.sweep
    rows = focus_rows(config, summary)
    group = sweep.focus_group or "the focus group"
    metric = EXPLANATIONS[sweep.focus_metric][0].lower()
    seeds = len(sweep.seeds)
    if rows.empty:
        return (f"The focus ({sweep.focus_grouping} = {group}, {metric}) did not occur in the "
                "results; check sweep.focus_grouping and sweep.focus_group.")
    if seeds < 2:
        caution = (" With a single seed there is no interval over seeds, so no change below is "
                   "a finding; add seeds to sweep.seeds.")
    else:
        caution = ""
    if sweep.answer == "blind_spot":
        key = "mechanisms.label_bias.strength"
        truth, recorded = _ratio_summary(rows, [key], "true"), _ratio_summary(
            rows, [key], "recorded")
        reached = [s for s in truth.index if truth.loc[s, "low"] >= 2]
        text = (f"{group}'s {metric} ratio to the reference group, by the true outcome and by "
                f"the records, over {seeds} seeds: "
                + "; ".join(f"strength {s:g}: {_with_interval(truth.loc[s])} true, "
                            f"{_with_interval(recorded.loc[s])} recorded" for s in truth.index)
                + ". ")
        if 0.0 in truth.index:
            off = truth.loc[0.0]
            where = ("every bias knob of this sweep is off" if _mechanisms_off_but(config, key)
                     else "label bias is off (other mechanisms stay as configured)")
            text += (f"At strength 0, where {where}, the true ratio is {_with_interval(off)}: "
                     "that much does not come from label bias. ")
        if not reached:
            text += ("At no strength does the interval of the true ratio lie wholly at or above "
                     "2, so the seeds do not show a twofold disparity by the truth. ")
        else:
            missed = [s for s in reached if recorded.loc[s, "high"] < 2]
            text += (f"From strength {min(reached):g}, the true ratio's interval lies at or above "
                     "2. ")
            if missed:
                text += (f"From strength {min(missed):g}, the recorded ratio's interval lies "
                         "below 2: an audit by recorded outcomes misses the twofold disparity. ")
            else:
                text += ("At no strength where the truth is twofold does the recorded ratio's "
                         "interval lie wholly below 2, so the seeds do not show the recorded "
                         "audit missing it. ")
        return text.strip() + caution
    if sweep.answer == "unawareness":
        key_n, key_p = "system.use_nationality", "mechanisms.proxy_leakage.strength"
        truth = _ratio_summary(rows, [key_p, key_n], "true")
        levels = sorted({k[0] for k in truth.index})
        parts = []
        for leak in levels:
            if (leak, True) not in truth.index or (leak, False) not in truth.index:
                continue
            with_n, without = truth.loc[(leak, True)], truth.loc[(leak, False)]
            verdict = {"lower": "lower", "higher": "higher",
                       "cannot tell": "not distinguishable from it"}[_compare(without, with_n)]
            parts.append(f"with proxy leakage {leak:g}, {_with_interval(with_n)} with "
                         f"nationality and {_with_interval(without)} without ({verdict})")
        text = (f"{group}'s {metric} ratio by the true outcome, over {seeds} seeds: "
                + "; ".join(parts) + ".")
        unaware = [truth.loc[(leak, False)] for leak in levels if (leak, False) in truth.index]
        if len(unaware) >= 2:
            trend = _compare(unaware[-1], unaware[0])
            if trend == "higher":
                text += (" Without nationality, the disparity is larger at the highest proxy "
                         "leakage than at the lowest: the model reaches nationality through "
                         "the proxies.")
            elif trend == "lower":
                text += (" Without nationality, the disparity is smaller at the highest proxy "
                         "leakage than at the lowest.")
            else:
                text += (" Without nationality, the seeds cannot tell whether the disparity "
                         "depends on proxy leakage; what remains is compared with the world "
                         "with every bias knob off below, where the runs computed it.")
        return text + caution
    if sweep.answer == "capacity":
        key = "system.capacity"
        truth = _ratio_summary(rows, [key], "true")
        values = "; ".join(f"k = {k:g}: {_with_interval(truth.loc[k])}" for k in truth.index)
        defined = truth[truth["mean"].map(math.isfinite)]
        if len(defined) < 2:
            trend = "Too few capacities gave a defined ratio to compare."
        else:
            change = _compare(defined.iloc[-1], defined.iloc[0])
            trend = {
                "lower": "The disparity is smaller at the largest capacity than at the smallest.",
                "higher": "The disparity is larger at the largest capacity than at the smallest.",
                "cannot tell": ("The seeds cannot tell whether the disparity at the largest "
                                "capacity differs from that at the smallest."),
            }[change]
        return (f"{group}'s {metric} ratio to the reference group by the true outcome, over "
                f"{seeds} seeds: {values}. {trend}" + caution)
    if sweep.answer == "base_rate":
        from experiments.systems.iborderctrl import base_rate_answer

        return base_rate_answer(config, summary) + caution
    return ""


def knobs_off_rows(config: ExperimentConfig, points: list[SweepPoint], directory: Path
                   ) -> pd.DataFrame:
    """The focus gap as configured and with every bias knob off, from each point's
    attribution.csv, summarised over seeds per grid point (empty without attribution)."""
    from experiments.attribution import ALL_OFF, AS_CONFIGURED

    sweep = config.sweep
    frames = []
    for point in points:
        path = directory / "points" / point.point_id / "attribution.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        table = table[(table["grouping"] == sweep.focus_grouping)
                      & (table["group"] == sweep.focus_group)
                      & (table["metric"] == sweep.focus_metric)
                      & table["source"].isin([ALL_OFF, AS_CONFIGURED])]
        frames.append(table.assign(point_key=repr(tuple(point.params.values())),
                                   seed=point.seed, **{k: v for k, v in point.params.items()}))
    if not frames:
        return pd.DataFrame()
    tidy = pd.concat(frames, ignore_index=True)
    keys = [*sweep.grid, "source"]
    out = tidy.groupby(keys, sort=True).agg(mean=("contribution", "mean"),
                                            sd=("contribution", "std"),
                                            seeds=("seed", "nunique")).reset_index()
    bounds = [seed_interval(r["mean"], r["sd"], int(r["seeds"])) for _, r in out.iterrows()]
    out["low"] = [b[0] for b in bounds]
    out["high"] = [b[1] for b in bounds]
    return out


def knobs_off_paragraph(config: ExperimentConfig, table: pd.DataFrame) -> str:
    """What the world with every bias knob off shows at each grid point, in words."""
    from experiments.attribution import ALL_OFF, AS_CONFIGURED

    if table.empty:
        return ("The points of this sweep computed no world with every bias knob off "
                "([attribution] absent or switched off), so nothing here separates what the "
                "mechanisms do from what the population's composition does.")
    keys = list(config.sweep.grid)
    parts, remains = [], []
    for params, part in table.groupby(keys, sort=True) if keys else [((), table)]:
        params = params if isinstance(params, tuple) else (params,)
        where = ", ".join(f"{k} = {v}" for k, v in zip(keys, params, strict=True)) or "the run"
        on = part[part["source"] == AS_CONFIGURED].iloc[0]
        off = part[part["source"] == ALL_OFF].iloc[0]

        def pts(r: pd.Series) -> str:
            if not (math.isfinite(r["low"]) and math.isfinite(r["high"])):
                return f"{100 * r['mean']:+.2f}"
            return f"{100 * r['mean']:+.2f} ({100 * r['low']:+.2f} to {100 * r['high']:+.2f})"

        parts.append(f"{where}: {pts(on)} as configured, {pts(off)} with every knob off")
        if math.isfinite(off["low"]) and (off["low"] > 0 or off["high"] < 0):
            remains.append(where)
    group = config.sweep.focus_group or "the focus group"
    text = (f"Gap in {EXPLANATIONS[config.sweep.focus_metric][0].lower()} between {group} and "
            "the reference group, in percentage points, mean and 95% interval over seeds: "
            + "; ".join(parts) + ". ")
    if remains:
        text += ("With every bias knob off, part of the gap remains at " + "; ".join(remains)
                 + ": that part comes from the simulated population, not from a mechanism.")
    else:
        text += ("With every bias knob off, the seeds cannot tell the gap from none at any "
                 "grid point.")
    return text


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
        Heading("With every bias knob off"),
        Paragraph(knobs_off_paragraph(config, knobs_off_rows(config, points, directory))),
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
