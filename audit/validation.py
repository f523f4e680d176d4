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
#: How a group whose name is the empty text is labelled: in a CSV file an empty field reads
#: back as missing, so the empty name gets a visible label instead.
EMPTY_LABEL = "(empty)"

#: Text that pandas reads as missing by default. Outcome and score columns keep it; a group
#: column does not, as "NA" is Namibia, and "None" or "nan" may be real group names.
try:
    from pandas._libs.parsers import STR_NA_VALUES as _PANDAS_NA
except ImportError:  # pragma: no cover - older or newer pandas layouts
    _PANDAS_NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                  "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                  "nan", "null"}
DEFAULT_NA_TEXT = tuple(sorted(_PANDAS_NA))
#: Bytes the audit holds per (group, bootstrap resample) of a grouping, measured on the
#: engine with a margin: resampled counts, rates, differences, ratios and their percentiles.
BYTES_PER_GROUP_RESAMPLE = 400
#: The same with a score column (calibration bins and AUC pairs add to every group).
BYTES_PER_GROUP_RESAMPLE_SCORED = 1_400
#: Bytes of the resampled count array per (cell of a counted family, resample), and the
#: extra with a score column (the calibration bins are resampled too).
BYTES_PER_CELL_RESAMPLE = 32
BYTES_PER_CELL_RESAMPLE_SCORED = 192


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
        Maps a column name to the parameter that named it (for example ``"y_true"``), so the
        message can say which option to fix.
    """
    if not isinstance(frame, pd.DataFrame):
        raise AuditInputError(
            f"expected a pandas DataFrame, got {type(frame).__name__}; "
            "load the table with pandas.read_csv or pandas.read_parquet first"
        )
    columns = [str(c) for c in frame.columns]
    repeated = duplicate_names(frame.columns)
    used_twice = [name for name in names if name in repeated]
    if used_twice:
        raise AuditInputError(
            f"column name{'s' if len(used_twice) > 1 else ''} "
            f"{', '.join(repr(n) for n in dict.fromkeys(used_twice))} occur more than once in "
            "the table; rename the columns so that each name is unique"
        )
    for name in names:
        if name in frame.columns:
            continue
        close = difflib.get_close_matches(str(name), columns, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise AuditInputError(
            f"column {name!r} (given as {role.get(name, 'a column')}) not found{hint} "
            f"columns: {_preview(columns, 20)}"
        )


def duplicate_names(names: Sequence[object]) -> list[object]:
    """Names that occur more than once, in order of first occurrence."""
    seen: dict[object, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [name for name, count in seen.items() if count > 1]


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
        elif len(values) and {str(v) for v in pd.unique(series)} <= {"0", "1"}:
            # The text "0" and "1": a 0/1 column also used as a group is read as text.
            return (series.astype(str) == "1").to_numpy(dtype=bool)
        distinct = pd.unique(series)
        raise AuditInputError(
            f"column {name!r} ({option}) is not binary 0/1: distinct values "
            f"{_preview(_sorted(distinct))}; pass positive_label=VALUE to say which value "
            "counts as positive"
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
            f"score column {name!r} (score) must be numeric in [0, 1]; it has dtype "
            f"{series.dtype} (values such as {_preview(pd.unique(series)[:5])})"
        )
    values = series.to_numpy(dtype=np.float64)
    if len(values) and (values.min() < 0 or values.max() > 1):
        outside = int(((values < 0) | (values > 1)).sum())
        raise AuditInputError(
            f"score column {name!r} (score) must lie in [0, 1]; {outside:,} values lie outside "
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
            "max_groups if you mean it"
        )
    return np.asarray(codes), group_labels(labels, name)


def group_labels(values: Sequence[object], name: str) -> list[str]:
    """The labels of a group column's values, as reports and files show them.

    Every value becomes its text; the empty text becomes :data:`EMPTY_LABEL`, which a CSV
    reader cannot mistake for a missing value. Two values with the same text (``1`` and
    ``"1"``) or an empty value next to a real ``"(empty)"`` would become one label for two
    groups, and are refused.
    """
    labels = [EMPTY_LABEL if str(value) == "" else str(value) for value in values]
    repeated = duplicate_names(labels)
    if repeated:
        clashing = [v for v in values if (EMPTY_LABEL if str(v) == "" else str(v)) in repeated]
        raise AuditInputError(
            f"group column {name!r} has different values that read as the same group name "
            f"({_preview(clashing)}); recode the column so each group has one spelling "
            "(for example, all as text)"
        )
    return labels


def memory_estimate(
    families: Sequence[Sequence[int]],
    groupings: Sequence[Sequence[int]],
    n_boot: int,
    scored: bool,
) -> int:
    """Bytes an audit's bootstrap needs, estimated from the numbers of groups alone.

    Parameters
    ----------
    families : sequence of sequences of int
        For each family of columns counted together, the number of groups of each column:
        its count array has their product of cells, each resampled ``n_boot`` times.
    groupings : sequence of sequences of int
        The same for each audited grouping (the groups it can have).
    n_boot : int
        Bootstrap resamples.
    scored : bool
        Whether a score column adds AUC and calibration.
    """
    per_cell = BYTES_PER_CELL_RESAMPLE_SCORED if scored else BYTES_PER_CELL_RESAMPLE
    per_group = BYTES_PER_GROUP_RESAMPLE_SCORED if scored else BYTES_PER_GROUP_RESAMPLE
    cells = sum(int(np.prod(sizes, dtype=np.float64)) for sizes in families)
    groups = sum(int(np.prod(sizes, dtype=np.float64)) for sizes in groupings)
    return int(n_boot) * (cells * per_cell + groups * per_group)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(estimate: int, budget: int | None = None) -> None:
    """Refuse an audit whose bootstrap would need more than ``budget`` bytes.

    The default budget is half the memory available now (4 GiB where that is unknown). The
    message gives the estimate and the options that lower it.
    """
    source = "the limit given"
    if budget is None:
        available = available_memory()
        budget, source = ((available // 2, "half the memory available now") if available
                          else (4 * 10**9, "the default limit"))
    if estimate > budget:
        raise AuditInputError(
            f"this audit would need about {_bytes(estimate)} of memory for its bootstrap, "
            f"more than {_bytes(budget)} ({source}): lower the resamples "
            "(n_boot; memory grows with it), audit fewer groups (max_groups refuses "
            "identifier-like columns) or leave out the intersection (intersections=False)"
        )


def _bytes(count: float) -> str:
    """``1.5 GB``: decimal units, as memory is usually quoted."""
    for unit in ("bytes", "kB", "MB"):
        if count < 1000:
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"


def check_adjust_for(adjust_for: str | Sequence[str] | None,
                     group_columns: Sequence[str]) -> tuple[str, ...]:
    """The stratifying columns of an adjusted comparison, checked against the groupings.

    A single name stands for one column; none (or an empty sequence) asks for no adjustment.
    A column may not repeat, and may not be a group column: a group compared with its
    reference within strata of its own grouping would have no common stratum.
    """
    if adjust_for is None:
        return ()
    columns = (adjust_for,) if isinstance(adjust_for, str) else tuple(adjust_for)
    repeated = duplicate_names(columns)
    if repeated:
        raise AuditInputError(
            f"adjust_for names column {repeated[0]!r} more than once; name each column once")
    for name in columns:
        if name in group_columns:
            raise AuditInputError(
                f"adjust_for column {name!r} is also a group column; a group cannot be "
                "compared with its reference within strata of its own grouping: adjust for "
                "another column, or leave it out of groups")
    return columns


def check_strata_columns(frame: pd.DataFrame, adjust_for: Sequence[str], max_groups: int
                         ) -> None:
    """Check that every ``adjust_for`` column exists and has at most ``max_groups`` values."""
    check_columns(frame, adjust_for, {name: "adjust_for" for name in adjust_for})
    for name in adjust_for:
        column = frame[name]
        distinct = (len(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype)
                    else int(column.nunique(dropna=True)))
        if distinct > max_groups:
            raise AuditInputError(
                f"adjust_for column {name!r} has {distinct:,} distinct values (limit "
                f"{max_groups:,}): too many strata to compare groups within; adjust for a "
                "coarser column, or raise max_groups if you mean it")
