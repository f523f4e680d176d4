"""``bias-audit sweep EXPERIMENT``: run an experiment over a grid of values and seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.commands import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep``."""
    parser = subparsers.add_parser(
        "sweep",
        help="run an experiment over its [sweep] grid and seeds (resumable)",
        description=(
            "Run every point of an experiment's [sweep] grid times its seeds, in parallel "
            "with joblib (--jobs) or on a Dask cluster (--dask), then write one tidy table, a "
            "summary across seeds, figures, a sweep manifest and a report that states what "
            "the sweep found. Rerunning the same command resumes an interrupted sweep."
        ),
    )
    parser.add_argument("experiment", help="a shipped sweep's name or a .toml file with [sweep]")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--jobs", type=int, default=1, help="parallel local workers (default 1)")
    group.add_argument("--dask", metavar="ADDRESS",
                       help="run on the Dask scheduler at ADDRESS (tcp://host:8786)")
    parser.add_argument("--size", type=int, help="override population.size for every point")
    parser.add_argument("--out", type=Path,
                        help="sweep folder (default: results/<experiment>-sweep)")
    parser.add_argument("--force", action="store_true",
                        help="discard a folder that holds another sweep and start again")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=sweep_command)


def sweep_command(args: argparse.Namespace) -> int:
    """Run the ``sweep`` sub-command."""
    from tqdm import tqdm

    from experiments.checks import check_experiment
    from experiments.config import (
        parse_config,
        read_experiment_data,
        resolve_experiment,
        set_dotted,
    )
    from experiments.sweep import pending, run_sweep, sweep_points

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    path = resolve_experiment(args.experiment)
    data = read_experiment_data(path)
    if args.size is not None:
        set_dotted(data, "population.size", args.size)
    config = parse_config(data, path.name)
    check_experiment(config, path.name)
    points = sweep_points(data, path.name)
    directory = args.out or Path("results") / f"{config.experiment.name}-sweep"
    todo = len(pending(points, directory)) if directory.exists() else len(points)
    if not args.quiet:
        print(f"{len(points)} points ({todo} to run) into {directory}", file=sys.stderr)
    bar = tqdm(total=todo, unit="point", disable=args.quiet, file=sys.stderr)
    try:
        result = run_sweep(data, path, directory, jobs=args.jobs, dask_address=args.dask,
                           force=args.force, on_point_done=lambda _: bar.update())
    except KeyboardInterrupt:
        bar.close()
        print(f"stopped; finished points are kept in {directory}; run the same command to "
              "resume", file=sys.stderr)
        return 130
    bar.close()
    if not args.quiet and result.answer:
        print(f"\n{result.answer}\n")
    print(f"report: {directory / 'sweep_report.html'}")
    return 0
