"""The manifest behind every figure: version, commit, config, seed, packages and file hashes."""

from __future__ import annotations

import glob
import hashlib
import platform
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from experiments.config import CATALOGUE_DIR, ConfigError
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
        "config_file": recorded_config_file(config_file),
        **({"overrides": dict(_OVERRIDES.get())} if _OVERRIDES.get() is not None else {}),
        "config": config,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": dependency_versions(),
        "details": details,
        "files": {str(p.relative_to(directory)): sha256_of(p) for p in files},
    }


def recorded_config_file(config_file: Path) -> str:
    """How a manifest names the experiment file, never by an absolute local path.

    A shipped experiment is named as ``bias-audit run`` takes it (``immigration-os``); a file
    under the working folder by its path relative to it; any other file by its name alone.
    The manifest's full resolved config, not this name, is what a run is reproduced from.
    """
    path = Path(config_file)
    try:
        shipped = path.resolve().relative_to(CATALOGUE_DIR.resolve())
    except ValueError:
        shipped = None
    if shipped is not None and path.suffix == ".toml":
        return path.stem.replace("_", "-")
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


#: The ``--set`` overrides of the command being run, recorded by every manifest it builds.
_OVERRIDES: ContextVar[Mapping[str, Any] | None] = ContextVar("overrides", default=None)

#: A dotted key of bare TOML keys: ``mechanisms.label_bias.strength``.
_DOTTED_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


