"""Running and reading experiments from Python (a notebook, a script), as the command does.

>>> from experiments.api import run, load                                     # doctest: +SKIP
>>> result = run("immigration-os", size=20_000, seed=1, out="runs/ios-s1")
>>> finished = load("runs/ios-s1")
>>> finished.tables["metrics"].query("metric == 'fpr'")
>>> compare("runs/ios-s1", "runs/ios-s2").disparities                         # doctest: +SKIP
>>> swept = sweep("capacity", seeds=[1, 2, 3], jobs=2, size=20_000)           # doctest: +SKIP
>>> swept.summary.query("metric == 'fpr'")[["system.capacity", "ratio_pooled"]]

Each function is also ``experiments.<name>`` (``import experiments; experiments.run(...)``).
Errors name the parameter to change (``out``, ``force=True``), as the commands name their
flags.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.engine.runner import RunResult
from experiments.errors import UsageError
from experiments.sweeps.runner import SweepResult

#: How the commands' messages spell an option, and the parameter of this module it is here.
PARAMETER_SPELLING: dict[str, str] = {
    "pass --force": "pass force=True",
    "add --force": "pass force=True",
    "--force": "force=True",
    "--out": "out",
    "--results-dir": "results_dir",
    "--size": "size",
    "--seed": "seed",
    "--jobs": "jobs",
    "--dask": "dask",
    "--no-attribution": "attribution=False",
    "--replicates": "replicates",
}


def _for_python(error: UsageError) -> UsageError:
    """The same error, with every command-line option spelt as this module's parameter."""
    message = str(error)
    for flag, parameter in PARAMETER_SPELLING.items():
        message = message.replace(flag, parameter)
    return type(error)(message)


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
        attribution: bool = True, results_dir: str | Path = "results",
        set: Mapping[str, Any] | None = None,  # noqa: A002 - named as the --set option
        remedies: Sequence[str] | None = None, replicates: int | None = None,
        dask: str | None = None, jobs: int | None = None) -> RunResult:
    """Run an experiment and write its results folder, exactly as ``bias-audit run`` does.

    Parameters
    ----------
    experiment : str or Path
        A shipped experiment's name (``bias-audit experiments``) or a TOML file.
    size, seed : int, optional
        Override ``population.size`` and ``experiment.seed``.
    set : mapping, optional
        Dotted keys to values, as ``--set`` (``{"mechanisms.label_bias.strength": 0}``),
        validated as if written in the file and recorded in the manifest's ``overrides``;
        ``size`` and ``seed`` win over the same keys here.
    remedies : sequence of str, optional
        Remedies to run beside the system (``remedies.apply``; ``["all"]`` for every one
        the system supports), as ``--remedy``.
    replicates : int, optional
        Redraw the system's own randomness this many times on the same people and pool
        every estimate (``experiment.replicates``), as ``--replicates``.
    out : str or Path, optional
        Exact folder to write (the same rules as ``--out``); default
        ``results/<experiment>/<run-id>/``.
    force : bool
        Replace an existing ``out`` that this tool wrote.
    attribution : bool
        Run the experiment's knob worlds (False skips them, as ``--no-attribution``).
    results_dir : str or Path
        Parent folder of runs when ``out`` is not given.
    dask : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) whose workers compute the
        attribution worlds and the replicates, as ``--dask``; the tables are the same.
    jobs : int, optional
        Worker processes on this machine that compute the further replicates (each with its
        worlds) when the run has more than one, as ``--jobs`` (default:
        ``BIAS_AUDIT_JOBS``, else 1: everything in this process). The tables are the same
        bytes whatever the number.

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
    from experiments.config import ConfigError, load_config
    from experiments.engine.checks import check_experiment
    from experiments.engine.manifest import name_override, recording_overrides
    from experiments.engine.runner import run_experiment

    sets = _checked_set(set)
    overrides: dict[str, Any] = dict(sets)
    if size is not None:
        overrides["population.size"] = size
    if seed is not None:
        overrides["experiment.seed"] = seed
    if remedies is not None:
        overrides["remedies.apply"] = [remedies] if isinstance(remedies, str) else list(remedies)
    if replicates is not None:
        overrides["experiment.replicates"] = replicates
    try:
        try:
            config, path = load_config(experiment, overrides)
            check_experiment(config, path.name)
        except ConfigError as error:
            raise name_override(error, sets, "set") from None
        if out is None and force:
            raise UsageError("force: only applies with out")
        with run_pool(dask, jobs, config.experiment.replicates) as pool, \
                recording_overrides(overrides):
            return run_experiment(config, path, results_dir=Path(results_dir),
                                  out=None if out is None else Path(out), force=force,
                                  attribution=attribution, pool=pool)
    except UsageError as error:
        raise _for_python(error) from error.__cause__


@contextlib.contextmanager
def run_pool(address: str | None, jobs: int | None = 1, replicates: int = 1
                 ) -> Iterator[Any]:
    """Where a run's replicates and worlds are computed while the block runs.

    A :class:`~experiments.engine.pool.DaskPool` on the cluster at ``address``; without an
    address, a :class:`~experiments.engine.pool.LocalPool` of ``jobs`` processes when the
    run has more than one replicate (``jobs=None``: ``BIAS_AUDIT_JOBS``, else 1); otherwise
    None (everything computed in this process). The tables are the same bytes in every case.

    Raises
    ------
    UsageError
        In one line, before anything is computed, where no scheduler with workers answers,
        or where ``jobs`` (or ``BIAS_AUDIT_JOBS``) is not a whole number of at least 1.
    """
    if address is None:
        workers = run_jobs(jobs)
        if workers < 2 or replicates < 2:
            yield None
            return
        from experiments.engine.pool import LocalPool

        # A worker per further replicate at most: the first is this process's.
        with LocalPool(min(workers, replicates - 1)) as pool:
            yield pool
        return
    from experiments.engine.pool import DaskPool
    from experiments.sweeps.runner import connect_dask

    with DaskPool(connect_dask(address)) as pool:
        yield pool


#: The environment variable that sets a run's worker processes when --jobs is not given.
JOBS_VARIABLE = "BIAS_AUDIT_JOBS"


def run_jobs(jobs: int | None) -> int:
    """The worker processes of a run: ``jobs``, else ``BIAS_AUDIT_JOBS``, else 1.

    One process is the default: a system that keeps what its replicates share (the same
    people's posts and features) in memory does as well alone as with workers that must
    each rebuild it, and a worker's start costs seconds on a small run.

    Raises
    ------
    UsageError
        Where the number is not a whole number of at least 1, naming where it came from.
    """
    import os

    where = "--jobs"
    if jobs is None:
        text = os.environ.get(JOBS_VARIABLE, "").strip()
        if not text:
            return 1
        where = f"the environment variable {JOBS_VARIABLE}"
        try:
            jobs = int(text)
        except ValueError:
            raise UsageError(f"{where} must be a whole number of processes (1 or more), "
                             f"got {text!r}") from None
    if jobs < 1:
        raise UsageError(f"{where} must be 1 or more processes, got {jobs}")
    return jobs


def _checked_set(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``set=`` as a dict of dotted keys, each checked as ``--set`` checks its keys."""
    import re

    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise UsageError("set: give a mapping of dotted keys to values, as in "
                         "set={'mechanisms.label_bias.strength': 0}")
    for key in values:
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*",
                                                         key):
            raise UsageError(f"set: {key!r} is not a dotted key such as "
                             "mechanisms.label_bias.strength")
    return dict(values)


