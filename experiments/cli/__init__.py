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
    from synthetic.threads import arrow_allocates_by_malloc, one_allocation_arena

    # Before any import starts a thread: glibc fixes its arena limit at the first new arena.
    one_allocation_arena()
    arrow_allocates_by_malloc()
    from audit.controls import visible
    from audit.errors import AuditInputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    shown = sys.stdout
    # Group names, titles and paths from data reach the terminal: control characters in
    # them are spelled out, so printing an audit can never clear or rewrite the screen.
    sys.stdout = VisibleControls(shown)
    try:
        return int(args.func(args) or 0)
    except (UsageError, AuditInputError) as error:
        print(f"bias-audit {args.command}: error: {visible(error)}", file=sys.stderr)
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
    finally:
        if isinstance(sys.stdout, VisibleControls):
            sys.stdout.flush()
        sys.stdout = shown


class VisibleControls:
    """A text stream that writes to ``stream`` with control characters spelled out.

    Parameters
    ----------
    stream : TextIO
        Where the text goes (the terminal, a pipe or a test's capture); every other
        attribute is the stream's own.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with every control character but tab and line feed shown."""
        from audit.controls import visible

        self._stream.write(visible(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
