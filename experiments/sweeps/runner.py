"""Sweeps: one experiment run over a grid of config values times a list of seeds.

Every point is an ordinary run (tables and manifest, no figures). Points are computed in
parallel with joblib on one machine, or on a Dask distributed cluster whose workers share no
folder or disk with the client: a point's computation returns its tables as bytes
(:mod:`experiments.sweeps.point`), and the client alone writes each point atomically into
``<sweep folder>/points/<point id>/``, named by the point's own config and seed. An
interrupted sweep resumes by skipping the points whose folder is complete, and a sweep given
more seeds or grid values runs only the points it did not have; a point that fails is reported
with its grid values and seed while the others finish and are kept. Each point is
deterministic given its config, and joblib and Dask run the same function, so both give the
same bytes. When every point is done, the sweep's tables, figures, manifest and report are
assembled from the points' files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import ConfigError, parse_config, set_dotted
from experiments.engine.checks import check_experiment
from experiments.engine.manifest import build_manifest
from experiments.errors import UsageError
from experiments.sweeps.adjusted import collect_adjusted
from experiments.sweeps.point import (
    PointFailure,
    PointResult,
    SweepPoint,
    compute_point,
    one_line,
    write_point,
)

POINTS_DIR = "points"
SWEEP_STATE = "sweep.json"
#: Seconds to wait for a Dask scheduler to answer before giving up on its address.
CONNECT_TIMEOUT = 3.0
#: Seconds to wait for a Dask scheduler that answers to have at least one worker.
WORKER_WAIT = 10.0
#: Most points a sweep may have: each is a whole run with its own folder, and the grid is
#: expanded in memory before the first runs, so a typo (a range of a million values) is
#: refused with its size rather than attempted.
MAX_SWEEP_POINTS = 10_000


def sweep_points(data: dict[str, Any], source: str = "experiment") -> list[SweepPoint]:
    """Expand an experiment's ``[sweep]`` table into validated points.

    Every point's config is validated and checked against its population profile here,
    before any work, so a bad grid value is reported with its key path and the point it
    belongs to.
    """
    config = parse_config(data, source)
    if config.sweep is None:
        raise ConfigError(f"{source}: no [sweep] table; add one with seeds and a grid")
    keys = list(config.sweep.grid)
    check_sweep_size(config, source)
    combinations = list(itertools.product(*(config.sweep.grid[k] for k in keys))) or [()]
    points = []
    for values in combinations:
        params = dict(zip(keys, values, strict=True))
        for seed in config.sweep.seeds:
            point = json.loads(json.dumps(data))  # a deep copy of plain TOML data
            point.pop("sweep", None)
            if not config.sweep.attribution:  # the point runs no knob worlds at all
                point.pop("attribution", None)
            for key, value in params.items():
                set_dotted(point, key, value)
            set_dotted(point, "experiment.seed", seed)
            where = ", ".join(f"{k} = {v!r}" for k, v in params.items()) or "no grid"
            label = f"{source} (sweep point {where}, seed {seed})"
            try:
                point_config = parse_config(point, label)
                if seed == config.sweep.seeds[0]:  # the checks do not depend on the seed
                    check_experiment(point_config, label)
            except ConfigError as error:
                raise ConfigError(str(error)) from None
            points.append(SweepPoint(point_id(point), params, seed, point))
    return points


def check_sweep_size(config: Any, source: str = "experiment") -> int:
    """Refuse, before expanding it, a sweep with more than :data:`MAX_SWEEP_POINTS` points.

    Parameters
    ----------
    config : ExperimentConfig
        A parsed experiment with a ``[sweep]`` table.
    source : str
        The file's name, for the message.

    Returns
    -------
    int
        The number of points (grid combinations times seeds).

    Raises
    ------
    ConfigError
        With the number of points, how it arises and the people it would simulate.
    """
    lengths = [len(values) for values in config.sweep.grid.values()]
    combinations = math.prod(lengths)
    points = combinations * len(config.sweep.seeds)
    if points > MAX_SWEEP_POINTS:
        shape = " × ".join(str(n) for n in lengths) or "1"
        people = points * config.population.size
        raise ConfigError(
            f"{source}: sweep has {points:,} points ({shape} grid values × "
            f"{len(config.sweep.seeds)} seeds), {people:,} simulated people in all; the limit "
            f"is {MAX_SWEEP_POINTS:,} points: shorten sweep.grid or sweep.seeds")
    return points


def point_id(point_data: dict[str, Any]) -> str:
    """A point's folder name: a fingerprint of its own config, seed aside, and its seed.

    The name depends on nothing else in the sweep, so a point finished once is found again
    when seeds or grid values are added to the sweep (or removed and added back) and is not
    run again; the seeds of one grid value share the fingerprint (``3f0c1a9e2b7d-s1``).
    """
    config = json.loads(json.dumps(point_data))
    seed = config.get("experiment", {}).pop("seed", None)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    return f"{digest[:12]}-s{seed}"


def default_sweep_dir(name: str, results_dir: Path = Path("results")) -> Path:
    """``results/<name>-sweep``, or ``results/<name>`` when the name already ends so."""
    return results_dir / (name if name.endswith("-sweep") else f"{name}-sweep")


def sweep_hash(data: dict[str, Any]) -> str:
    """Fingerprint of a sweep's full config, recorded in its folder's state file."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def prepare_sweep_dir(directory: Path, data: dict[str, Any], force: bool) -> None:
    """Create or reuse a sweep folder; refuse one that holds another experiment's sweep.

    A folder of the same experiment is reused whatever its grid and seeds were: each point's
    folder is named by the point's own config (:func:`point_id`), so the finished points this
    sweep shares with the folder's are kept and only the others run.
    """
    state = directory / SWEEP_STATE
    fingerprint = sweep_hash(data)
    name = data.get("experiment", {}).get("name")
    if state.exists():
        recorded = json.loads(state.read_text(encoding="utf-8")).get("config", {})
        recorded_name = recorded.get("experiment", {}).get("name")
        if recorded_name != name:
            if not force:
                raise UsageError(
                    f"{str(directory)!r} holds the sweep of another experiment "
                    f"({recorded_name!r}, not {name!r}); choose another --out, or pass "
                    "--force to discard it and start again"
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
    for stale in [*(directory / POINTS_DIR).glob(".partial-*"),
                  *(directory / POINTS_DIR).glob(".replaced-*")]:
        shutil.rmtree(stale, ignore_errors=True)  # left by an interrupted point
    state.write_text(json.dumps({"config_sha256": fingerprint, "config": data}, indent=1)
                     + "\n", encoding="utf-8")


def pending(points: list[SweepPoint], directory: Path) -> list[SweepPoint]:
    """Points whose folder is not complete yet (a complete folder has its manifest)."""
    return [p for p in points
            if not (directory / POINTS_DIR / p.point_id / "manifest.json").exists()]


def run_local(points: list[SweepPoint], config_file: str, jobs: int
              ) -> Iterator[PointResult | PointFailure]:
    """Compute points with joblib, yielding each point's results as it finishes."""
    from joblib import Parallel, delayed

    tasks = (delayed(compute_point)(p.point_id, p.data, config_file) for p in points)
    if jobs == 1:
        for task in tasks:
            function, args, kwargs = task
            yield function(*args, **kwargs)
        return
    yield from Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks)


