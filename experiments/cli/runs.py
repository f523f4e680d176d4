"""``bias-audit runs``: list the finished runs under a results folder, one line each."""

from __future__ import annotations

import argparse
from pathlib import Path

#: Longest first headline printed; ``--full`` prints it whole.
HEADLINE_WIDTH = 90


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``runs``."""
    parser = subparsers.add_parser(
        "runs", help="list the runs under results/ (experiment, run id, seed, size, date)",
        description="List every run folder under the results folder, oldest first: its "
                    "experiment, run id, seed, population size, date (UTC) and first headline.")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="the folder runs were written into (default: results)")
    parser.add_argument("--full", action="store_true",
                        help="print each first headline whole instead of cut to one line")
    parser.set_defaults(func=list_runs_command)


def list_runs_command(args: argparse.Namespace) -> int:
    """Print one line per run; say so when there is none."""
    from experiments.errors import UsageError
    from experiments.reports.compare import list_runs

    if args.results_dir.exists() and not args.results_dir.is_dir():
        raise UsageError(f"--results-dir {str(args.results_dir)!r} is a file; give the folder "
                         "runs were written into")
    runs = list_runs(args.results_dir)
    if not runs:
        print(f"no runs under {str(args.results_dir)!r} (bias-audit run writes one there)")
        return 0
    header = ("experiment", "run id", "seed", "size", "date (UTC)", "first headline")
    rows = []
    for run in runs:
        headline = run.headline
        if not args.full and len(headline) > HEADLINE_WIDTH:
            headline = headline[:HEADLINE_WIDTH - 1] + "…"
        rows.append((run.experiment, run.run_id, "" if run.seed is None else str(run.seed),
                     "" if run.size is None else f"{run.size:,}",
                     run.created.replace("T", " ").rstrip("Z"), headline))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[-1])
    print(f"\n{len(runs)} run{'s' if len(runs) != 1 else ''}; bias-audit compare RUN_A RUN_B "
          "puts two of one experiment side by side")
    return 0
