"""Sufficient statistics: one integer count array per audit, built in one vectorised pass.

Group-rate metrics depend only on the counts per (group cell, true label, decision), so the
engine counts once over the finest grouping it needs (the intersection of every grouping
column) and derives every coarser grouping by summing axes. Counts of chunks add up to the
counts of the whole, so chunks and workers merge by summation.

With a score column, a second array counts (group cell, true label, score bin) and a third
sums the scores in each such bin; AUC and calibration come from those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.errors import AuditInputError
from audit.validation import (
    DEFAULT_MAX_GROUPS,
    binary_indicator,
    check_columns,
    describe_missing,
    group_codes,
    missing_mask,
    score_array,
)

#: Number of equal-width score bins on [0, 1] used for AUC (ties within a bin count as ties).
DEFAULT_SCORE_BINS = 1000
#: Refuse intersections with more cells than this: they would not fit in memory sensibly.
MAX_CELLS = 5_000_000


@dataclass
class CountTable:
    """Counts over the intersection of the grouping columns.

    Attributes
    ----------
    columns : tuple of str
        Grouping columns, one array axis each.
    categories : tuple of tuple of str
        Group labels along each axis.
    counts : ndarray of int64, shape ``(*sizes, 2, 2)``
        ``counts[..., t, d]`` is the number of rows in a cell with true label ``t`` and
        decision ``d``.
    score_counts : ndarray of int64, shape ``(*sizes, 2, n_bins)``, or None
        Rows per cell, true label and score bin.
    score_sums : ndarray of float64, same shape as ``score_counts``, or None
        Sum of the scores of those rows.
    n_dropped : int
        Rows dropped for missing values before counting.
    """

    columns: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    score_counts: np.ndarray | None = None
    score_sums: np.ndarray | None = None
    n_dropped: int = 0

    @property
    def n_rows(self) -> int:
        """Number of rows counted."""
        return int(self.counts.sum())

    def __add__(self, other: CountTable) -> CountTable:
        if (self.columns, self.categories) != (other.columns, other.categories):
            raise AuditInputError(
                "count tables with different grouping columns or categories cannot be added; "
                "pass the same categories= to count_table for every chunk"
            )
        if (self.score_counts is None) != (other.score_counts is None) or (
            self.score_counts is not None and self.score_counts.shape != other.score_counts.shape
        ):
            raise AuditInputError(
                "count tables with and without the same score bins cannot be added"
            )
        return CountTable(
            self.columns,
            self.categories,
            self.counts + other.counts,
            None if self.score_counts is None else self.score_counts + other.score_counts,
            None if self.score_sums is None else self.score_sums + other.score_sums,
            self.n_dropped + other.n_dropped,
        )

    def __radd__(self, other: object) -> CountTable:
        if other == 0:  # lets sum() start from 0
            return self
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountTable):
            return NotImplemented
        same_scores = (self.score_counts is None and other.score_counts is None) or (
            self.score_counts is not None
            and other.score_counts is not None
            and np.array_equal(self.score_counts, other.score_counts)
            and np.allclose(self.score_sums, other.score_sums, rtol=1e-12, atol=1e-9)
        )
        return (
            self.columns == other.columns
            and self.categories == other.categories
            and np.array_equal(self.counts, other.counts)
            and same_scores
        )

    def marginal(self, columns: Sequence[str]) -> CountTable:
        """Counts for a coarser grouping: sum out every axis not in ``columns``.

        The result keeps ``columns`` in the order given.
        """

        def reduce(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else marginalise(array, self.columns, columns)

        return CountTable(
            tuple(columns),
            tuple(self.categories[self.columns.index(c)] for c in columns),
            reduce(self.counts),
            reduce(self.score_counts),
            reduce(self.score_sums),
            self.n_dropped,
        )


def marginalise(
    array: np.ndarray, columns: Sequence[str], keep: Sequence[str], leading: int = 0
) -> np.ndarray:
    """Sum a per-cell array over the group axes not in ``keep``, and order the rest as ``keep``.

    Parameters
    ----------
    array : ndarray, shape ``(*lead, *sizes, *trailing)``
        ``leading`` axes first (bootstrap resamples, say), then one axis per column of
        ``columns``, then any trailing axes, which are kept as they are.
    columns : sequence of str
        The grouping columns behind the group axes.
    keep : sequence of str
        The columns of the coarser grouping.
    leading : int
        Number of leading axes to keep as they are.
    """
    axes = [columns.index(c) for c in keep]
    drop = tuple(leading + i for i in range(len(columns)) if i not in axes)
    summed = array.sum(axis=drop) if drop else array
    kept = sorted(axes)
    order = (
        list(range(leading))
        + [leading + kept.index(a) for a in axes]
        + list(range(leading + len(axes), summed.ndim))
    )
    return np.transpose(summed, order)


def count_cells(
    cell: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, n_cells: int,
    overwrite_cell: bool = False,
) -> np.ndarray:
    """Count rows per (cell, true label, decision) in one ``bincount`` pass.

    Parameters
    ----------
    cell : ndarray of int
        Cell index of each row, in ``[0, n_cells)``.
    y_true, y_pred : ndarray of bool
        True label and decision of each row.
    n_cells : int
        Number of cells.
    overwrite_cell : bool
        Build the bincount key in ``cell`` itself (an int64 array the caller no longer needs),
        saving a pass over memory.

    Returns
    -------
    ndarray of int64, shape ``(n_cells, 2, 2)``
    """
    # (true label, decision) as one small code per row, in bytes, before touching the wide key.
    outcome = np.left_shift(np.asarray(y_true, dtype=bool).view(np.uint8), 1)
    outcome |= np.asarray(y_pred, dtype=bool).view(np.uint8)
    if overwrite_cell and cell.dtype == np.int64:
        key = cell
        key *= 4
    else:
        key = cell.astype(np.int64) * 4
    key += outcome
    return np.bincount(key, minlength=n_cells * 4).reshape(n_cells, 2, 2).astype(np.int64)


def score_bin(scores: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each score in [0, 1]: bin ``k`` holds ``[k/n_bins, (k+1)/n_bins)``, the last also 1.

    ``floor(score * n_bins)`` alone puts some scores that lie exactly on an edge one bin low
    (``0.29 * 100`` is ``28.999999999999996``), which would tie them with the bin below; the
    guess is corrected against the edges, so scores on the grid land in their own bins.
    """
    bins = np.minimum((scores * n_bins).astype(np.int64), n_bins - 1)
    edges = np.arange(n_bins + 1) / n_bins
    bins += scores >= edges[bins + 1]
    np.minimum(bins, n_bins - 1, out=bins)
    bins -= scores < edges[bins]
    return bins


