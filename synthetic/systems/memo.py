"""Recent results by content: the same work asked for twice in one process is done once.

A run repeats a system on the same people many times: in each world of the attribution and
in each replicate. Where a world leaves a step's inputs unchanged (the lexicon knob does not
touch the classifier's training corpus; the held-out people's posts are the same in every
replicate), the step's result is looked up by a digest of its inputs' content instead of
being computed again. The result is the same object each time, so callers must not change it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

T = TypeVar("T")

#: Arrow buffers at least this large are digested once and their digest kept (see
#: :func:`_buffer_digest`), up to :data:`KEPT_BUFFER_BYTES` of them.
DIGEST_KEPT_FROM = 1 << 20
KEPT_BUFFER_BYTES = 192 << 20
_BUFFER_DIGESTS: OrderedDict[tuple[int, int], tuple[pa.Buffer, bytes]] = OrderedDict()
_BUFFER_LOCK = threading.Lock()


def _buffer_digest(buffer: pa.Buffer) -> bytes | pa.Buffer:
    """What :func:`content_key` hashes for an Arrow buffer: a large one's own digest, kept by
    its address and size; a small one itself.

    The same texts are looked up again and again in a run (every world and replicate scores
    the same posts), and hashing them is most of a lookup. Arrow-backed columns are never
    written in place (pandas replaces their arrays), and a kept entry holds its buffer, so
    the memory at that address cannot be freed and reused for other content while it is kept.
    """
    if buffer.size < DIGEST_KEPT_FROM:
        return buffer
    key = (buffer.address, buffer.size)
    with _BUFFER_LOCK:
        kept = _BUFFER_DIGESTS.get(key)
        if kept is not None:
            _BUFFER_DIGESTS.move_to_end(key)
            return kept[1]
    digest = hashlib.sha256(buffer).digest()
    with _BUFFER_LOCK:
        _BUFFER_DIGESTS[key] = (buffer, digest)
        held = sum(b.size for b, _ in _BUFFER_DIGESTS.values())
        while held > KEPT_BUFFER_BYTES and len(_BUFFER_DIGESTS) > 1:
            oldest, _ = _BUFFER_DIGESTS.popitem(last=False)[1]
            held -= oldest.size
    return digest


def content_key(*parts: Any) -> bytes:
    """A 128-bit digest of ``parts``: texts and arrays by their content, anything else by
    its ``repr``.

    Parameters
    ----------
    *parts
        pandas Series (Arrow-backed ones by their buffers, categorical ones by their
        categories and codes, numeric ones by their values' bytes, others row by row; the
        index left out), numpy arrays (their bytes, dtype and shape) and plain values.

    Returns
    -------
    bytes
        The digest; equal parts give equal digests in any process.
    """
    # SHA-256, which processors compute in hardware: twice as fast here as BLAKE2 on the
    # hundreds of megabytes of text a run looks up.
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.Series) and hasattr(part.array, "__arrow_array__"):
            # Arrow-backed text (pandas' default): its buffers, read without a copy, instead
            # of a hash per row. Bytes past a slice's end can only make two equal columns
            # miss each other, never make two different ones meet.
            arrow = pa.array(part.array)
            chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
            digest.update(f"arrow{arrow.type}".encode())
            for chunk in chunks:  # each as it is held: no copy of a column's text
                digest.update(f"{chunk.offset},{len(chunk)}".encode())
                # A dictionary-encoded chunk's buffers hold its codes only: its values too.
                held = [chunk, chunk.dictionary] if pa.types.is_dictionary(chunk.type) \
                    else [chunk]
                for buffer in (b for array in held for b in array.buffers()):
                    digest.update(b"|" if buffer is None else _buffer_digest(buffer))
        elif isinstance(part, pd.Series) and isinstance(part.dtype, pd.CategoricalDtype):
            # Categories (few) by their content, each row by its code: no hash per row.
            digest.update(b"categorical" + content_key(
                pd.Series(part.cat.categories), part.cat.ordered, part.cat.codes.to_numpy()))
        elif isinstance(part, pd.Series) and isinstance(part.dtype, np.dtype) \
                and part.dtype != object:
            digest.update(b"numbers" + content_key(part.to_numpy()))
        elif isinstance(part, pd.Series):
            digest.update(b"series")
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        elif isinstance(part, np.ndarray):
            digest.update(f"array{part.dtype.str}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes()
                          if part.dtype != object else repr(part.tolist()).encode())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.digest()[:16]


class RecentResults:
    """The last ``max_entries`` results, by key; the least recently used goes first.

    Parameters
    ----------
    max_entries : int
        How many results to keep.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._results: OrderedDict[bytes, Any] = OrderedDict()

    def get(self, key: bytes, compute: Callable[[], T]) -> T:
        """The result kept under ``key``, or ``compute()`` kept under it."""
        if key in self._results:
            self._results.move_to_end(key)
            return self._results[key]
        result = compute()
        self._results[key] = result
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)
        return result

    def put(self, key: bytes, value: Any) -> None:
        """Keep ``value`` under ``key``, replacing what was kept there."""
        self._results[key] = value
        self._results.move_to_end(key)
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)

    def peek(self, key: bytes) -> Any:
        """What is kept under ``key`` (None if nothing), leaving the order of use alone."""
        return self._results.get(key)

    def discard(self, key: bytes) -> None:
        """Forget what is kept under ``key``, if anything."""
        self._results.pop(key, None)

    def clear(self) -> None:
        """Forget every result."""
        self._results.clear()
