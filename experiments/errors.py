"""Errors every room of :mod:`experiments` raises, at the bottom so that any room may.

A :class:`UsageError` is an input a user can fix: the command line prints it as one line
with exit code 2 (see :mod:`experiments.cli`), and Python callers get the exception.
"""


class UsageError(ValueError):
    """A command-line input a user can fix; printed as one line, exit code 2."""