def sweep(experiment: str | Path, *, seeds: list[int] | None = None, jobs: int = 1,
          out: str | Path | None = None, size: int | None = None, dask: str | None = None,
          force: bool = False, progress: bool = False, results_dir: str | Path = "results",
          set: Mapping[str, Any] | None = None,  # noqa: A002 - named as the --set option
          ) -> SweepResult:
    """Run (or resume) a sweep and write its folder, exactly as ``bias-audit sweep`` does.

    Points already finished in the folder are reused, also when ``seeds`` or the grid grew
    since: each point's folder is named by the point's own config and seed.

    Parameters
    ----------
    experiment : str or Path
        A shipped sweep's name (``bias-audit experiments``) or a TOML file with ``[sweep]``.
    seeds : list of int, optional
        Replace ``sweep.seeds`` (adding a seed to a finished sweep runs only its points).
    jobs : int
        Parallel local workers (joblib).
    out : str or Path, optional
        The sweep folder; default ``<results_dir>/<name>-sweep`` (a name that already ends in
        ``-sweep`` is not doubled).
    size : int, optional
        Override ``population.size`` at every point.
    dask : str, optional
        Address of a Dask scheduler (``tcp://host:8786``) to run the points on instead.
    force : bool
        Discard a folder that holds another experiment's sweep, or other files.
    progress : bool
        Show a progress bar on standard error.
    results_dir : str or Path
        Parent folder of the default ``out``.
    set : mapping, optional
        Dotted keys to values set at every point, as ``--set``; recorded in the manifests.

    Returns
    -------
    SweepResult
        ``directory``; ``tidy`` (sweep_metrics.csv) and ``summary`` (sweep_summary.csv, with
        the pooled gaps and their intervals); ``answer`` (the report's finding); ``report``
        and ``report_markdown`` (the report's paths); ``ran`` and ``skipped`` (points run
        now and reused).

    Raises
    ------
    UsageError
        An unknown experiment, an invalid key, value or seed (named by its key path), a
        folder that may not be used, or a Dask address nobody answers at.
    experiments.sweeps.runner.SweepIncomplete
        When some points failed: its ``failed`` lists each point and its reason; the other
        points are kept and the same call retries the failed ones.
    """
    from experiments.config import (
        ConfigError,
        parse_config,
        read_experiment_data,
        resolve_experiment,
    )
    from experiments.engine.checks import check_experiment
    from experiments.engine.manifest import apply_overrides, name_override, recording_overrides
    from experiments.engine.output import resolve_output_dir
    from experiments.sweeps.runner import default_sweep_dir, pending, run_sweep, sweep_points

    try:
        if jobs < 1:
            raise UsageError(f"jobs must be at least 1, got {jobs}")
        path = resolve_experiment(experiment)
        data = read_experiment_data(path)
        sets = _checked_set(set)
        overrides = dict(sets)
        if size is not None:
            overrides["population.size"] = size
        if seeds is not None:
            overrides["sweep.seeds"] = list(seeds)
        apply_overrides(data, overrides, path.name, "set")
        try:
            config = parse_config(data, path.name)
            check_experiment(config, path.name)
            points = sweep_points(data, path.name)
        except ConfigError as error:
            raise name_override(error, sets, "set") from None
        directory = (Path(out) if out is not None
                     else default_sweep_dir(config.experiment.name, Path(results_dir)))
        resolve_output_dir(directory, "", force, inputs=[path], resume=True, option="out")
        bar = None
        if progress:
            from tqdm import tqdm

            todo = len(pending(points, directory)) if directory.exists() else len(points)
            bar = tqdm(total=todo, unit="point")
        try:
            with recording_overrides(overrides):
                return run_sweep(data, path, directory, jobs=jobs, dask_address=dask,
                                 force=force,
                                 on_point_done=(lambda _: bar.update()) if bar else None,
                                 on_point_failed=(lambda _: bar.update()) if bar else None)
        finally:
            if bar is not None:
                bar.close()
    except UsageError as error:
        raise _for_python(error) from error.__cause__


