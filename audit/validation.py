"""Validation at the boundary: turn a user's table into clean arrays, or say what is wrong.

Every check raises :class:`audit.errors.AuditInputError` with a message that names the column,
the value or the option, and the way out. The inner engine trusts what comes out of here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.errors import AuditInputError

#: A grouping column with more distinct values than this is probably an identifier.
DEFAULT_MAX_GROUPS = 10_000


def _preview(values: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:limit])
    more = len(values) - limit
    return shown + (f", … ({more} more)" if more > 0 else "")


def check_columns(frame: pd.DataFrame, names: Sequence[str], role: dict[str, str]) -> None:
    """Check that every named column exists; suggest the closest name when one does not.

    Parameters
    ----------
    frame : DataFrame
        The table being audited.
    names : sequence of str
        Column names to look for.
    role : dict
        Maps a column name to the option that named it (for example ``"--y-true"``), so the
        message can say which option to fix.
    """
    if not isinstance(frame, pd.DataFrame):
        raise AuditInputError(
            f"expected a pandas DataFrame, got {type(frame).__name__}; "
            "load the table with pandas.read_csv or pandas.read_parquet first"
        )
    columns = [str(c) for c in frame.columns]
    for name in names:
        if name in frame.columns:
            continue
        close = difflib.get_close_matches(str(name), columns, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise AuditInputError(
            f"column {name!r} (given as {role.get(name, 'a column')}) not found{hint} "
            f"columns: {_preview(columns, 20)}"
        )


def missing_mask(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Boolean mask of rows with a missing value in any of ``names``."""
    mask = np.zeros(len(frame), dtype=bool)
    for name in dict.fromkeys(names):
        column = frame[name]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biu":
            continue  # numpy booleans and integers cannot be missing
        mask |= column.isna().to_numpy()
    return mask


def describe_missing(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    """Say which columns have missing values and how many, or ``None`` when none do."""
    parts = []
    for name in dict.fromkeys(names):
        count = int(frame[name].isna().sum())
        if count:
            parts.append(f"{name!r} has {count:,} missing value{'s' if count > 1 else ''}")
    return "; ".join(parts) if parts else None


def binary_indicator(
    series: pd.Series, name: str, option: str, positive_label: object | None
) -> np.ndarray:
    """Return ``series`` as a boolean array of positives, or explain why it is not binary.

    Without ``positive_label`` the column must hold booleans or the numbers 0 and 1. With it,
    the column may hold at most two distinct values and the positive one must be among them.
    """
    if positive_label is None:
        values = series.to_numpy()
        if values.dtype == bool:
            return values
        if np.issubdtype(values.dtype, np.integer):
            if len(values) == 0 or (values.min() >= 0 and values.max() <= 1):
                return values.astype(bool)
        elif np.issubdtype(values.dtype, np.floating):
            if np.all((values == 0) | (values == 1)):
                return values.astype(bool)
        distinct = pd.unique(series)
        raise AuditInputError(
            f"column {name!r} ({option}) is not binary 0/1: distinct values "
            f"{_preview(_sorted(distinct))}; pass --positive-label VALUE (Python: "
            "positive_label=VALUE) to say which value counts as positive"
        )
    distinct = _sorted(pd.unique(series))
    if len(distinct) > 2:
        raise AuditInputError(
            f"column {name!r} ({option}) is not binary: it has {len(distinct)} distinct values "
            f"({_preview(distinct)}); recode it to two values, one of them {positive_label!r}"
        )
    matches = [v for v in distinct if v == positive_label or str(v) == str(positive_label)]
    if not matches:
        raise AuditInputError(
            f"positive label {positive_label!r} does not occur in column {name!r} ({option}); "
            f"its values are {_preview(distinct)}"
        )
    return (series == matches[0]).to_numpy(dtype=bool, na_value=False)


def _sorted(values: np.ndarray) -> list[object]:
    try:
        return sorted(values.tolist())
    except TypeError:
        return sorted(values.tolist(), key=str)


def score_array(series: pd.Series, name: str) -> np.ndarray:
    """Return a score column as float64 in [0, 1], or explain what is wrong with it."""
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise AuditInputError(
            f"score column {name!r} (--score) must be numeric in [0, 1]; it has dtype "
            f"{series.dtype} (values such as {_preview(pd.unique(series)[:5])})"
        )
    values = series.to_numpy(dtype=np.float64)
    if len(values) and (values.min() < 0 or values.max() > 1):
        outside = int(((values < 0) | (values > 1)).sum())
        raise AuditInputError(
            f"score column {name!r} (--score) must lie in [0, 1]; {outside:,} values lie outside "
            f"(min {values.min():g}, max {values.max():g}); rescale it to probabilities"
        )
    return values


def group_codes(
    series: pd.Series,
    name: str,
    max_groups: int = DEFAULT_MAX_GROUPS,
    categories: Sequence[object] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Encode a grouping column as integer codes and the labels they stand for.

    Categorical columns keep their category order; other columns are sorted. Labels are
    strings, as they appear in reports.
    """
    if categories is not None:
        index = pd.Index(list(categories))
        if not index.is_unique:
            raise AuditInputError(f"the categories given for column {name!r} repeat a value")
        codes, labels = index.get_indexer(series), list(index)
        if (codes < 0).any() and not series.isna().to_numpy()[codes < 0].all():
            unknown = pd.unique(series[(codes < 0) & ~series.isna().to_numpy()])
            raise AuditInputError(
                f"column {name!r} has values not in the given categories: {_preview(unknown)}"
            )
    elif isinstance(series.dtype, pd.CategoricalDtype):
        codes, labels = series.cat.codes.to_numpy(), list(series.cat.categories)
    else:
        codes, uniques = pd.factorize(series, sort=True)
        labels = list(uniques)
    if len(labels) > max_groups:
        raise AuditInputError(
            f"group column {name!r} has {len(labels):,} distinct values (limit {max_groups:,}): "
            "it is probably an identifier; group by a column with fewer values, or raise "
            "max_groups (--max-groups) if you mean it"
        )
    return np.asarray(codes), [str(label) for label in labels]
