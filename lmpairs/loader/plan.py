"""The epoch plan: which rows a (rank, worker) reads, in which order, as a pure numpy function.

Algorithm (everything derives from ``(seed, epoch)``, never from process or timing):

1. Units (shard row groups) are permuted by ``SeedSequence([seed, epoch, UNITS])`` when shuffling;
   their rows laid end to end form the epoch's global stream of ``N`` examples.
2. Rank ``r`` of ``W`` takes the contiguous slice ``[r*P, (r+1)*P)``: ``P = N // W`` with
   ``remainder="drop"`` (the last ``N % W`` examples are skipped this epoch; the unit shuffle
   changes which), ``P = ceil(N / W)`` with ``"pad"`` (positions past ``N`` wrap to the stream's
   start, so a few examples repeat). Contiguous slices keep each unit on at most two ranks.
3. The slice is cut into windows of ``window_size`` examples (``shuffle_buffer`` rounded up to a
   multiple of ``batch_size``), each permuted by ``SeedSequence([seed, epoch, start, WINDOW])``:
   the bounded shuffle buffer. Window ``w`` goes to DataLoader worker ``w % num_workers``.
4. A window is cut into batches in its permuted order; batches never span windows, so only the
   rank's last window can end in a short batch. Every rank has ``P`` examples and the same windows,
   hence the same batch count, and a resumed worker skips whole windows without reading them.

An elastically resumed epoch (:mod:`lmpairs.loader.elastic`) runs the same plan over
``positions``, the stream positions earlier shapes left: windows then index that array.

Cost: one permutation of the units and one of each window; nothing per example in Python.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

_UNITS_TAG = 0x554E495453  # "UNITS": keeps the unit and window streams apart
_WINDOW_TAG = 0x57494E444F  # "WINDO"
_BATCHES_TAG = 0x4241544348  # "BATCH"


@dataclass(frozen=True, kw_only=True)
class PlanOptions:
    """How an epoch is cut; ``batch_size=None`` means token-budget batches (counted after reading)."""

    shuffle: bool = True
    shuffle_buffer: int = 8192
    remainder: Literal["drop", "pad"] = "drop"
    batch_size: int | None = None
    drop_last: bool = False

    def __post_init__(self) -> None:
        if self.remainder not in ("drop", "pad"):
            raise ValueError(f"remainder={self.remainder!r}: must be 'drop' (skip the last N % world examples) "
                             "or 'pad' (repeat examples from the stream's start).")
        if not isinstance(self.shuffle_buffer, int) or self.shuffle_buffer < 1:
            raise ValueError(f"shuffle_buffer={self.shuffle_buffer!r}: must be an integer >= 1 (examples).")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size={self.batch_size!r}: must be an integer >= 1.")

    @property
    def window_size(self) -> int:
        """``shuffle_buffer`` rounded up to whole batches, so batches never straddle windows."""
        if self.batch_size is None:
            return self.shuffle_buffer
        return math.ceil(self.shuffle_buffer / self.batch_size) * self.batch_size

    def batches_in(self, num_examples: int) -> int:
        """Batches cut from a window of ``num_examples`` (batch-size mode only)."""
        assert self.batch_size is not None
        whole, rest = divmod(num_examples, self.batch_size)
        return whole + (1 if rest and not self.drop_last else 0)


@dataclass(frozen=True)
class Window:
    """Stream positions ``[start, stop)`` of one shuffle window; positions wrap modulo ``N``."""

    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def rank_size(num_rows: int, world_size: int, remainder: str) -> int:
    """Examples per rank: ``N // W`` (drop) or ``ceil(N / W)`` (pad)."""
    return num_rows // world_size if remainder == "drop" else -(-num_rows // world_size)


def rank_windows(num_rows: int, *, rank: int, world_size: int, options: PlanOptions) -> list[Window]:
    """All windows of one rank, in stream order."""
    size = rank_size(num_rows, world_size, options.remainder)
    start = rank * size
    step = options.window_size
    return [Window(i, start + a, start + min(a + step, size)) for i, a in enumerate(range(0, size, step))]


def rank_num_batches(num_rows: int, *, world_size: int, options: PlanOptions) -> int:
    """Batches every rank yields per epoch in batch-size mode (the same for all ranks and workers)."""
    return sum(options.batches_in(w.size) for w in rank_windows(num_rows, rank=0, world_size=world_size,
                                                                 options=options))


def unit_order(num_units: int, *, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The epoch's unit permutation (identity without shuffling)."""
    if not shuffle:
        return np.arange(num_units, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch, _UNITS_TAG]))
    return rng.permutation(num_units).astype(np.int64)


