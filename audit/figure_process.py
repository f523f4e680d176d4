"""Figures drawn by two processes at once: this one and a copy of it forked early.

Drawing a figure is matplotlib's Python code on one core, and a report draws its figures
after every number is computed, while the machine's other cores idle. :class:`FigureHelper`
forks a copy of the process when it is made (before the run starts any thread, so the copy
holds no lock that another thread held), and the copy loads matplotlib while the run
computes. :func:`start_drawing` then hands a list of figures to the copy, which starts at
once, and :meth:`PendingFigures.result` has this process join in (:func:`draw_figures` does
both): each takes the next figure nobody has taken yet, so a process that finishes early
takes more. A figure is the same bytes whichever process draws it: the copy has the same
matplotlib, fonts and settings.

The helper is an optimisation and never a condition: where no copy can be forked (another
platform, threads already running, a daemonic process) or the copy fails, every figure is
drawn here, as it would be without one.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from audit.figures import literal_text, new_figure

#: Seconds :meth:`PendingFigures.result` waits for the helper's figures after drawing its
#: own share, before drawing the rest itself: a figure takes a fraction of a second.
HELPER_TIMEOUT = 60.0


@dataclass(frozen=True)
class FigureCall:
    """One figure to draw: ``draw(*args, **kwargs)``.

    ``draw`` must be a module-level function (the helper receives it by name) that writes
    its figure and returns the path, as :func:`audit.figures.plot_rates_by_group` does.
    """

    draw: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def outcome(self) -> Any:
        """The call's result, or the exception it raised (returned, not raised)."""
        try:
            return self.draw(*self.args, **self.kwargs)
        except Exception as error:  # handed back to draw_figures' caller, who raises it
            return error


