"""What a sweep found: the answer to its research question, its tables, figures and report.

Every interval here is the seeds' pooled interval (:mod:`audit.pooling`): each
run's own closed-form interval and the variation from seed to seed, combined as a
random-effects meta-analysis. Verdicts rest on those intervals only.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.figures import literal_text, new_figure, plain_log_labels, save_figure
from audit.metrics import EXPLANATIONS
from audit.pooling import (
    POOLING_METHOD,
    compare_intervals,
    interval_text,
    pooled_ratio_text,
    ratio_summary,
)
from experiments.config.registry import system_adapter
from experiments.reports.run import CAVEAT
from experiments.sweeps.adjusted import adjusted_blocks
from experiments.writing.document import (
    Bullets,
    Caveat,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
)

if TYPE_CHECKING:
    from experiments.config import ExperimentConfig
    from experiments.sweeps.point import SweepPoint

VIEWS = ("true", "recorded")
#: The ratio a sweep's verdicts call a disparity of note ("twofold"), and no disparity.
THRESHOLD, PARITY = 2.0, 1.0

#: What each built-in ``sweep.answer`` computes (the README lists these).
ANSWERS: dict[str, str] = {
    "none": "no built-in analysis; the report shows each comparison's pooled table, figure "
            "and per-seed values",
    "blind_spot": "sweeps `mechanisms.label_bias.strength`: at each strength the focus ratio "
                  "by the true and by the recorded outcome; from which strength the true "
                  "ratio's interval lies wholly at or above 2, and from which the recorded "
                  "one lies wholly below 2 (the recorded audit misses the twofold "
                  "disparity); strengths whose interval holds both 1 and 2 are named as "
                  "ones the data cannot tell; strength 0 shows what does not come from "
                  "label bias",
    "unawareness": "sweeps `system.use_nationality` and "
                   "`mechanisms.proxy_leakage.strength`: at each leakage, the true focus "
                   "ratio with and without nationality as a feature, higher, lower or not "
                   "distinguishable; and whether without nationality the ratio grows with "
                   "leakage (the model reaching nationality through proxies)",
    "capacity": "sweeps `system.capacity`: the true focus ratio at each capacity, and whether "
                "the largest capacity's interval lies apart from the smallest's",
    "base_rate": "sweeps `system.base_rate` (and `system.pilot_size`): the share of the "
                 "focus group's flags that fall on deceivers at each base rate (t interval "
                 "over seeds, clipped to 0-100%), the base rates at which that share lies "
                 "wholly below 50%, and whether a larger pilot changes the focus ratio",
    "remedies": "reads each point's remedies.csv (`[remedies]`) and pools each remedy's focus "
                "gap over the seeds (the mean, with a normal interval combining the seeds' own "
                "Newcombe intervals) by the true and by the recorded outcome; at each grid "
                "value, names the remedies whose recorded gap's interval holds zero while the "
                "true gap's lies wholly beyond it (a fix measured on the records that fails in "
                "truth), or says the data show no such case; and whether the two views' "
                "intervals overlap for every remedy with label bias off "
                "(`sweep_remedies.csv`)",
}


@dataclass(frozen=True)
class Comparison:
    """One comparison a sweep reports: a group of a grouping against the reference, in one
    metric."""

    grouping: str
    group: str
    metric: str
    label: str
    #: Where it was named: "sweep.focus_group", "audit.focus" or "" (chosen for the reader).
    source: str
    #: Every rate the comparison names (``metric`` first); the contrasts follow them all.
    metrics: tuple[str, ...] = ()


def focus_comparisons(config: ExperimentConfig, summary: pd.DataFrame
                      ) -> tuple[list[Comparison], str]:
    """The comparisons a sweep reports, and a sentence saying where they come from.

    The sweep's own focus (``sweep.focus_group``) comes first, then the experiment's
    pre-specified ``[[audit.focus]]`` comparisons. A sweep that names neither shows every
    group of ``sweep.focus_grouping`` against its reference group, each on its own (never an
    average over groups, never the reference among them), and says so.
    """
    sweep = config.sweep
    comparisons: list[Comparison] = []
    skipped: list[str] = []
    if sweep.focus_group:
        comparisons.append(Comparison(
            sweep.focus_grouping, sweep.focus_group, sweep.focus_metric,
            _against(sweep.focus_group, config.audit.reference.get(sweep.focus_grouping, "")),
            "sweep.focus_group", (sweep.focus_metric,)))
    for focus in config.audit.focus:
        if any(c.grouping == focus.grouping and c.group == focus.group for c in comparisons):
            continue
        configured = config.audit.reference.get(focus.grouping, "")
        if focus.reference and focus.reference != configured:
            skipped.append(f"{focus.group} against {focus.reference}")
            continue
        metric = sweep.focus_metric if sweep.focus_metric in focus.metrics else focus.metrics[0]
        comparisons.append(Comparison(
            focus.grouping, focus.group, metric,
            focus.label or _against(focus.group, configured), "audit.focus",
            (metric, *(m for m in focus.metrics if m != metric))))
    note = ""
    if comparisons:
        named = ("sweep.focus_group" if comparisons[0].source == "sweep.focus_group"
                 else "[[audit.focus]]")
        note = (f"Comparisons shown: those named in advance ({named}"
                + (" and [[audit.focus]]" if named == "sweep.focus_group"
                   and any(c.source == "audit.focus" for c in comparisons) else "") + ").")
    else:
        rows = summary[(summary["grouping"] == sweep.focus_grouping)
                       & (summary["metric"] == sweep.focus_metric)]
        reference = _reference_of(rows)
        groups = [g for g in dict.fromkeys(rows["group"].astype(str)) if g != reference]
        comparisons = [Comparison(sweep.focus_grouping, g, sweep.focus_metric,
                                  _against(g, reference), "", (sweep.focus_metric,))
                       for g in groups]
        note = (f"No comparison was named in advance (sweep.focus_group or [[audit.focus]]): "
                f"every group of {sweep.focus_grouping} is shown on its own against the "
                f"reference group {reference or '(none)'}; none was picked for its result.")
    if skipped:
        note += (" Not pooled here, as their reference is not the audit's reference of the "
                 "grouping: " + "; ".join(skipped) + ".")
    return comparisons, note


def _against(group: str, reference: str) -> str:
    """``MEX against IND`` (codes are named when the report is written), or ``... against
    the reference group`` when the grouping names no reference (the largest group is used)."""
    return f"{group} against {reference or 'the reference group'}"


def _reference_of(rows: pd.DataFrame) -> str:
    if "reference" not in rows or rows.empty:
        return ""
    names = rows["reference"].dropna().astype(str)
    return names.iloc[0] if len(names) else ""


def comparison_rows(summary: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """Summary rows of one comparison, both views."""
    return summary[(summary["grouping"] == comparison.grouping)
                   & (summary["group"].astype(str) == comparison.group)
                   & (summary["metric"] == comparison.metric)]


def focus_rows(config: ExperimentConfig, summary: pd.DataFrame) -> pd.DataFrame:
    """Summary rows of the sweep's first comparison (empty when none was named)."""
    comparisons, _ = focus_comparisons(config, summary)
    named = [c for c in comparisons if c.source]
    return comparison_rows(summary, named[0]) if named else summary.iloc[:0]


