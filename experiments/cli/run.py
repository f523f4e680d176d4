"""``bias-audit run [EXPERIMENT]``: run an experiment, print its headlines and report path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.errors import UsageError

#: What ``bias-audit run`` runs without an argument.
DEFAULT_EXPERIMENT = "catch-and-revoke"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    parser = subparsers.add_parser(
        "run",
        help="run an experiment (default: the flagship) and write its report",
        description=(
            "Generate a synthetic population, apply the experiment's bias mechanisms, train "
            "and run the toy system, audit its decisions by the true and by the recorded "
            "outcome, and write results/<experiment>/<run-id>/ with a report and a manifest."
        ),
    )
    parser.add_argument("experiment", nargs="?", default=DEFAULT_EXPERIMENT,
                        help="a shipped experiment's name (bias-audit experiments) or a .toml "
                             f"file (default: {DEFAULT_EXPERIMENT})")
    parser.add_argument("--size", type=int, help="override population.size")
    parser.add_argument("--seed", type=int, help="override experiment.seed")
    parser.add_argument("--replicates", type=int, metavar="R",
                        help="redraw the system's own randomness R times on the same people and "
                             "pool every estimate (overrides experiment.replicates)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="parent folder of the run folders (default: results)")
    parser.add_argument("--out", type=Path, help="write exactly this folder instead")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out folder written by this tool")
    parser.add_argument("--no-suppress", dest="suppress", action="store_false",
                        help="publish the figures of cells under the suppression threshold in "
                             "the tables (for private analysis; recorded in the manifest)")
    parser.add_argument("--no-attribution", dest="attribution", action="store_false",
                        help="skip the worlds of the experiment's [attribution] knobs (no "
                             "attribution.csv, no knobs-off baseline in the report)")
    parser.add_argument("--remedy", action="append", metavar="R",
                        help="run remedy R beside the system on the same people and report what "
                             "it changes (repeatable; 'all' for every remedy the system "
                             "supports; sets remedies.apply)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="set",
                        help="set a dotted key of the experiment to a TOML value, as if "
                             "written in the file (repeatable; recorded in the manifest), "
                             "e.g. --set mechanisms.label_bias.strength=0")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="compute the attribution worlds and the replicates on the Dask "
                             "cluster whose scheduler is at ADDRESS (tcp://host:8786); this "
                             "process alone writes the run folder, with the same tables")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="worker processes on this machine that compute the further "
                             "replicates, each with its worlds (default: $BIAS_AUDIT_JOBS, "
                             "else 1: everything in this process); the tables are the same "
                             "whatever N. Pays off only where replicates share little and "
                             "the system leaves the second core idle: iborderctrl takes about "
                             "0.9 of the time with 2, babel-x and the flagship longer")
    parser.add_argument("--quiet", action="store_true", help="print only the report's path")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the ``run`` sub-command."""
    from experiments.api import run_pool
    from experiments.config import ConfigError, load_config
    from experiments.engine.checks import check_experiment
    from experiments.engine.manifest import name_override, parse_set_options, recording_overrides
    from experiments.engine.runner import run_experiment

    sets = parse_set_options(args.set)
    overrides = dict(sets)  # the explicit flags below win over --set
    if args.size is not None:
        overrides["population.size"] = args.size
    if args.seed is not None:
        overrides["experiment.seed"] = args.seed
    if args.replicates is not None:
        overrides["experiment.replicates"] = args.replicates
    if args.remedy:
        overrides["remedies.apply"] = list(args.remedy)
    try:
        config, path = load_config(args.experiment, overrides)
        check_experiment(config, path.name)
    except ConfigError as error:
        raise name_override(error, sets) from None

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"… {message}", file=sys.stderr, flush=True)

    if args.out is None and args.force:
        raise UsageError("--force only applies with --out")
    with run_pool(args.dask, args.jobs, config.experiment.replicates) as pool, \
            recording_overrides(overrides):
        result = run_experiment(config, path, results_dir=args.results_dir, out=args.out,
                                force=args.force, progress=progress, suppress=args.suppress,
                                attribution=args.attribution, pool=pool)
    if not args.quiet:
        print(f"\n{config.experiment.title}: headline findings\n")
        for sentence in result.headlines:
            print(f"- {sentence}\n")
        if config.remedies.apply and (result.directory / "remedies.csv").exists():
            # Remedies change no headline number above unless headlined; say that they ran.
            print(f"Remedies run: {', '.join(config.remedies.apply)}; what each changes is "
                  "under \"What changes it\" in the report and in remedies.csv.\n")
        print("A simulation of a toy mimic, not a measurement of the real system.\n")
    print(f"report: {result.directory / 'report.html'}")
    if not args.quiet:
        print(f"        {result.directory / 'report.md'}")
    return 0
