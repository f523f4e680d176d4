"""``bias-audit sweep EXPERIMENT``: run an experiment over a grid of values and seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep``."""
    parser = subparsers.add_parser(
        "sweep",
        help="run an experiment over its [sweep] grid and seeds (resumable)",
        description=(
            "Run every point of an experiment's [sweep] grid times its seeds, in parallel "
            "with joblib (--jobs) or on a Dask cluster (--dask), then write one tidy table, a "
            "summary across seeds, figures, a sweep manifest and a report that states what "
            "the sweep found. Workers need not share this folder or a disk with it: every "
            "point's results come back as data and are written here. Rerunning the same "
            "command resumes an interrupted sweep. A point that fails is reported with its "
            "grid values and seed while the others finish and are kept (exit code 1); a bad "
            "command, config or --dask address exits with code 2."
        ),
    )
    parser.add_argument("experiment", help="a shipped sweep's name or a .toml file with [sweep]")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--jobs", type=int, default=1, help="parallel local workers (default 1)")
    group.add_argument("--dask", metavar="ADDRESS",
                       help="run on the Dask scheduler at ADDRESS (tcp://host:8786)")
    parser.add_argument("--size", type=int, help="override population.size for every point")
    parser.add_argument("--seeds", metavar="S1,S2,...",
                        help="replace sweep.seeds, e.g. --seeds 1,2,3 (a finished sweep given "
                             "more seeds runs only their points)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="set",
                        help="set a dotted key of the experiment to a TOML value at every "
                             "point, as if written in the file (repeatable; recorded in the "
                             "manifests), e.g. --set mechanisms.surveillance_intensity.strength=0")
    parser.add_argument("--out", type=Path,
                        help="sweep folder (default: results/<experiment>-sweep; a name "
                             "that ends in -sweep is not doubled)")
    parser.add_argument("--force", action="store_true",
                        help="discard a folder that holds another sweep and start again")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=sweep_command)


def seed_list(text: str) -> list[int]:
    """``1,2,3`` as ``[1, 2, 3]`` (for ``--seeds``).

    Raises
    ------
    UsageError
        Anything but whole numbers separated by commas, in one line.
    """
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise UsageError(
            f"--seeds {text!r}: "
            "not a list of whole numbers; give seeds separated by commas, as in --seeds 1,2,3")
    return [int(part) for part in parts]


def sweep_command(args: argparse.Namespace) -> int:
    """Run the ``sweep`` sub-command."""
    from tqdm import tqdm

    from experiments.config import (
        ConfigError,
        parse_config,
        read_experiment_data,
        resolve_experiment,
    )
    from experiments.engine.checks import check_experiment
    from experiments.engine.manifest import (
        apply_overrides,
        name_override,
        parse_set_options,
        recording_overrides,
    )
    from experiments.sweeps.runner import (
        FailedPoint,
        SweepIncomplete,
        check_dask_address,
        default_sweep_dir,
        pending,
        run_sweep,
        sweep_points,
    )

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    if args.dask:  # before any work: an address nobody answers at fails in seconds
        check_dask_address(args.dask)
    path = resolve_experiment(args.experiment)
    data = read_experiment_data(path)
    sets = parse_set_options(args.set)
    overrides = dict(sets)  # the explicit flags below win over --set
    if args.size is not None:
        overrides["population.size"] = args.size
    if args.seeds is not None:
        overrides["sweep.seeds"] = seed_list(args.seeds)
    apply_overrides(data, overrides, path.name)
    try:
        config = parse_config(data, path.name)
        check_experiment(config, path.name)
        points = sweep_points(data, path.name)
    except ConfigError as error:
        raise name_override(error, sets) from None
    directory = args.out or default_sweep_dir(config.experiment.name)
    from experiments.engine.output import (
        resolve_output_dir,  # the one output policy of every command
    )

    resolve_output_dir(directory, "", args.force, inputs=[path], resume=True)
    todo = len(pending(points, directory)) if directory.exists() else len(points)
    if not args.quiet:
        print(f"{len(points)} points ({todo} to run) into {directory}", file=sys.stderr)
    bar = tqdm(total=todo, unit="point", disable=args.quiet, file=sys.stderr)

    def report_failure(failed: FailedPoint) -> None:
        bar.update()
        bar.write(f"bias-audit sweep: {failed.describe()}", file=sys.stderr)

    try:
        with recording_overrides(overrides):
            result = run_sweep(data, path, directory, jobs=args.jobs, dask_address=args.dask,
                               force=args.force, on_point_done=lambda _: bar.update(),
                               on_point_failed=report_failure)
    except KeyboardInterrupt:
        bar.close()
        print(f"stopped; finished points are kept in {directory}; run the same command to "
              "resume", file=sys.stderr)
        return 130
    except SweepIncomplete as incomplete:
        bar.close()
        print(f"bias-audit sweep: error: {incomplete}", file=sys.stderr)
        return 1
    except UsageError:
        bar.close()  # the bar's line ends before the error's line
        raise
    bar.close()
    if not args.quiet:
        for sentence in result.findings:
            print(f"\n- {sentence}")
        if result.answer:
            print(f"\n{result.answer}\n")
        elif result.findings:
            print()
    print(f"report: {directory / 'sweep_report.html'}")
    return 0
