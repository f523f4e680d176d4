"""``bias-audit audit FILE``: audit a user's own decisions file (CSV or Parquet)."""

from __future__ import annotations

import argparse
import glob
import json
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from audit import AuditResult, audit
from audit.engine import grouping_families, resolve_groupings
from audit.validation import DEFAULT_NA_TEXT, check_memory, duplicate_names, memory_estimate
from experiments.engine.output import discard, publish, resolve_output_dir, staging_dir
from experiments.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``audit``."""
    parser = subparsers.add_parser(
        "audit",
        help="audit your own CSV or Parquet file of decisions by group",
        description=(
            "Audit binary decisions in a CSV or Parquet file for unequal rates across groups: "
            "every rate with its Wilson interval, differences and ratios to a reference group "
            "with bootstrap intervals, and tests adjusted for multiple comparisons."
        ),
    )
    parser.add_argument("file", type=Path, help="CSV or Parquet file, one row per decision")
    parser.add_argument("--group", action="append", required=True, metavar="COL",
                        help="grouping column (repeat for several)")
    parser.add_argument("--y-true", required=True, metavar="COL",
                        help="column with the true outcome (binary)")
    parser.add_argument("--y-pred", required=True, metavar="COL",
                        help="column with the decision (binary; positive = selected)")
    parser.add_argument("--score", metavar="COL", help="score in [0, 1] behind the decision")
    parser.add_argument("--adjust-for", action="append", metavar="COL",
                        help="also compare each group with its reference within strata of COL "
                             "(repeatable; several columns are crossed): Mantel-Haenszel "
                             "ratio and difference, standardised rate and the share of the "
                             "gap that is composition, written to adjusted.csv")
    parser.add_argument("--reference", action="append", default=[], metavar="COL=VALUE",
                        help="reference group for a grouping (default: the largest group)")
    parser.add_argument("--focus", metavar="COL=VALUE",
                        help="the comparison named in advance, which the report and the "
                             "terminal lead with (with its ordinary interval); default: the "
                             "most extreme gap, with the simultaneous interval")
    parser.add_argument("--focus-metric", default="fpr", choices=FOCUS_METRICS,
                        help="rate of the --focus comparison (default: fpr)")
    parser.add_argument("--positive-label", metavar="VALUE",
                        help="value of the true-outcome and decision columns that is positive")
    parser.add_argument("--intersections", action=argparse.BooleanOptionalAction, default=True,
                        help="also audit the intersection of all group columns (default: yes)")
    parser.add_argument("--dropna", action="store_true",
                        help="drop rows with missing values in the used columns")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--max-groups", type=int, default=10_000,
                        help="refuse a group column with more distinct values than this")
    parser.add_argument("--out", type=Path, help="output folder (default: a new folder)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out folder written by this tool")
    parser.add_argument("--no-suppress", dest="suppress", action="store_false",
                        help="publish the figures of cells under the suppression threshold in "
                             "metrics.csv, metrics.json and summary.csv (for private analysis; "
                             "recorded in the manifest)")
    parser.add_argument("--quiet", action="store_true", help="print only the report's path")
    parser.add_argument(
        "--stream", action=argparse.BooleanOptionalAction, default=None,
        help="read a .csv or .parquet file in record batches, in memory bounded by the batch "
             "size (default: when the table would take over "
             f"{STREAM_FROM_BYTES // 2**20} MB in memory, estimated from a Parquet file's "
             "footer or a CSV file's size)")
    parser.add_argument("--batch-rows", type=int, default=1_000_000, metavar="N",
                        help="rows per record batch when streaming")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="count the file's partitions on a Dask cluster (FILE may be a "
                             "glob that every worker can read); only counts travel back")
    parser.set_defaults(func=audit_command)


#: Rates a --focus comparison may be about.
FOCUS_METRICS = ("fpr", "fnr", "selection_rate", "tpr", "tnr", "ppv", "npv", "accuracy")
#: Files whose table would take at least this much memory (estimated by
#: :func:`audit.stream.table_memory_estimate`) are audited in record batches unless
#: --no-stream is given.
STREAM_FROM_BYTES = 256 * 2**20
#: Suffixes the batch reader understands.
STREAM_SUFFIXES = (".csv", ".parquet", ".pq")


def check_input_file(path: Path) -> Path:
    """Refuse an input that is missing, a folder, or not a regular file (a device or a pipe:
    ``/dev/zero`` would be read forever), before anything is created."""
    if not path.exists():
        raise UsageError(f"file {str(path)!r} not found")
    if path.is_dir():
        raise UsageError(f"{str(path)!r} is a folder; give a CSV or Parquet file")
    if not stat.S_ISREG(path.stat().st_mode):
        raise UsageError(
            f"{str(path)!r} is not a regular file (a device, pipe or socket); save the data "
            "to a CSV or Parquet file and audit that"
        )
    return path


def read_table(path: Path, groups: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file, or say clearly why it cannot be read.

    Group columns are read as text in which only an empty cell is missing: ``NA``
    (Namibia), ``None`` and ``nan`` are group names. Other columns keep pandas' usual
    missing-value spellings. A header that repeats a column name is refused, naming it,
    instead of pandas' silent renaming of the second to ``name.1``.
    """
    check_input_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            _refuse_repeated(list(frame.columns), path)
            return frame
        if suffix in (".csv", ".txt", ".gz", ".tsv"):
            # "x.tsv.gz" has the suffix ".gz": its tabs are known from the name before it.
            sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
            header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str,
                                 keep_default_na=False).iloc[0].tolist()
            _refuse_repeated(header, path)
            wanted = [g for g in groups if g in header]
            na_values = {name: ([""] if name in wanted else list(DEFAULT_NA_TEXT))
                         for name in header}
            return pd.read_csv(path, sep=sep, low_memory=False, keep_default_na=False,
                               na_values=na_values, dtype={g: str for g in wanted})
    except (OSError, ValueError, pd.errors.ParserError, ImportError) as error:
        if isinstance(error, UsageError):
            raise
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise UsageError(f"cannot read {str(path)!r}: {first_line}") from error
    raise UsageError(f"cannot read {str(path)!r}: give a .csv or .parquet file (got {suffix!r})")


