"""``bias-audit experiments``: list the shipped experiments, one line each."""

from __future__ import annotations

import argparse
import tomllib


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``experiments``."""
    parser = subparsers.add_parser("experiments", help="list the shipped experiments")
    parser.set_defaults(func=list_experiments)


def list_experiments(args: argparse.Namespace) -> int:
    """Print each shipped experiment's name and title."""
    from experiments.config import builtin_experiments

    for name, path in builtin_experiments().items():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        title = data.get("experiment", {}).get("title", "")
        print(f"{name:<20} {title}")
    return 0