#: Files a user may delete from a finished run without making it unreadable: each person's
#: decision is large, and only ``compare``'s paired interval needs it (without it, compare
#: falls back to the independent interval and says so).
REMOVABLE_FILES = frozenset({"decisions.parquet"})


def load(directory: str | Path, verify: bool = True) -> LoadedRun:
    """Read a finished run's folder: its manifest and every table.

    Parameters
    ----------
    directory : str or Path
        A folder written by :func:`run` or ``bias-audit run``.
    verify : bool
        Check every file against the SHA-256 the manifest holds, so a table edited by hand
        is not read as the run's. ``decisions.parquet`` alone may be missing (it is large,
        and only compare's paired interval reads it); present, it must match too.

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
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        # A damaged or hand-made manifest cannot say which files are the run's.
        raise UsageError(f"directory: {str(manifest_path)!r} is not a manifest this tool "
                         "wrote (not a JSON object with its files); give the folder of a "
                         "finished run")
    if verify:
        for name, expected in manifest.get("files", {}).items():
            digest = expected if isinstance(expected, str) else expected.get("sha256", "")
            path = directory / name
            if name in REMOVABLE_FILES and not path.exists():
                continue
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise UsageError(f"{name} in {str(directory)!r} does not match the hash in its "
                                 "manifest; it was changed or removed after the run")
    tables = {path.stem: pd.read_csv(path, keep_default_na=False, na_values=[""])
              for path in sorted(directory.glob("*.csv"))}
    return LoadedRun(directory, manifest, tables)


def compare(run_a: str | Path | LoadedRun, run_b: str | Path | LoadedRun, *,
            results_dir: str | Path = "results") -> Any:
    """Compare two finished runs, as ``bias-audit compare`` does: of one experiment, or two
    variants (experiments of other names) that share a system and a population profile.

    Parameters
    ----------
    run_a, run_b : str, Path or LoadedRun
        A run folder, a run id under ``results_dir`` (``bias-audit runs`` lists them), or a
        run already read with :func:`load`.
    results_dir : str or Path
        Where run ids are looked up.

    Returns
    -------
    experiments.reports.compare.RunComparison
        ``disparities`` (every focus comparison of either run: its gap in both runs with its
        interval, the change between them with its interval, ``pairing`` and a verdict),
        ``config_differences``, ``shared_people``, ``paired``; ``to_markdown()``,
        ``to_html()`` and ``write(folder)``. Runs on different people are compared as two
        independent estimates. Runs on the same people (same profile, seed and size) whose
        folders both hold ``decisions.parquet`` are paired person by person
        (:func:`audit.compare.compare`); without those files they get the independent
        interval, and the comparison says it is conservative.

    Raises
    ------
    UsageError
        When a run cannot be found, or the runs are of different systems or population
        profiles.

    Examples
    --------
    >>> from experiments.api import compare                                    # doctest: +SKIP
    >>> comparison = compare("runs/ios-s1", "runs/ios-s2")
    >>> comparison.disparities[["label", "view", "change", "change_low", "change_high"]]
    """
    from experiments.reports.compare import compare_runs, find_run

    loaded = [run if isinstance(run, LoadedRun) else load(find_run(run, results_dir))
              for run in (run_a, run_b)]
    return compare_runs(*loaded)