@contextmanager
def recording_overrides(overrides: Mapping[str, Any]) -> Iterator[None]:
    """Record ``overrides`` (dotted key to value) in every manifest built inside the block.

    The commands apply ``--set`` (and ``--size``, ``--seed``) to the experiment file's data
    before the run; the run's manifest then says which values did not come from the file, as
    ``"overrides": {...}``, beside the full resolved config. A context rather than a parameter
    so that every manifest a command writes (a run's, each sweep point's, the sweep's) records
    them without each writer passing them on.
    """
    token = _OVERRIDES.set(dict(overrides))
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def parse_set_options(options: Sequence[str] | None, flag: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` options as dotted keys and values, each value read as TOML.

    ``mechanisms.label_bias.strength=0`` gives ``{"mechanisms.label_bias.strength": 0}`` and
    ``system.countries_of_concern=["IRN","SYR"]`` a list; a string needs TOML's quotes
    (``experiment.name="x"``). A key set twice keeps its last value, as a repeated flag does.
    The values are validated with the rest of the experiment, as if written in the file.

    Raises
    ------
    ConfigError
        An option without ``=``, a key that is not dotted bare keys, or a value that is not
        TOML; one line naming the option.
    """
    out: dict[str, Any] = {}
    for option in options or ():
        key, equals, text = option.partition("=")
        key = key.strip()
        if not equals:
            raise ConfigError(f"{flag} {option!r}: expected KEY=VALUE, as in "
                              f"{flag} mechanisms.label_bias.strength=0")
        if not _DOTTED_KEY.fullmatch(key):
            raise ConfigError(f"{flag} {option!r}: {key!r} is not a dotted key such as "
                              "mechanisms.label_bias.strength")
        try:
            value = tomllib.loads(f"value = {text.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            hint = (f"; a string needs quotes: {flag} '{key}=\"{text.strip()}\"'"
                    if re.fullmatch(r"[A-Za-z_][\w.:-]*", text.strip()) else "")
            raise ConfigError(f"{flag} {key}: {text.strip()!r} is not a TOML value{hint}"
                              ) from None
        out[key] = value
    return out


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], source: str,
                    flag: str = "--set") -> None:
    """Set each dotted key of ``overrides`` in experiment data, in place.

    Raises
    ------
    ConfigError
        A key that passes through a value that is not a table, named with ``flag``.
    """
    import copy

    from experiments.config import set_dotted

    for key, value in overrides.items():
        try:
            set_dotted(data, key, copy.deepcopy(value))
        except ConfigError as error:
            raise ConfigError(f"{source}: {flag} {error}") from None


def name_override(error: ConfigError, overrides: Mapping[str, Any], flag: str = "--set"
                  ) -> ConfigError:
    """``error`` with the ``--set`` option it comes from named, when one of its keys is the
    key (or a table above it) that the message is about; else ``error`` as it is."""
    message = str(error)
    for key in overrides:
        parts = key.split(".")
        for end in range(len(parts), 0, -1):
            if re.search(rf"(^|[\s:]){re.escape('.'.join(parts[:end]))}(\[\d+\])?[.:]",
                         message):
                return ConfigError(f"{flag} {key}: {message}")
    return error


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


# --- reproducing a run from its manifest ------------------------------------------------------

#: Files whose text names the run's id, so a rerun cannot match their hash byte for byte.
NAMES_RUN_ID = ("report.md", "report.html")


def read_manifest(run: str | Path) -> tuple[dict[str, Any], Path]:
    """A run's manifest and its path, from the run's folder or the manifest file itself.

    Raises
    ------
    UsageError
        No manifest there, one that is not JSON, or one that is not a run's (a sweep's or an
        audit's), in one line naming the path.
    """
    import json

    from experiments.errors import UsageError

    path = Path(run)
    manifest_path = path / "manifest.json" if path.is_dir() else path
    if not manifest_path.is_file():
        where = (f"{str(path)!r} holds no manifest.json" if path.is_dir()
                 else f"{str(path)!r} does not exist")
        raise UsageError(f"{where}; give a run folder (results/<experiment>/<run-id>) or its "
                         "manifest.json")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{str(manifest_path)!r} is not a manifest (not JSON); give a run "
                         "folder or its manifest.json") from None
    if not isinstance(manifest, dict) or "config" not in manifest or "run_id" not in manifest:
        raise UsageError(f"{str(manifest_path)!r} is not the manifest of a run (no run_id and "
                         "config); give a run folder or its manifest.json")
    if manifest.get("details", {}).get("points") is not None:
        raise UsageError(f"{str(manifest_path)!r} is a sweep's manifest; reproduce one of its "
                         "points (points/<point>/) or rerun the sweep")
    return manifest, manifest_path


def config_from_manifest(manifest: Mapping[str, Any], source: str) -> Any:
    """The :class:`~experiments.config.ExperimentConfig` a manifest's run ran, validated.

    The manifest holds the full resolved config (every default filled in) plus the
    mechanisms as resolved against the profile (``resolved_mechanisms``), which is derived
    again when the population is generated and so is left out here.
    """
    from experiments.config import parse_config

    data = {k: v for k, v in manifest["config"].items() if k != "resolved_mechanisms"}
    return parse_config(data, source)


def version_differences(manifest: Mapping[str, Any]) -> list[str]:
    """What differs between the versions a manifest recorded and those installed now:
    the tool, Python and every package of :data:`MAIN_DEPENDENCIES` (one phrase each)."""
    out = []
    if manifest.get("version") != __version__:
        out.append(f"bias-audit-sandbox {manifest.get('version')} then, {__version__} now")
    if manifest.get("python") and manifest.get("python") != platform.python_version():
        out.append(f"Python {manifest.get('python')} then, {platform.python_version()} now")
    recorded = manifest.get("dependencies", {}) or {}
    for name, now in dependency_versions().items():
        if name in recorded and recorded[name] != now:
            out.append(f"{name} {recorded[name]} then, {now} now")
    return out


def check_files(manifest: Mapping[str, Any], rerun: Path, original: Path | None = None,
                new_run_id: str | None = None) -> list[tuple[str, str, str]]:
    """Every file a manifest hashes, checked against a rerun's folder (and the original's).

    Returns
    -------
    list of (name, status, detail)
        ``status`` is ``identical`` (the rerun's file has the manifest's SHA-256, and the
        original folder's copy, when given, too), ``different`` (``detail`` says which copy
        differs) or ``missing``; a report whose text differs only by the run's id, which it
        names, is ``identical`` with that said in ``detail``. Files the rerun wrote that the
        manifest does not list come last as ``new``.
    """
    recorded: dict[str, Any] = dict(manifest.get("files", {}))
    old_run_id = str(manifest.get("run_id", ""))
    out = []
    for name, expected in sorted(recorded.items()):
        digest = expected if isinstance(expected, str) else str(expected.get("sha256", ""))
        path = rerun / name
        if not path.is_file():
            out.append((name, "missing", "the rerun did not write it"))
            continue
        detail = ""
        same = sha256_of(path) == digest
        if not same and name in NAMES_RUN_ID and new_run_id:
            # The report names its run; with the rerun's id put back, the rest must match.
            text = path.read_text(encoding="utf-8").replace(new_run_id, old_run_id)
            same = hashlib.sha256(text.encode("utf-8")).hexdigest() == digest
            detail = "but for the run id it names" if same else ""
        if not same:
            out.append((name, "different", "the rerun's file does not match the manifest"))
            continue
        copy = original / name if original is not None else None
        if copy is not None and copy.is_file() and sha256_of(copy) != digest:
            out.append((name, "different", f"the copy in {str(original)!r} does not match the "
                                           "manifest (changed after the run); the rerun does"))
            continue
        out.append((name, "identical", detail))
    own = {"manifest.json"}
    for path in sorted(p for p in rerun.rglob("*") if p.is_file()):
        name = path.relative_to(rerun).as_posix()
        if name not in recorded and name not in own:
            out.append((name, "new", "written by the rerun, not listed in the manifest"))
    return out