def _refuse_repeated(columns: list[object], path: Path) -> None:
    repeated = duplicate_names(columns)
    if repeated:
        raise UsageError(
            f"{str(path)!r} repeats the column name{'s' if len(repeated) > 1 else ''} "
            f"{', '.join(repr(str(c)) for c in repeated)}; rename the columns so that each "
            "name is unique"
        )


def check_audit_memory(frame: pd.DataFrame, args: argparse.Namespace,
                       budget: int | None = None) -> None:
    """Refuse, before any allocation, an audit whose bootstrap would not fit in memory.

    Uses only the number of distinct values of each group column; columns that are missing
    or over ``--max-groups`` are left to the audit, which refuses them with its own message.
    """
    columns = list(dict.fromkeys(args.group))
    if any(c not in frame.columns for c in columns) or duplicate_names(list(frame.columns)):
        return
    sizes = {c: max(int(frame[c].nunique(dropna=True)), 1) for c in columns}
    if any(size > args.max_groups for size in sizes.values()):
        return
    groupings = resolve_groupings(columns, args.intersections)
    n_rows = max(len(frame), 1)
    estimate = memory_estimate(
        families=[[sizes[c] for c in family] for family in grouping_families(groupings)],
        # a grouping has no more groups than rows: empty cells are not groups
        groupings=[[min(_product(sizes[c] for c in g), n_rows)] for g in groupings],
        n_boot=args.n_boot, scored=args.score is not None,
    )
    check_memory(estimate, budget)


def _product(values) -> int:
    total = 1
    for value in values:
        total *= value
    return total


def _check_numbers(args: argparse.Namespace) -> None:
    if args.n_boot < 1:
        raise UsageError(f"--n-boot must be a positive number of resamples, got {args.n_boot}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a whole number from 0, got {args.seed}")
    if args.max_groups < 1:
        raise UsageError(f"--max-groups must be at least 1, got {args.max_groups}")


def parse_references(items: list[str]) -> dict[str, str]:
    """``["nationality=GBR"]`` to ``{"nationality": "GBR"}``."""
    references = {}
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column or not value:
            raise UsageError(f"--reference {item!r} must look like COLUMN=VALUE")
        references[column] = value
    return references


