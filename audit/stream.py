"""Audits of tables larger than memory, and of tables spread over a Dask cluster.

Counts add, so a table can be counted in pieces: record batches of a Parquet or CSV file read
one at a time, or the partitions of a Dask DataFrame counted where they live. Each piece gives
one :class:`~audit.counts.CountTable` per family of groupings; a group first seen in a later
piece widens the table's axis (:func:`merge_tables`), and the summed tables are audited
exactly as the in-memory audit audits its own: same tables, same result. Memory depends on
the batch size and the number of groups, not on the number of rows; on a cluster, only count
arrays cross the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from audit.counts import DEFAULT_SCORE_BINS, CountTable, count_table
from audit.engine import (
    DEFAULT_MIN_COUNT,
    DEFAULT_SUPPRESS_BELOW,
    JOINT_CELLS,
    Grouping,
    adjusted_groupings,
    audit_families,
    count_joint,
    grouping_families,
    groupings_of,
    joint_columns,
)
from audit.errors import AuditInputError
from audit.intervals import DEFAULT_CONFIDENCE, DEFAULT_N_BOOT
from audit.result import AuditResult
from audit.validation import (
    DEFAULT_MAX_GROUPS,
    DEFAULT_NA_TEXT,
    check_adjust_for,
    check_columns,
    missing_mask,
)

#: Rows per record batch read from a file.
DEFAULT_BATCH_ROWS = 1_000_000


def merge_tables(first: CountTable, second: CountTable) -> CountTable:
    """Sum two count tables of the same columns whose groups may differ.

    Each axis takes the sorted union of both tables' labels (the order the in-memory audit
    gives string labels), and each table's counts are placed at their labels' positions.
    """
    if first.columns != second.columns:
        raise AuditInputError(
            f"count tables of different grouping columns cannot be merged: {first.columns} "
            f"and {second.columns}")
    if (first.score_counts is None) != (second.score_counts is None):
        raise AuditInputError("count tables with and without scores cannot be merged")
    if first.categories == second.categories:
        return first + second
    union = tuple(tuple(sorted(set(a) | set(b)))
                  for a, b in zip(first.categories, second.categories, strict=True))

    def widened(table: CountTable) -> CountTable:
        maps = [np.searchsorted(np.array(u, dtype=object), np.array(c, dtype=object))
                if c else np.zeros(0, dtype=np.int64)
                for u, c in zip(union, table.categories, strict=True)]
        sizes = tuple(len(u) for u in union)

        def place(array: np.ndarray | None) -> np.ndarray | None:
            if array is None:
                return None
            out = np.zeros(sizes + array.shape[len(sizes):], dtype=array.dtype)
            # An axis without categories holds one empty cell; it has nothing to place.
            if all(len(m) for m in maps):
                out[np.ix_(*maps)] = array
            return out

        return CountTable(table.columns, union, place(table.counts),
                          place(table.score_counts), place(table.score_sums), table.n_dropped)

    return widened(first) + widened(second)


def count_families(
    pieces: Iterable[pd.DataFrame],
    groupings: Sequence[Grouping],
    y_true: str,
    y_pred: str,
    score: str | None = None,
    *,
    positive_label: object | None = None,
    score_bins: int = DEFAULT_SCORE_BINS,
    dropna: bool = False,
    max_groups: int = DEFAULT_MAX_GROUPS,
    progress: Callable[[int], None] | None = None,
    allow_empty: bool = False,
    adjust_for: Sequence[str] = (),
) -> list[CountTable]:
    """Count every family of groupings over pieces of one table, and sum the pieces.

    Parameters
    ----------
    pieces : iterable of DataFrame
        The table in pieces (record batches, partitions); each is counted, then dropped.
    groupings, y_true, y_pred, score, positive_label, score_bins, dropna, max_groups
        As for :func:`audit.audit`.
    progress : callable, optional
        Called with the number of rows of each piece once it is counted.
    allow_empty : bool
        Return an empty list for pieces with no rows at all (a worker's empty partition)
        instead of refusing them.
    adjust_for : sequence of str
        Stratifying columns (see :func:`audit.audit`): each grouping of
        :func:`~audit.engine.adjusted_groupings` is also counted crossed with them.

    Returns
    -------
    list of CountTable
        One per family, in :func:`~audit.engine.grouping_families` order, then one per
        stratified grouping (scores are not counted there); each carries the number of rows
        dropped for missing values. Last, the joint counts of every group column
        (:func:`~audit.engine.count_joint`), or None.
    """
    plain = grouping_families(groupings)
    families = [*plain, *(tuple([*g, *adjust_for]) for g in adjusted_groupings(groupings,
                                                                               adjust_for))]
    joint_of = joint_columns(groupings)
    joint: CountTable | None = None
    joint_fits = joint_of is not None
    used = [*dict.fromkeys(c for f in families for c in f), y_true, y_pred,
            *([score] if score is not None else [])]
    totals: list[CountTable | None] = [None] * len(families)
    n_dropped = 0
    for piece in pieces:
        if adjust_for:
            check_columns(piece, adjust_for, {c: "adjust_for" for c in adjust_for})
        if dropna:  # a row missing any used value is dropped for every family, as in memory
            check_columns(piece, used, {c: "groups" for c in used})
            mask = missing_mask(piece, used)
            n_dropped += int(mask.sum())
            piece = piece.loc[~mask] if mask.any() else piece
        if len(piece) == 0:
            continue
        for i, family in enumerate(families):
            table = count_table(piece, family, y_true, y_pred,
                                score if i < len(plain) else None,
                                positive_label=positive_label, score_bins=score_bins,
                                max_groups=max_groups)
            totals[i] = table if totals[i] is None else merge_tables(totals[i], table)
            labels = max(len(c) for c in totals[i].categories)
            if labels > max_groups:
                raise AuditInputError(
                    f"a group column of {family} has more than {max_groups:,} distinct values: "
                    "it is probably an identifier; raise max_groups if you mean it")
        if joint_fits:
            counted = count_joint(piece, joint_of, y_true, y_pred,
                                  positive_label=positive_label, max_groups=max_groups)
            joint = merge_joint(joint, counted) if joint is not None else counted
            joint_fits = joint is not None
        if progress is not None:
            progress(len(piece))
    if any(t is None for t in totals):
        if allow_empty:
            return []
        raise AuditInputError("the table has no rows; nothing to audit")
    for table in totals:
        table.n_dropped = n_dropped
    return [*totals, joint]  # type: ignore[list-item]


def merge_joint(first: CountTable | None, second: CountTable | None) -> CountTable | None:
    """Two pieces' joint counts summed (see :func:`audit.engine.count_joint`); None when
    either is missing or the sum would exceed :data:`audit.engine.JOINT_CELLS` cells."""
    if first is None or second is None:
        return None
    cells = np.prod([len(set(a) | set(b)) for a, b in zip(first.categories, second.categories,
                                                            strict=True)], dtype=np.float64)
    return merge_tables(first, second) if cells <= JOINT_CELLS else None


def audit_pieces(
    pieces: Iterable[pd.DataFrame],
    groups: str | Sequence[str] | Sequence[Sequence[str]],
    y_true: str,
    y_pred: str,
    score: str | None = None,
    reference: Mapping[str, str] | None = None,
    *,
    intersections: bool | Sequence[Sequence[str]] = True,
    positive_label: object | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    min_count: int = DEFAULT_MIN_COUNT,
    suppress_below: int = DEFAULT_SUPPRESS_BELOW,
    dropna: bool = False,
    max_groups: int = DEFAULT_MAX_GROUPS,
    score_bins: int = DEFAULT_SCORE_BINS,
    random_state: None | int | np.random.Generator = 0,
    progress: Callable[[int], None] | None = None,
    adjust_for: str | Sequence[str] | None = None,
    adjust_view: str | None = None,
) -> AuditResult:
    """Audit a table given in pieces; the result equals :func:`audit.audit` on the whole.

    Parameters are as for :func:`audit.audit` (no ``cluster``: a design effect needs every
    row of a cluster together); ``progress`` as for :func:`count_families`. Counts add, so
    the stratified tables of ``adjust_for`` are summed over the pieces like the others.
    """
    groupings = groupings_of(groups, intersections)
    strata = check_adjust_for(adjust_for, [c for g in groupings for c in g])
    tables = count_families(pieces, groupings, y_true, y_pred, score,
                            positive_label=positive_label, score_bins=score_bins,
                            dropna=dropna, max_groups=max_groups, progress=progress,
                            adjust_for=strata)
    n_plain = len(grouping_families(groupings))
    return audit_families(
        tables[:n_plain], groupings, reference, n_boot=n_boot, confidence=confidence,
        min_count=min_count, suppress_below=suppress_below, random_state=random_state,
        settings={"y_true": y_true, "y_pred": y_pred, "score": score, "cluster": None,
                  "positive_label": None if positive_label is None else str(positive_label)},
        n_dropped=tables[0].n_dropped, stratified=tables[n_plain:-1], adjust_for=strata,
        adjust_view=adjust_view, joint=tables[-1],
    )


def read_batches(path: str | Path, columns: Sequence[str], group_columns: Sequence[str],
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Record batches of a Parquet or CSV file, as DataFrames of ``columns`` only.

    Group columns are read as strings, and only an empty cell is missing in them: ``NA``
    (Namibia), ``None`` and ``nan`` are group names, as in the in-memory reader.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    path = Path(path)
    if path.suffix.lower() in {".parquet", ".pq"}:
        # Pre-buffering keeps every row group's bytes read so far alive until the file is
        # closed, so memory would grow with the file; without it, only the current batch lives.
        source = pq.ParquetFile(path, pre_buffer=False)
        missing = [c for c in columns if c not in source.schema_arrow.names]
        if missing:
            raise AuditInputError(f"column {missing[0]!r} not found in {path.name}; columns: "
                                  + ", ".join(source.schema_arrow.names))
        for batch in source.iter_batches(batch_size=batch_rows, columns=list(columns)):
            yield _with_group_strings(batch, group_columns).to_pandas()
        return
    # Outcome and score columns take pandas' missing spellings; group columns are text that is
    # never missing but when empty (made missing below), as the in-memory reader reads them.
    convert = pa_csv.ConvertOptions(
        include_columns=list(columns),
        column_types={c: pa.string() for c in group_columns},
        null_values=list(DEFAULT_NA_TEXT), strings_can_be_null=False)
    # CSV batches are blocks of bytes: about 64 bytes a row, within sensible bounds.
    read = pa_csv.ReadOptions(block_size=int(min(max(batch_rows * 64, 1 << 12), 1 << 26)))
    try:
        reader = pa_csv.open_csv(path, read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, KeyError) as error:
        raise AuditInputError(f"cannot read {path.name} as CSV: {error}") from None
    for batch in reader:
        frame = batch.to_pandas()
        for column in group_columns:
            frame[column] = frame[column].mask(frame[column] == "")
        yield frame


#: Bytes a row of a variable-width (text) column takes in memory beyond its encoded text:
#: the 8-byte object pointer of the pandas column and Arrow's 4-byte offset, held together
#: while the file is converted.
TEXT_OVERHEAD_BYTES = 12


def table_memory_estimate(path: str | Path) -> int:
    """About how many bytes a CSV or Parquet file's table takes once read into memory.

    For Parquet, from the footer alone, reading no rows: for each column, the rows times its
    width in memory, which is the schema's width for a fixed-width type (a dictionary-encoded
    column takes its index width) and, for text, the column's uncompressed bytes per row in
    the footer plus :data:`TEXT_OVERHEAD_BYTES`. For a CSV file (and anything else), the
    file's size: its text is about as large as the table it parses to, while a Parquet file
    can be many times smaller than its table.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    int
        The estimate in bytes.
    """
    path = Path(path)
    if path.suffix.lower() not in {".parquet", ".pq"}:
        return path.stat().st_size
    import pyarrow as pa
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    rows = metadata.num_rows
    text_bytes: dict[str, int] = {}
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            name = column.path_in_schema.split(".")[0]
            text_bytes[name] = text_bytes.get(name, 0) + column.total_uncompressed_size
    total = 0
    for field in metadata.schema.to_arrow_schema():
        kind = field.type.index_type if pa.types.is_dictionary(field.type) else field.type
        try:
            total += rows * max(kind.bit_width // 8, 1)
        except ValueError:  # not of fixed width: text, binary, nested
            total += rows * TEXT_OVERHEAD_BYTES + text_bytes.get(field.name, 0)
    return total


def _with_group_strings(batch: object, group_columns: Sequence[str]) -> object:
    """A record batch whose group columns are strings (nulls stay null), cast in Arrow."""
    import pyarrow as pa

    arrays = [batch.column(name).cast(pa.string())
              if name in group_columns and batch.schema.field(name).type != pa.string()
              else batch.column(name) for name in batch.schema.names]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def audit_file(
    path: str | Path,
    groups: str | Sequence[str] | Sequence[Sequence[str]],
    y_true: str,
    y_pred: str,
    score: str | None = None,
    reference: Mapping[str, str] | None = None,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
    **options: object,
) -> AuditResult:
    """Audit a Parquet or CSV file batch by batch, in memory bounded by the batch size.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file, or a CSV file with a header row.
    groups, y_true, y_pred, score, reference
        As for :func:`audit.audit`.
    batch_rows : int
        Rows per record batch (for CSV, a block of about 64 bytes a row).
    progress : callable, optional
        Called with the rows of each batch once counted.
    **options
        Other options of :func:`audit_pieces`.
    """
    groupings = groupings_of(groups, options.get("intersections", True))  # type: ignore[arg-type]
    strata = check_adjust_for(options.get("adjust_for"),  # type: ignore[arg-type]
                              [c for g in groupings for c in g])
    # Strata are read as text, as group columns are.
    group_columns = list(dict.fromkeys([*(c for g in groupings for c in g), *strata]))
    columns = [*group_columns, y_true, y_pred, *([score] if score is not None else [])]
    return audit_pieces(read_batches(path, columns, group_columns, batch_rows),
                        [list(g) for g in groupings], y_true, y_pred, score, reference,
                        progress=progress, **options)


def audit_dask(
    frame: object,
    groups: str | Sequence[str] | Sequence[Sequence[str]],
    y_true: str,
    y_pred: str,
    score: str | None = None,
    reference: Mapping[str, str] | None = None,
    *,
    intersections: bool | Sequence[Sequence[str]] = True,
    positive_label: object | None = None,
    score_bins: int = DEFAULT_SCORE_BINS,
    dropna: bool = False,
    max_groups: int = DEFAULT_MAX_GROUPS,
    adjust_for: str | Sequence[str] | None = None,
    adjust_view: str | None = None,
    **options: object,
) -> AuditResult:
    """Audit a Dask DataFrame: each partition is counted on its worker, counts are summed here.

    Parameters are as for :func:`audit.audit`; ``frame`` is a ``dask.dataframe.DataFrame``
    and the computation runs on the current Dask client (or scheduler). Only the count tables
    travel back, never rows.
    """
    import dask

    groupings = groupings_of(groups, intersections)
    strata = check_adjust_for(adjust_for, [c for g in groupings for c in g])
    counted = [dask.delayed(count_families)(
        [partition], groupings, y_true, y_pred, score, positive_label=positive_label,
        score_bins=score_bins, dropna=dropna, max_groups=max_groups, allow_empty=True,
        adjust_for=strata)
        for partition in frame.to_delayed()]
    per_partition = [tables for tables in dask.compute(*counted) if tables]
    if not per_partition:
        raise AuditInputError("the table has no rows; nothing to audit")
    tables = list(per_partition[0])
    for more in per_partition[1:]:
        tables = [*(merge_tables(a, b) for a, b in zip(tables[:-1], more[:-1], strict=True)),
                  merge_joint(tables[-1], more[-1])]
    n_plain = len(grouping_families(groupings))
    return audit_families(
        tables[:n_plain], groupings, reference, settings={
            "y_true": y_true, "y_pred": y_pred, "score": score, "cluster": None,
            "positive_label": None if positive_label is None else str(positive_label)},
        n_dropped=tables[0].n_dropped, stratified=tables[n_plain:-1], adjust_for=strata,
        adjust_view=adjust_view, joint=tables[-1], **options)
