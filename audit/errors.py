"""Exceptions the audit engine raises for input a user can fix."""


class AuditInputError(ValueError):
    """Bad input to the audit: the message names the column, value or parameter and the fix.

    Messages speak the Python API's parameters (``groups``, ``y_true``, ``dropna=True``);
    ``bias-audit audit`` turns them into its flags with :func:`for_command_line`.
    """


#: How the audit's messages spell a parameter, and how ``bias-audit audit`` spells it.
CLI_SPELLING: dict[str, str] = {
    "groups=[COL, ...]": "--group COL",
    "(given as groups)": "(given as --group)",
    "(given as y_true)": "(given as --y-true)",
    "(given as y_pred)": "(given as --y-pred)",
    "(given as score)": "(given as --score)",
    "(y_true)": "(--y-true)",
    "(y_pred)": "(--y-pred)",
    "(score)": "(--score)",
    "dropna=True": "--dropna",
    "positive_label=VALUE": "--positive-label VALUE",
    "max_groups": "--max-groups",
    "n_boot": "--n-boot",
    "intersections=False": "--no-intersections",
    "adjust_for": "--adjust-for",
}


def for_command_line(message: str) -> str:
    """An audit message with every parameter spelt as ``bias-audit audit``'s flag."""
    for python, flag in CLI_SPELLING.items():
        message = message.replace(python, flag)
    return message
