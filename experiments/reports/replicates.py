"""The report's words on which randomness each interval covers, and the spread of the
replicates behind every pooled focus comparison (from the run's replicates.csv)."""

from __future__ import annotations

import math

import pandas as pd

from audit.report import bounds
from experiments.config import ExperimentConfig
from experiments.writing.document import Heading, Paragraph, Table


def coverage_sentence(config: ExperimentConfig, people: int) -> str:
    """One sentence saying which sources of randomness the run's intervals include."""
    count = config.experiment.replicates
    if count > 1:
        redrawn = ("the population and the system's own draw were redrawn in each"
                   if config.experiment.replicate_population else
                   f"the same {people:,} people in each, the system's own draw redrawn")
        return (f"Every interval covers the draw of these {people:,} people and the system's "
                f"own draw, over {count} replicates ({redrawn}); estimates are "
                "pooled over the replicates (see the section on replicates). The system's own "
                "findings, quoted first among the headlines, rest on the first replicate.")
    note = f" {config.experiment.replicates_note}" if config.experiment.replicates_note else ""
    return (f"Every interval covers the draw of these {people:,} people only, not the "
            f"system's own draw: this run has one replicate.{note}")


#: Columns of a pooled table with each row's smallest and largest estimate over replicates
#: (:func:`experiments.engine.replicates.pool_tables` with ``ranges``).
RANGE_COLUMNS = ("contribution_replicate_min", "contribution_replicate_max")


def sign_differs(row: pd.Series) -> bool:
    """Whether a pooled contribution's replicates disagree on its sign.

    Parameters
    ----------
    row : Series
        A row of a pooled attribution table; a table pooled without replicate ranges (a run
        of one replicate) never differs.

    Returns
    -------
    bool
        True where one replicate's contribution is below zero and another's above it.
    """
    low, high = (row.get(c, math.nan) for c in RANGE_COLUMNS)
    try:
        return bool(float(low) < 0 < float(high))
    except (TypeError, ValueError):
        return False


def sign_differs_words(low: str, high: str) -> str:
    """The words that replace a pooled contribution whose replicates disagree on its sign.

    Parameters
    ----------
    low, high : str
        The smallest and the largest replicate's contribution, as the report prints them.

    Returns
    -------
    str
        ``"its sign differs between replicates: from -0.40 to +0.20 points"``.
    """
    return f"its sign differs between replicates: from {low} to {high} points"


def sign_differs_cell(row: pd.Series, pooled: str) -> str:
    """A table cell for a contribution: the pooled figure where the replicates agree on its
    sign, else the replicates' range first and the pooled figure after it, so that the table
    does not present an unsettled sign as one number."""
    if not sign_differs(row):
        return pooled
    low, high = (f"{100 * float(row[c]):+.2f}" for c in RANGE_COLUMNS)
    return f"{sign_differs_words(low, high)}; pooled {pooled}"


def replicates_blocks(replicates: pd.DataFrame, method: str, confidence: float = 0.95
                      ) -> list[object]:
    """The spread of the replicates of each focus comparison, by the true outcome (pooled
    intervals at ``confidence``)."""
    if replicates is None or replicates.empty:
        return []
    truth = replicates[replicates["view"] == "true"]
    rows = []
    for (grouping, group, metric), part in truth.groupby(["grouping", "group", "metric"],
                                                         sort=False):
        each = part[part["replicate"] != "pooled"]
        pooled = part[part["replicate"] == "pooled"]
        if pooled.empty or each["ratio"].isna().all():
            continue
        p = pooled.iloc[0]
        ends = bounds(p["ratio_ci_low"], p["ratio_ci_high"], lambda v: f"{v:.2f}")
        rows.append([
            f"{group} ({grouping})", metric, f"{len(each)}",
            f"{each['ratio'].min():.2f} to {each['ratio'].max():.2f}",
            f"{p['ratio']:.2f} ({ends})" if math.isfinite(p["ratio"]) else "undefined",
            f"{100 * each['difference'].min():+.2f} to {100 * each['difference'].max():+.2f}",
        ])
    if not rows:
        return []
    return [
        Heading("Replicates of the system's randomness"),
        Paragraph(f"The system was run several times on the same people, each time with its "
                  f"own randomness redrawn; every figure in this report is {method}. The "
                  "table gives, for each comparison named in advance, the smallest and the "
                  "largest estimate over the replicates beside the pooled one: a finding "
                  "whose replicates spread wider than its interval is not yet a finding. "
                  "Each replicate's estimates and intervals are in replicates.csv."),
        Table(["comparison", "rate", "replicates", "ratio: smallest to largest",
               f"ratio pooled ({100 * confidence:g}% CI)", "gap in points: smallest to largest"],
              rows),
    ]
