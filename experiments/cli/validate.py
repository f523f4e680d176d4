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
    parser.add_argument("--show", action="store_true",
                        help="also print the experiment as it runs: merged with its base "
                             "(base = \"...\") and every override, as TOML")
    parser.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    """Validate and say so."""
    from experiments.config import load_config
    from experiments.engine.checks import check_experiment

    config, path = load_config(args.experiment)
    check_experiment(config, path.name)
    # With --show, standard output is a TOML file: the verdict lines become its comments.
    say = (lambda line: print(f"# {line}")) if args.show else print
    say(f"{path}: valid ({config.experiment.system}, {config.population.size:,} people from "
        f"{config.population.profile!r}, {len(config.mechanisms)} mechanisms, "
        f"{len(config.audit.groupings)} groupings)")
    if config.sweep is not None:
        from experiments.config import read_experiment_data
        from experiments.sweeps.runner import sweep_points

        # Every point is validated as it would run: grid keys, values and ranges.
        points = sweep_points(read_experiment_data(path), path.name)
        combinations = len(points) // len(config.sweep.seeds)
        say(f"sweep: {len(points):,} points ({combinations:,} grid combinations × "
            f"{len(config.sweep.seeds)} seeds), every point valid")
    if args.show:
        from experiments.config import read_experiment_data
        from experiments.config.toml_text import dumps

        print(dumps(read_experiment_data(path)), end="")
    return 0
