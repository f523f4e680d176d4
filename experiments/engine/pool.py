"""Where the independent pieces of one run are computed: here, or on a Dask cluster.

A run's attribution worlds and its replicates do not depend on one another, so a
:class:`DaskPool` can send them to the workers of a running cluster; the client keeps the
order, gathers the results and alone writes the run folder. Every piece is a deterministic
function of what it is sent, so a run gives the same bytes wherever its pieces ran.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from synthetic.threads import usable_cores


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
        threads = str(max(1, usable_cores() // workers))
        #: Where the pieces run, for progress messages.
        self.where = f"in {workers} worker process{'es' if workers > 1 else ''}"
        #: The run's own worlds stay in the client, where its system keeps what they share
        #: (a world sent to a worker would carry the system's fitted parts and caches with
        #: it, and refit them there); the workers take the further replicates, each with
        #: its own worlds.
        self.takes_worlds = False
        self.workers = workers
        # Workers wait idle while the client computes the first replicate (minutes for a
        # large run), so the idle timeout is long; leaving the pool stops them.
        self.executor = get_reusable_executor(
            max_workers=workers, timeout=3600, reuse=True,
            env={name: threads for name in THREAD_VARIABLES})
        # Tasks go to the executor only as workers come free; the rest wait here. A task
        # waiting here can be dropped at any time, and the executor never holds one that no
        # worker has taken, which it could not drop cleanly when its workers are killed.
        self._lock = threading.RLock()
        self._waiting: deque[tuple[Future, Callable[..., Any], tuple]] = deque()
        self._closing = False
        self._futures: list[Future] = []
        self._busy = 0
        for _ in range(workers):
            self.submit(_ready)

    def share(self, value: Any) -> Any:
        """The value itself: each task that reads it is sent a copy."""
        return value

    def submit(self, function: Callable[..., Any], *args: Any, name: str = "task") -> Future:
        """Start ``function(*args)`` in a worker; the handle's ``result()`` waits for it."""
        handle: Future = Future()
        with self._lock:
            self._futures.append(handle)
            self._waiting.append((handle, function, args))
            self._dispatch()
        return handle

    def _dispatch(self) -> None:
        """Send waiting tasks to the executor while a worker is free (lock held)."""
        while self._busy < self.workers and self._waiting and not self._closing:
            handle, function, args = self._waiting.popleft()
            if not handle.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                inner = self.executor.submit(function, *args)
            except Exception as error:  # the executor broke (a worker died): say so
                handle.set_exception(error)
                continue
            self._busy += 1
            inner.add_done_callback(functools.partial(self._finished, handle))

    def _finished(self, handle: Future, inner: Future) -> None:
        """A task ended in a worker: its handle gets the outcome, and the next task goes."""
        if inner.cancelled():
            handle.set_exception(CancelledError())
        elif inner.exception() is not None:
            handle.set_exception(inner.exception())
        else:
            handle.set_result(inner.result())
        with self._lock:
            self._busy -= 1
            self._dispatch()

    def settled(self) -> bool:
        """Whether every task sent has ended without an error (a dead worker ends its tasks
        with one): the workers can then take another run's tasks as they are."""
        with self._lock:
            return all(f.done() and (f.cancelled() or f.exception() is None)
                       for f in self._futures)

    def cancel(self) -> None:
        """Cancel what has not started, so an interrupted run leaves no work queued."""
        with self._lock:
            for handle, _, _ in self._waiting:
                handle.cancel()
            self._waiting.clear()
            self._futures.clear()

    def close(self, kill: bool = False) -> None:
        """Cancel what has not started and stop the workers: at once with ``kill``, else
        once they are idle. Returns when they have stopped: a process that exits first
        would leave them running on their own."""
        with self._lock:
            self._closing = True
        self.cancel()
        if kill:
            # Killed here rather than by the executor's own kill, which can trip over a task
            # handed to it a moment before (a KeyError in its thread, workers left running):
            # the executor then finds its workers gone, fails their tasks and cleans up.
            for process in list(getattr(self.executor, "_processes", {}).values()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            # A worker killed while it sends a result leaves part of it in the result pipe,
            # and the executor's manager thread would wait for the rest for ever: the pipe
            # stays open while this process holds its writing end, which it never writes to.
            # Closed here, the read ends (the workers' ends die with them), the executor
            # takes the pool for broken, and the shutdown below returns.
            writer = getattr(getattr(self.executor, "_result_queue", None), "_writer", None)
            if writer is not None:
                with contextlib.suppress(OSError):
                    writer.close()
        self.executor.shutdown(wait=True, kill_workers=kill)

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        # The workers stop with the run: on an error or Ctrl-C at once, else when idle.
        self.close(kill=exc_type is not None)


#: The variables that set how many threads numpy's BLAS and OpenMP code use.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