def ratio_verdict(row: pd.Series, threshold: float = THRESHOLD) -> str:
    """Where a pooled ratio's interval lies against parity and ``threshold``.

    ``at_or_above``: wholly at or above the threshold; ``below``: wholly below it;
    ``cannot_tell``: it holds both parity and the threshold (the data cannot tell a
    disparity of that size from none); ``undefined``: no usable interval.
    """
    low, high = row["low"], row["high"]
    if not (math.isfinite(row["mean"]) and not math.isnan(low) and not math.isnan(high)):
        return "undefined"
    if low >= threshold:
        return "at_or_above"
    if high < threshold:
        return "below"
    if low <= PARITY:
        return "cannot_tell"
    return "above_parity"  # a gap, but the data cannot tell whether it reaches the threshold


def _mechanisms_off_but(config: ExperimentConfig, key: str) -> bool:
    """Whether every bias mechanism but the swept one is off in the sweep's base config."""
    swept = key.split(".")[1] if key.startswith("mechanisms.") else ""
    return all(m.strength == 0 for name, m in config.mechanisms.items()
               if name not in (swept, "proxy_leakage"))


def _seeds_words(config: ExperimentConfig) -> str:
    return (f"pooled over {len(config.sweep.seeds)} seeds with 95% intervals that combine each "
            "run's own interval with the variation between seeds")


