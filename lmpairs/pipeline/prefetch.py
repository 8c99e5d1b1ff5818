"""Run the next items of an iterator in a background thread while the caller works on the current one.

Why: a split's worker reads, encodes, then packs, corrupts and writes, one batch after another. The
encode runs in the tokenizer's native threads without the GIL, and Parquet writing mostly in Arrow's
C++; done in turn, one core waits while the other reads or packs. With the read and the encode of
batch ``k + 1`` in flight while batch ``k`` is packed and written, the cores stay busy. Order is
kept, so the output is the same bytes; memory grows by ``depth`` items per stage.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()
_POLL_SECONDS = 0.1


class _Failure:
    """An exception the producer raised, handed over to be raised again in the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterator[T], *, depth: int = 1, name: str = "lmpairs-prefetch") -> Iterator[T]:
    """``items``, in order, with up to ``depth`` of them computed ahead in a daemon thread.

    The producer's exception is raised in the consumer at the item where it happened. When the
    consumer stops early (an error, ``close()``), the producer stops after the item it is on and is
    joined, and ``items.close()`` runs in the producer's thread, so files it holds are closed.
    """
    handoff: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stopping = threading.Event()

    def put(value) -> bool:
        while not stopping.is_set():
            try:
                handoff.put(value, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            value = handoff.get()
            if value is _END:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value
    finally:
        stopping.set()
        worker.join()
