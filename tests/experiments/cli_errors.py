"""What a refused command must print: one line naming the command, never a traceback."""

from __future__ import annotations

import re


def one_line_error(capsys, command: str, pattern: str) -> str:
    """The single error line ``bias-audit <command>`` wrote to stderr, checked against
    ``pattern`` (a regular expression searched in the line)."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"bias-audit {command}: error: "), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]