def answer_question(config: ExperimentConfig, summary: pd.DataFrame) -> str:
    """A paragraph stating what the sweep found, for the built-in research questions.

    Every claim rests on the pooled intervals (:mod:`audit.pooling`): a change is
    stated only when the intervals it compares are apart, a disparity of a size only when
    its interval lies wholly beyond it, and where an interval holds both parity and the
    threshold the paragraph says the data cannot tell. Where the grid holds a world with
    every bias knob off, what remains there is named as not coming from the mechanisms.
    """
    sweep = config.sweep
    if sweep.answer == "none":
        return ""
    comparisons, _ = focus_comparisons(config, summary)
    named = [c for c in comparisons if c.source]
    if not named:
        return (f"The built-in analysis {sweep.answer!r} follows one comparison; name it in "
                "sweep.focus_group (or [[audit.focus]]).")
    focus = named[0]
    rows = comparison_rows(summary, focus)
    group = focus.group
    metric = EXPLANATIONS[focus.metric][0].lower()
    reference = _reference_of(rows) or "the reference group"
    seeds = len(sweep.seeds)
    if rows.empty:
        return (f"The focus ({focus.grouping} = {group}, {metric}) did not occur in the "
                "results; check sweep.focus_grouping and sweep.focus_group.")
    caution = ""
    if seeds < 2:
        caution = (" With a single seed the variation between seeds is not measured, so each "
                   "interval is one run's own; add seeds to sweep.seeds.")
    elif seeds == 2:
        caution = (" With two seeds the variation between seeds rests on one degree of "
                   "freedom, so the intervals are wide; add seeds to sweep.seeds.")
    if sweep.answer == "blind_spot":
        key = "mechanisms.label_bias.strength"
        truth, recorded = ratio_summary(rows, [key], "true"), ratio_summary(
            rows, [key], "recorded")
        text = (f"{group}'s {metric} ratio to {reference}, by the true outcome and by the "
                f"records, {_seeds_words(config)}: "
                + "; ".join(f"strength {s:g}: {pooled_ratio_text(truth.loc[s])} true, "
                            f"{pooled_ratio_text(recorded.loc[s])} recorded" for s in truth.index)
                + ". ")
        if 0.0 in truth.index:
            off = truth.loc[0.0]
            where = ("every bias knob of this sweep is off" if _mechanisms_off_but(config, key)
                     else "label bias is off (other mechanisms stay as configured)")
            text += (f"At strength 0, where {where}, the true ratio is {pooled_ratio_text(off)}: "
                     "that much does not come from label bias. ")
        verdicts = {s: ratio_verdict(truth.loc[s]) for s in truth.index}
        reached = [s for s, v in verdicts.items() if v == "at_or_above"]
        unclear = [s for s, v in verdicts.items() if v == "cannot_tell"]
        if unclear:
            text += ("At strength " + ", ".join(f"{s:g}" for s in unclear) + ", the true "
                     "ratio's interval holds both 1 and 2: the data cannot tell a twofold "
                     "disparity from none. ")
        if not reached:
            text += ("At no strength does the interval of the true ratio lie wholly at or above "
                     "2, so the data do not show a twofold disparity by the truth. ")
        else:
            missed = [s for s in reached if ratio_verdict(recorded.loc[s]) == "below"]
            text += (f"From strength {min(reached):g}, the true ratio's interval lies at or above "
                     "2. ")
            if missed:
                text += (f"From strength {min(missed):g}, the recorded ratio's interval lies "
                         "below 2: an audit by recorded outcomes misses the twofold disparity. ")
            else:
                text += ("At no strength where the truth is twofold does the recorded ratio's "
                         "interval lie wholly below 2, so the data do not show the recorded "
                         "audit missing it. ")
        return text.strip() + caution
    if sweep.answer == "unawareness":
        key_n, key_p = "system.use_nationality", "mechanisms.proxy_leakage.strength"
        truth = ratio_summary(rows, [key_p, key_n], "true")
        levels = sorted({k[0] for k in truth.index})
        parts = []
        for leak in levels:
            if (leak, True) not in truth.index or (leak, False) not in truth.index:
                continue
            with_n, without = truth.loc[(leak, True)], truth.loc[(leak, False)]
            verdict = {"lower": "lower", "higher": "higher",
                       "cannot tell": "the data cannot tell the two apart"}[
                compare_intervals(without, with_n)]
            parts.append(f"with proxy leakage {leak:g}, {pooled_ratio_text(with_n)} with "
                         f"nationality and {pooled_ratio_text(without)} without ({verdict})")
        text = (f"{group}'s {metric} ratio to {reference} by the true outcome, "
                f"{_seeds_words(config)}: " + "; ".join(parts) + ".")
        unaware = [truth.loc[(leak, False)] for leak in levels if (leak, False) in truth.index]
        if len(unaware) >= 2:
            trend = compare_intervals(unaware[-1], unaware[0])
            if trend == "higher":
                text += (" Without nationality, the disparity is larger at the highest proxy "
                         "leakage than at the lowest: the model reaches nationality through "
                         "the proxies.")
            elif trend == "lower":
                text += (" Without nationality, the disparity is smaller at the highest proxy "
                         "leakage than at the lowest.")
            else:
                text += (" Without nationality, the data cannot tell whether the disparity "
                         "depends on proxy leakage; what remains is compared with the world "
                         "with every bias knob off below, where the runs computed it.")
        return text + caution
    if sweep.answer == "capacity":
        key = "system.capacity"
        truth = ratio_summary(rows, [key], "true")
        values = "; ".join(f"k = {k:g}: {pooled_ratio_text(truth.loc[k])}" for k in truth.index)
        defined = truth[truth["mean"].map(math.isfinite)]
        if len(defined) < 2:
            trend = "Too few capacities gave a defined ratio to compare."
        else:
            change = compare_intervals(defined.iloc[-1], defined.iloc[0])
            trend = {
                "lower": "The disparity is smaller at the largest capacity than at the smallest.",
                "higher": "The disparity is larger at the largest capacity than at the smallest.",
                "cannot tell": ("The data cannot tell whether the disparity at the largest "
                                "capacity differs from that at the smallest."),
            }[change]
        return (f"{group}'s {metric} ratio to {reference} by the true outcome, "
                f"{_seeds_words(config)}: {values}. {trend}" + caution)
    # A system's own answer is registered in its adapter's SWEEP_ANSWERS, by answer name.
    answers = getattr(system_adapter(config.experiment.system), "SWEEP_ANSWERS", {})
    if sweep.answer in answers:
        return answers[sweep.answer](config, summary) + caution
    return ""


