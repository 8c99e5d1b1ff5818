"""Progress of a local build: workers drop tiny per-split files, the driver adds them up and shows them.

Every runner's workers (threads, processes, Dask workers) can write to a local output, so each
split writes ``OUT/_lmpairs_tmp/progress/<index>.json`` (tokens so far, done or not) at most once a
second; the driver polls that directory and shows splits done, MB read and tokens/s: a tqdm bar on
a terminal, a log line every :data:`LOG_SECONDS` otherwise. Remote outputs show nothing live.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections import Counter

from lmpairs.pipeline.paths import is_remote

logger = logging.getLogger(__name__)

PROGRESS_DIR = "progress"
WRITE_SECONDS = 1.0
LOG_SECONDS = 10.0
MB = 1 << 20


class SplitProgress:
    """The worker side: ``update(counts)`` after each batch, ``done(counts)`` at the end (throttled)."""

    def __init__(self, tmp_root: str, index: int, split_bytes: int) -> None:
        self._dir = os.path.join(tmp_root, PROGRESS_DIR) if not is_remote(tmp_root) else None
        self._index, self._bytes, self._last = index, split_bytes, 0.0

    def update(self, counts: Counter, done: bool = False) -> None:
        now = time.monotonic()
        if self._dir is None or (not done and now - self._last < WRITE_SECONDS):
            return
        self._last = now
        data = {"tokens": int(counts.get("tokens", 0)), "bytes": self._bytes if done else 0, "done": done,
                "worker": f"{socket.gethostname()}:{os.getpid()}"}
        try:
            os.makedirs(self._dir, exist_ok=True)
            path = os.path.join(self._dir, f"{self._index}.json")
            with open(path + ".part", "w") as out:
                json.dump(data, out)
            os.replace(path + ".part", path)
        except OSError:
            pass  # progress is best effort; the build itself reports real errors

    def done(self, counts: Counter) -> None:
        self.update(counts, done=True)


def read_progress(tmp_root: str, workers: set | None = None) -> tuple[int, int, int]:
    """(splits done, bytes of the splits done, tokens so far) from the progress files; the worker
    processes seen are added to ``workers``."""
    done = num_bytes = tokens = 0
    try:
        names = os.listdir(os.path.join(tmp_root, PROGRESS_DIR))
    except OSError:
        return 0, 0, 0
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(tmp_root, PROGRESS_DIR, name)) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        done += bool(data.get("done"))
        num_bytes += int(data.get("bytes", 0))
        tokens += int(data.get("tokens", 0))
        if workers is not None and data.get("worker"):
            workers.add(data["worker"])
    return done, num_bytes, tokens


class ProgressMonitor:
    """The driver side: a daemon thread from ``start()`` to ``stop()``; returns the last tokens seen."""

    def __init__(self, tmp_root: str, num_splits: int, total_bytes: int, *, interval: float = 0.5) -> None:
        self._tmp_root, self._num_splits, self._total_bytes = tmp_root, num_splits, total_bytes
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = time.perf_counter()
        self.tokens = 0
        self.workers: set[str] = set()
        """The worker processes that reported a split (for the log line at the end)."""

    def start(self) -> ProgressMonitor:
        if is_remote(self._tmp_root):
            return self
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="lmpairs-progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _line(self, done: int, num_bytes: int, tokens: int) -> str:
        seconds = max(time.perf_counter() - self._start, 1e-9)
        return (f"{done}/{self._num_splits} splits, {num_bytes / MB:.1f}/{self._total_bytes / MB:.1f} MB read, "
                f"{tokens:,} tokens, {tokens / seconds:,.0f} tokens/s")

    def _run(self) -> None:
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=self._num_splits, unit="split", desc="build", file=sys.stderr, leave=False)
        last_log = time.perf_counter()
        while True:
            stopping = self._stop.wait(self._interval)
            done, num_bytes, tokens = read_progress(self._tmp_root, self.workers)
            self.tokens = max(self.tokens, tokens)
            if bar is not None:
                bar.n = done
                seconds = max(time.perf_counter() - self._start, 1e-9)
                bar.set_postfix_str(f"{num_bytes / MB:.1f} MB, {tokens / seconds:,.0f} tok/s", refresh=True)
            elif time.perf_counter() - last_log >= LOG_SECONDS and not stopping:
                logger.info("progress: %s", self._line(done, num_bytes, tokens))
                last_log = time.perf_counter()
            if stopping:
                break
        if bar is not None:
            bar.close()
