"""The run queue: a page's runs, one at a time, each cancellable, none left half-written.

Runs go through :func:`experiments.engine.runner.run_experiment` on one worker thread: a run
uses every core it can, so two at once would only make both slower. A run with further
replicates sends them to worker processes the queue keeps warm between runs (see
:func:`replicates_in_workers`), so a page's run pays no worker's start. Each run belongs to the
tab that asked for it (its session token) and is known by an unguessable id. Cancelling sets
a flag that the runner's progress callback turns into an exception at its next step; the
runner then removes its staging folder, and :meth:`JobQueue.shutdown` removes any staging
folder a run of ours still left behind, so a stopped server leaves only complete runs.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.config import ExperimentConfig
from experiments.engine.output import STAGING_PREFIXES

#: Runs at once. A run is CPU-bound and uses the machine's cores itself.
WORKERS = 1
#: Worker processes kept warm for runs' further replicates (no more than the cores).
REPLICATE_WORKERS = 2
#: Runs a tab may have waiting or running at once.
MAX_PENDING_PER_SESSION = 3
#: Progress lines kept per run.
MAX_MESSAGES = 200


class RunCancelled(Exception):
    """Raised inside a run's progress callback when the run was cancelled."""


@dataclass
class Job:
    """One run asked for by a page."""

    id: str
    owner: str
    experiment: str
    config: ExperimentConfig
    config_file: Path
    attribution: bool
    overrides: dict[str, Any]
    target: Path
    status: str = "queued"  # queued, running, done, failed, cancelled
    messages: list[str] = field(default_factory=list)
    error: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Staging folders beside the target before the run began (see _remove_new_staging).
    staging_before: set[str] | None = None
    #: The numbers, as the result page shows them, once the tables are written and while the
    #: report is (see :func:`experiments.serve.results.preview_summary`).
    preview: dict[str, Any] | None = None

    @property
    def pending(self) -> bool:
        """Whether the run is still waiting or running."""
        return self.status in ("queued", "running")

    def public(self) -> dict[str, Any]:
        """What the page may know of the run (no file paths)."""
        now = self.finished or time.time()
        return {
            "id": self.id, "experiment": self.experiment, "status": self.status,
            "message": self.messages[-1] if self.messages else "waiting for the worker",
            "messages": self.messages[-20:], "error": self.error,
            "attribution": self.attribution, "overrides": self.overrides,
            "seed": self.config.experiment.seed, "size": self.config.population.size,
            "seconds": round(now - (self.started or now), 1),
            "queued_seconds": round((self.started or now) - self.created, 1),
            "preview": self.preview if self.status == "running" else None,
        }


