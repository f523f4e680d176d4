"""A sweep point's results as data: computed anywhere, written by the sweep's client alone.

A point runs on a joblib worker or on a Dask worker that may be another machine, with its
own working folder and no disk in common with the client. So :func:`compute_point` writes
nothing: it returns the bytes of the point's tables and the facts its manifest records (a
:class:`PointResult`), or a one-line reason (a :class:`PointFailure`). The client stages,
writes, hashes and renames the point's folder (:func:`write_point`). joblib and Dask run the
same function, so their tables are the same bytes by construction.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from audit.tables import rounded_frame
from experiments.errors import UsageError


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: its id, the grid values it sets, its seed and its config."""

    point_id: str
    params: dict[str, Any]
    seed: int
    data: dict[str, Any]


@dataclass(frozen=True)
class PointResult:
    """What a finished point sends back: its files' bytes and its manifest's facts."""

    point_id: str
    #: ``<UTC start>-s<seed>``, as every run's id.
    run_id: str
    #: File name inside the point folder -> exact bytes (tables and metrics.json).
    files: dict[str, bytes]
    experiment: str
    seed: int
    population_size: int
    #: The full resolved config, JSON-ready.
    config: dict[str, Any]
    #: The run's facts for the manifest's ``details``, including where it was computed.
    details: dict[str, Any]
    headlines: list[str]
    #: Whether the figures of suppressed cells are blank in the tables (always, in a sweep).
    suppressed_cells_withheld: bool = True


@dataclass(frozen=True)
class PointFailure:
    """A point that raised: its id, a one-line reason and, for unexpected errors, a traceback."""

    point_id: str
    reason: str
    #: Full traceback of an error that is not the user's to fix; None for refused input.
    traceback: str | None = None


def compute_point(point_id: str, point_data: dict[str, Any], config_file: str
                  ) -> PointResult | PointFailure:
    """Compute one sweep point in memory and return its results, or why it failed.

    A plain function of plain data, so that joblib and Dask can ship it to workers. It
    writes no file and reads none besides the shipped profiles, so it behaves the same in
    any working folder on any machine. Exceptions become a :class:`PointFailure`, so one
    failing point never stops the others.

    Parameters
    ----------
    point_id : str
        The point's id (``g000-s1``).
    point_data : dict
        The point's full experiment data (grid values and seed set).
    config_file : str
        Name of the experiment file, for messages and the manifest.

    Returns
    -------
    PointResult or PointFailure
    """
    from audit.errors import AuditInputError
    from audit.tables import jsonable
    from experiments.config import parse_config
    from experiments.engine.manifest import dependency_versions
    from experiments.engine.runner import compute_run, make_run_id, table_files
    from synthetic.population import PopulationInputError

    try:
        config = parse_config(point_data, config_file)
        run_id = make_run_id(config.experiment.seed)
        computed = compute_run(config)
        files = table_files(computed, suppress=True)
        computed.facts["seconds"] = round(time.perf_counter() - computed.started, 2)
        computed.facts["computed_on"] = {
            "python": platform.python_version(), "platform": platform.platform(),
            "dependencies": dependency_versions(),
        }
        return PointResult(
            point_id=point_id, run_id=run_id, files=files, experiment=config.experiment.name,
            seed=config.experiment.seed, population_size=len(computed.population.people),
            config=jsonable(computed.resolved_config), details=jsonable(computed.facts),
            headlines=list(computed.headlines),
        )
    except (UsageError, AuditInputError, PopulationInputError) as error:  # refused input
        return PointFailure(point_id, one_line(str(error)))
    except Exception as error:  # noqa: BLE001 - reported per point, with its traceback
        return PointFailure(point_id, one_line(f"{type(error).__name__}: {error}"),
                            traceback.format_exc())


def one_line(text: str) -> str:
    """The first non-blank line of ``text`` (an error message), stripped."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no reason given"


def write_point(result: PointResult, points_dir: Path, config_file: Path) -> Path:
    """Write a point's folder atomically on the client; return it.

    The files are staged in a hidden ``.partial-*`` folder next to the target, hashed into
    the point's ``manifest.json`` and renamed into place, so the folder appears whole or not
    at all and a sweep resumes by skipping folders that have their manifest.
    """
    from experiments.engine.manifest import build_manifest
    from experiments.engine.output import publish

    target = points_dir / result.point_id
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=points_dir))
    try:
        for name, content in result.files.items():
            if Path(name).name != name or name == "manifest.json":
                raise ValueError(f"point {result.point_id}: unexpected file name {name!r}")
            (staging / name).write_bytes(content)
        manifest = build_manifest(
            run_id=result.run_id, experiment=result.experiment, config=result.config,
            config_file=config_file, seed=result.seed, population_size=result.population_size,
            directory=staging, details=result.details,
        )
        manifest["headlines"] = result.headlines
        manifest["suppressed_cells_withheld"] = result.suppressed_cells_withheld
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                               encoding="utf-8")
        # A point's folder appears whole or not at all, so one already there is a point
        # this sweep (or a parallel one on the same grid) finished: ours to replace.
        publish(staging, target, force=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV with rounded floats and Unix line ends, as every table of the project."""
    rounded_frame(frame).to_csv(path, index=False, lineterminator="\n")
