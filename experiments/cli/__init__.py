"""The ``bias-audit`` command line: one entry point, one sub-command per job.

Each sub-command lives in its own module in this package and exposes
``add_parser(subparsers)``, which registers the sub-command and sets ``func`` on its parser.
``func(args)`` returns the process exit code. Errors a user can fix are raised as
:class:`experiments.errors.UsageError` (or the audit and population input errors) and become
one line on standard error with exit code 2, never a traceback.

The top room of :mod:`experiments`: it may import every room below it, and none imports it.
``python -m experiments.cli.reference`` regenerates the README's configuration reference.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from experiments.errors import UsageError

# Module names in this package, in the order `bias-audit --help` lists them.
COMMAND_MODULES = (
    "run", "sweep", "audit", "population", "experiments", "validate", "runs", "compare",
    "reproduce", "serve",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="bias-audit",
        description=(
            "Audit toy versions of immigration and border-enforcement systems on synthetic "
            "populations, or audit your own decisions file, for unequal error rates by group."
        ),
    )
    from experiments.version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"experiments.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"experiments.cli.{name}":
                continue  # a sub-command not built yet is simply not offered
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``bias-audit`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    from audit.errors import AuditInputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UsageError, AuditInputError) as error:
        print(f"bias-audit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`, say: not an error of ours
        sys.stderr.close()
        return 0
    except OSError as error:
        # The file system refused (disk full, a permission changed mid-run): outputs are
        # staged, so nothing partial is left; say what failed in one line.
        where = f" ({error.filename})" if error.filename else ""
        reason = error.strerror or str(error) or type(error).__name__
        print(f"bias-audit {args.command}: error: {reason}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"bias-audit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
