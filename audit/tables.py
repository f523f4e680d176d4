"""Written tables: suppression of small cells, CSV and JSON text with formula
neutralisation and fixed rounding, shared by every table the project writes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Digits kept in written files: far beyond any interval's width, and stable across platforms.
FLOAT_DIGITS = 12
#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Text that is a plain number: a spreadsheet reads it as that number, never as a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: Columns that say which cell a row describes; every other column is a figure about it.
KEY_COLUMNS = ("view", "intervention", "grouping", "group")
#: Flags a withheld cell keeps: the ones about its size, none about its counts.
WITHHELD_FLAGS = ("small_n", "suppressed", "complementary", "reference")



def has_flag(flags: object, flag: str) -> bool:
    """Whether a row's ``;``-separated flags include ``flag`` itself (``undefined`` is not
    ``ratio_undefined``)."""
    return flag in str(flags or "").split(";")


def _flagged(flags: pd.Series, flag: str) -> np.ndarray:
    """Rows whose ``;``-separated flags include ``flag``."""
    text = flags.fillna("").astype(str)
    found = text.str.contains(rf"(?:^|;){re.escape(flag)}(?:;|$)")
    return np.array(found, dtype=bool)


def withhold_suppressed(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a table with every figure of a suppressed cell blanked (NaN).

    A row is withheld when its ``flags`` include ``suppressed``, and so is every row of a
    group whose size (its ``n`` row) is suppressed: an undefined rate of a one-person group
    would otherwise still tell which outcome that person has. Key and text columns (grouping,
    group, metric, reference, flags) stay, so a reader sees that a cell exists and why it is
    empty. The size of a group is also the grouping total minus the other groups' sizes, so
    the total (the denominator of every ``n`` row) is blanked in a grouping with a suppressed
    group. Tables without a ``flags`` column are returned unchanged.
    """
    if "flags" not in frame.columns or frame.empty:
        return frame
    frame = frame.copy()
    suppressed = _flagged(frame["flags"], "suppressed")
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    if "metric" in frame.columns and "group" in keys:
        size_rows = (frame["metric"] == "n").to_numpy() & suppressed
        if size_rows.any():
            small = frame.loc[size_rows, keys].drop_duplicates()
            whole_group = frame[keys].merge(small, how="left", on=keys, indicator=True)
            in_small = np.array(whole_group["_merge"] == "both", dtype=bool)
            suppressed |= in_small
            grouping_keys = [k for k in keys if k != "group"]
            if grouping_keys and "denominator" in frame.columns:
                totals = small[grouping_keys].drop_duplicates()
                marked = frame[grouping_keys].merge(totals, how="left", on=grouping_keys,
                                                    indicator=True)
                total_rows = (marked["_merge"] == "both").to_numpy() & (
                    frame["metric"] == "n").to_numpy()
                frame.loc[total_rows, "denominator"] = np.nan
    figures = [c for c in frame.columns
               if c not in KEY_COLUMNS and c not in ("metric", "reference", "flags", "measure")
               and pd.api.types.is_numeric_dtype(frame[c])]
    if suppressed.any():
        if figures:
            frame[figures] = frame[figures].astype(np.float64)
            frame.loc[suppressed, figures] = np.nan
        # Other flags of a withheld cell speak about its counts ("undefined" says a group has
        # no true negatives, "four_fifths" where its rate lies): keep only those about size.
        withheld = frame.loc[suppressed, "flags"]
        spelled = {flags: _withheld_flags(flags) for flags in pd.unique(withheld)}
        frame.loc[suppressed, "flags"] = withheld.map(spelled).to_numpy(dtype=object)
    return frame


