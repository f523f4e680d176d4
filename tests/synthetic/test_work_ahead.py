"""Work asked for ahead on a background thread: the same result wherever it runs, the
taker does queued work itself (and, while it waits for work under way, the work queued behind
it), errors reach the taker, urgent work goes first."""

from __future__ import annotations

import threading
import time

import pytest

from synthetic.systems.ahead import WorkAhead


def test_work_gives_its_result_to_every_taker():
    thread = WorkAhead("test")
    pending = thread.submit(lambda: sum(range(1_000)))
    assert pending.take() == 499_500
    assert pending.take() == 499_500


def test_queued_work_is_done_by_the_taker_and_never_twice():
    thread = WorkAhead("test")
    gate, calls = threading.Event(), []
    blocker = thread.submit(gate.wait)  # holds the thread
    queued = thread.submit(lambda: calls.append(threading.current_thread().name) or "done")
    assert queued.take() == "done"  # not started on the thread: done here, at once
    assert queued.take() == "done"  # and not again
    assert calls == [threading.current_thread().name]
    gate.set()
    assert blocker.take() is True
    # The thread reaches the queued work later and leaves it alone.
    assert thread.submit(lambda: None).take() is None
    assert calls == [threading.current_thread().name]


def test_an_error_of_the_work_reaches_the_taker():
    thread = WorkAhead("test")

    def fails() -> None:
        raise ValueError("the threat labels have one class only")

    pending = thread.submit(fails)
    for _ in range(2):
        with pytest.raises(ValueError, match="one class only"):
            pending.take()


def _blocked(thread: WorkAhead) -> threading.Event:
    """Hold ``thread`` on a piece of work until the returned event is set."""
    started, gate = threading.Event(), threading.Event()
    thread.submit(lambda: started.set() or gate.wait())
    started.wait()
    return gate


def test_urgent_work_goes_before_queued_work():
    thread = WorkAhead("test")
    gate, order = _blocked(thread), []
    finished = threading.Event()
    thread.submit(lambda: order.append("later"))
    thread.submit(finished.set)
    thread.submit(lambda: order.append("urgent"), urgent=True)
    gate.set()
    assert finished.wait(timeout=30)  # the thread ran everything, in its own order
    assert order == ["urgent", "later"]


def test_work_dropped_from_the_queue_falls_to_the_taker():
    thread = WorkAhead("test")
    gate = _blocked(thread)
    dropped = [thread.submit(lambda i=i: i) for i in range(3)]
    assert thread.cancel_queued() == 3
    assert not any(d.started for d in dropped)
    gate.set()
    assert [d.take() for d in dropped] == [0, 1, 2]  # done here: the thread never ran them


def test_a_taker_waiting_for_work_under_way_does_the_queued_work_meanwhile():
    thread = WorkAhead("test")
    started, gate = threading.Event(), threading.Event()
    running = thread.submit(lambda: started.set() or gate.wait(timeout=30))
    started.wait()
    where: dict[int, str] = {}
    queued = [thread.submit(lambda i=i: where.setdefault(i, threading.current_thread().name))
              for i in range(2)]
    # Reached after the two above, it lets the thread's work end.
    release = thread.submit(gate.set)
    assert running.take() is True
    here = threading.current_thread().name
    assert where == {0: here, 1: here}
    assert [q.take() for q in queued] == [here, here] and release.started


def test_the_queues_own_thread_waits_for_work_under_way_elsewhere_without_taking_more():
    thread = WorkAhead("test")
    gate, order = _blocked(thread), []
    first_started, first_gate = threading.Event(), threading.Event()
    first = thread.submit(lambda: (first_started.set(), first_gate.wait(timeout=30),
                                   order.append("first done")))
    taker = threading.Thread(target=first.take)  # takes the work over, off the thread
    taker.start()
    first_started.wait()
    # On the thread, work that needs the first's result, then work queued behind it.
    waiting = threading.Event()
    needs_first = thread.submit(lambda: (waiting.set(), first.take()))
    behind = thread.submit(lambda: order.append("behind"))
    gate.set()
    waiting.wait(timeout=30)
    # Time enough for the thread to take the work behind, were it to take any.
    time.sleep(0.2)
    assert not behind.started
    first_gate.set()
    taker.join(timeout=30)
    needs_first.take()
    behind.take()
    assert order == ["first done", "behind"]
