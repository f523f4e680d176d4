"""Output folders and files: one policy for every command, so nothing a user has is lost.

Every command that writes results (``audit``, ``run``, ``sweep``, ``population``) chooses its
output through this module, before any work starts:

- the working folder, a folder that holds it, the input file and a folder that holds the
  input are never an output;
- an existing non-empty folder is replaced only with ``--force``, and only when this tool
  wrote it: every file in it is listed in one of our manifests (or is a sweep's state or a
  staging folder we left); a folder with any other file is refused, ``--force`` or not;
- a symbolic link or a file is never replaced by a results folder;
- the place must be writable, checked by creating (and removing) a folder there;
- results are written into a staging folder beside the target and renamed into place when
  complete (:func:`publish`), so an interruption or a failure leaves no partial folder, and
  ``--force`` removes the old result only after the new one is complete.

Refusals are :class:`~experiments.errors.UsageError`: one line, exit code 2.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from experiments.errors import UsageError
from experiments.version import TOOL

#: Files that list (and hash) the files of a folder this tool wrote.
MANIFEST_NAMES = ("manifest.json", "sweep_manifest.json")
#: The state file of a sweep in progress, written before its first point.
SWEEP_STATE = "sweep.json"
#: Prefixes of the staging folders this tool creates beside a target.
STAGING_PREFIXES = (".partial-", ".replaced-")


def resolve_output_dir(
    path: Path | None,
    prefix: str,
    force: bool = False,
    *,
    inputs: Sequence[Path] = (),
    resume: bool = False,
    option: str = "--out",
) -> Path:
    """Choose the folder a command will write, or refuse it in one line, before any work.

    Parameters
    ----------
    path : Path or None
        The folder asked for; None picks a new ``<prefix>-<UTC timestamp>`` folder in the
        working folder (with a counter if that exists).
    prefix : str
        Name prefix of the default folder.
    force : bool
        Allow replacing an existing non-empty folder that this tool wrote.
    inputs : sequence of Path
        Files the command reads; the output may neither be one nor hold one.
    resume : bool
        Accept an existing sweep folder without ``force`` (a sweep resumes in it).
    option : str
        The option that named ``path``, for messages.

    Returns
    -------
    Path
        ``path`` (or the default folder), not created: see :func:`staging_dir`.

    Raises
    ------
    UsageError
        Naming the folder, why it cannot be used and what to do instead.
    """
    if path is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = Path(f"{prefix}-{stamp}")
        counter = 1
        while path.exists():
            counter += 1
            path = Path(f"{prefix}-{stamp}-{counter}")
    shown = repr(str(path))
    _refuse_protected(path, inputs, option)
    if path.is_symlink():
        raise UsageError(f"{option} {shown} is a symbolic link; give the folder itself")
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"{option} {shown} is a file, not a folder; choose another {option} (results never "
            "replace a file)"
        )
    if path.is_dir() and any(path.iterdir()):
        foreign = foreign_files(path)
        if foreign:
            raise UsageError(
                f"output {shown} already exists and holds files this tool did not write "
                f"({_preview(foreign)}); choose another {option} (--force replaces only a "
                "results folder this tool wrote)"
            )
        ours_to_resume = resume and (path / SWEEP_STATE).is_file()
        if not force and not ours_to_resume:
            raise UsageError(
                f"output {shown} already exists and is not empty; choose another {option} "
                "or pass --force to replace it"
            )
    check_writable(path.parent, option)
    return path


def resolve_output_file(
    path: Path, force: bool = False, *, inputs: Sequence[Path] = (), option: str = "--out"
) -> Path:
    """Check a single output file the way :func:`resolve_output_dir` checks a folder.

    The file's folder must exist and be writable; an existing file is replaced only with
    ``force`` and only when it is a regular file (never a folder, a link, a device or a pipe);
    an input is never replaced.
    """
    shown = repr(str(path))
    _refuse_protected(path, inputs, option)
    if path.is_symlink():
        raise UsageError(f"{option} {shown} is a symbolic link; give the file itself")
    if path.is_dir():
        raise UsageError(f"{option} {shown} is a folder; give a file name")
    if path.exists():
        if not stat.S_ISREG(path.stat().st_mode):
            raise UsageError(
                f"{option} {shown} is not a regular file (a device, pipe or socket); give a "
                "file name")
        if not force:
            raise UsageError(f"{shown} already exists; choose another {option} or add --force")
    if not path.parent.exists():
        raise UsageError(f"directory {str(path.parent)!r} does not exist; create it first")
    check_writable(path.parent, option)
    return path


def _refuse_protected(path: Path, inputs: Sequence[Path], option: str) -> None:
    """The working folder, its parents, the inputs and their parents are never outputs."""
    shown = repr(str(path))
    resolved = path.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        what = ("the working folder" if resolved == here
                else "a folder that holds the working folder")
        raise UsageError(
            f"{option} {shown} is {what}; give a new folder for the results (it is created)"
        )
    for given in inputs:
        source = Path(given).resolve()
        if resolved == source:
            raise UsageError(
                f"{option} {shown} is the input file {str(given)!r}; give another {option}")
        if resolved in source.parents:
            raise UsageError(
                f"{option} {shown} holds the input file {str(given)!r}; give another {option}")


def check_writable(folder: Path, option: str = "--out") -> None:
    """Refuse, in one line, a place where no folder can be created.

    Checks the nearest existing folder on the way to ``folder`` by creating and removing an
    empty folder in it, which also catches read-only file systems and permissions that
    :func:`os.access` misreads.
    """
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise UsageError(
            f"cannot write under {str(folder)!r}: {str(existing)!r} is a file, not a folder; "
            f"choose another {option}")
    try:
        probe = tempfile.mkdtemp(prefix=".write-check-", dir=existing)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(
            f"cannot write under {str(folder)!r} ({reason.lower()} in {str(existing)!r}); "
            f"choose an {option} in a folder you can write to"
        ) from None
    os.rmdir(probe)


def foreign_files(directory: Path, limit: int = 3) -> list[str]:
    """Files in ``directory`` that this tool did not write (at most ``limit`` of them).

    A file is ours when a manifest of ours in its folder or above lists it, when it is a
    manifest or sweep state of ours, or when it lies in a staging folder we create. Links
    are never ours: replacing a folder must not reach through them.
    """
    directory = Path(directory)
    ours: set[Path] = set()
    candidates: list[Path] = []
    for root, folders, files in os.walk(directory, followlinks=False):
        here = Path(root)
        inside_staging = any(part.startswith(STAGING_PREFIXES)
                             for part in here.relative_to(directory).parts)
        for name in folders:
            if (here / name).is_symlink():
                candidates.append(here / name)
        for name in files:
            file = here / name
            if inside_staging and not file.is_symlink():
                ours.add(file)
            elif name in MANIFEST_NAMES and not file.is_symlink():
                listed = _manifest_files(file)
                if listed is not None:
                    ours.add(file)
                    ours.update(here / entry for entry in listed)
                else:
                    candidates.append(file)
            elif name == SWEEP_STATE and _is_sweep_state(file):
                ours.add(file)
            else:
                candidates.append(file)
    foreign = [p for p in candidates if p not in ours]
    return [str(p.relative_to(directory)) for p in foreign[:limit]]


def _manifest_files(path: Path) -> list[str] | None:
    """The files a manifest of this tool lists, or None if ``path`` is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("tool") != TOOL:
        return None
    files = data.get("files")
    if not isinstance(files, dict):
        return None
    # A listed name must stay inside the folder: a manifest cannot claim files elsewhere.
    return [name for name in files if isinstance(name, str) and ".." not in Path(name).parts
            and not Path(name).is_absolute()]


def _is_sweep_state(path: Path) -> bool:
    if path.is_symlink():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and "config_sha256" in data


def _preview(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def staging_dir(target: Path) -> Path:
    """Create an empty staging folder beside ``target`` (creating its parents) and return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))


def publish(staging: Path, target: Path) -> Path:
    """Move a complete ``staging`` folder to ``target``; an old ``target`` goes only after.

    The old folder (allowed by :func:`resolve_output_dir`) is first renamed aside, the new
    one renamed into place, and the old one removed; if the second rename fails, the old
    folder is put back. Both renames stay in one folder, so neither copies anything.
    """
    aside = None
    if target.exists() or target.is_symlink():
        aside = target.with_name(f".replaced-{target.name}-{uuid.uuid4().hex[:8]}")
        os.replace(target, aside)
    try:
        os.replace(staging, target)
    except BaseException:
        if aside is not None:
            os.replace(aside, target)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return target


def discard(staging: Path) -> None:
    """Remove a staging folder after a failure or an interruption."""
    shutil.rmtree(staging, ignore_errors=True)
