"""``bias-audit validate FILE``: check an experiment file without running it."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``validate``."""
    parser = subparsers.add_parser(
        "validate", help="check an experiment file without running it",
        description="Check every key, type and range of an experiment file, and its profile, "
                    "mechanisms, groupings and counterfactual values; report each problem by "
                    "the key's full path.",
    )
    parser.add_argument("experiment", help="a .toml file or a shipped experiment's name")
    parser.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    """Validate and say so."""
    from experiments.checks import check_experiment
    from experiments.config import load_config

    config, path = load_config(args.experiment)
    check_experiment(config, path.name)
    print(f"{path}: valid ({config.experiment.system}, {config.population.size:,} people from "
          f"{config.population.profile!r}, {len(config.mechanisms)} mechanisms, "
          f"{len(config.audit.groupings)} groupings)")
    return 0
