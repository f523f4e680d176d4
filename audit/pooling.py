"""Pooling a sweep's seeds: one estimate per grid value, with an interval that carries both the
uncertainty within each run and the variation from seed to seed.

Each seed of a grid point is an independent replication of the same design: a new synthetic
population, a new trained system, a new audit. Its estimate of a gap (the difference of a
rate to the reference group's, or their ratio on the log scale) comes with a closed-form
interval from the run itself, from which its within-run variance is read back
(``((high - low) / (2 z))²``, on the log scale for ratios). The seeds are then combined as a
**random-effects meta-analysis**: the between-seed variance τ² by DerSimonian and Laird, the
pooled estimate the inverse-variance weighted mean with weights ``1 / (within variance + τ²)``,
and its interval by the **modified Hartung-Knapp** method (Student t on m − 1 degrees of
freedom, with a variance never below the DerSimonian-Laird one; Röver, Knapp and Friede,
2015). The modification matters with few seeds: two seeds that agree by chance do not make
the pooled estimate more precise than each run's own sampling allows.

A seed whose estimate is undefined leaves the pooled estimate undefined (dropping it would
keep only the seeds whose reference rate happened to be large enough). A seed whose interval
has no bound leaves the pooled interval without that bound (flag ``unbounded``); a seed whose
interval was withheld leaves the pooled interval withheld (flag ``no_interval``). With one
seed, the interval is that run's own and the flag ``one_seed`` says that seed-to-seed
variation was not measured.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from audit.report import WITHHELD, bounds

#: The sentence every sweep report and the README use to name the pooling method.
POOLING_METHOD = (
    "pooled over seeds as a random-effects meta-analysis: each seed's within-run variance "
    "read from its closed-form interval, the between-seed variance by DerSimonian-Laird, "
    "inverse-variance weights, and a modified Hartung-Knapp interval (Student t on seeds − 1 "
    "degrees of freedom, never narrower than the DerSimonian-Laird one); ratios on the log "
    "scale"
)

#: Gaps that are pooled, with the interval columns of metrics.csv they read, whether they are
#: pooled on the log scale, and the range a value can take.
POOLED = {
    "difference": ("diff_ci_low", "diff_ci_high", False, (-1.0, 1.0)),
    "ratio": ("ratio_ci_low", "ratio_ci_high", True, (0.0, np.inf)),
}

#: Columns of sweep_metrics.csv.
SWEEP_METRICS_HELP: dict[str, str] = {
    "point": "the point's folder under points/: a fingerprint of its own config and its seed "
             "(the same point in another sweep has the same name, and is not run again)",
    "<grid key>": "one column per key of sweep.grid, holding the point's value",
    "seed": "the point's seed (experiment.seed)",
    "view, grouping, group, metric, value, ...": "every column of the point's metrics.csv, "
                                                 "as described in audit/glossary.py",
}

#: Columns of sweep_summary.csv (one row per grid value, view, grouping, group and metric).
SWEEP_SUMMARY_HELP: dict[str, str] = {
    "<grid key>, view, grouping, group, metric": "what the row is about: one grid value, one "
        "view (true or recorded outcome) and one metric of one group",
    "seeds": "how many seeds the row summarises",
    "reference": "the grouping's reference group, which difference and ratio compare with",
    "value_mean, value_sd, value_min, value_max": "the metric's mean, standard deviation, "
                                                  "smallest and largest value over seeds",
    "difference_mean, ratio_mean, ratio_sd, ratio_min, ratio_max": "plain summaries of the "
        "gap to the reference group over seeds (no interval)",
    "significant_share": "share of seeds whose Holm-adjusted p-value is under 0.05",
    "difference_pooled": "the difference to the reference group, pooled over seeds by a "
                         "random-effects meta-analysis: the mean of the seeds' differences "
                         "weighted by 1 / (within-run variance + τ²)",
    "difference_pooled_low, difference_pooled_high": "its interval at audit.confidence (95% "
        "by default): modified Hartung-Knapp, Student t on seeds − 1 degrees of freedom, "
        "never narrower than the DerSimonian-Laird interval; cut to [-1, 1]",
    "difference_between_sd": "τ, the standard deviation of the difference from seed to seed "
                             "beyond each run's own sampling (DerSimonian-Laird)",
    "ratio_pooled": "the ratio to the reference group, pooled the same way on the log scale",
    "ratio_pooled_low, ratio_pooled_high": "its interval, back from the log scale (never "
                                           "below 0); inf where unbounded",
    "ratio_between_sd": "τ of the log ratio from seed to seed",
    "difference_flags, ratio_flags": "undefined (undefined, or a ratio of 0, in at least one "
        "seed: not pooled), unbounded (a seed's interval has no bound on a side: neither has "
        "the pooled one), no_interval (a seed's interval was withheld: so is the pooled one), "
        "one_seed (one seed only: the run's own interval, seed-to-seed variation not "
        "measured)",
}


def within_se(low: np.ndarray, high: np.ndarray, log: bool, confidence: float) -> np.ndarray:
    """Each run's standard error, read back from its closed-form interval.

    The interval is taken as symmetric on the pooling scale (the log scale for ratios), so
    its half-width is z standard errors. Newcombe's and MOVER-R intervals are close to
    symmetric there at the sizes a run audits; where they are not, this is an approximation.
    An infinite or missing end gives an infinite or missing standard error.
    """
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            low, high = np.log(low), np.log(high)
        return (high - low) / (2 * z)


def pool_random_effects(codes: np.ndarray, estimates: np.ndarray, se: np.ndarray,
                        n_groups: int, confidence: float = 0.95
                        ) -> dict[str, np.ndarray]:
    """Pool estimates by group code: DerSimonian-Laird τ², modified Hartung-Knapp interval.

    Vectorised over groups (one ``bincount`` per sum), so a sweep's every row is pooled at
    once.

    Parameters
    ----------
    codes : ndarray of int
        The group (grid value, view, grouping, group, metric) of each seed's estimate.
    estimates, se : ndarray of float
        Each seed's estimate and within-run standard error, on the pooling scale.
    n_groups : int
        Number of groups (``codes.max() + 1``).
    confidence : float
        Level of the pooled interval.

    Returns
    -------
    dict of ndarray
        ``estimate``, ``low``, ``high``, ``between_sd`` and ``seeds`` per group, and the
        booleans ``undefined``, ``unbounded``, ``no_interval``, ``one_seed``.
    """
    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=n_groups)

    m = np.bincount(codes, minlength=n_groups).astype(float)
    undefined = total((~np.isfinite(estimates)).astype(float)) > 0
    unbounded = total((np.isinf(se) & np.isfinite(estimates)).astype(float)) > 0
    withheld = total((np.isnan(se) & np.isfinite(estimates)).astype(float)) > 0
    usable = np.isfinite(estimates) & np.isfinite(se)
    y = np.where(usable, estimates, 0.0)
    # A run whose interval has zero width (cannot happen with score intervals, but a hand-made
    # table could hold one) gets the smallest positive variance rather than infinite weight.
    v = np.where(usable, np.maximum(se, 1e-12) ** 2, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = 1.0 / v
        s1, s2 = total(w), total(w * w)
        fixed = total(w * y) / s1
        q = total(w * y * y) - s1 * fixed**2  # Cochran's Q
        c = s1 - s2 / s1
        tau2 = np.where(m > 1, np.maximum(0.0, (q - (m - 1)) / c), 0.0)
        w_star = 1.0 / (v + tau2[codes])
        s_star = total(w_star)
        pooled = total(w_star * y) / s_star
        var_dl = 1.0 / s_star
        var_hk = total(w_star * (y - pooled[codes]) ** 2) / ((m - 1) * s_star)
        variance = np.where(m > 1, np.maximum(var_hk, var_dl), var_dl)
        quantile = np.where(m > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(m - 1, 1)),
                            stats.norm.ppf(0.5 + confidence / 2))
    half = quantile * np.sqrt(variance)
    bad = undefined | withheld
    estimate = np.where(undefined, np.nan, pooled)
    low = np.where(bad, np.nan, np.where(unbounded, -np.inf, pooled - half))
    high = np.where(bad, np.nan, np.where(unbounded, np.inf, pooled + half))
    return {"estimate": estimate, "low": low, "high": high,
            "between_sd": np.where(undefined | unbounded | withheld | (m < 2), np.nan,
                                   np.sqrt(tau2)),
            "seeds": m, "undefined": undefined, "unbounded": unbounded & ~undefined,
            "no_interval": withheld & ~undefined, "one_seed": m == 1}


def pool_seeds(tidy: pd.DataFrame, keys: Sequence[str], confidence: float = 0.95
               ) -> pd.DataFrame:
    """The pooled difference and ratio of every row group of a sweep's tidy table.

    Parameters
    ----------
    tidy : DataFrame
        sweep_metrics.csv: one row per (point, view, grouping, group, metric).
    keys : sequence of str
        Columns that define a pooled row (grid keys, view, grouping, group, metric); the
        seeds within a row are pooled.
    confidence : float
        Level of the runs' intervals (``audit.confidence``) and of the pooled interval.

    Returns
    -------
    DataFrame
        ``keys`` and, for ``difference`` and ``ratio``: ``<gap>_pooled``, ``_pooled_low``,
        ``_pooled_high``, ``_between_sd`` and ``_flags`` (see :data:`SWEEP_SUMMARY_HELP`).
    """
    codes_frame = tidy.groupby(list(keys), sort=False, dropna=False)
    codes = codes_frame.ngroup().to_numpy()
    first = tidy.loc[codes_frame.head(1).index, list(keys)].reset_index(drop=True)
    n_groups = len(first)
    out = first.copy()
    for gap, (low_col, high_col, log, (lowest, highest)) in POOLED.items():
        estimate = pd.to_numeric(tidy[gap], errors="coerce").to_numpy(dtype=float)
        low = pd.to_numeric(tidy[low_col], errors="coerce").to_numpy(dtype=float)
        high = pd.to_numeric(tidy[high_col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.log(estimate) if log else estimate
        # A ratio of 0 (no event in the group) has no log: undefined on this scale.
        scaled = np.where(np.isfinite(scaled), scaled, np.nan)
        pooled = pool_random_effects(codes, scaled, within_se(low, high, log, confidence),
                                     n_groups, confidence)
        centre, lo, hi = pooled["estimate"], pooled["low"], pooled["high"]
        if log:
            centre, lo, hi = np.exp(centre), np.exp(lo), np.exp(hi)
        out[f"{gap}_pooled"] = centre
        out[f"{gap}_pooled_low"] = np.clip(lo, lowest, highest)
        out[f"{gap}_pooled_high"] = np.clip(hi, lowest, highest)
        out[f"{gap}_between_sd"] = pooled["between_sd"]
        out[f"{gap}_flags"] = [
            ";".join(name for name in ("undefined", "unbounded", "no_interval", "one_seed")
                     if pooled[name][i])
            for i in range(n_groups)]
    return out


def interval_text(estimate: float, low: float, high: float, flags: str = "",
                  digits: int = 2, scale: float = 1.0, signed: bool = False) -> str:
    """``1.84 (1.52 to 2.23)``, with the one convention of every report for intervals that
    have no bound (``no upper bound``) or were withheld (``withheld``)."""
    sign = "+" if signed else ""

    def shown(value: float) -> str:
        return f"{scale * value:{sign}.{digits}f}"

    if not np.isfinite(estimate):
        return "undefined"
    if "no_interval" in flags or np.isnan(low) or np.isnan(high):
        return f"{shown(estimate)} (interval {WITHHELD})"
    return f"{shown(estimate)} ({bounds(low, high, shown, ' to ')})"


def seed_interval(mean: float, sd: float, n: int, confidence: float = 0.95,
                  lowest: float = -math.inf) -> tuple[float, float]:
    """Student-t interval of a mean over ``n`` seeds (NaN with fewer than two seeds).

    For quantities that have no within-run interval to pool (a share computed per run);
    gaps to the reference group are pooled with their runs' intervals instead
    (:func:`audit.pooling.pool_seeds`). ``lowest`` is the smallest value the
    quantity can take: a t-interval ignores it, so its lower end is cut there.
    """
    if n < 2 or not (math.isfinite(mean) and math.isfinite(sd)):
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return max(mean - half, lowest), mean + half


def ratio_summary(rows: pd.DataFrame, keys: list[str], view: str) -> pd.DataFrame:
    """Per value of ``keys``: the pooled ratio and its interval, from the summary rows.

    Where several rows share a value of ``keys`` (other grid keys vary), their pooled log
    ratios are averaged and their interval half-widths combined as independent (every grid
    point has its own populations), so the interval stays a pooled one.
    """
    part = rows[rows["view"] == view]
    out = []
    for value, group in part.groupby(keys, sort=True):
        ratio = group["ratio_pooled"].to_numpy(dtype=float)
        low = group["ratio_pooled_low"].to_numpy(dtype=float)
        high = group["ratio_pooled_high"].to_numpy(dtype=float)
        flags = ";".join(sorted({f for text in group.get("ratio_flags", pd.Series(dtype=str))
                                 .fillna("").astype(str) for f in text.split(";") if f}))
        if len(group) == 1:
            mean, lo, hi = ratio[0], low[0], high[0]
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                logs = np.log(ratio)
                centre = logs.mean()
                lower = np.sqrt(((logs - np.log(low)) ** 2).sum()) / len(logs)
                upper = np.sqrt(((np.log(high) - logs) ** 2).sum()) / len(logs)
            mean, lo, hi = np.exp(centre), np.exp(centre - lower), np.exp(centre + upper)
        out.append({**dict(zip(keys, value if isinstance(value, tuple) else (value,),
                               strict=True)),
                    "mean": float(mean), "low": float(lo), "high": float(hi), "flags": flags,
                    "seeds": int(group["seeds"].min())})
    frame = pd.DataFrame(out, columns=[*keys, "mean", "low", "high", "flags", "seeds"])
    return frame.set_index(keys)


def pooled_ratio_text(row: pd.Series) -> str:
    """``1.84 (1.52 to 2.23)``: a pooled ratio and its interval, in the reports' convention."""
    flags = str(row.get("flags", "") or "")
    if "undefined" in flags:  # a ratio of 0 or none in some seed: not pooled (see POOLED)
        return "not pooled (0 or undefined in a seed)"
    return interval_text(row["mean"], row["low"], row["high"], flags)


def compare_intervals(first: pd.Series, second: pd.Series) -> str:
    """"higher", "lower" or "cannot tell": whether two pooled intervals are apart."""
    if not all(math.isfinite(v) for v in (first["low"], first["high"], second["low"],
                                          second["high"])):
        return "cannot tell"
    if first["low"] > second["high"]:
        return "higher"
    if first["high"] < second["low"]:
        return "lower"
    return "cannot tell"
