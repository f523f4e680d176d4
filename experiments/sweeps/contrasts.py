"""What turning a knob does to a gap: each grid value against the first, paired by seed.

A sweep's points that share a seed share their people (the population is drawn from the
seed), so the gap a comparison shows at two grid values is measured twice on the same people
and the two estimates are correlated. The contrast is therefore formed **within each seed**
(the change of the gap from the first grid value to another, and the slope of the gap on a
numeric knob) and only then combined over seeds:

- with two or more seeds, the interval is a **paired Student-t interval over seeds**: the
  mean of the per-seed changes plus or minus ``t(n − 1) · sd / √n``
  (:func:`audit.pooling.seed_interval` applied to every row at once). The seeds are
  independent replications (new people, a newly trained system), so the spread of their
  changes holds everything the change varies by: the sampling of the people in both runs,
  their covariance, and the change's own variation from seed to seed. This is the
  Hartung-Knapp interval of :func:`audit.pooling.pool_random_effects` with equal weights; it is
  used without that function's DerSimonian-Laird floor because the only within-seed variance
  the runs' closed-form intervals give treats the two runs as independent, and a floor built
  on it would make the paired interval exactly as wide as an unpaired one;
- with one seed, no spread can be measured: the interval is the normal one of the difference
  of the two runs' gaps with their within-run variances added, as if the runs were
  independent (:func:`audit.pooling.within_se`). On the same people the gaps move together,
  so that interval is conservative; the row's ``method`` and ``flags`` say so.

A change is undefined (NaN, flag ``undefined``) when the gap is undefined or withheld in any
seed at either value: dropping those seeds would keep only the seeds whose rates happened to
be estimable. Differences are rates' differences as proportions (× 100 for percentage
points); ratios are compared on the natural-log scale (``exp(change)`` is the factor by which
the ratio is multiplied).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from audit.pooling import within_se

#: Columns of sweep_contrasts.csv, in order.
CONTRAST_COLUMNS: tuple[str, ...] = (
    "grouping", "group", "reference", "metric", "view", "gap", "kind", "knob", "at",
    "from_value", "to_value", "change", "ci_low", "ci_high", "n_seeds", "from_gap", "to_gap",
    "scale", "method", "flags",
)

#: What each column of sweep_contrasts.csv holds (the README's reference lists these).
SWEEP_CONTRASTS_HELP: dict[str, str] = {
    "grouping, group, reference, metric, view": "the focus comparison (a group against the "
        "reference group in one rate) and the outcome it is judged by (true or recorded; "
        "'any' for a selection rate, which needs no outcome)",
    "gap": "difference (the group's rate minus the reference's, a proportion) or ratio (the "
           "group's rate over the reference's, compared on the natural-log scale)",
    "kind": "contrast (the gap at to_value minus the gap at from_value, the knob's first grid "
            "value) or trend_per_unit (the slope of the gap on a numeric knob, per unit of "
            "the knob, from from_value to to_value)",
    "knob, at": "the swept key, and the values the other swept keys hold in this row ('' "
                "with one swept key)",
    "change, ci_low, ci_high": "the change (or slope) and its interval at audit.confidence: "
        "paired by seed, a Student-t interval over seeds of the per-seed changes",
    "n_seeds": "the seeds the row pools",
    "from_gap, to_gap": "the gap at from_value and at to_value, averaged over seeds, on the "
                        "row's scale",
    "scale": "proportion (differences; × 100 for percentage points) or log (ratios)",
    "method": "paired_t (two or more seeds) or one_seed_independent (one seed: the two runs' "
              "own intervals combined as if independent, which is conservative)",
    "flags": "undefined (the gap is undefined or withheld in some seed: not estimated), "
             "unbounded (one seed, and a run's interval has no bound), one_seed",
}

#: The gaps contrasted, with metrics.csv's interval columns and whether they are compared
#: on the log scale.
GAPS = {"difference": ("diff_ci_low", "diff_ci_high", False),
        "ratio": ("ratio_ci_low", "ratio_ci_high", True)}


@dataclass(frozen=True)
class Focus:
    """A comparison whose gap the contrasts follow: a group of a grouping, in some rates."""

    grouping: str
    group: str
    metrics: tuple[str, ...]


def gap_estimates(tidy: pd.DataFrame, focuses: Sequence[Focus], grid_keys: Sequence[str],
                  confidence: float) -> pd.DataFrame:
    """Each point's gaps for the focus comparisons, in long form.

    Returns
    -------
    DataFrame
        One row per (focus, metric, view, gap, point): the grid values, ``seed``,
        ``reference``, ``estimate`` (on the comparison scale) and ``se`` (within-run standard
        error read from the run's interval).
    """
    wanted = pd.DataFrame([(f.grouping, f.group, m) for f in focuses for m in f.metrics],
                          columns=["grouping", "group", "metric"]).drop_duplicates()
    rows = tidy.assign(group=tidy["group"].astype(str)).merge(
        wanted, on=["grouping", "group", "metric"], how="inner")
    rows = rows[rows["view"].isin(["true", "recorded"])]
    # A selection rate needs no outcome: both views hold the same rate, kept once as "any".
    same = rows["metric"] == "selection_rate"
    rows = rows[~same | (rows["view"] == "true")].copy()
    rows.loc[rows["metric"] == "selection_rate", "view"] = "any"
    keep = ["grouping", "group", "reference", "metric", "view", *grid_keys, "seed"]
    frames = []
    for gap, (low_column, high_column, log) in GAPS.items():
        estimate = pd.to_numeric(rows[gap], errors="coerce").to_numpy(dtype=float)
        low = pd.to_numeric(rows[low_column], errors="coerce").to_numpy(dtype=float)
        high = pd.to_numeric(rows[high_column], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.log(estimate) if log else estimate
        frames.append(rows[keep].assign(
            gap=gap, estimate=np.where(np.isfinite(scaled), scaled, np.nan),
            se=within_se(low, high, log, confidence)))
    out = pd.concat(frames, ignore_index=True)
    out["reference"] = out["reference"].astype(str)
    return out


def _at_text(frame: pd.DataFrame, others: Sequence[str]) -> pd.Series:
    """``system.use_nationality = False, system.capacity = 0.1`` per row ('' with none)."""
    if not others:
        return pd.Series("", index=frame.index, dtype=object)
    parts = [frame[k].map(lambda v, k=k: f"{k} = {value_text(v)}") for k in others]
    text = parts[0]
    for part in parts[1:]:
        text = text + ", " + part
    return text


def value_text(value: Any) -> str:
    """A grid value as the contrasts table writes it (``0``, ``0.05``, ``true``)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _interval_over_seeds(per_seed: pd.DataFrame, keys: list[str], value: str, se: str,
                         confidence: float) -> pd.DataFrame:
    """Mean over seeds of ``value`` and its interval: paired t with two or more seeds, the
    within-run (independent) normal interval with one."""
    grouped = per_seed.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(change=(value, "mean"), sd=(value, "std"), n_seeds=(value, "size"),
                      defined=(value, "count"), se_one=(se, "first"),
                      from_gap=("from_gap", "mean"), to_gap=("to_gap", "mean")).reset_index()
    n = out["n_seeds"].to_numpy(dtype=float)
    undefined = out["defined"].to_numpy() < n
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        half_t = t * out["sd"].to_numpy(dtype=float) / np.sqrt(n)
    half_one = stats.norm.ppf(0.5 + confidence / 2) * out["se_one"].to_numpy(dtype=float)
    one = n == 1
    half = np.where(one, half_one, half_t)
    centre = np.where(undefined, np.nan, out["change"].to_numpy(dtype=float))
    out["change"] = centre
    out["ci_low"] = centre - half
    out["ci_high"] = centre + half
    unbounded = one & np.isinf(half_one) & ~undefined
    out["method"] = np.where(one, "one_seed_independent", "paired_t")
    out["flags"] = [";".join(f for f, on in (("undefined", u), ("unbounded", b),
                                             ("one_seed", o)) if on)
                    for u, b, o in zip(undefined, unbounded, one, strict=True)]
    return out.drop(columns=["sd", "defined", "se_one"])


def sweep_contrasts(tidy: pd.DataFrame, grid: dict[str, list[Any]], focuses: Sequence[Focus],
                    confidence: float = 0.95) -> pd.DataFrame:
    """Every grid value against the knob's first, and the trend per unit, paired by seed.

    Parameters
    ----------
    tidy : DataFrame
        sweep_metrics.csv: one row per (point, view, grouping, group, metric), with a column
        per grid key and ``seed``.
    grid : dict
        ``sweep.grid``: dotted key to the values tried, in the order given (the first is the
        one every other value is contrasted with).
    focuses : sequence of Focus
        The comparisons to follow.
    confidence : float
        The runs' level (``audit.confidence``) and the level of every interval here.

    Returns
    -------
    DataFrame
        :data:`CONTRAST_COLUMNS`; one ``contrast`` row per (comparison, metric, view, gap,
        knob, values of the other knobs, grid value after the first), and a
        ``trend_per_unit`` row per knob whose values are all numbers. See the module's
        docstring for the intervals.
    """
    keys = list(grid)
    if not keys or not focuses:
        return pd.DataFrame(columns=list(CONTRAST_COLUMNS))
    estimates = gap_estimates(tidy, focuses, keys, confidence)
    base_keys = ["grouping", "group", "reference", "metric", "view", "gap"]
    frames = []
    for knob in keys:
        others = [k for k in keys if k != knob]
        values = list(grid[knob])
        pair_keys = [*base_keys, *others, "seed"]
        first = estimates[estimates[knob] == values[0]]
        later = estimates[estimates[knob] != values[0]]
        paired = later.merge(first[[*pair_keys, "estimate", "se"]], on=pair_keys,
                             suffixes=("", "_from"), how="inner", validate="many_to_one")
        paired = paired.assign(
            change=paired["estimate"] - paired["estimate_from"],
            se_change=np.sqrt(paired["se"] ** 2 + paired["se_from"] ** 2),
            from_gap=paired["estimate_from"], to_gap=paired["estimate"],
            to_value=paired[knob])
        contrast = _interval_over_seeds(paired, [*base_keys, *others, "to_value"], "change",
                                        "se_change", confidence)
        contrast = contrast.assign(kind="contrast", knob=knob, from_value=values[0])
        contrast["at"] = _at_text(contrast, others)
        frames.append(contrast)
        if _numeric(values) and len(values) >= 2:
            frames.append(_trend(estimates, base_keys, others, knob, values, confidence))
    out = pd.concat(frames, ignore_index=True)
    out["scale"] = np.where(out["gap"] == "ratio", "log", "proportion")
    out["from_value"] = out["from_value"].map(value_text)
    out["to_value"] = out["to_value"].map(value_text)
    out["n_seeds"] = out["n_seeds"].astype(int)
    order = {name: i for i, name in enumerate(keys)}
    views = {"true": 0, "recorded": 1, "any": 2}
    named = {(f.grouping, f.group, m): i
             for i, (f, m) in enumerate((f, m) for f in focuses for m in f.metrics)}
    out = out.assign(
        _focus=[named.get(k, len(named)) for k in zip(out["grouping"], out["group"],
                                                       out["metric"], strict=True)],
        _knob=out["knob"].map(order), _kind=(out["kind"] != "contrast"),
        _view=out["view"].map(views), _gap=(out["gap"] != "difference"))
    # Rows in the order of the focus comparisons and the grid, never of a hash or a dict.
    out = out.sort_values(["_focus", "_knob", "at", "_kind", "_view", "_gap"], kind="stable")
    return out[list(CONTRAST_COLUMNS)].reset_index(drop=True)


def _trend(estimates: pd.DataFrame, base_keys: list[str], others: list[str], knob: str,
           values: list[Any], confidence: float) -> pd.DataFrame:
    """Per seed, the least-squares slope of the gap on the knob's value; then over seeds.

    With one seed, the slope's within-run variance is ``Σ cᵢ² seᵢ²`` with ``cᵢ`` the slope's
    weights: the grid values as if independent, which is conservative when they move
    together.
    """
    x = estimates[knob].astype(float)
    centre = float(np.mean([float(v) for v in values]))
    spread = float(np.sum((np.asarray(values, dtype=float) - centre) ** 2))
    weight = (x - centre) / spread  # the slope's weight on each grid value
    frame = estimates.assign(weighted=weight * estimates["estimate"],
                             weighted_var=(weight * estimates["se"]) ** 2,
                             low_end=np.where(x == float(values[0]), estimates["estimate"],
                                              0.0),
                             high_end=np.where(x == float(values[-1]), estimates["estimate"],
                                               0.0))
    keys = [*base_keys, *others, "seed"]
    per_seed = frame.groupby(keys, sort=False, dropna=False).agg(
        slope=("weighted", "sum"),
        points=("estimate", "count"), rows=("estimate", "size"),
        slope_var=("weighted_var", "sum"), from_gap=("low_end", "sum"),
        to_gap=("high_end", "sum")).reset_index()
    # A seed missing a grid value, or with an undefined gap at one, has no slope.
    per_seed.loc[per_seed["points"] < len(values), "slope"] = np.nan
    per_seed["slope_se"] = np.sqrt(per_seed["slope_var"])
    out = _interval_over_seeds(per_seed, [*base_keys, *others], "slope", "slope_se",
                               confidence)
    out = out.assign(kind="trend_per_unit", knob=knob, from_value=values[0],
                     to_value=values[-1])
    out["at"] = _at_text(out, others)
    return out


# --- sentences -------------------------------------------------------------------------------

#: Outcome views as the sentences name them.
VIEW_WORDS = {"true": "by the truth", "recorded": "by the records", "any": ""}


def knob_words(knob: str) -> str:
    """``mechanisms.label_bias.strength`` reads ``label bias``; ``system.capacity``,
    ``capacity``."""
    parts = knob.split(".")
    if parts[0] == "mechanisms" and len(parts) == 3 and parts[2] == "strength":
        return parts[1].replace("_", " ")
    return parts[-1].replace("_", " ")


def move_words(knob: str, from_value: str, to_value: str) -> str:
    """``raising label bias from 0 to 3``, ``switching use nationality from true to false``."""
    name = knob_words(knob)
    try:
        low, high = float(from_value), float(to_value)
    except ValueError:
        verb = "switching" if {from_value, to_value} <= {"true", "false"} else "changing"
        return f"{verb} {name} from {from_value} to {to_value}"
    return f"{'raising' if high > low else 'lowering'} {name} from {from_value} to {to_value}"


def _pts(value: float) -> str:
    """Percentage points with one decimal and a true minus sign."""
    return f"{100 * value:.1f}".replace("-", "−")


def _movement(row: pd.Series) -> tuple[str, str]:
    """The verb for one view's change of a difference, and the number with its interval.

    A gap widens when it moves away from zero in the direction it already had at the first
    grid value, narrows when it moves towards zero, and reverses when its average changes
    sign; the number shown is the size of that movement, its interval turned the same way.
    """
    change, low, high = float(row["change"]), float(row["ci_low"]), float(row["ci_high"])
    before, after = float(row["from_gap"]), float(row["to_gap"])
    if not math.isfinite(change):
        return "", ""
    if before * after < 0:
        return ("reverses the gap, moving it by",
                f"{_pts(change)} points ({_pts(low)} to {_pts(high)})")
    sign = 1.0 if (before if before != 0 else after) >= 0 else -1.0
    if sign * change >= 0:
        verb, factor = "widens the gap by", sign
    else:
        verb, factor = "narrows the gap by", -sign
    ends = sorted((factor * low, factor * high))
    return verb, f"{_pts(factor * change)} points ({_pts(ends[0])} to {_pts(ends[1])})"


def contrast_sentence(label: str, metric_words: str, rows: pd.DataFrame) -> str:
    """One sentence: what moving a knob from its first to its last value does to a gap.

    ``rows`` are the ``contrast`` rows of one comparison, metric, knob and ``at``, for the
    difference gap, at the knob's last value: one per view.
    """
    first = rows.iloc[0]
    move = move_words(str(first["knob"]), str(first["from_value"]), str(first["to_value"]))
    at = f" (with {first['at']})" if first["at"] else ""
    clauses, previous = [], ""
    for _, row in rows.iterrows():
        where = VIEW_WORDS.get(str(row["view"]), str(row["view"]))
        verb, number = _movement(row)
        if not verb:
            clauses.append(f"cannot be estimated {where} (a rate is undefined or withheld in "
                           "some seed)".replace("  ", " "))
            continue
        shown = number if verb != previous else number.replace(" points", "", 1)
        said = f"{verb} {shown}" if verb != previous else f"by {shown}"
        tell = "" if (row["ci_low"] > 0 or row["ci_high"] < 0) else \
            ", which cannot be told from no change"
        clauses.append(f"{said} {where}{tell}".replace("  ", " ").rstrip())
        previous = verb
    # A clause that ends in its own verdict is closed by a comma before the next one.
    body = "".join(clause + ("" if i == len(clauses) - 1 else
                             (", and " if clause.endswith("no change") else " and "))
                   for i, clause in enumerate(clauses))
    seeds = int(first["n_seeds"])
    how = (" (one seed: each interval treats the two runs as independent, so it is wide)"
           if seeds == 1 else "")
    return f"{label} ({metric_words}): {move}{at} {body}{how}."
