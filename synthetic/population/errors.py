"""Exceptions the population generator raises for input a user can fix."""


class PopulationInputError(ValueError):
    """Bad input to the population generator.

    The message names the bad profile, share, attribute, value, size or mechanism and says how to
    fix it. The command line prints it as one line and exits with code 2.
    """
