"""The report's section on composition: each focus comparison crude and adjusted side by side,
with how much of its gap is who is in each group (from the run's adjusted.csv)."""

from __future__ import annotations

import math

import pandas as pd

from audit.metrics import EXPLANATIONS
from audit.report import bounds
from experiments.systems.composition import composition_sentence, strata_words
from experiments.writing.document import Heading, Paragraph, Table

VIEW_WORDS = {"true": "true outcome", "recorded": "recorded outcome"}


def _ratio(value: float, low: float, high: float) -> str:
    if not math.isfinite(value):
        return "undefined"
    return f"{value:.2f} ({bounds(low, high, lambda v: f'{v:.2f}')})"


def _points(value: float, low: float | None = None, high: float | None = None) -> str:
    if not math.isfinite(value):
        return "undefined"
    text = f"{100 * value:+.2f}"
    if low is None:
        return text
    return text + f" ({bounds(low, high, lambda v: f'{100 * v:+.2f}', separator=' to ')})"


def composition_blocks(adjusted: pd.DataFrame | None, confidence: float = 0.95,
                       replicates: int = 1) -> list[object]:
    """Heading, explanation, one sentence per focus comparison and the side-by-side table;
    nothing when no focus comparison declares strata.

    Parameters
    ----------
    adjusted : DataFrame or None
        The run's adjusted.csv.
    confidence : float
        The intervals' level.
    replicates : int
        Replicates of the system's randomness the table is pooled over (1: none).
    """
    if adjusted is None or adjusted.empty:
        return []
    level = f"{100 * confidence:g}%"
    covers = (f"cover the draw of these people and the system's own draw, pooled over "
              f"{replicates} replicates" if replicates > 1 else
              "cover the draw of these people, not the system's own randomness")
    blocks: list[object] = [
        Heading("Composition or mechanism"),
        Paragraph(
            "Two groups can differ in error rate because the system treats alike people "
            "differently, or because the groups are made of different people (another mix of "
            "region, visa type or language, which the system also reads). Each comparison "
            "named in advance is therefore also made within the strata the experiment file "
            "declares for it (adjust_for): a Mantel-Haenszel ratio (Greenland-Robins "
            "interval) and difference (Sato variance), and a Kitagawa split of the crude "
            "difference into a composition part (who is in each group) and a within-stratum "
            "part, which sum to it exactly. Strata where one group has no one are left out "
            f"and counted. Intervals are {level} and {covers}. Written to adjusted.csv."),
    ]
    sentences = []
    for (label, metric), rows in adjusted.groupby(["label", "metric"], sort=False):
        truth = rows[rows["view"] == "true"]
        if metric == "fpr" and len(truth):
            sentence = composition_sentence(truth.iloc[0], confidence=confidence)
            if sentence:
                sentences.append(f"{label}: {sentence}")
    blocks += [Paragraph(s) for s in sentences]
    table_rows = []
    for _, row in adjusted.iterrows():
        flags = str(row.get("flags", "") or "")
        if "suppressed" in flags.split(";"):
            continue
        share = row["composition_share"]
        table_rows.append([
            str(row["label"]), EXPLANATIONS[row["metric"]][0] if row["metric"] in EXPLANATIONS
            else str(row["metric"]), VIEW_WORDS.get(row["view"], str(row["view"])),
            strata_words(row["adjust_for"]),
            f"{int(row['strata_used'])} used, {int(row['strata_left_out'])} left out",
            _ratio(row["crude_ratio"], math.nan, math.nan).split(" (")[0],
            _ratio(row["adjusted_ratio"], row["adjusted_ratio_ci_low"],
                   row["adjusted_ratio_ci_high"]),
            _points(row["crude_diff"]),
            _points(row["adjusted_diff"], row["adjusted_diff_ci_low"],
                    row["adjusted_diff_ci_high"]),
            _points(row["composition_part"], row["composition_ci_low"],
                    row["composition_ci_high"]),
            f"{100 * share:.0f}%" if math.isfinite(share) else "undefined",
            f"{row['homogeneity_p']:.2g}" if math.isfinite(row["homogeneity_p"]) else "—",
        ])
    if table_rows:
        blocks.append(Table(
            ["comparison", "rate", "view", "within", "strata", "crude ratio",
             f"adjusted ratio ({level} CI)", "crude gap (points)",
             f"adjusted gap (points, {level} CI)", f"composition part (points, {level} CI)",
             "composition share",
             "homogeneity p"], table_rows,
            caption="Crude and adjusted comparisons side by side; n and counts per stratum are "
                    "in adjusted.csv."))
    return blocks
