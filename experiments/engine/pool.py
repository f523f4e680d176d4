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
