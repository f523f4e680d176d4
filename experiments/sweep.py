"""Sweeps: one experiment run over a grid of config values times a list of seeds.

Every point is an ordinary run (tables and manifest, no figures) written atomically into
``<sweep folder>/points/<point id>/``, so an interrupted sweep resumes by skipping the points
whose folder exists. Points run in parallel with joblib on one machine, or on a Dask
distributed cluster; each point is deterministic given its config, so both give the same
numbers. When every point is done, the sweep's tables, figures, manifest and report are
assembled from the points' files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from audit.result import rounded_frame
from experiments.commands import UsageError
from experiments.config import ConfigError, parse_config, set_dotted
from experiments.manifest import build_manifest

POINTS_DIR = "points"
SWEEP_STATE = "sweep.json"


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: its id, the grid values it sets, its seed and its config."""

    point_id: str
    params: dict[str, Any]
    seed: int
    data: dict[str, Any]


def sweep_points(data: dict[str, Any], source: str = "experiment") -> list[SweepPoint]:
    """Expand an experiment's ``[sweep]`` table into validated points.

    Every point's config is validated here, before any work, so a bad grid value is reported
    with its key path and the point it belongs to.
    """
    config = parse_config(data, source)
    if config.sweep is None:
        raise ConfigError(f"{source}: no [sweep] table; add one with seeds and a grid")
    keys = list(config.sweep.grid)
    combinations = list(itertools.product(*(config.sweep.grid[k] for k in keys))) or [()]
    points = []
    for index, values in enumerate(combinations):
        params = dict(zip(keys, values, strict=True))
        for seed in config.sweep.seeds:
            point = json.loads(json.dumps(data))  # a deep copy of plain TOML data
            point.pop("sweep", None)
            for key, value in params.items():
                set_dotted(point, key, value)
            set_dotted(point, "experiment.seed", seed)
            where = ", ".join(f"{k} = {v!r}" for k, v in params.items()) or "no grid"
            try:
                parse_config(point, f"{source} (sweep point {where}, seed {seed})")
            except ConfigError as error:
                raise ConfigError(str(error)) from None
            points.append(SweepPoint(f"g{index:03d}-s{seed}", params, seed, point))
    return points


def sweep_hash(data: dict[str, Any]) -> str:
    """Fingerprint of a sweep's full config: a folder belongs to one sweep only."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def run_point(point_data: dict[str, Any], directory: str, config_file: str) -> str:
    """Run one sweep point into ``directory`` (tables and manifest only); return its path.

    A plain function of plain data, so that joblib and Dask can ship it to workers.
    """
    from experiments.runner import run_experiment

    config = parse_config(point_data, config_file)
    run_experiment(config, Path(config_file), out=Path(directory), report=False)
    return directory


def prepare_sweep_dir(directory: Path, data: dict[str, Any], force: bool) -> None:
    """Create or reuse a sweep folder; refuse one that holds a different sweep."""
    state = directory / SWEEP_STATE
    fingerprint = sweep_hash(data)
    if state.exists():
        recorded = json.loads(state.read_text(encoding="utf-8")).get("config_sha256")
        if recorded != fingerprint:
            if not force:
                raise UsageError(
                    f"{str(directory)!r} holds a different sweep (its config changed); choose "
                    "another --out, or pass --force to discard it and start again"
                )
            shutil.rmtree(directory)
    elif directory.exists() and any(directory.iterdir()) and not force:
        raise UsageError(
            f"output {str(directory)!r} already exists and is not a sweep folder; choose "
            "another --out or pass --force to replace it"
        )
    elif directory.exists() and force:
        shutil.rmtree(directory)
    (directory / POINTS_DIR).mkdir(parents=True, exist_ok=True)
    for stale in (directory / POINTS_DIR).glob(".partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted point
    state.write_text(json.dumps({"config_sha256": fingerprint, "config": data}, indent=1)
                     + "\n", encoding="utf-8")


def pending(points: list[SweepPoint], directory: Path) -> list[SweepPoint]:
    """Points whose folder is not complete yet (a complete folder has its manifest)."""
    return [p for p in points
            if not (directory / POINTS_DIR / p.point_id / "manifest.json").exists()]


def run_local(points: list[SweepPoint], directory: Path, config_file: str, jobs: int
              ) -> Iterator[str]:
    """Run points with joblib, yielding each point's folder as it finishes."""
    from joblib import Parallel, delayed

    tasks = (delayed(run_point)(p.data, str(directory / POINTS_DIR / p.point_id), config_file)
             for p in points)
    if jobs == 1:
        for task in tasks:
            function, args, kwargs = task
            yield function(*args, **kwargs)
        return
    yield from Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks)