class JobQueue:
    """Runs of the sandbox's pages, on :data:`WORKERS` threads.

    Parameters
    ----------
    results_dir : Path
        Where run folders are written (``<experiment>/<run folder>/``).
    """

    def __init__(self, results_dir: Path, replicate_workers: int = REPLICATE_WORKERS) -> None:
        from synthetic.threads import usable_cores

        self.results_dir = Path(results_dir)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="run")
        self._closed = False
        #: Worker processes for further replicates; none on a machine with one core.
        self.replicate_workers = min(replicate_workers, usable_cores())
        self._pool: Any = None
        if self.replicate_workers > 1:
            # Started now, so that they have imported what a run needs before the first.
            self._pool = self._new_pool()

    def _new_pool(self) -> Any:
        from experiments.engine.pool import LocalPool

        return LocalPool(self.replicate_workers)

    def submit(self, owner: str, experiment: str, config: ExperimentConfig, config_file: Path,
               attribution: bool, overrides: dict[str, Any]) -> Job:
        """Queue a validated run for a session.

        Raises
        ------
        RuntimeError
            When the session already has :data:`MAX_PENDING_PER_SESSION` runs waiting, or
            the server is stopping.
        """
        from experiments.engine.runner import make_run_id

        with self._lock:
            if self._closed:
                raise RuntimeError("the server is stopping")
            pending = [j for j in self._jobs.values() if j.owner == owner and j.pending]
            if len(pending) >= MAX_PENDING_PER_SESSION:
                raise RuntimeError(f"this tab already has {len(pending)} runs waiting; wait "
                                   "for one to finish or cancel it")
            job_id = secrets.token_urlsafe(18)
            # The folder name is the runner's run id plus a random suffix, so two runs in
            # one second never meet.
            folder = f"{make_run_id(config.experiment.seed)}-{secrets.token_hex(4)}"
            job = Job(job_id, owner, experiment, config, config_file, attribution, overrides,
                      self.results_dir / config.experiment.name / folder)
            self._jobs[job_id] = job
        self._executor.submit(self._run, job)
        return job

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """A run by id; with ``owner``, only that session's."""
        job = self._jobs.get(job_id)
        if job is None or (owner is not None and job.owner != owner):
            return None
        return job

    def of_owner(self, owner: str) -> list[Job]:
        """A session's runs, oldest first."""
        return sorted((j for j in self._jobs.values() if j.owner == owner),
                      key=lambda j: j.created)

    def directories(self) -> dict[Path, Job]:
        """Folders of the finished runs made here, each with its run."""
        return {j.target.resolve(): j for j in self._jobs.values() if j.status == "done"}

    def cancel(self, job_id: str, owner: str) -> Job | None:
        """Ask a session's run to stop; a queued run never starts."""
        job = self.get(job_id, owner)
        if job is not None and job.pending:
            job.cancel.set()
            if job.status == "queued":
                job.status = "cancelled"
                job.finished = time.time()
        return job

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every run, wait for the worker, and remove staging folders runs left."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.close(kill=True)
        deadline = time.time() + timeout
        while any(j.status == "running" for j in jobs) and time.time() < deadline:
            time.sleep(0.1)
        for job in jobs:
            if job.status != "done":
                _remove_new_staging(job.target.parent, job.staging_before)

    def _run(self, job: Job) -> None:
        from experiments.engine.runner import run_experiment
        from experiments.serve.results import preview_summary

        if job.cancel.is_set():
            job.status = "cancelled"
            return
        job.status, job.started = "running", time.time()
        parent = job.target.parent
        job.messages.append("starting")
        before = job.staging_before = _staging_names(parent)

        def progress(message: str) -> None:
            if job.cancel.is_set():
                raise RunCancelled
            if len(job.messages) < MAX_MESSAGES:
                job.messages.append(message)

        def numbers(staging: Path, fields: dict[str, Any]) -> None:
            job.preview = preview_summary(staging, fields)
            progress("numbers ready; writing the report")

        pool = self._pool if replicates_in_workers(job.config) else None
        try:
            run_experiment(job.config, job.config_file, out=job.target, progress=progress,
                           attribution=job.attribution, on_tables=numbers, pool=pool)
        except RunCancelled:
            job.status, job.error = "cancelled", "cancelled"
        except Exception as error:  # a refusal or a bug: the page shows it, the server lives
            job.status = "failed"
            job.error = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        else:
            job.status = "done"
            job.messages.append("done")
        finally:
            job.finished = time.time()
            if job.status != "done":
                _remove_new_staging(parent, before)
            if pool is not None:
                self._after_pooled_run(pool)

    def _after_pooled_run(self, pool: Any) -> None:
        """Forget a run's tasks; where some are still computing (the run stopped early) or
        ended in an error (a worker may have died), replace the workers by fresh ones."""
        if pool.settled():
            pool.cancel()
            return
        pool.close(kill=True)
        with self._lock:
            if not self._closed:
                self._pool = self._new_pool()


def replicates_in_workers(config: ExperimentConfig) -> bool:
    """Whether a page's run sends its further replicates to the queue's worker processes.

    A run of one replicate has nothing to send. A system that declares ``WORKS_AHEAD`` (its
    adapter fits the replicates' models ahead on a second core and keeps what they share in
    this process, see :func:`experiments.systems.contract.run_plan`) already keeps both
    cores busy, and workers would each rebuild what it shares: its replicates stay here.
    The tables are the same bytes either way.
    """
    from experiments.config.registry import system_adapter

    if config.experiment.replicates < 2:
        return False
    return not getattr(system_adapter(config.experiment.system), "WORKS_AHEAD", False)


def _staging_names(parent: Path) -> set[str]:
    if not parent.is_dir():
        return set()
    return {p.name for p in parent.iterdir() if p.name.startswith(STAGING_PREFIXES)}


def _remove_new_staging(parent: Path, before: set[str] | None) -> None:
    """Remove staging folders that appeared in ``parent`` while a run of ours ran there.

    The runner removes its own on any exception; this catches one left by an interruption
    it could not see. Runs here are one at a time, so a new staging folder is ours.
    """
    if before is None or not parent.is_dir():
        return
    for name in _staging_names(parent) - before:
        shutil.rmtree(parent / name, ignore_errors=True)
