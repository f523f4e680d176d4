"""Work on contiguous parts of a long input, on a few threads of this process.

NumPy, pandas and Arrow let go of the interpreter while they work on long arrays, so a few
threads keep a few cores busy without copying the input into other processes. Each part's
result depends on that part alone and the results come back in the parts' order, so the
output does not depend on which thread made which part, or on how many threads there were.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

#: Threads at most: the parts' working arrays are held at once, one set per thread.
MAX_THREADS = 2

Part = TypeVar("Part")
Result = TypeVar("Result")


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform
        return os.cpu_count() or 1


def map_in_threads(work: Callable[[Part], Result], parts: Sequence[Part],
                   name: str = "parts") -> list[Result]:
    """``[work(part) for part in parts]``, on up to :data:`MAX_THREADS` threads.

    Parameters
    ----------
    work : callable
        Computes one part's result from that part alone.
    parts : sequence
        The parts, in order.
    name : str
        Prefix of the threads' names (seen in a profiler or a stack dump).

    Returns
    -------
    list
        The results in the parts' order. The first error raised by a part is raised here.
    """
    threads = min(MAX_THREADS, len(parts), usable_cores())
    if threads <= 1:
        return [work(part) for part in parts]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name) as pool:
        return list(pool.map(work, parts))


def thread_parts(length: int, block: int) -> list[slice]:
    """Contiguous parts of ``range(length)`` for :func:`map_in_threads`: the whole at once
    where it fits in one ``block``, else :data:`MAX_THREADS` parts of (nearly) equal size."""
    if length <= block:
        return [slice(0, length)]
    bounds = [length * i // MAX_THREADS for i in range(MAX_THREADS + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


#: glibc's ``mallopt`` parameter for the most allocation arenas (``M_ARENA_MAX``).
_M_ARENA_MAX = -8


def one_allocation_arena() -> bool:
    """Have every thread of this process allocate from one pool of memory; call it once,
    at the start of a program (the ``bias-audit`` command does), never on import.

    By default glibc gives each new thread an arena of its own, and memory a thread frees
    stays in its arena, out of reach of the others: on a million people, the threads of
    :func:`map_in_threads` then left about 0.4 GB that the rest of the run could not reuse.
    The threads here allocate a few large arrays each, so sharing one arena costs them no
    time. Elsewhere (another C library, another platform) this does nothing.

    Returns
    -------
    bool
        Whether the C library took the setting.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt (musl, say)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_ARENA_MAX, 1))


def arrow_allocates_by_malloc() -> bool:
    """Have Arrow (the posts' texts, and pandas' text columns) allocate from the C library,
    as NumPy does; call it once, at the start of a program (the ``bias-audit`` command does).

    Arrow's own allocator keeps memory that Arrow frees for Arrow to reuse: joining the
    texts of a million people's posts left about 0.3 GB that NumPy could not reuse, and
    giving that memory back and taking it again cost seconds of system time. From the C
    library, a large text array freed is given back at once (and, with
    :func:`one_allocation_arena`, every thread's smaller ones stay reusable). The texts are
    the same.

    Returns
    -------
    bool
        Whether Arrow now allocates from the C library.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    return pa.default_memory_pool().backend_name == "system"