@dataclass(frozen=True, eq=False, kw_only=True)
class EpochPlan:
    """One worker's share of one rank's epoch: its windows and how to read and order each."""

    seed: int
    epoch: int
    options: PlanOptions
    num_rows: int
    unit_order: np.ndarray
    stream_offsets: np.ndarray
    windows: tuple[Window, ...]
    positions: np.ndarray | None = None

    def order(self, window: Window) -> np.ndarray:
        """The window's rows (0 = its first stream position) in the order they are batched."""
        if not self.options.shuffle:
            return np.arange(window.size, dtype=np.int64)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, window.start, _WINDOW_TAG]))
        return rng.permutation(window.size).astype(np.int64)

    def batch_rng(self, window: Window) -> np.random.Generator | None:
        """The generator that orders a window's token-budget batches (None without shuffling)."""
        if not self.options.shuffle:
            return None
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, window.start, _BATCHES_TAG]))

    def window_indices(self, window: Window) -> np.ndarray:
        """The window's places in the plan's space: stream positions, or indices into ``positions``."""
        size = self.num_rows if self.positions is None else self.positions.shape[0]
        return np.arange(window.start, window.stop, dtype=np.int64) % size

    def consumed(self, batches: int) -> np.ndarray:
        """Places (see :meth:`window_indices`) of the rows in this worker's first ``batches`` batches."""
        first, offset = self.skip(batches)
        out = [self.window_indices(w) for w in self.windows[:first]]
        if offset and first < len(self.windows):
            window = self.windows[first]
            out.append(self.window_indices(window)[self.order(window)[:offset * self.options.batch_size]])
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def segments(self, window: Window) -> list[tuple[int, int, int]]:
        """``(unit, first_row, stop_row)`` pieces that hold the window's rows, in stream order."""
        if self.positions is not None:
            return self._position_segments(self.positions[self.window_indices(window)] % self.num_rows)
        out: list[tuple[int, int, int]] = []
        position, remaining = window.start % self.num_rows, window.size
        while remaining:  # past the stream's end (remainder="pad") it wraps to its start
            stop = min(self.num_rows, position + remaining)
            out += unit_segments(self.unit_order, self.stream_offsets, position, stop)
            remaining -= stop - position
            position = 0
        return out

    def _position_segments(self, positions: np.ndarray) -> list[tuple[int, int, int]]:
        """Runs of consecutive stream positions inside one unit, as ``(unit, first_row, stop_row)``."""
        if not positions.shape[0]:
            return []
        index = np.searchsorted(self.stream_offsets, positions, side="right") - 1
        local = positions - self.stream_offsets[index]
        breaks = np.flatnonzero((np.diff(positions) != 1) | (np.diff(index) != 0)) + 1
        starts = np.concatenate([[0], breaks])
        stops = np.concatenate([breaks, [positions.shape[0]]])
        return [(int(self.unit_order[index[a]]), int(local[a]), int(local[a]) + int(b - a))
                for a, b in zip(starts.tolist(), stops.tolist())]

    def batch_starts(self, window: Window) -> np.ndarray:
        """Offsets into :meth:`order` where the window's batches begin (batch-size mode)."""
        return np.arange(self.options.batches_in(window.size), dtype=np.int64) * self.options.batch_size

    @property
    def num_batches(self) -> int:
        """This worker's batches this epoch (batch-size mode)."""
        return sum(self.options.batches_in(w.size) for w in self.windows)

    def skip(self, batches: int) -> tuple[int, int]:
        """Where a worker that already yielded ``batches`` resumes: ``(window ordinal, batch in it)``;
        token batches are counted only after reading, so there it is ``(0, batches)``."""
        if self.options.batch_size is None:
            return 0, batches
        return skip_windows([self.options.batches_in(w.size) for w in self.windows], batches)

    def parts(self, window: Window) -> list[list[tuple[int, int, int]]]:
        """Per source (one here), the segments holding the window's rows (the mixture's interface)."""
        return [self.segments(window)]

    def batches(self, window: Window) -> list[tuple[int, np.ndarray]]:
        """``(-1, rows)`` per batch of the window, rows in the window's order (batch-size mode)."""
        order, size = self.order(window), self.options.batch_size
        return [(-1, order[s:s + size]) for s in self.batch_starts(window)]


def unit_segments(order: np.ndarray, offsets: np.ndarray, start: int, stop: int) -> list[tuple[int, int, int]]:
    """``(unit, first_row, stop_row)`` pieces holding positions ``[start, stop)`` of units laid end
    to end in ``order`` (``offsets``: their cumulative rows from 0); empty pieces left out."""
    if stop <= start:
        return []
    first = int(np.searchsorted(offsets, start, side="right")) - 1
    last = int(np.searchsorted(offsets, stop - 1, side="right")) - 1
    out = []
    for i in range(first, last + 1):
        base = int(offsets[i])
        lo, hi = max(start, base) - base, min(stop, int(offsets[i + 1])) - base
        if hi > lo:
            out.append((int(order[i]), lo, hi))
    return out


def skip_windows(batches_per_window: list[int], batches: int) -> tuple[int, int]:
    """``(window ordinal, batch in it)`` after ``batches`` delivered batches, windows in order."""
    for ordinal, here in enumerate(batches_per_window):
        if batches < here:
            return ordinal, batches
        batches -= here
    return len(batches_per_window), 0


def plan_epoch(unit_rows: np.ndarray, *, seed: int, epoch: int, rank: int, world_size: int, worker: int,
               num_workers: int, options: PlanOptions, positions: np.ndarray | None = None) -> EpochPlan:
    """The plan of worker ``worker`` of ``num_workers`` on rank ``rank`` of ``world_size``;
    over ``positions`` (the stream positions left to an elastically resumed epoch) when given."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank} is outside [0, world_size={world_size}).")
    if not 0 <= worker < num_workers:
        raise ValueError(f"worker={worker} is outside [0, num_workers={num_workers}).")
    unit_rows = np.asarray(unit_rows, dtype=np.int64)
    order = unit_order(unit_rows.shape[0], seed=seed, epoch=epoch, shuffle=options.shuffle)
    offsets = np.zeros(order.shape[0] + 1, dtype=np.int64)
    np.cumsum(unit_rows[order], out=offsets[1:])
    num_rows = int(offsets[-1])
    size = num_rows if positions is None else int(positions.shape[0])
    windows = rank_windows(size, rank=rank, world_size=world_size, options=options) if size else []
    return EpochPlan(seed=seed, epoch=epoch, options=options, num_rows=num_rows, unit_order=order,
                     stream_offsets=offsets, windows=tuple(windows[worker::num_workers]), positions=positions)
