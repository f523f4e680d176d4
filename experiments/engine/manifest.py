"""The manifest behind every figure: version, commit, config, seed, packages and file hashes."""

from __future__ import annotations

import glob
import hashlib
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from experiments.version import __version__, git_commit

#: Packages whose versions can change the numbers.
MAIN_DEPENDENCIES = ("numpy", "pandas", "scipy", "scikit-learn", "fairlearn", "matplotlib",
                     "jinja2", "pydantic", "pyarrow")


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dependency_versions() -> dict[str, str | None]:
    """Installed versions of :data:`MAIN_DEPENDENCIES`."""
    versions: dict[str, str | None] = {}
    for name in MAIN_DEPENDENCIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(
    *, run_id: str, experiment: str, config: dict[str, Any], config_file: Path, seed: int,
    population_size: int, directory: Path, details: dict[str, Any],
    manifest_name: str = "manifest.json",
) -> dict[str, Any]:
    """Everything needed to cite, check and reproduce a run's numbers.

    Hashes cover every file in ``directory``, sub-folders included, except the manifest
    itself (``directory / manifest_name``).
    """
    own = directory / manifest_name
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p != own)
    return {
        "tool": "bias-audit-sandbox",
        "version": __version__,
        "git_commit": git_commit(),
        "run_id": run_id,
        "experiment": experiment,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": seed,
        "population_size": population_size,
        "config_file": str(config_file),
        "config": config,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": dependency_versions(),
        "details": details,
        "files": {str(p.relative_to(directory)): sha256_of(p) for p in files},
    }


def build_audit_manifest(
    *, directory: Path, input_file: Path, settings: dict[str, Any], suppress: bool,
    manifest_name: str = "manifest.json",
) -> dict[str, Any]:
    """The manifest of ``bias-audit audit``: what was audited, how, and every file's hash.

    It records the input file's name, size and SHA-256, the audit's settings, whether the
    figures of suppressed cells were withheld from the written tables (they are unless
    ``--no-suppress``), the tool and package versions and the hash of every output file.
    Its ``tool`` and ``files`` entries also mark the folder as written by this tool, which
    is what lets ``--force`` replace it (see :mod:`experiments.engine.output`).
    """
    from audit.tables import jsonable

    own = directory / manifest_name
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p != own)
    return {
        "tool": "bias-audit-sandbox",
        "version": __version__,
        "git_commit": git_commit(),
        "command": "audit",
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input": _input_facts(input_file),
        "settings": jsonable(settings),
        "suppressed_cells_withheld": suppress,
        "suppress_below": settings.get("suppress_below"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": dependency_versions(),
        "files": {str(p.relative_to(directory)): sha256_of(p) for p in files},
    }



def _input_facts(input_file: Path) -> dict[str, Any]:
    """Name, size and SHA-256 of the audited file, or of every file a glob matched."""
    if input_file.is_file():
        return {"file": str(input_file), "bytes": input_file.stat().st_size,
                "sha256": sha256_of(input_file)}
    matched = sorted(Path(p) for p in glob.glob(str(input_file)))
    return {"pattern": str(input_file),
            "files": [{"file": str(p), "bytes": p.stat().st_size, "sha256": sha256_of(p)}
                      for p in matched if p.is_file()]}
