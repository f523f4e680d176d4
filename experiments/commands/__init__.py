"""Sub-commands of ``bias-audit``; see :mod:`experiments.cli`."""


class UsageError(ValueError):
    """A command-line input a user can fix; printed as one line, exit code 2."""