def knobs_off_rows(config: ExperimentConfig, points: list[SweepPoint], directory: Path
                   ) -> pd.DataFrame:
    """The first comparison's gap as configured and with every bias knob off, from each
    point's attribution.csv, pooled over seeds per grid point (empty without attribution).

    Each run's paired interval of the gap is pooled with the others' as every other gap
    (:func:`audit.pooling.pool_random_effects`).
    """
    from audit.pooling import pool_random_effects, within_se
    from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

    comparisons, _ = focus_comparisons(config, pd.DataFrame(
        columns=["grouping", "group", "metric", "reference"]))
    named = [c for c in comparisons if c.source]
    if not named:
        return pd.DataFrame()
    focus = named[0]
    frames = []
    for point in points:
        path = directory / "points" / point.point_id / "attribution.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        table = table[(table["grouping"] == focus.grouping)
                      & (table["group"].astype(str) == focus.group)
                      & (table["metric"] == focus.metric)
                      & table["source"].isin([ALL_OFF, AS_CONFIGURED])]
        frames.append(table.assign(seed=point.seed, **dict(point.params.items())))
    if not frames:
        return pd.DataFrame()
    tidy = pd.concat(frames, ignore_index=True)
    keys = [*config.sweep.grid, "source"]
    grouped = tidy.groupby(keys, sort=True)
    codes = grouped.ngroup().to_numpy()
    out = tidy.loc[grouped.head(1).index, keys].reset_index(drop=True)
    order = np.argsort(grouped.ngroup().loc[grouped.head(1).index].to_numpy())
    out = out.iloc[order].reset_index(drop=True)
    pooled = pool_random_effects(
        codes, tidy["contribution"].to_numpy(dtype=float),
        within_se(tidy["ci_low"].to_numpy(dtype=float), tidy["ci_high"].to_numpy(dtype=float),
                  False, config.audit.confidence), len(out), config.audit.confidence)
    out["mean"], out["low"], out["high"] = pooled["estimate"], pooled["low"], pooled["high"]
    out["seeds"] = pooled["seeds"].astype(int)
    out["reference"] = str(tidy["reference"].iloc[0]) if "reference" in tidy else ""
    return out


def knobs_off_paragraph(config: ExperimentConfig, table: pd.DataFrame) -> str:
    """What the world with every bias knob off shows at each grid point, in words."""
    from experiments.systems.contract import ALL_OFF, AS_CONFIGURED

    if table.empty:
        return ("The points of this sweep computed no world with every bias knob off "
                "([attribution] absent or switched off, or no comparison named), so nothing "
                "here separates what the mechanisms do from what the population's "
                "composition does.")
    keys = list(config.sweep.grid)
    parts, remains = [], []
    for params, part in table.groupby(keys, sort=True) if keys else [((), table)]:
        params = params if isinstance(params, tuple) else (params,)
        where = ", ".join(f"{k} = {v}" for k, v in zip(keys, params, strict=True)) or "the run"
        on = part[part["source"] == AS_CONFIGURED].iloc[0]
        off = part[part["source"] == ALL_OFF].iloc[0]

        def pts(r: pd.Series) -> str:
            return interval_text(r["mean"], r["low"], r["high"], scale=100, signed=True)

        parts.append(f"{where}: {pts(on)} as configured, {pts(off)} with every knob off")
        if math.isfinite(off["low"]) and (off["low"] > 0 or off["high"] < 0):
            remains.append(where)
    comparisons, _ = focus_comparisons(config, pd.DataFrame(
        columns=["grouping", "group", "metric", "reference"]))
    focus = next((c for c in comparisons if c.source), None)
    group = focus.group if focus else "the focus group"
    metric = EXPLANATIONS[focus.metric if focus else config.sweep.focus_metric][0].lower()
    reference = str(table["reference"].iloc[0]) if "reference" in table else ""
    text = (f"Gap in {metric} between {group} and {reference or 'the reference group'}, in "
            "percentage points, "
            f"{_seeds_words(config)}: " + "; ".join(parts) + ". ")
    if remains:
        text += ("With every bias knob off, part of the gap remains at " + "; ".join(remains)
                 + ": that part comes from the simulated population, not from a mechanism.")
    else:
        text += ("With every bias knob off, the data cannot tell the gap from none at any "
                 "grid point.")
    return text


