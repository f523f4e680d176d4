"""Exceptions the audit engine raises for input a user can fix."""


class AuditInputError(ValueError):
    """Bad input to the audit: the message names the column, value or option and the fix."""
