"""Output folders that never overwrite what a user already has."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from experiments.commands import UsageError


def resolve_output_dir(path: Path | None, prefix: str, force: bool = False) -> Path:
    """Choose the folder a command will write into, before any work starts.

    With ``path`` None, a new folder name ``<prefix>-<UTC timestamp>`` in the working
    directory (with a counter if that exists). An existing non-empty ``path`` is refused
    unless ``force``. Nothing is created or removed here: see :func:`prepare_output_dir`.
    """
    if path is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = Path(f"{prefix}-{stamp}")
        counter = 1
        while path.exists():
            counter += 1
            path = Path(f"{prefix}-{stamp}-{counter}")
    elif path.exists() and (not path.is_dir() or any(path.iterdir())) and not force:
        raise UsageError(
            f"output {str(path)!r} already exists and is not empty; choose another --out "
            "or pass --force to replace it"
        )
    return path


def prepare_output_dir(path: Path) -> Path:
    """Create ``path`` empty, replacing what :func:`resolve_output_dir` allowed to replace."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.mkdir(parents=True)
    return path
