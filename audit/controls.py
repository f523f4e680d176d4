"""Control characters shown, never obeyed: text from data reaching a terminal or a report.

A group named with an escape sequence (``ESC [2J``) would clear the screen it is printed on;
a right-to-left override would reorder the text after it. Such characters are written as
their escape (``\\x1b``, ``\\u202e``), so the reader sees that they are there and what they
are.
"""

from __future__ import annotations

import re

#: C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional overrides and
#: isolates that reorder what follows them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: object, *, keep_carriage_return: bool = False) -> str:
    """``text`` with every control character written as its Python escape.

    Parameters
    ----------
    text : object
        Any text (non-strings are converted with :func:`str`).
    keep_carriage_return : bool
        Keep ``\\r`` (a progress line rewriting itself); by default it is shown too.

    Returns
    -------
    str
        The text, tabs and line feeds kept, every other control character spelled out:
        ``"a\\x1b[2Jb"`` becomes ``"a\\\\x1b[2Jb"``.
    """
    def spell(found: re.Match[str]) -> str:
        char = found.group()
        if keep_carriage_return and char == "\r":
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROLS.sub(spell, str(text))