def count_table(
    frame: pd.DataFrame,
    groups: Sequence[str],
    y_true: str,
    y_pred: str,
    score: str | None = None,
    *,
    positive_label: object | None = None,
    categories: dict[str, Sequence[object]] | None = None,
    score_bins: int = DEFAULT_SCORE_BINS,
    dropna: bool = False,
    max_groups: int = DEFAULT_MAX_GROUPS,
) -> CountTable:
    """Validate a table and count it over the intersection of ``groups``.

    Parameters
    ----------
    frame : DataFrame
        One row per person (or decision).
    groups : sequence of str
        Grouping columns.
    y_true, y_pred : str
        Binary columns: the true outcome and the decision.
    score : str, optional
        A score in [0, 1] behind the decision, for AUC and calibration.
    positive_label : object, optional
        The value of ``y_true`` and ``y_pred`` that counts as positive, when they are not
        boolean or 0/1.
    categories : dict, optional
        Fixed group labels per column, so that counts of separate chunks line up.
    score_bins : int
        Number of equal-width score bins on [0, 1].
    dropna : bool
        Drop rows with a missing value in any used column instead of refusing them.
    max_groups : int
        Refuse a grouping column with more distinct values than this.

    Returns
    -------
    CountTable

    Raises
    ------
    AuditInputError
        For every input a user can fix, with a message that says how.
    """
    groups = list(groups)
    if not groups:
        raise AuditInputError("give at least one group column (groups=[COL, ...])")
    if len(set(groups)) != len(groups):
        raise AuditInputError(f"group columns repeat: {groups}; name each column once")
    roles = {g: "groups" for g in groups}
    roles.update({y_true: "y_true", y_pred: "y_pred"})
    used = [*groups, y_true, y_pred]
    if score is not None:
        roles[score] = "score"
        used.append(score)
    check_columns(frame, used, roles)
    if len(frame) == 0:
        raise AuditInputError("the table has no rows; nothing to audit")

    n_dropped = 0
    mask = missing_mask(frame, used)
    if mask.any():
        if not dropna:
            raise AuditInputError(
                f"missing values: {describe_missing(frame, used)} "
                f"({int(mask.sum()):,} rows in all); pass dropna=True "
                "to drop those rows"
            )
        n_dropped = int(mask.sum())
        frame = frame.loc[~mask]
        if len(frame) == 0:
            raise AuditInputError(
                f"every row has a missing value in {used}; no rows are left to audit"
            )

    truth = binary_indicator(frame[y_true], y_true, "y_true", positive_label)
    decision = binary_indicator(frame[y_pred], y_pred, "y_pred", positive_label)
    scores = score_array(frame[score], score) if score is not None else None

    codes, labels = [], []
    for name in groups:
        fixed = None if categories is None else categories.get(name)
        column_codes, column_labels = group_codes(frame[name], name, max_groups, fixed)
        codes.append(column_codes)
        labels.append(tuple(column_labels))
    sizes = tuple(max(len(lab), 1) for lab in labels)
    n_cells = int(np.prod(sizes, dtype=np.int64))
    if n_cells > MAX_CELLS:
        raise AuditInputError(
            f"the intersection of {groups} has {n_cells:,} cells (limit {MAX_CELLS:,}); "
            "audit fewer or coarser group columns together"
        )
    cell = codes[0].astype(np.int64)
    for column_codes, size in zip(codes[1:], sizes[1:], strict=True):
        cell *= size
        cell += column_codes

    score_counts = score_sums = None
    if scores is not None:  # before count_cells, which reuses ``cell`` as its key
        if score_bins < 2:
            raise AuditInputError(f"score_bins must be at least 2, got {score_bins}")
        bins = score_bin(scores, score_bins)
        key = (cell * 2 + truth) * score_bins + bins
        length = n_cells * 2 * score_bins
        score_counts = np.bincount(key, minlength=length).reshape(*sizes, 2, score_bins)
        score_sums = np.bincount(key, weights=scores, minlength=length).reshape(
            *sizes, 2, score_bins
        )
    counts = count_cells(cell, truth, decision, n_cells, overwrite_cell=True).reshape(
        *sizes, 2, 2)
    return CountTable(tuple(groups), tuple(labels), counts, score_counts, score_sums, n_dropped)