class FigureHelper:
    """A forked copy of this process that draws figures for :func:`draw_figures`.

    Make one with :meth:`start` before the work whose figures it will draw, and
    :meth:`close` it afterwards (or use it as a context manager).
    """

    def __init__(self, process: Any, connection: Any, taken: Any) -> None:
        self._process = process
        self._connection = connection
        self._taken = taken

    @classmethod
    def start(cls) -> FigureHelper | None:
        """Fork the helper, or return None where none can be forked safely.

        None on a platform without ``fork`` (only Linux is used), where this process already
        runs a second Python thread (the copy could inherit a lock another thread holds),
        and in a daemonic process (which may have no children).
        """
        if not sys.platform.startswith("linux") or threading.active_count() > 1:
            return None
        if multiprocessing.current_process().daemon:
            return None
        context = multiprocessing.get_context("fork")
        taken = context.Value("q", 0)
        ours, theirs = context.Pipe()
        # What this process has buffered would otherwise be written by both.
        sys.stdout.flush()
        sys.stderr.flush()
        process = context.Process(target=_serve, args=(theirs, ours, taken), daemon=True,
                                  name="figure-helper")
        try:
            process.start()
        except (OSError, AssertionError):  # no process left, or a daemon's child
            ours.close()
            theirs.close()
            return None
        theirs.close()
        return cls(process, ours, taken)

    def alive(self) -> bool:
        """Whether the copy is still there to take figures."""
        return self._process.is_alive()

    def kill(self) -> None:
        """End the copy at once, whatever it is drawing, and wait until it has."""
        self._process.kill()
        self._process.join()

    def close(self) -> None:
        """Let the copy end (it sees the connection close) and wait for it briefly."""
        self._connection.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> FigureHelper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _next(self, count: int) -> int | None:
        return _take(self._taken, count)

    def _share(self, calls: list[FigureCall]) -> bool:
        """Give ``calls`` to the copy; False when they cannot travel (or it is gone)."""
        with self._taken.get_lock():
            self._taken.value = 0
        try:
            message = pickle.dumps(calls, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return False
        try:
            self._connection.send_bytes(message)
        except OSError:
            return False
        return True

    def _collect(self) -> dict[int, Any]:
        """The copy's outcomes by index; empty when it ended or did not answer in time."""
        try:
            if not self._connection.poll(HELPER_TIMEOUT):
                self._process.kill()
                return {}
            return self._connection.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            return {}


class PendingFigures:
    """Figures being drawn by a helper, from :func:`start_drawing`; :meth:`result` draws
    what is left here and returns every outcome."""

    def __init__(self, calls: list[FigureCall], helper: FigureHelper | None) -> None:
        self._calls = calls
        self._helper = helper
        self._outcomes: list[Any] | None = None

    def result(self) -> list[Any]:
        """Each call's outcome in order: what it returned, or the exception it raised (the
        caller decides which exceptions mean "no figure" and raises the others). This
        process takes every figure the helper has not taken yet; a figure the helper took
        but did not draw (it ended) is drawn here too."""
        if self._outcomes is None:
            calls, helper = self._calls, self._helper
            if helper is None:
                self._outcomes = [call.outcome() for call in calls]
                return self._outcomes
            outcomes: dict[int, Any] = {}
            while (index := helper._next(len(calls))) is not None:
                outcomes[index] = calls[index].outcome()
            outcomes.update(helper._collect())
            self._outcomes = [outcomes[index] if index in outcomes else calls[index].outcome()
                              for index in range(len(calls))]
        return self._outcomes

    def stop(self) -> None:
        """Stop the helper without waiting for its figures: after this, it writes nothing
        (for a run that fails and removes its folder)."""
        if self._helper is not None and self._outcomes is None:
            self._helper.kill()


def start_drawing(calls: Sequence[FigureCall], helper: FigureHelper | None = None
                  ) -> PendingFigures:
    """Have ``helper`` start drawing ``calls`` while this process does other work.

    Without a helper (or one that is gone, or calls it cannot receive), nothing is drawn
    until :meth:`PendingFigures.result`, which then draws every figure here.
    """
    calls = list(calls)
    if helper is None or not helper.alive() or not calls or not helper._share(calls):
        return PendingFigures(calls, None)
    return PendingFigures(calls, helper)


def draw_figures(calls: Sequence[FigureCall], helper: FigureHelper | None = None) -> list[Any]:
    """Draw every figure of ``calls``, with ``helper`` taking a share when given.

    Returns
    -------
    list
        Each call's outcome in order (see :meth:`PendingFigures.result`).
    """
    return start_drawing(calls, helper).result()


def _take(taken: Any, count: int) -> int | None:
    """The next index nobody has taken, or None when all are."""
    with taken.get_lock():
        index = int(taken.value)
        if index >= count:
            return None
        taken.value = index + 1
    return index


@literal_text
def _warm_up() -> None:
    """Load matplotlib and its fonts by drawing a figure nobody sees."""
    fig, axis = new_figure((2.0, 1.0))
    axis.set_title("warm-up")
    fig.savefig(BytesIO(), format="png")


def _serve(connection: Any, parents_end: Any, taken: Any) -> None:
    """The copy's loop: take figures from each list received until the connection closes."""
    # The copy holds both ends of the pipe; with the parent's end closed here, the parent's
    # close (or exit) ends the copy's wait.
    parents_end.close()
    # Ctrl-C reaches the whole process group; the run that made the helper handles it and
    # closes the helper, which must not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _warm_up()
    except Exception:  # noqa: BLE001 - a failed warm-up leaves drawing to the figures
        pass
    while True:
        try:
            calls: list[FigureCall] = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return
        outcomes = {}
        while (index := _take(taken, len(calls))) is not None:
            outcomes[index] = calls[index].outcome()
        try:
            connection.send(outcomes)
        except (pickle.PicklingError, TypeError, AttributeError):
            # An exception that cannot travel travels as its text.
            connection.send({index: RuntimeError("".join(traceback.format_exception_only(
                type(value), value)).strip()) if isinstance(value, BaseException) else value
                for index, value in outcomes.items()})
        except OSError:
            return