def parse_focus(item: str | None) -> tuple[str, str] | None:
    """``"nationality=MEX"`` to ``("nationality", "MEX")``."""
    if item is None:
        return None
    grouping, sep, group = item.partition("=")
    if not sep or not grouping or not group:
        raise UsageError(f"--focus {item!r} must look like COLUMN=VALUE")
    return grouping, group


def _check_focus(result: AuditResult, focus: tuple[str, str] | None) -> None:
    """Refuse a --focus that names no audited group, listing what there is."""
    if focus is None:
        return
    grouping, group = focus
    if grouping not in result.groupings:
        raise UsageError(f"--focus names {grouping!r}, which is not a grouping; groupings: "
                         + ", ".join(repr(g) for g in result.groupings))
    groups = result.table.loc[(result.table["grouping"] == grouping)
                              & (result.table["metric"] == "n"), "group"].tolist()
    if group not in groups:
        raise UsageError(f"--focus names group {group!r}, which is not among the "
                         f"{len(groups):,} groups of {grouping!r} (such as "
                         + ", ".join(repr(g) for g in groups[:5]) + ")")
    reference = result.table.loc[result.table["grouping"] == grouping, "reference"].iloc[0]
    if group == reference:
        raise UsageError(f"--focus names {group!r}, the reference group of {grouping!r}; "
                         "name the group to compare with it, or choose another reference "
                         f"with --reference {grouping}=VALUE")


def audit_command(args: argparse.Namespace) -> int:
    """Run ``bias-audit audit``; the engine's messages name Python parameters, and are told
    here in this command's flags (``y_true`` becomes ``--y-true``)."""
    from audit.errors import AuditInputError, for_command_line

    try:
        return run_audit(args)
    except AuditInputError as error:
        raise AuditInputError(for_command_line(str(error))) from error


def run_audit(args: argparse.Namespace) -> int:
    """Run the audit sub-command.

    Checks the options, the input and the output folder first; then audits into a staging
    folder beside the output and renames it into place when every file is written, so an
    interruption or a failure leaves nothing behind and ``--force`` removes an old result
    only once the new one is complete.
    """
    from experiments.engine.manifest import build_audit_manifest
    from experiments.reports.audit_report import file_lines, finding_lines, write_audit_html

    _check_numbers(args)
    focus = parse_focus(args.focus)
    if args.dask is None:
        check_input_file(args.file)
    out = resolve_output_dir(args.out, prefix="audit-results", force=args.force,
                             inputs=[] if args.dask else [args.file])
    options = dict(
        groups=args.group, y_true=args.y_true, y_pred=args.y_pred, score=args.score,
        reference=parse_references(args.reference), intersections=args.intersections,
        positive_label=args.positive_label, n_boot=args.n_boot, dropna=args.dropna,
        max_groups=args.max_groups, random_state=args.seed, adjust_for=args.adjust_for,
    )
    staging = staging_dir(out)
    try:
        if args.dask is not None:
            result = _audit_on_cluster(args, options)
        elif _streams(args):
            result = _audit_in_batches(args, options)
        else:
            frame = read_table(args.file, groups=[*args.group, *(args.adjust_for or [])])
            check_audit_memory(frame, args)
            result = audit(frame, **options)
            del frame
        _check_focus(result, focus)
        title = f"Audit of {args.file.name}"
        written = result.write(staging, title=title, suppress=args.suppress, focus=focus,
                               focus_metric=args.focus_metric)
        write_audit_html(result, staging / "report.html", title, focus, args.focus_metric)
        manifest = build_audit_manifest(
            directory=staging, input_file=args.file, settings=result.settings,
            suppress=args.suppress,
        )
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                               encoding="utf-8")
        publish(staging, out, args.force)
    except BaseException:
        discard(staging, out)
        raise
    # The terminal gets the finding and where the files are; the full tables (a dozen
    # columns per grouping) are in the files, where they can be read and sorted.
    lines = file_lines(out, [p.name for p in written if p.suffix != ".md"] + ["manifest.json"])
    if args.quiet:
        lines = lines[:1]
    else:
        dropped = result.settings["n_dropped"]
        lines = [*([f"dropped {dropped:,} rows with missing values"] if dropped else []),
                 *finding_lines(result, focus, args.focus_metric), *lines]
    print("\n".join(lines), file=sys.stdout)
    return 0


