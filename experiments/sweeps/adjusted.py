"""Crude and adjusted focus comparisons at every grid value of a sweep, pooled over seeds.

Each point writes adjusted.csv (the focus comparisons within the strata they declare); this
module pools the adjusted difference and ratio over the seeds of each grid value, with the
random-effects pooling every sweep gap uses (:func:`audit.pooling.pool_seeds`), beside the mean
crude ratio and the mean share of the gap that is composition.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from audit.pooling import pool_seeds
from audit.report import bounds
from experiments.writing.document import Heading, Paragraph, Table

#: adjusted.csv's columns under the names :func:`audit.pooling.pool_seeds` pools.
AS_GAPS = {"adjusted_diff": "difference", "adjusted_diff_ci_low": "diff_ci_low",
           "adjusted_diff_ci_high": "diff_ci_high", "adjusted_ratio": "ratio",
           "adjusted_ratio_ci_low": "ratio_ci_low", "adjusted_ratio_ci_high": "ratio_ci_high"}


def collect_adjusted(points: list, directory: Path, confidence: float = 0.95
                     ) -> pd.DataFrame:
    """sweep_adjusted.csv: per grid value, view, focus comparison and rate, the adjusted gap
    pooled over seeds, the mean crude ratio and the mean composition share; no rows when no
    point wrote adjusted.csv."""
    frames = []
    for point in points:
        path = directory / "points" / point.point_id / "adjusted.csv"
        if not path.exists():
            continue
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        for key, value in point.params.items():
            table[key] = value
        table["seed"] = point.seed
        frames.append(table)
    if not frames:
        return pd.DataFrame()
    tidy = pd.concat(frames, ignore_index=True)
    keys = [*points[0].params, "view", "label", "grouping", "group", "metric", "adjust_for"]
    pooled = pool_seeds(tidy.rename(columns=AS_GAPS), keys, confidence)
    means = tidy.groupby(keys, sort=False, dropna=False).agg(
        seeds=("seed", "nunique"), crude_ratio_mean=("crude_ratio", "mean"),
        crude_diff_mean=("crude_diff", "mean"),
        composition_share_mean=("composition_share", "mean")).reset_index()
    table = means.merge(pooled, on=keys, how="left", validate="one_to_one")
    return table.rename(columns={"difference_pooled": "adjusted_diff_pooled",
                                 "difference_pooled_low": "adjusted_diff_pooled_low",
                                 "difference_pooled_high": "adjusted_diff_pooled_high",
                                 "difference_between_sd": "adjusted_diff_between_sd",
                                 "difference_flags": "adjusted_diff_flags",
                                 "ratio_pooled": "adjusted_ratio_pooled",
                                 "ratio_pooled_low": "adjusted_ratio_pooled_low",
                                 "ratio_pooled_high": "adjusted_ratio_pooled_high",
                                 "ratio_between_sd": "adjusted_ratio_between_sd",
                                 "ratio_flags": "adjusted_ratio_flags"})


def adjusted_blocks(table: pd.DataFrame, grid: list[str]) -> list[object]:
    """The sweep report's crude-beside-adjusted table, by the true outcome."""
    if table is None or table.empty:
        return []
    truth = table[(table["view"] == "true") & (table["metric"] == "fpr")]
    rows = []
    for _, r in truth.iterrows():
        ratio = r["adjusted_ratio_pooled"]
        ends = bounds(r["adjusted_ratio_pooled_low"], r["adjusted_ratio_pooled_high"],
                      lambda v: f"{v:.2f}")
        share = r["composition_share_mean"]
        rows.append([
            str(r["label"]), ", ".join(f"{k} = {r[k]}" for k in grid),
            f"{r['crude_ratio_mean']:.2f}" if math.isfinite(r["crude_ratio_mean"]) else "—",
            f"{ratio:.2f} ({ends})" if math.isfinite(ratio) else "the data cannot tell",
            f"{100 * share:.0f}%" if math.isfinite(share) else "—",
        ])
    if not rows:
        return []
    return [
        Heading("Composition or mechanism, at each grid value"),
        Paragraph("Each comparison named in advance, within the strata it declares "
                  "(adjust_for), by the true outcome's false positive rate: the crude ratio "
                  "(mean over seeds) beside the Mantel-Haenszel ratio within strata, pooled "
                  "over seeds as every gap here is, and the mean share of the crude gap that "
                  "is composition (who is in each group). Written to sweep_adjusted.csv."),
        Table(["comparison", "grid value", "crude ratio", "adjusted ratio (95% CI)",
               "composition share"], rows),
    ]
