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
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="set",
                        help="set a dotted key to a TOML value, as if written in the file "
                             "(repeatable), and check the result")
    parser.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    """Validate and say so."""
    from experiments.config import (
        ConfigError,
        parse_config,
        read_experiment_data,
        resolve_experiment,
    )
    from experiments.engine.checks import check_experiment
    from experiments.engine.manifest import apply_overrides, name_override, parse_set_options

    overrides = parse_set_options(args.set)
    path = resolve_experiment(args.experiment)
    data = read_experiment_data(path)  # the file merged with its base, then every --set
    apply_overrides(data, overrides, path.name)
    try:
        config = parse_config(data, path.name)
        check_experiment(config, path.name)
    except ConfigError as error:
        raise name_override(error, overrides) from None
    # With --show, standard output is a TOML file: the verdict lines become its comments.
    say = (lambda line: print(f"# {line}")) if args.show else print
    say(f"{path}: valid ({config.experiment.system}, {config.population.size:,} people from "
        f"{config.population.profile!r}, {len(config.mechanisms)} mechanisms, "
        f"{len(config.audit.groupings)} groupings)")
    if config.sweep is not None:
        from experiments.sweeps.runner import sweep_points

        # Every point is validated as it would run: grid keys, values and ranges.
        try:
            points = sweep_points(data, path.name)
        except ConfigError as error:
            raise name_override(error, overrides) from None
        combinations = len(points) // len(config.sweep.seeds)
        say(f"sweep: {len(points):,} points ({combinations:,} grid combinations × "
            f"{len(config.sweep.seeds)} seeds), every point valid")
    if args.show:
        from experiments.config.toml_text import dumps

        print(dumps(data), end="")
    return 0
