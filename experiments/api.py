"""Running and reading experiments from Python (a notebook, a script), as the command does.

>>> from experiments.api import run, load                                     # doctest: +SKIP
>>> result = run("immigration-os", size=20_000, seed=1, out="runs/ios-s1")
>>> finished = load("runs/ios-s1")
>>> finished.tables["metrics"].query("metric == 'fpr'")
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.commands import UsageError
from experiments.runner import RunResult


@dataclass
class LoadedRun:
    """A finished run read back from its folder.

    Attributes
    ----------
    directory : Path
        The run's folder.
    manifest : dict
        Its manifest.json: version, commit, full config, seed, size, file hashes, headlines.
    tables : dict of str to DataFrame
        Every CSV of the folder by name without ``.csv`` (``"metrics"``, ``"summary"``,
        ``"attribution"``, ...). Group names are read as written: ``NA`` stays Namibia.
    """

    directory: Path
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def headlines(self) -> list[str]:
        """The run's headline findings, as printed when it ran."""
        return list(self.manifest.get("headlines", []))

    def __repr__(self) -> str:
        return (f"LoadedRun({self.manifest.get('experiment')!r}, run {self.manifest.get('run_id')}"
                f", seed {self.manifest.get('seed')}, {self.manifest.get('population_size', 0):,}"
                f" people; tables: {', '.join(sorted(self.tables))})")


def run(experiment: str | Path = "catch-and-revoke", *, size: int | None = None,
        seed: int | None = None, out: str | Path | None = None, force: bool = False,
        attribution: bool = True, results_dir: str | Path = "results") -> RunResult:
    """Run an experiment and write its results folder, exactly as ``bias-audit run`` does.

    Parameters
    ----------
    experiment : str or Path
        A shipped experiment's name (``bias-audit experiments``) or a TOML file.
    size, seed : int, optional
        Override ``population.size`` and ``experiment.seed``.
    out : str or Path, optional
        Exact folder to write (the same rules as ``--out``); default
        ``results/<experiment>/<run-id>/``.
    force : bool
        Replace an existing ``out`` that this tool wrote.
    attribution : bool
        Run the experiment's knob worlds (False skips them, as ``--no-attribution``).
    results_dir : str or Path
        Parent folder of runs when ``out`` is not given.

    Returns
    -------
    RunResult
        Its ``directory``, ``headlines``, ``manifest``, the two views' ``AuditResult``s,
        flip rates, decisions and attribution.

    Raises
    ------
    UsageError
        For an unknown experiment, an invalid key or value, or an output folder that may not
        be written; the message names the key or path.
    """
    from experiments.checks import check_experiment
    from experiments.config import load_config
    from experiments.runner import run_experiment

    overrides: dict[str, Any] = {}
    if size is not None:
        overrides["population.size"] = size
    if seed is not None:
        overrides["experiment.seed"] = seed
    config, path = load_config(experiment, overrides)
    check_experiment(config, path.name)
    if out is None and force:
        raise UsageError("force: only applies with out")
    return run_experiment(config, path, results_dir=Path(results_dir),
                          out=None if out is None else Path(out), force=force,
                          attribution=attribution)


def load(directory: str | Path, verify: bool = True) -> LoadedRun:
    """Read a finished run's folder: its manifest and every table.

    Parameters
    ----------
    directory : str or Path
        A folder written by :func:`run` or ``bias-audit run``.
    verify : bool
        Check every file against the SHA-256 the manifest holds, so a table edited by hand
        is not read as the run's.

    Raises
    ------
    UsageError
        If the folder holds no manifest.json, or a file does not match its hash.
    """
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"directory: {str(directory)!r} holds no manifest.json; give the folder "
                         "of a finished run (results/<experiment>/<run-id>)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if verify:
        for name, expected in manifest.get("files", {}).items():
            digest = expected if isinstance(expected, str) else expected.get("sha256", "")
            path = directory / name
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise UsageError(f"{name} in {str(directory)!r} does not match the hash in its "
                                 "manifest; it was changed or removed after the run")
    tables = {path.stem: pd.read_csv(path, keep_default_na=False, na_values=[""])
              for path in sorted(directory.glob("*.csv"))}
    return LoadedRun(directory, manifest, tables)
