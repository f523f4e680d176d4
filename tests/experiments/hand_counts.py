"""Estimates computed by hand from a run's decisions, to check the instrument against."""

from __future__ import annotations

import pandas as pd


def mantel_haenszel(decisions: pd.DataFrame, grouping: str, group: str, reference: str,
                     stratum: str) -> tuple[float, float]:
    """The Mantel-Haenszel ratio and difference of false positive rates, by hand."""
    negatives = decisions[~decisions["y_true"].astype(bool)]
    side = negatives[grouping].astype(str)
    ratio_top = ratio_bottom = diff_top = weights = 0.0
    for _, rows in negatives.groupby(stratum, observed=True):
        g = rows[side.loc[rows.index] == group]
        r = rows[side.loc[rows.index] == reference]
        n1, n0 = len(g), len(r)
        if n1 == 0 or n0 == 0:
            continue
        a, c, total = g["decision"].sum(), r["decision"].sum(), n1 + n0
        ratio_top += a * n0 / total
        ratio_bottom += c * n1 / total
        diff_top += (a * n0 - c * n1) / total
        weights += n1 * n0 / total
    return ratio_top / ratio_bottom, diff_top / weights