def run_dask(points: list[SweepPoint], directory: Path, config_file: str, address: str
             ) -> Iterator[str]:
    """Run points on a Dask distributed cluster, yielding each folder as it finishes."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError(
            "--dask needs Dask distributed: pip install 'bias-audit-sandbox[distributed]'"
        ) from None
    try:
        client = Client(address, timeout="10s")
    except OSError as error:
        raise UsageError(f"cannot reach the Dask scheduler at {address!r}: {error}") from None
    try:
        futures = [client.submit(run_point, p.data, str(directory / POINTS_DIR / p.point_id),
                                 config_file, key=f"sweep-point-{p.point_id}-{id(directory)}",
                                 pure=False)
                   for p in points]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()


def collect(points: list[SweepPoint], directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy table over all points, and its summary across seeds."""
    frames = []
    for point in points:
        table = pd.read_csv(directory / POINTS_DIR / point.point_id / "metrics.csv",
                            keep_default_na=False, na_values=[""])
        params = pd.DataFrame({k: [v] * len(table) for k, v in point.params.items()})
        frames.append(pd.concat(
            [pd.DataFrame({"point": [point.point_id] * len(table)}), params,
             pd.DataFrame({"seed": [point.seed] * len(table)}), table], axis=1))
    tidy = pd.concat(frames, ignore_index=True)
    keys = [*points[0].params, "view", "grouping", "group", "metric"]
    grouped = tidy.groupby(keys, sort=False, dropna=False)
    summary = grouped.agg(
        seeds=("seed", "nunique"),
        value_mean=("value", "mean"), value_sd=("value", "std"),
        value_min=("value", "min"), value_max=("value", "max"),
        difference_mean=("difference", "mean"),
        ratio_mean=("ratio", "mean"), ratio_sd=("ratio", "std"),
        ratio_min=("ratio", "min"), ratio_max=("ratio", "max"),
        significant_share=("p_holm", lambda p: float((p < 0.05).mean())),
    ).reset_index()
    return tidy, summary


@dataclass
class SweepResult:
    """What a sweep produced."""

    directory: Path
    tidy: pd.DataFrame
    summary: pd.DataFrame
    answer: str
    ran: int
    skipped: int


def run_sweep(
    data: dict[str, Any],
    config_file: Path,
    directory: Path,
    *,
    jobs: int = 1,
    dask_address: str | None = None,
    force: bool = False,
    on_point_done: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep and assemble its outputs.

    Parameters
    ----------
    data : dict
        The experiment's parsed TOML data, with a ``[sweep]`` table.
    config_file : Path
        Where it came from.
    directory : Path
        The sweep folder; rerunning with the same config resumes it.
    jobs : int
        Parallel local workers (joblib); ignored with ``dask_address``.
    dask_address : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to run the points on.
    force : bool
        Discard a folder that holds another sweep.
    on_point_done : callable, optional
        Called with each finished point's folder (for a progress bar).
    """
    from experiments.sweep_report import answer_question, write_sweep_outputs

    points = sweep_points(data, config_file.name)
    prepare_sweep_dir(directory, data, force)
    todo = pending(points, directory)
    runner = (run_dask(todo, directory, config_file.name, dask_address) if dask_address
              else run_local(todo, directory, config_file.name, jobs))
    for finished in runner:
        if on_point_done:
            on_point_done(finished)
    tidy, summary = collect(points, directory)
    config = parse_config(data, config_file.name)
    answer = answer_question(config, summary)
    write_sweep_outputs(directory, config, points, tidy, summary, answer)
    manifest = build_manifest(
        run_id=directory.name, experiment=config.experiment.name, config=data,
        config_file=config_file, seed=points[0].seed, population_size=config.population.size,
        directory=directory, manifest_name="sweep_manifest.json", details={
            "ran_now": len(todo), "already_done": len(points) - len(todo),
            "points": [{"point": p.point_id, "params": p.params, "seed": p.seed,
                        "manifest": f"{POINTS_DIR}/{p.point_id}/manifest.json"}
                       for p in points],
        },
    )
    (directory / "sweep_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                                   encoding="utf-8")
    return SweepResult(directory, tidy, summary, answer, len(todo), len(points) - len(todo))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """CSV with rounded floats and Unix line ends, as every table of the project."""
    rounded_frame(frame).to_csv(path, index=False, lineterminator="\n")

