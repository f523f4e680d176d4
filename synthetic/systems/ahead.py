"""Work asked for before it is needed, done on one background thread.

A run knows early which models it will fit: one per replicate's training corpus and per
setting of the attribution's worlds. A fit that runs outside Python's global lock (scikit-learn's
stochastic gradient descent does) can then take the second core while this thread goes on
generating, scoring and auditing. The work is a pure function of its inputs, so where it runs
never changes a result; whoever needs a result first and finds its work not yet started does
it at once instead of waiting behind other queued work, and whoever finds it under way on the
thread does the queued work meanwhile instead of leaving its core idle.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

#: States of a :class:`Pending`.
_QUEUED, _RUNNING, _DONE, _TAKEN_OVER = "queued", "running", "done", "taken over"


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, None elsewhere."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Give the memory freed by this thread back to the system where the C library keeps it.

    glibc gives each thread that allocates an arena of its own and keeps what is freed there
    for the thread's next allocations: after a fit, tens of megabytes a process never uses
    again would stay resident beside a large run's peak.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class Pending:
    """A piece of work queued on a :class:`WorkAhead` thread, and later its result.

    The work is done once, by whichever comes first: the thread, or a taker that finds it
    not yet begun. Every taker gets the same result (or the same error).
    """

    def __init__(self, work: Callable[[], Any], ahead: WorkAhead | None = None) -> None:
        self._work: Callable[[], Any] | None = work
        self._ahead = ahead
        self._state = _QUEUED
        self._finished = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def _claim(self, state: str) -> Callable[[], Any] | None:
        """Move from queued to ``state`` and hand over the work; None when it was claimed."""
        with self._lock:
            if self._state != _QUEUED:
                return None
            self._state = state
            work, self._work = self._work, None  # its inputs go once it has run
            return work

    def _do(self, work: Callable[[], Any]) -> None:
        try:
            self._result = work()
        except BaseException as error:  # handed to whoever takes the result
            self._error = error
        finally:
            self._state = _DONE
            self._finished.set()

    def _run(self) -> bool:
        """Do the work on the thread unless a taker claimed it; whether it was done here."""
        work = self._claim(_RUNNING)
        if work is None:
            return False
        self._do(work)
        return True

    @property
    def started(self) -> bool:
        """Whether the work has begun (on the thread or by a taker), or is done."""
        return self._state != _QUEUED

    def take(self) -> Any:
        """The work's result: done here if nobody has begun it (it is queued, or was
        dropped from the queue), else awaited. While it is awaited, the work queued behind
        it is done here, one piece at a time (:meth:`WorkAhead.help`), except on the queue's
        own thread.

        Raises whatever the work raised.
        """
        work = self._claim(_TAKEN_OVER)
        if work is not None:
            self._do(work)
        ahead = self._ahead
        while not self._finished.is_set() and ahead is not None and ahead.help():
            pass
        self._finished.wait()
        if self._error is not None:
            raise self._error
        return self._result


class WorkAhead:
    """One daemon thread running queued work, urgent work first.

    The thread is started on the first submission. It is a daemon: work still queued when
    the interpreter exits is never done, and :meth:`cancel_queued` drops it earlier.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: collections.deque[Pending] = collections.deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[], Any], *, urgent: bool = False) -> Pending:
        """Queue ``work`` (a function of no arguments); urgent work goes to the front.

        Returns
        -------
        Pending
            Its handle: :meth:`Pending.take` gives the result.
        """
        pending = Pending(work, self)
        with self._ready:
            if urgent:
                self._queue.appendleft(pending)
            else:
                self._queue.append(pending)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
            self._ready.notify()
        return pending

    def cancel_queued(self) -> int:
        """Take every piece of work not yet started off the queue; how many. Such work is
        done by whoever takes its result, if anyone does."""
        with self._ready:
            dropped = len(self._queue)
            self._queue.clear()
        return dropped

    def help(self) -> bool:
        """Do the first piece of queued work on the calling thread, as a taker waiting for
        work under way on this queue's thread does; whether a piece was taken.

        Nothing is taken on the queue's own thread: a piece of work waiting there for
        another (a fit for the features it reads) waits, so no two threads can each wait
        for the other's work. The work queued here waits for at most one earlier piece.
        """
        if threading.current_thread() is self._thread:
            return False
        with self._ready:
            if not self._queue:
                return False
            pending = self._queue.popleft()
        pending._run()
        return True

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                pending = self._queue.popleft()
            if pending._run():
                release_free_memory()