def held_fixed(config: ExperimentConfig) -> list[str]:
    """Every setting the sweep holds fixed at all its points, from its merged config (the
    system's settings with their defaults filled in); swept keys are left out."""
    grid = set(config.sweep.grid)
    items: list[str] = []

    def add(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for child, inner in value.items():
                add(f"{key}.{child}", inner)
        elif key not in grid:
            items.append(f"{key} = {_shown(value)}")

    add("experiment.system", config.experiment.system)
    add("population.profile", config.population.profile)
    add("population.size", config.population.size)
    for name, mechanism in sorted(config.mechanisms.items()):
        key = f"mechanisms.{name}.strength"
        if key not in grid:
            targets = f" (targets: {', '.join(mechanism.targets)})" if mechanism.targets else ""
            items.append(f"{key} = {_shown(mechanism.strength)}{targets}")
    from synthetic.population import MECHANISMS

    for name in MECHANISMS:
        if name not in config.mechanisms and f"mechanisms.{name}.strength" not in grid:
            items.append(f"mechanisms.{name}.strength = 0 (not in the file: off)")
    add("system", config.system_settings().model_dump())
    add("split", config.split.model_dump())
    for key in ("n_boot", "confidence", "min_count", "suppress_below"):
        add(f"audit.{key}", getattr(config.audit, key))
    add("audit.reference", dict(config.audit.reference))
    items.append("knob worlds (attribution) " + (
        "run at every point" if config.sweep.attribution and config.attribution is not None
        and config.attribution.enabled else "not run"))
    return items


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _pooled_cells(row: pd.Series | None) -> list[str]:
    """Pooled ratio and difference (percentage points) of one summary row, as table cells."""
    if row is None:
        return ["—", "—"]
    ratio_flags = str(row.get("ratio_flags", "") or "")
    # A ratio of 0 in one seed has no logarithm; pooling the others alone would be biased.
    ratio = ("not pooled (0 or undefined in a seed)" if "undefined" in ratio_flags else
             interval_text(row["ratio_pooled"], row["ratio_pooled_low"],
                           row["ratio_pooled_high"], ratio_flags))
    return [ratio,
            interval_text(row["difference_pooled"], row["difference_pooled_low"],
                          row["difference_pooled_high"], str(row.get("difference_flags", "")),
                          scale=100, signed=True)]


def _seed_cell(row: pd.Series | None, gap: str = "ratio") -> str:
    """One run's gap and its own interval, as written in its metrics.csv."""
    if row is None:
        return "—"
    flags = str(row.get("flags", "") or "")
    if "suppressed" in flags:
        return "suppressed"
    low, high = ("ratio_ci_low", "ratio_ci_high") if gap == "ratio" else (
        "diff_ci_low", "diff_ci_high")
    return interval_text(float(row[gap]), float(row[low]), float(row[high]), flags,
                         scale=1 if gap == "ratio" else 100, signed=gap != "ratio")


def comparison_blocks(config: ExperimentConfig, comparison: Comparison, summary: pd.DataFrame,
                      tidy: pd.DataFrame, directory: Path, index: int,
                      contrasts: pd.DataFrame | None = None,
                      names: dict[str, str] | None = None) -> list[object]:
    """The pooled table, its figures, its contrasts and the per-seed table of one comparison.

    ``names`` (country code to name) names the codes drawn into the figures; the blocks'
    own text is named when the report is written.
    """
    from experiments.writing.names import name_text

    names = names or {}
    keys = list(config.sweep.grid)
    rows = comparison_rows(summary, comparison)
    metric = EXPLANATIONS[comparison.metric][0]
    reference = _reference_of(rows) or "(no reference)"
    blocks: list[object] = [
        Heading(comparison.label, 3),
        Paragraph(f"{comparison.grouping} = {comparison.group} against the reference group "
                  f"{reference}, {metric.lower()} ({comparison.metric}). Each row pools the "
                  "seeds of one grid value (see how above); differences in percentage "
                  "points."),
    ]
    table_rows = []
    for params, part in rows.groupby(keys, sort=True) if keys else [((), rows)]:
        params = params if isinstance(params, tuple) else (params,)
        cells = [_shown(v) for v in params]
        for view in VIEWS:
            found = part[part["view"] == view]
            cells += _pooled_cells(found.iloc[0] if len(found) else None)
        table_rows.append(cells)
    blocks.append(Table(
        [*keys, "ratio, true outcome", "difference, true outcome", "ratio, recorded outcome",
         "difference, recorded outcome"], table_rows,
        caption=f"{comparison.group} against {reference}: pooled over seeds (95% intervals)"))
    for key in keys:
        name = f"sweep_{index}_{key.replace('.', '_')}.png" if index else \
            f"sweep_{key.replace('.', '_')}.png"
        path = plot_knob(rows, key, [k for k in keys if k != key],
                         directory / "figures" / name,
                         name_text(f"{metric}: {comparison.group} against {reference}", names),
                         name_text(reference, names))
        blocks.append(Figure(path, f"{metric} of {comparison.group} against {reference} as "
                                   f"{key} varies, as a difference in points (linear axis) and "
                                   "a ratio (log axis): the same pooled estimates and "
                                   "intervals as the table above.", directory))
    if contrasts is not None and not contrasts.empty:
        blocks.extend(_contrast_table(contrast_rows(contrasts, comparison), comparison,
                                      reference))
    blocks.append(Table(*_per_seed_table(tidy, comparison, keys),
                        caption=f"{comparison.group} against {reference}, seed by seed: each "
                                "run's own estimate and closed-form interval; n is the number "
                                "of people the rate is over (group / reference), true outcome"))
    return blocks


def _contrast_table(rows: pd.DataFrame, comparison: Comparison, reference: str
                    ) -> list[object]:
    """The comparison's contrasts: each grid value against the first, and the trend per unit,
    in points for the difference and as a factor for the ratio."""
    if rows.empty:
        return []
    table_rows = []
    for _, row in rows.iterrows():
        ratio = row["gap"] == "ratio"
        if ratio:  # the log ratio's change, shown as the factor the ratio is multiplied by
            cell = interval_text(math.exp(row["change"]) if math.isfinite(row["change"])
                                 else math.nan, math.exp(row["ci_low"]),
                                 math.exp(row["ci_high"]), str(row["flags"]))
        else:
            cell = interval_text(row["change"], row["ci_low"], row["ci_high"],
                                 str(row["flags"]), digits=1, scale=100, signed=True)
        kind = ("per unit" if row["kind"] == "trend_per_unit" else "against first")
        table_rows.append([
            EXPLANATIONS[row["metric"]][0].lower() if row["metric"] in EXPLANATIONS
            else str(row["metric"]), VIEW_NAMES.get(str(row["view"]), str(row["view"])),
            str(row["knob"]) + (f" ({row['at']})" if row["at"] else ""),
            f"{row['from_value']} → {row['to_value']}", kind,
            "ratio, × factor" if ratio else "difference, points", cell,
            str(int(row["n_seeds"]))])
    return [
        Paragraph(f"How the gap of {comparison.group} against {reference} changes between grid "
                  "values (sweep_contrasts.csv): each value against the first, paired by seed "
                  f"({CONTRAST_METHOD}); for a numeric key, also the trend per unit of the key "
                  "(the least-squares slope of the gap on the key's value, per seed, then "
                  "over seeds). A ratio's change is the factor by which the ratio is "
                  "multiplied (1 is no change)."),
        Table(["rate", "outcome", "swept key", "values", "contrast", "gap", "change (95% CI)",
               "seeds"], table_rows,
              caption=f"{comparison.group} against {reference}: change of the gap, paired by "
                      "seed"),
    ]


#: Views as a table names them.
VIEW_NAMES = {"true": "true", "recorded": "recorded", "any": "no outcome needed"}
#: How a contrast's interval is made, in the report's words.
CONTRAST_METHOD = (
    "each seed's change is computed on its own people, and the interval is a Student-t "
    "interval over seeds of those per-seed changes, on seeds − 1 degrees of freedom; with one "
    "seed, the two runs' own intervals combined as if independent, which is conservative"
)


def _per_seed_table(tidy: pd.DataFrame, comparison: Comparison, keys: list[str]
                    ) -> tuple[list[str], list[list[str]]]:
    part = tidy[(tidy["grouping"] == comparison.grouping)
                & (tidy["metric"] == comparison.metric)]
    mine = part[part["group"].astype(str) == comparison.group]
    references = part[part["group"].astype(str) == part["reference"].astype(str)]
    sizes = references.set_index(["point", "view"])["denominator"]
    header = [*keys, "seed", "ratio, true outcome", "difference, true outcome",
              "ratio, recorded outcome", "n (true outcome)"]
    rows = []
    for (point, seed), run in mine.groupby(["point", "seed"], sort=False):
        by_view = {v: run[run["view"] == v] for v in VIEWS}
        first = run.iloc[0]
        true_row = by_view["true"].iloc[0] if len(by_view["true"]) else None
        recorded_row = by_view["recorded"].iloc[0] if len(by_view["recorded"]) else None
        n_group = "—" if true_row is None or pd.isna(true_row["denominator"]) else \
            f"{int(true_row['denominator']):,}"
        n_reference = sizes.get((point, "true"), float("nan"))
        n_ref = "—" if pd.isna(n_reference) else f"{int(n_reference):,}"
        rows.append([*(_shown(first[k]) for k in keys), str(seed),
                     _seed_cell(true_row), _seed_cell(true_row, "difference"),
                     _seed_cell(recorded_row), f"{n_group} / {n_ref}"])
    rows.sort(key=lambda r: [*r[:len(keys)], int(r[len(keys)])])
    return header, rows


@literal_text
def plot_knob(rows: pd.DataFrame, key: str, other_keys: list[str], path: Path, title: str,
              reference: str) -> Path:
    """One comparison's pooled gap against one swept knob, with its pooled interval as a band,
    by view (and by the values of the other swept keys): the difference in percentage points
    on a linear axis (zero is no gap) and the ratio on a log axis (so 2 and 1/2 lie as far
    from parity). Where an interval has no bound, the band is left out at that value rather
    than drawn to the edge."""
    fig, (left, right) = new_figure((10, 4), 1, 2)
    colours = {"true": "#1f4e79", "recorded": "#c55a11"}
    groups = list(rows.groupby(other_keys, sort=True)) if other_keys else [((), rows)]
    styles = ("-", "--", "-.", ":")
    panels = ((left, "difference", 100.0), (right, "ratio", 1.0))
    for index, (other, part) in enumerate(groups):
        other = other if isinstance(other, tuple) else (other,)
        label_rest = ", ".join(f"{k.split('.')[-1]}={v}"
                               for k, v in zip(other_keys, other, strict=True))
        for view in VIEWS:
            line = part[part["view"] == view].sort_values(key)
            if line.empty:
                continue
            x = [float(v) for v in line[key]]
            label = f"{view} outcome" + (f" ({label_rest})" if label_rest else "")
            for axis, gap, scale in panels:
                centre = scale * line[f"{gap}_pooled"].to_numpy(dtype=float)
                low = scale * line[f"{gap}_pooled_low"].to_numpy(dtype=float)
                high = scale * line[f"{gap}_pooled_high"].to_numpy(dtype=float)
                bounded = np.isfinite(low) & np.isfinite(high)
                if gap == "ratio":  # a log axis has no place for 0
                    bounded &= low > 0
                    centre = np.where(centre > 0, centre, np.nan)
                axis.plot(x, centre, marker="o", color=colours[view], label=label,
                          linestyle=styles[index % len(styles)])
                axis.fill_between(x, np.where(bounded, low, np.nan),
                                  np.where(bounded, high, np.nan), color=colours[view],
                                  alpha=0.15)
    left.axhline(0.0, color="#999999", linewidth=1, linestyle=":")
    left.set_ylabel(f"difference to {reference} (points)")
    right.axhline(PARITY, color="#999999", linewidth=1, linestyle=":")
    right.set_yscale("log")
    plain_log_labels(right.yaxis)
    right.set_ylabel(f"ratio to {reference} (log axis)")
    for axis in (left, right):
        axis.set_xlabel(key)
        axis.legend(fontsize=7, frameon=False)
    fig.suptitle(f"{title} (pooled over seeds, 95% intervals)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def contrast_rows(contrasts: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """sweep_contrasts.csv rows of one comparison (all its rates)."""
    if contrasts.empty:
        return contrasts
    return contrasts[(contrasts["grouping"] == comparison.grouping)
                     & (contrasts["group"].astype(str) == comparison.group)]


def contrast_findings(config: ExperimentConfig, summary: pd.DataFrame,
                      contrasts: pd.DataFrame) -> list[str]:
    """One sentence per focus comparison (and per swept key, and per value of the other swept
    keys): what moving the key from its first to its last grid value does to the gap in
    percentage points, by the true and by the recorded outcome, paired by seed.

    Country codes are left in; the report names them when it is written.
    """
    from experiments.sweeps.contrasts import contrast_sentence, value_text

    comparisons, _ = focus_comparisons(config, summary)
    sentences = []
    for comparison in comparisons:
        rows = contrast_rows(contrasts, comparison)
        rows = rows[(rows["metric"] == comparison.metric) & (rows["gap"] == "difference")
                    & (rows["kind"] == "contrast")]
        metric = EXPLANATIONS[comparison.metric][0].lower()
        for knob in config.sweep.grid:
            last = value_text(config.sweep.grid[knob][-1])
            part = rows[(rows["knob"] == knob) & (rows["to_value"] == last)]
            for _, at_rows in part.groupby("at", sort=False):
                order = at_rows["view"].map({"true": 0, "recorded": 1, "any": 2})
                sentences.append(contrast_sentence(comparison.label, metric,
                                                   at_rows.assign(_o=order).sort_values("_o")))
    return sentences


def write_sweep_outputs(
    directory: Path,
    config: ExperimentConfig,
    points: list[SweepPoint],
    tidy: pd.DataFrame,
    summary: pd.DataFrame,
    answer: str,
    contrasts: pd.DataFrame | None = None,
    findings: list[str] | None = None,
    adjusted: pd.DataFrame | None = None,
) -> None:
    """Write sweep_metrics.csv, sweep_summary.csv, sweep_contrasts.csv, figures and the sweep
    report (Markdown and HTML, with every country code among the groups named)."""
    from experiments.reports.run import name_blocks
    from experiments.sweeps.point import write_table
    from experiments.writing.names import group_names

    write_table(tidy, directory / "sweep_metrics.csv")
    write_table(summary, directory / "sweep_summary.csv")
    if contrasts is not None:
        write_table(contrasts, directory / "sweep_contrasts.csv")
    if adjusted is not None and not adjusted.empty:
        write_table(adjusted, directory / "sweep_adjusted.csv")
    shutil.rmtree(directory / "figures", ignore_errors=True)  # figures of an earlier grid
    sweep = config.sweep
    names = group_names(pd.concat([tidy["group"].astype(str),
                                   tidy["reference"].dropna().astype(str)]).unique())
    comparisons, note = focus_comparisons(config, summary)
    document = Document(f"Sweep: {config.experiment.title}")
    found: list[object] = []
    if findings:
        found.append(Bullets(findings))
    if answer or not findings:
        found.append(Paragraph(answer or "No built-in analysis was chosen (sweep.answer = "
                                         "'none'); see the comparisons below."))
    document.add(
        Caveat("A simulation of a mimic, not a measurement of the real system", CAVEAT),
        Heading("The question"),
        Paragraph(sweep.question or "(no question stated in sweep.question)"),
        Heading("What this sweep found"),
        *found,
        Heading("How the seeds are pooled"),
        Paragraph(f"Every change between grid values is paired by seed: {CONTRAST_METHOD}. "
                  "Points that share a seed share their people, so the change is measured on "
                  "the same people within a seed, and the seeds, independent of each other, "
                  "give its spread."),
        Paragraph(f"Every gap at one grid value is {POOLING_METHOD}. Each seed is an independent "
                  "replication of the design (new people, a newly trained system); its "
                  "within-run variance is read from its interval as if symmetric on that "
                  "scale. A verdict rests on these intervals: a ratio whose interval holds both "
                  "1 (no gap) and 2 (twofold) is one the data cannot tell. An interval with no "
                  "bound is printed 'no upper bound' (flag unbounded) and one that was "
                  "withheld, 'withheld' (flag no_interval)."),
        Heading("Held fixed at every point"),
        Paragraph(f"The grid varies {', '.join(sweep.grid) or 'nothing'}; everything else is "
                  "the same at every point:"),
        Bullets(held_fixed(config)),
        Heading("Comparisons"),
        Paragraph(note),
    )
    for index, comparison in enumerate(comparisons):
        document.add(*comparison_blocks(config, comparison, summary, tidy, directory, index,
                                        contrasts, names))
    document.add(*adjusted_blocks(adjusted, list(sweep.grid)))
    document.add(
        Heading("With every bias knob off"),
        Paragraph(knobs_off_paragraph(config, knobs_off_rows(config, points, directory))),
        Heading("The grid"),
        Paragraph(f"{len(points)} runs: {len(points) // len(sweep.seeds)} grid "
                  f"point{'s' if len(points) // len(sweep.seeds) != 1 else ''} × "
                  f"{len(sweep.seeds)} seeds ({', '.join(map(str, sweep.seeds))}), "
                  f"{config.population.size:,} people each."),
        Heading("Files"),
        Paragraph("sweep_metrics.csv holds every metric of every point (grid values, seed, "
                  "view, grouping, group, metric, value, intervals); sweep_summary.csv "
                  "summarises it over seeds, with the pooled difference and ratio and their "
                  "intervals (columns described in the README); sweep_contrasts.csv holds "
                  "each focus comparison's change between grid values and its trend per unit, "
                  "paired by seed; points/<point>/ holds each "
                  "run's tables and manifest, named by the point's own config and seed; "
                  "sweep_manifest.json lists every point and hashes every file."),
    )
    document.blocks = name_blocks(document.blocks, names)
    (directory / "sweep_report.md").write_text(document.to_markdown(), encoding="utf-8")
    (directory / "sweep_report.html").write_text(document.to_html(), encoding="utf-8")
