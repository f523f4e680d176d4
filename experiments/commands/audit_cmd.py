"""``bias-audit audit FILE``: audit a user's own decisions file (CSV or Parquet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from audit import audit
from audit.report import grouping_table, summary_table
from experiments.commands import UsageError
from experiments.output import prepare_output_dir, resolve_output_dir


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
    parser.add_argument("--reference", action="append", default=[], metavar="COL=VALUE",
                        help="reference group for a grouping (default: the largest group)")
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
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    parser.add_argument("--quiet", action="store_true", help="print only the report's path")
    parser.set_defaults(func=run_audit)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, or say clearly why it cannot be read."""
    if not path.exists():
        raise UsageError(f"file {str(path)!r} not found")
    if path.is_dir():
        raise UsageError(f"{str(path)!r} is a folder; give a CSV or Parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", low_memory=False)
    except (OSError, ValueError, pd.errors.ParserError, ImportError) as error:
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise UsageError(f"cannot read {str(path)!r}: {first_line}") from error
    raise UsageError(f"cannot read {str(path)!r}: give a .csv or .parquet file (got {suffix!r})")


def parse_references(items: list[str]) -> dict[str, str]:
    """``["nationality=GBR"]`` to ``{"nationality": "GBR"}``."""
    references = {}
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column or not value:
            raise UsageError(f"--reference {item!r} must look like COLUMN=VALUE")
        references[column] = value
    return references


def run_audit(args: argparse.Namespace) -> int:
    """Run the audit sub-command."""
    out = resolve_output_dir(args.out, prefix="audit-results", force=args.force)
    frame = read_table(args.file)
    result = audit(
        frame, groups=args.group, y_true=args.y_true, y_pred=args.y_pred, score=args.score,
        reference=parse_references(args.reference), intersections=args.intersections,
        positive_label=args.positive_label, n_boot=args.n_boot, dropna=args.dropna,
        max_groups=args.max_groups, random_state=args.seed,
    )
    paths = result.write(prepare_output_dir(out), title=f"Audit of {args.file.name}")
    if not args.quiet:
        if result.settings["n_dropped"]:
            print(f"dropped {result.settings['n_dropped']:,} rows with missing values")
        print(f"{result.settings['n_rows']:,} rows audited\n")
        for grouping in result.groupings:
            print(f"By {grouping}:\n")
            print(grouping_table(result, grouping))
            print()
            print(summary_table(result, grouping))
            print()
    print(f"report: {paths[-1]}", file=sys.stdout)
    return 0
