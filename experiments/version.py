"""What this tool is: its name in every manifest, its version, and the commit it runs from.

At the bottom of :mod:`experiments`, so that any room may name the tool without importing
the package's top.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("bias-audit-sandbox")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

#: What every manifest of this tool names itself.
TOOL = "bias-audit-sandbox"


def git_commit() -> str | None:
    """The commit of the source tree this package runs from, when it is a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
            timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=5, check=False,
    ).stdout.strip()
    return done.stdout.strip() + ("-dirty" if dirty else "")
