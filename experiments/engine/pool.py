"""Where the independent pieces of one run are computed: here, or on a Dask cluster.

A run's attribution worlds and its replicates do not depend on one another, so a
:class:`DaskPool` can send them to the workers of a running cluster; the client keeps the
order, gathers the results and alone writes the run folder. Every piece is a deterministic
function of what it is sent, so a run gives the same bytes wherever its pieces ran.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any


class DaskPool:
    """The workers of a Dask cluster, reached through a connected ``distributed.Client``.

    Parameters
    ----------
    client : distributed.Client
        Connected to a scheduler with at least one worker. Used as a context manager, the
        pool closes it on leaving.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        #: Where the pieces run, for progress messages.
        self.where = "on the cluster"
        #: A run's own attribution worlds are sent here too, each a task.
        self.takes_worlds = True
        # Keys name a run's tasks apart from another client's run of the same experiment.
        self.token = uuid.uuid4().hex[:8]
        self._count = 0
        self._futures: list[Any] = []

    def share(self, value: Any) -> Any:
        """Send a value to the cluster once, for many tasks to read (a handle to pass on)."""
        return self.client.scatter(value, hash=False)

    def submit(self, function: Callable[..., Any], *args: Any, name: str = "task") -> Any:
        """Start ``function(*args)`` on a worker; the handle's ``result()`` waits for it.

        Handles returned by :meth:`share` among ``args`` are read where the task runs.
        """
        self._count += 1
        future = self.client.submit(function, *args, pure=False,
                                    key=f"bias-audit-{name}-{self.token}-{self._count}")
        self._futures.append(future)
        return future

    def cancel(self) -> None:
        """Cancel what has not finished, so an interrupted run leaves no work behind."""
        unfinished = [f for f in self._futures if not f.done()]
        if unfinished:
            self.client.cancel(unfinished)
        self._futures.clear()

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The pool owns its client: leaving cancels the unfinished and disconnects.
        try:
            self.cancel()
        finally:
            self.client.close()


def _ready() -> None:
    """Import what a run's pieces need, once per worker, while the client is still busy."""
    import experiments.engine.runner  # noqa: F401
    import experiments.systems  # noqa: F401


class LocalPool:
    """Worker processes on this machine, for the further replicates of one run (each with
    its worlds), while the client computes the first replicate's worlds.

    The pieces are the same deterministic functions a :class:`DaskPool` sends to a cluster,
    so a run gives the same bytes with one process or several. Workers are started by
    joblib's loky executor (fresh interpreters, so a native thread pool the client has used is
    never forked) and start importing at once, while the client draws the population.

    Parameters
    ----------
    workers : int
        Worker processes (at least 1). Each native library in a worker uses
        ``max(1, cores // workers)`` threads, so the workers do not crowd the cores.
    """

    def __init__(self, workers: int) -> None:
        from joblib.externals.loky import get_reusable_executor

        if workers < 1:
            raise ValueError(f"a local pool needs at least 1 worker, got {workers}")
        threads = str(max(1, available_cores() // workers))
        #: Where the pieces run, for progress messages.
        self.where = f"in {workers} worker process{'es' if workers > 1 else ''}"
        #: The run's own worlds stay in the client, where its system keeps what they share
        #: (a world sent to a worker would carry the system's fitted parts and caches with
        #: it, and refit them there); the workers take the further replicates, each with
        #: its own worlds.
        self.takes_worlds = False
        # Workers wait idle while the client computes the first replicate (minutes for a
        # large run), so the idle timeout is long; leaving the pool stops them.
        self.executor = get_reusable_executor(
            max_workers=workers, timeout=3600, reuse=True,
            env={name: threads for name in THREAD_VARIABLES})
        self._futures: list[Any] = [self.executor.submit(_ready) for _ in range(workers)]

    def share(self, value: Any) -> Any:
        """The value itself: each task that reads it is sent a copy."""
        return value

    def submit(self, function: Callable[..., Any], *args: Any, name: str = "task") -> Any:
        """Start ``function(*args)`` in a worker; the handle's ``result()`` waits for it."""
        future = self.executor.submit(function, *args)
        self._futures.append(future)
        return future

    def cancel(self) -> None:
        """Cancel what has not started, so an interrupted run leaves no work queued."""
        for future in self._futures:
            future.cancel()
        self._futures.clear()

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        # The workers stop with the run: on an error or Ctrl-C at once, else when idle.
        self.cancel()
        self.executor.shutdown(wait=exc_type is None, kill_workers=exc_type is not None)


#: The variables that set how many threads numpy's BLAS and OpenMP code use.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