def _streams(args: argparse.Namespace) -> bool:
    """Whether to read the file in record batches: ``--stream``, or a table whose estimated
    size in memory reaches :data:`STREAM_FROM_BYTES` (said on the terminal, with why)."""
    suffix = args.file.suffix.lower()
    if args.stream is None:
        if suffix not in STREAM_SUFFIXES:
            return False
        from audit.stream import table_memory_estimate

        # A well-compressed Parquet file can be a tenth of its table, so its size on disk
        # would read a table too large for memory whole.
        try:
            estimate = table_memory_estimate(args.file)
        except (OSError, ValueError):  # not Parquet after all: the reader says so, in a line
            return False
        if estimate < STREAM_FROM_BYTES:
            return False
        if not args.quiet:
            print(f"streaming {args.file.name} in batches of {args.batch_rows:,} rows: its "
                  f"table would take about {_size_text(estimate)} in memory (from "
                  f"{STREAM_FROM_BYTES // 2**20} MB on, tables are streamed); --no-stream "
                  "reads it whole", file=sys.stderr, flush=True)
        return True
    if args.stream and suffix not in STREAM_SUFFIXES:
        raise UsageError(f"--stream reads .csv and .parquet files, not {suffix!r}")
    return args.stream


def _size_text(size: int) -> str:
    """``1.4 GB``, ``310 MB``: a byte count as a person reads it."""
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"


def _audit_in_batches(args: argparse.Namespace, options: dict) -> AuditResult:
    """Count the file batch by batch, with a progress bar over its rows."""
    from tqdm import tqdm

    from audit.stream import audit_file

    if args.batch_rows < 1:
        raise UsageError(f"--batch-rows must be at least 1, got {args.batch_rows}")
    _refuse_repeated(_header(args.file), args.file)
    total = _row_count(args.file)
    with tqdm(total=total, unit=" rows", unit_scale=True, disable=args.quiet or None,
              desc="counting", leave=False) as bar:
        return audit_file(args.file, batch_rows=args.batch_rows, progress=bar.update,
                          **options)


def _audit_on_cluster(args: argparse.Namespace, options: dict) -> AuditResult:
    """Count the partitions of a file or glob on a Dask cluster; only counts come back."""
    from audit.errors import AuditInputError
    from audit.stream import audit_dask
    from experiments.sweeps.runner import connect_dask

    try:
        import dask.dataframe as dd
    except ImportError:
        raise UsageError('--dask needs Dask: pip install -e ".[distributed]"') from None
    pattern = str(args.file.resolve())  # the workers do not share our working folder
    if not glob.glob(pattern):
        raise UsageError(f"--dask: no file matches {str(args.file)!r}; check the path or "
                         "the pattern (it is read from this machine's working folder)")
    client = connect_dask(args.dask)
    try:
        if args.file.suffix.lower() in (".parquet", ".pq"):
            frame = dd.read_parquet(pattern)
        else:
            text = [*args.group, *(args.adjust_for or [])]
            frame = dd.read_csv(pattern, keep_default_na=False, dtype={g: str for g in text},
                                na_values={c: [""] for c in text})
        with client.as_current():
            return audit_dask(frame, **options)
    except (AuditInputError, UsageError):
        raise
    except KeyError as error:
        # Parts of one data set read with the first part's columns: a later part without
        # one of them fails inside Dask, far from the file that lacks it.
        missing = error.args[0] if error.args else error
        raise UsageError(
            f"a part of {str(args.file)!r} lacks the column {missing}; every part needs the "
            "columns given to --group, --y-true and --y-pred") from None
    except (ValueError, TypeError, OSError) as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"cannot audit {str(args.file)!r} on the cluster: {text}") from None
    finally:
        client.close()


def _header(path: Path) -> list[object]:
    """The column names of a CSV or Parquet file, read without reading its rows."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    return pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False
                       ).iloc[0].tolist()


def _row_count(path: Path) -> int | None:
    """Rows of a Parquet file from its footer; None (unknown) for CSV."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None
