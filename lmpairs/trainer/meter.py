"""Throughput bookkeeping: tokens per second and the fraction of step time spent waiting for data.

Wall time is measured per window (between two logs), and inside it the time the trainer was
blocked in the loader's ``next()``. A wait fraction near 0 means the loader keeps up; near 1 means
the model starves (add ``--num-workers``). On CUDA the host runs ahead of the device, so a window
is closed only after a device synchronization (reading the losses back does one). Start-up (the
first step: worker launch, allocator warm-up) is measured and logged on its own, and it and
checkpoint saves are left out of the totals, so the run's rates describe steady training.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm


@dataclass(frozen=True)
class Rates:
    tokens_per_s: float
    data_wait_fraction: float
    seconds: float = 0.0
    """The wall time measured (0: nothing was, and the rates mean nothing)."""


def _rates(seconds: float, wait_seconds: float, tokens: float) -> Rates:
    if seconds <= 0:
        return Rates(0.0, 0.0)
    return Rates(tokens / seconds, min(1.0, wait_seconds / seconds), seconds)


class Meter:
    """Window and run totals of (wall seconds, seconds waiting for data, tokens)."""

    def __init__(self) -> None:
        self.total = [0.0, 0.0, 0.0]
        self._wait, self._tokens = 0.0, 0.0
        self._since = time.perf_counter()

    def add(self, *, wait_seconds: float, tokens: int) -> None:
        self._wait += wait_seconds
        self._tokens += tokens

    @property
    def window_seconds(self) -> float:
        """Seconds since the window opened (a trainer logs when this grows long, whatever the step)."""
        return time.perf_counter() - self._since

    def close_window(self, *, keep: bool = True) -> Rates:
        """Rates since the window opened; its numbers join the run's totals (unless ``keep=False``:
        start-up) and a new window opens."""
        now = time.perf_counter()
        window = (now - self._since, self._wait, self._tokens)
        if keep:
            self.total = [a + b for a, b in zip(self.total, window)]
        self._wait, self._tokens, self._since = 0.0, 0.0, now
        return _rates(*window)

    def exclude(self) -> None:
        """Forget what was measured since the window opened (start-up, a checkpoint save)."""
        self._wait, self._tokens, self._since = 0.0, 0.0, time.perf_counter()

    def overall(self) -> Rates:
        return _rates(*self.total)


class Stopwatch:
    """``with watch:`` adds the block's duration to ``watch.seconds``."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds += time.perf_counter() - self._start


def progress_bar(*, total: int, initial: int, enabled: bool | None) -> tqdm:
    """A step bar on stderr; ``enabled=None`` shows it only when stderr is a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, initial=initial, unit="step", disable=not show, file=sys.stderr, dynamic_ncols=True)
