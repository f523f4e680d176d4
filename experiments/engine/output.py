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
  ``--force`` removes the old result only after the new one is complete;
- the target is checked again when the results are published, since another command, a user
  or a program may have written there while the work ran: whatever this tool did not write
  is never removed, ``--force`` or not, and of two commands aimed at one folder one publishes
  and the other is refused in one line naming the folder;
- a default folder name is claimed with an atomic ``mkdir`` (``-2``, ``-3``, ... when taken),
  so two commands started in the same second never share one.

Refusals are :class:`~experiments.errors.UsageError`: one line, exit code 2.
"""

from __future__ import annotations

import errno
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
        The folder asked for; None claims a new ``<prefix>-<UTC timestamp>`` folder in the
        working folder (see :func:`claim_default_dir`).
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
        ``path``, not created (see :func:`staging_dir`), or the default folder, created
        empty so that no other command can take its name.

    Raises
    ------
    UsageError
        Naming the folder, why it cannot be used and what to do instead.
    """
    if path is None:
        return claim_default_dir(prefix, inputs=inputs, option=option)
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


#: Default folders this process claimed and has not yet published (see :func:`discard`).
_CLAIMED: set[Path] = set()


def claim_default_dir(prefix: str, *, inputs: Sequence[Path] = (),
                      option: str = "--out") -> Path:
    """Create ``<prefix>-<UTC timestamp>`` (``-2``, ``-3``, ... when taken) and return it.

    The name is claimed by :func:`os.mkdir`, which succeeds for exactly one of several
    commands started in the same second; the others take the next suffix. The empty folder
    is filled at :func:`publish` and removed by :func:`discard` when the command fails.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    check_writable(Path.cwd(), option)
    return claim_dir(Path(f"{prefix}-{stamp}"), option=option)


def claim_dir(path: Path, *, option: str = "--out") -> Path:
    """Create the empty folder ``path``, or ``path-2``, ``path-3``, ... when it is taken.

    Parameters
    ----------
    path : Path
        The name wanted; its parents are created.
    option : str
        The option that would name another folder, for messages.

    Returns
    -------
    Path
        The folder created, recorded as claimed by this process (see :func:`discard`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for counter in range(1, 10_000):
        candidate = path if counter == 1 else path.with_name(f"{path.name}-{counter}")
        try:
            os.mkdir(candidate)  # atomic: of several commands, exactly one creates a name
        except FileExistsError:
            continue
        _CLAIMED.add(candidate.absolute())
        return candidate
    raise UsageError(f"every name {str(path)!r}-N is taken; give {option}")


def staging_dir(target: Path) -> Path:
    """Create an empty staging folder beside ``target`` (creating its parents) and return it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))


def folder_mode() -> int:
    """The mode a new folder gets under the process's umask (``0o755`` under ``022``)."""
    mask = os.umask(0)
    os.umask(mask)  # reading the umask means setting it: put it straight back
    return 0o777 & ~mask


def publish(staging: Path, target: Path, force: bool = False, *,
            option: str = "--out") -> Path:
    """Move a complete ``staging`` folder to ``target``, checking ``target`` again first.

    Parameters
    ----------
    staging : Path
        The complete folder, made by :func:`staging_dir` beside ``target``.
    target : Path
        Where the results go. It was checked by :func:`resolve_output_dir` when the command
        started; it is checked again here, since anything may have appeared there meanwhile.
    force : bool
        Replace a folder that this tool wrote (every file listed in one of its manifests);
        a folder holding any other file, a file or a link is never replaced.
    option : str
        The option that named ``target``, for messages.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    UsageError
        When ``target`` is taken by then (by another command's results without ``force``,
        or by anything this tool did not write): one line naming the folder. ``staging`` is
        left for the caller to :func:`discard`.

    Notes
    -----
    A rename of a folder onto a path succeeds only when the path is absent or an empty
    folder, atomically, so of two commands publishing to one folder exactly one wins and the
    other is refused here. With ``force``, the old folder is first renamed aside and checked
    once more where no other program looks for it; the new one is renamed into place and the
    old one removed only then. If the second rename fails, the old folder is put back. Every
    rename stays in one folder, so none copies anything. The folder is published with the
    user's umask (:func:`folder_mode`), not the staging folder's private mode.
    """
    # mkdtemp makes the staging folder private (0o700); the published folder gets the mode
    # any folder the user creates would get, so that others can read results as usual.
    staging.chmod(folder_mode())
    shown = repr(str(target))
    if _rename_into_place(staging, target):
        _CLAIMED.discard(target.absolute())
        return target
    if target.is_symlink() or not target.is_dir():
        raise UsageError(
            f"{option} {shown} became a file or a link while this command ran; nothing was "
            f"replaced and the results were not written; choose another {option}")
    foreign = foreign_files(target)
    if foreign:
        raise UsageError(
            f"{option} {shown} received files this tool did not write while this command ran "
            f"({_preview(foreign)}); nothing was replaced; choose another {option}")
    if not force:
        raise UsageError(
            f"{option} {shown} was written by another command while this one ran; its results "
            f"are kept and these were not written; choose another {option} or pass --force")
    aside = target.with_name(f".replaced-{target.name}-{uuid.uuid4().hex[:8]}")
    os.replace(target, aside)
    # Between the check above and the rename, a file may still have arrived: check the
    # folder again now that nothing else writes to it under its name.
    foreign = foreign_files(aside)
    if foreign:
        _put_back(aside, target)
        raise UsageError(
            f"{option} {shown} received files this tool did not write while this command ran "
            f"({_preview(foreign)}); nothing was replaced; choose another {option}")
    try:
        placed = _rename_into_place(staging, target)
    except BaseException:
        _put_back(aside, target)
        raise
    if not placed:
        _put_back(aside, target)
        raise UsageError(
            f"{option} {shown} was taken by another command while this one replaced it; "
            f"nothing was removed; choose another {option}")
    shutil.rmtree(aside, ignore_errors=True)
    return target


def _rename_into_place(staging: Path, target: Path) -> bool:
    """Rename ``staging`` to ``target`` if that is absent or an empty folder; False if taken."""
    try:
        os.rename(staging, target)
    except OSError as error:
        # ENOTEMPTY/EEXIST: a folder with files; ENOTDIR: a file or a link to one; EISDIR
        # does not arise for a folder source but is the same answer.
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            return False
        raise
    return True


def _put_back(aside: Path, target: Path) -> None:
    """Return a folder renamed aside to its name; if the name is taken, say where it is."""
    try:
        os.rename(aside, target)
    except OSError:
        raise UsageError(
            f"{str(target)!r} was taken while it was being replaced; the folder that was "
            f"there is kept as {str(aside)!r}") from None


def discard(staging: Path, target: Path | None = None) -> None:
    """Remove a staging folder after a failure or an interruption.

    Parameters
    ----------
    staging : Path
        The staging folder to remove.
    target : Path, optional
        The folder it was for: removed too when it is a default folder this process claimed
        (:func:`claim_default_dir`) and it is still empty.
    """
    shutil.rmtree(staging, ignore_errors=True)
    if target is not None:
        release(target)


def release(target: Path) -> None:
    """Remove ``target`` if this process claimed it (:func:`claim_dir`) and it is still empty.

    Parameters
    ----------
    target : Path
        A folder a command was to publish; anything but an empty folder this process claimed
        is left as it is.
    """
    if target.absolute() in _CLAIMED:
        _CLAIMED.discard(target.absolute())
        try:
            target.rmdir()  # only ever an empty folder: rmdir refuses anything else
        except OSError:
            pass