def _withheld_flags(flags: object) -> str:
    kept = [f for f in (flags if isinstance(flags, str) else "").split(";")
            if f in WITHHELD_FLAGS]
    return ";".join(kept if "suppressed" in kept else [*kept, "suppressed"])


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, made inert (OWASP CSV injection).

    A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    single quote in front, so a spreadsheet shows it as text; text that is a plain number
    (``-1``, ``+2.5``) is left as it is, and numeric columns are never touched. Column names
    get the same treatment. The original text stays in the JSON files.
    """
    changed: dict[str, pd.Series] = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = pd.Series(column.cat.categories, dtype=object).astype(str)
            if not categories.str[:1].isin(FORMULA_STARTS).any():
                continue  # checking the few categories spares a pass over every row
            column = column.astype(object)
        elif not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            continue
        first = column.str[:1]
        risky = first.isin(FORMULA_STARTS).to_numpy(dtype=bool)
        if not risky.any():
            continue
        number = column[risky].str.fullmatch(_PLAIN_NUMBER.pattern).fillna(False).to_numpy(
            dtype=bool)
        rows = np.flatnonzero(risky)[~number]
        if len(rows):
            column = column.copy()
            column.iloc[rows] = "'" + column.iloc[rows].astype(str)
            changed[name] = column
    names = [_inert_text(str(c)) if isinstance(c, str) else c for c in frame.columns]
    if not changed and names == list(frame.columns):
        return frame
    frame = frame.assign(**changed) if changed else frame.copy()
    frame.columns = names
    return frame


def _inert_text(text: str) -> str:
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(frame: pd.DataFrame, suppress: bool = True) -> str:
    """A table as the project writes every CSV: suppressed figures blank (unless ``suppress``
    is false), formula-like text made inert, floats rounded, Unix line ends."""
    frame = withhold_suppressed(frame) if suppress else frame
    # Written with CRLF so that Python's csv quotes every field holding a carriage return
    # (with "\n" alone it quotes only fields holding "\n", and a bare "\r" in a group name
    # would split its row for any reader), then given Unix line ends.
    text = neutralise_formulas(rounded_frame(frame)).to_csv(index=False, lineterminator="\r\n")
    return text.replace("\r\n", "\n")


def write_csv(frame: pd.DataFrame, path: str | Path, suppress: bool = True) -> Path:
    """Write :func:`csv_text` of ``frame`` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(csv_text(frame, suppress=suppress), encoding="utf-8")
    return path


def rounded_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to :data:`FLOAT_DIGITS`, for stable written files."""
    floats = frame.select_dtypes(include="float").columns
    return frame.assign(**{c: frame[c].round(FLOAT_DIGITS) for c in floats})


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (rounded; non-finite numbers as None).

    Whole columns are converted at once to plain Python values (missing and infinite
    numbers as None), so the cost does not grow with a pandas call per value.
    """
    rounded = rounded_frame(frame)
    columns = []
    for name in rounded.columns:
        values = rounded[name].to_numpy()
        if values.dtype.kind == "f":
            columns.append(np.where(np.isfinite(values), values, None).tolist())
        elif values.dtype.kind in "biu":
            columns.append(values.tolist())
        else:
            column = rounded[name].astype(object)
            columns.append([jsonable(v) for v in column.where(column.notna(), None).tolist()]
                           if len(column) and not _plain_objects(column) else
                           column.where(column.notna(), None).tolist())
    names = [str(name) for name in rounded.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _plain_objects(column: pd.Series) -> bool:
    """Whether an object column holds only text and None (no numpy scalars or NaN floats)."""
    kinds = pd.api.types.infer_dtype(column, skipna=True)
    return kinds in ("string", "empty")


def json_text(data: Any) -> str:
    """JSON as every file of the project is written: nested tables indented, each record of
    a list of records on one line (readable, and encoded by the fast C encoder).

    Lists of records are expected as :func:`frame_records` makes them (plain values).
    """
    return _json_lines(data, 0) + "\n"


def _json_lines(value: Any, depth: int) -> str:
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict) and value and any(isinstance(v, dict | list)
                                                 for v in value.values()):
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: "
                 f"{_json_lines(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        rows = [inner + json.dumps(v, ensure_ascii=False, allow_nan=False, default=_plain)
                for v in value]
        return "[\n" + ",\n".join(rows) + f"\n{pad}]"
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False)


def _plain(value: Any) -> Any:
    """Fallback of the encoder for numpy scalars left in a record."""
    plain = jsonable(value)
    if plain is value:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return plain


def jsonable(value: Any) -> Any:
    """Plain Python data for JSON: numpy scalars unwrapped, NaN and infinity as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