def check_dask_address(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Refuse, in one line and within ``timeout`` seconds, an address nobody answers at.

    A plain TCP connection to a ``tcp://`` or ``tls://`` address (the scheme may be left
    out): it fails fast and quietly where nobody listens, without importing Dask and without
    the client's retries and log lines. Other schemes are left to the client.

    Raises
    ------
    UsageError
        A malformed address, or nobody answering there.
    """
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp", "tls"):
        return
    host, _, port = location.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:8786
    if not host or not port.isdigit():
        raise UsageError(f"--dask {address!r}: no host and port number; give an address "
                         "like tcp://127.0.0.1:8786")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise UsageError(
            f"--dask {address!r}: no Dask scheduler answers there ({reason}); start one with "
            "`dask scheduler` or check the address"
        ) from None


def connect_dask(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address``, with at least one worker.

    Fails within about ``timeout`` seconds (plus the wait for a worker) with one line naming
    the address when nobody answers there, rather than after Dask's long default retries.

    Raises
    ------
    UsageError
        Dask distributed not installed, a malformed address, nobody answering, or a
        scheduler without workers.
    """
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--dask needs Dask distributed: pip install 'bias-audit-sandbox[distributed]'"
        ) from None
    check_dask_address(address, timeout)
    try:
        client = Client(address, timeout=f"{timeout:g}s", set_as_default=False)
    except Exception as error:  # noqa: BLE001 - whatever the handshake raised, one line
        raise UsageError(
            f"--dask {address!r}: could not connect to a Dask scheduler there "
            f"({one_line(str(error)) if str(error) else type(error).__name__})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError:
        client.close()
        raise UsageError(
            f"--dask {address!r}: the scheduler has no workers after {WORKER_WAIT:g} s; start "
            f"some with `dask worker {address}`"
        ) from None
    return client


def run_dask(points: list[SweepPoint], config_file: str, client: Any
             ) -> Iterator[PointResult | PointFailure]:
    """Compute points on a Dask cluster, yielding each point's results as it finishes.

    Only the point's plain config data travels to a worker and only its results come back:
    nothing assumes the workers share the client's folder or disk.
    """
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {client.submit(compute_point, p.point_id, p.data, config_file,
                             key=f"bias-audit-point-{p.point_id}-{token}", pure=False): p
               for p in points}
    try:
        for future in as_completed(list(futures), loop=client.loop):
            point = futures[future]
            try:
                yield future.result()
            except Exception as error:  # noqa: BLE001 - a worker lost, say: that point fails
                reason = one_line(f"{type(error).__name__}: {error}")
                yield PointFailure(point.point_id, f"on the cluster: {reason}")
            finally:
                future.release()
    finally:
        unfinished = [f for f in futures if not f.done()]
        if unfinished:  # an interrupted sweep leaves no work behind on the cluster
            client.cancel(unfinished)


def collect(points: list[SweepPoint], directory: Path, confidence: float = 0.95
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy table over all points, and its summary across seeds.

    The summary holds plain statistics over seeds and, for the gap to the reference group
    (difference and ratio), the seeds pooled with their within-run intervals
    (:func:`audit.pooling.pool_seeds`; ``confidence`` is the runs' level).
    """
    from audit.pooling import pool_seeds

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
        seeds=("seed", "nunique"), reference=("reference", "first"),
        value_mean=("value", "mean"), value_sd=("value", "std"),
        value_min=("value", "min"), value_max=("value", "max"),
        difference_mean=("difference", "mean"),
        ratio_mean=("ratio", "mean"), ratio_sd=("ratio", "std"),
        ratio_min=("ratio", "min"), ratio_max=("ratio", "max"),
        significant_share=("p_holm", lambda p: float((p < 0.05).mean())),
    ).reset_index()
    pooled = pool_seeds(tidy, keys, confidence)
    summary = summary.merge(pooled, on=keys, how="left", validate="one_to_one")
    return tidy, summary


@dataclass
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    directory : Path
        The sweep folder.
    tidy : DataFrame
        sweep_metrics.csv: every metric of every point, with its grid values and seed.
    summary : DataFrame
        sweep_summary.csv: statistics over seeds and the pooled gaps with their intervals.
    answer : str
        The built-in analysis's answer to the sweep's question (empty without
        ``sweep.answer``).
    ran, skipped : int
        Points computed now, and points found finished in the folder and reused.
    contrasts : DataFrame
        sweep_contrasts.csv: each focus comparison's change of gap between grid values (each
        value against the first) and its trend per unit, paired by seed
        (:func:`experiments.sweeps.contrasts.sweep_contrasts`).
    findings : list of str
        One sentence per focus comparison (and swept key): what moving the key from its first
        to its last value does to the gap, by the truth and by the records.
    """

    directory: Path
    tidy: pd.DataFrame
    summary: pd.DataFrame
    answer: str
    ran: int
    skipped: int
    contrasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    findings: list[str] = field(default_factory=list)

    @property
    def report(self) -> Path:
        """The HTML report (sweep_report.html); sweep_report.md sits next to it."""
        return self.directory / "sweep_report.html"

    @property
    def report_markdown(self) -> Path:
        """The Markdown report (sweep_report.md)."""
        return self.directory / "sweep_report.md"

    def __repr__(self) -> str:
        return (f"SweepResult({str(self.directory)!r}, {self.tidy['point'].nunique()} points "
                f"({self.ran} run now, {self.skipped} reused), report {str(self.report)!r})")


@dataclass(frozen=True)
class FailedPoint:
    """A point that raised, as the client reports it."""

    point: SweepPoint
    reason: str
    #: Traceback of an error that is not the user's to fix (kept in the sweep's state file).
    traceback: str | None = None

    def describe(self) -> str:
        """``point g001-s1 (system.capacity = 0.1, seed 1) failed: <reason>``, one line."""
        values = ", ".join(f"{k} = {v!r}" for k, v in self.point.params.items())
        where = f"{values}, seed {self.point.seed}" if values else f"seed {self.point.seed}"
        saved = f" (traceback in {SWEEP_STATE})" if self.traceback else ""
        return f"point {self.point.point_id} ({where}) failed: {self.reason}{saved}"


class SweepIncomplete(Exception):  # noqa: N818 - reads as what happened, like StopIteration
    """Some points failed; the finished ones are kept and a rerun resumes."""

    def __init__(self, failed: list[FailedPoint], total: int, directory: Path) -> None:
        self.failed, self.total, self.directory = failed, total, directory
        super().__init__(
            f"{len(failed)} of {total} points failed; the finished points are kept in "
            f"{str(directory)!r}; run the same command again to retry the failed ones"
        )


def run_sweep(
    data: dict[str, Any],
    config_file: Path,
    directory: Path,
    *,
    jobs: int = 1,
    dask_address: str | None = None,
    force: bool = False,
    on_point_done: Callable[[str], None] | None = None,
    on_point_failed: Callable[[FailedPoint], None] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep and assemble its outputs.

    Wherever a point is computed, its results come back as data and are written here, by
    the calling process, into ``directory`` (see :mod:`experiments.sweeps.point`).

    Parameters
    ----------
    data : dict
        The experiment's parsed TOML data, with a ``[sweep]`` table.
    config_file : Path
        Where it came from.
    directory : Path
        The sweep folder, relative to this process's working folder or absolute; rerunning
        with the same config resumes it.
    jobs : int
        Parallel local workers (joblib); ignored with ``dask_address``.
    dask_address : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to run the points on.
    force : bool
        Discard a folder that holds another sweep.
    on_point_done : callable, optional
        Called with each finished point's folder (for a progress bar).
    on_point_failed : callable, optional
        Called with each point that failed, as it fails.

    Raises
    ------
    SweepIncomplete
        When some points failed, after every other point has finished and been written.
    UsageError
        A folder holding another sweep, or a Dask address nobody answers at.
    """
    from experiments.sweeps.contrasts import Focus, sweep_contrasts
    from experiments.sweeps.report import (
        answer_question,
        contrast_findings,
        focus_comparisons,
        write_sweep_outputs,
    )
    from experiments.writing.names import group_names, name_text

    points = sweep_points(data, config_file.name)
    # Connect before touching the folder: a wrong address should leave nothing behind.
    client = connect_dask(dask_address) if dask_address else None
    failed: list[FailedPoint] = []
    try:
        prepare_sweep_dir(directory, data, force)
        todo = pending(points, directory)
        by_id = {p.point_id: p for p in todo}
        outcomes = (run_dask(todo, config_file.name, client) if client is not None
                    else run_local(todo, config_file.name, jobs))
        for outcome in outcomes:
            if isinstance(outcome, PointFailure):
                failed.append(FailedPoint(by_id[outcome.point_id], outcome.reason,
                                          outcome.traceback))
                if on_point_failed:
                    on_point_failed(failed[-1])
                continue
            folder = write_point(outcome, directory / POINTS_DIR, Path(config_file.name))
            if on_point_done:
                on_point_done(str(folder))
    finally:
        if client is not None:
            client.close()
    if failed:
        _record_failures(directory, failed)
        raise SweepIncomplete(failed, len(points), directory)
    config = parse_config(data, config_file.name)
    tidy, summary = collect(points, directory, config.audit.confidence)
    answer = answer_question(config, summary)
    if config.sweep.answer == "remedies":  # pooled from each point's remedies.csv
        from experiments.sweeps.remedies import remedies_answer

        answer = remedies_answer(config, points, directory)
    contrasts = sweep_contrasts(tidy, dict(config.sweep.grid), [
        Focus(c.grouping, c.group, c.metrics or (c.metric,))
        for c in focus_comparisons(config, summary)[0]], config.audit.confidence)
    findings = contrast_findings(config, summary, contrasts)
    adjusted = collect_adjusted(points, directory, config.audit.confidence)
    write_sweep_outputs(directory, config, points, tidy, summary, answer, contrasts, findings,
                        adjusted)
    manifest = build_manifest(
        run_id=directory.name, experiment=config.experiment.name, config=data,
        config_file=config_file, seed=points[0].seed, population_size=config.population.size,
        directory=directory, manifest_name="sweep_manifest.json", details={
            "ran_now": len(todo), "already_done": len(points) - len(todo),
            # Points of earlier grids or seeds kept in points/ (hashed below, not used here).
            "kept_not_in_this_sweep": _other_points(points, directory),
            "points": [{"point": p.point_id, "params": p.params, "seed": p.seed,
                        "manifest": f"{POINTS_DIR}/{p.point_id}/manifest.json"}
                       for p in points],
        },
    )
    (directory / "sweep_manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                                   encoding="utf-8")
    names = group_names(pd.concat([tidy["group"].astype(str),
                                   tidy["reference"].dropna().astype(str)]).unique())
    return SweepResult(directory, tidy, summary, name_text(answer, names), len(todo),
                       len(points) - len(todo), contrasts,
                       [name_text(sentence, names) for sentence in findings])


def _other_points(points: list[SweepPoint], directory: Path) -> list[str]:
    """Finished point folders that belong to an earlier grid or seed list of this sweep."""
    current = {p.point_id for p in points}
    return sorted(path.name for path in (directory / POINTS_DIR).iterdir()
                  if path.is_dir() and not path.name.startswith(".")
                  and path.name not in current)


def _record_failures(directory: Path, failed: list[FailedPoint]) -> None:
    """Keep the failures of this attempt, tracebacks included, in the sweep's state file.

    The command line reports each failure in one line; the full traceback of an unexpected
    error is here for whoever debugs it. The next attempt rewrites the state file.
    """
    state_file = directory / SWEEP_STATE
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state["failed_points"] = [
        {"point": f.point.point_id, "params": f.point.params, "seed": f.point.seed,
         "reason": f.reason, "traceback": f.traceback} for f in failed]
    state_file.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
