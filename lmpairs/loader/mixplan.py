"""The epoch plan of a mixture of sources, as pure numpy/integer functions of ``(seed, epoch)``.

Algorithm (:class:`~lmpairs.loader.mixture.PairMixture` reads what this plans):

1. **Draws.** Source ``i`` of ``N_i`` rows contributes ``c_i`` examples per epoch: its weight's
   share of the epoch (:func:`apportion`, largest remainders, exact total) or a fixed count. They
   are ``c_i // N_i`` full passes over the source plus a partial pass of ``c_i % N_i`` rows; each
   pass lays the source's units (row groups) end to end in an order drawn from
   ``(seed, epoch, source, pass)``, and the partial pass is that order's prefix. So every row is
   drawn ``⌊c_i/N_i⌋`` or ``⌈c_i/N_i⌉`` times, exactly once when ``c_i = N_i``.
2. **Interleave.** The sources' draws, in quanta (one example; or one batch when every batch comes
   from one source), are merged into one epoch stream by Sainte-Laguë's order: the ``j``-th
   quantum of source ``i`` ranks by ``(2j + 1) / n_i``. Any prefix of the stream then holds each
   source in its proportion to within one quantum, and :func:`interleave_counts` finds a prefix's
   per-source counts in ``O(m²)`` integer steps, without building the stream.
3. **Ranks, windows, workers** as in :mod:`lmpairs.loader.plan`: rank ``r`` of ``W`` takes quanta
   ``[r·P, (r+1)·P)`` with ``P = Q // W`` (the last ``Q % W`` quanta of the epoch are dropped); its
   slice is cut into windows of ``shuffle_buffer`` examples rounded up to whole batches, window
   ``k`` goes to worker ``k % num_workers``. A window holds a contiguous range of each source's
   draws; it is shuffled as one buffer (mixed batches) or per source (single-source batches, whose
   order in the window is shuffled too). Every rank has ``P`` quanta cut into the same windows,
   hence the same number of batches, and a resumed worker skips whole windows unread.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from lmpairs.loader.plan import skip_windows, unit_segments

_PASS_TAG = 0x50415353  # "PASS"
_MIX_TAG = 0x4D4958  # "MIX"
_PART_TAG = 0x50415254  # "PART"
_ORDER_TAG = 0x4F52444552  # "ORDER"


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split by ``weights`` (largest remainders, ties to the earlier source); sums to ``total``."""
    exact = [Fraction(w) for w in weights]
    whole = sum(exact)
    quotas = [total * w / whole for w in exact]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return counts


def _before(a: tuple[int, int], b: tuple[int, int], counts: Sequence[int]) -> bool:
    """Does quantum ``a = (source, j)`` come before ``b`` in Sainte-Laguë order? Exact integers."""
    (i, j), (k, m) = a, b
    left, right = (2 * j + 1) * counts[k], (2 * m + 1) * counts[i]
    return left < right or (left == right and i < k)


def interleave_counts(counts: Sequence[int], t: int) -> list[int]:
    """Quanta of each source among the first ``t`` of the interleaved epoch stream.

    Start from every quantum ranked below ``t / total`` (a prefix of the order), then add the next
    or drop the last quantum until exactly ``t`` remain; at most ``m`` steps either way.
    """
    total = sum(counts)
    if not 0 <= t <= total:
        raise ValueError(f"interleave_counts: t={t} outside [0, {total}].")
    # seats of i with (2j + 1) / c_i < 2t / total  <=>  2j·total < 2t·c_i - total
    have = [0 if c == 0 else min(c, max(0, -(-(2 * t * c - total) // (2 * total)))) for c in counts]
    while sum(have) < t:
        nxt = [(i, have[i]) for i, c in enumerate(counts) if have[i] < c]
        first = nxt[0]
        for q in nxt[1:]:
            first = q if _before(q, first, counts) else first
        have[first[0]] += 1
    while sum(have) > t:
        last_seats = [(i, have[i] - 1) for i in range(len(counts)) if have[i] > 0]
        last = last_seats[0]
        for q in last_seats[1:]:
            last = q if _before(last, q, counts) else last
        have[last[0]] -= 1
    return have


def interleave_order(counts: Sequence[int]) -> np.ndarray:
    """The full Sainte-Laguë sequence of source labels for small ``counts`` (a window's batches)."""
    labels = np.repeat(np.arange(len(counts)), counts)
    j = np.concatenate([np.arange(c) for c in counts]) if labels.size else np.zeros(0, dtype=np.int64)
    rank = [(Fraction(2 * int(jj) + 1, int(counts[i])), int(i)) for i, jj in zip(labels, j)]
    return labels[sorted(range(len(rank)), key=rank.__getitem__)].astype(np.int64)


@dataclass(frozen=True, eq=False, kw_only=True)
class SourceDraws:
    """One source's ``draws`` in one epoch: whole passes over its units plus a partial pass."""

    unit_rows: np.ndarray
    draws: int
    seed: int
    epoch: int
    source: int
    shuffle: bool

    @property
    def num_rows(self) -> int:
        return int(self.unit_rows.sum())

    def pass_order(self, index: int) -> np.ndarray:
        units = self.unit_rows.shape[0]
        if not self.shuffle:
            return np.arange(units, dtype=np.int64)
        key = [self.seed, self.epoch, self.source, index, _PASS_TAG]
        return np.random.default_rng(np.random.SeedSequence(key)).permutation(units).astype(np.int64)

    def segments(self, start: int, stop: int) -> list[tuple[int, int, int]]:
        """``(unit, first_row, stop_row)`` pieces holding draws ``[start, stop)``, in draw order."""
        n, out = self.num_rows, []
        if not 0 <= start <= stop <= self.draws:
            raise ValueError(f"draws [{start}, {stop}) outside [0, {self.draws}).")
        for index in range(start // n, -(-stop // n)) if stop > start else ():
            lo, hi = max(start, index * n) - index * n, min(stop, (index + 1) * n) - index * n
            order = self.pass_order(index)
            offsets = np.zeros(order.shape[0] + 1, dtype=np.int64)
            np.cumsum(self.unit_rows[order], out=offsets[1:])
            out += unit_segments(order, offsets, lo, hi)
        return out


@dataclass(frozen=True)
class MixWindow:
    """Quanta ``[start, stop)`` of the epoch stream; ``parts[i]`` = source ``i``'s draws ``(a, b)``."""

    index: int
    start: int
    stop: int
    parts: tuple[tuple[int, int], ...]

    @property
    def sizes(self) -> list[int]:
        return [b - a for a, b in self.parts]


@dataclass(frozen=True, kw_only=True)
class MixOptions:
    """How a mixture epoch is cut (``per_source``: every batch from one source)."""

    batch_size: int
    shuffle: bool = True
    shuffle_buffer: int = 8192
    drop_last: bool = False
    per_source: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "shuffle_buffer"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r}: must be an integer >= 1.")

    @property
    def quantum(self) -> int:
        return self.batch_size if self.per_source else 1

    @property
    def window_quanta(self) -> int:
        """Quanta per window: ``shuffle_buffer`` examples rounded up to whole batches."""
        batches = math.ceil(self.shuffle_buffer / self.batch_size)
        return batches if self.per_source else batches * self.batch_size

    def quanta(self, draws: int) -> int:
        """A source's quanta: its draws, or its batches (a short last one unless ``drop_last``)."""
        if not self.per_source:
            return draws
        return draws // self.batch_size if self.drop_last else -(-draws // self.batch_size)

    def batches_in(self, window: MixWindow) -> int:
        if self.per_source:
            return window.stop - window.start  # one batch per quantum
        whole, rest = divmod(window.stop - window.start, self.batch_size)
        return whole + (1 if rest and not self.drop_last else 0)


@dataclass(frozen=True, eq=False, kw_only=True)
class MixturePlan:
    """One worker's share of one rank's mixture epoch: its windows and how to order each."""

    seed: int
    epoch: int
    options: MixOptions
    sources: tuple[SourceDraws, ...]
    windows: tuple[MixWindow, ...]

    @property
    def num_batches(self) -> int:
        return sum(self.options.batches_in(w) for w in self.windows)

    def skip(self, batches: int) -> tuple[int, int]:
        """``(window ordinal, batch in it)`` where a worker that delivered ``batches`` resumes."""
        return skip_windows([self.options.batches_in(w) for w in self.windows], batches)

    def parts(self, window: MixWindow) -> list[list[tuple[int, int, int]] | None]:
        """Per source, the segments holding its draws in the window (None where it has none)."""
        return [source.segments(a, b) if b > a else None for source, (a, b) in zip(self.sources, window.parts)]

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, *key]))

    def batches(self, window: MixWindow) -> list[tuple[int, np.ndarray]]:
        """The window's batches: ``(source or -1 when mixed, rows)``; rows index the window's rows
        laid out source after source (source ``i``'s part starts at ``sum(sizes[:i])``)."""
        sizes, size = window.sizes, self.options.batch_size
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if not self.options.per_source:
            total = int(starts[-1])
            order = self._rng(window.start, _MIX_TAG).permutation(total) if self.options.shuffle else np.arange(total)
            count = self.options.batches_in(window)
            return [(-1, order[k * size:(k + 1) * size].astype(np.int64)) for k in range(count)]
        per_source = []
        for i, n in enumerate(sizes):
            part = self._rng(window.start, i, _PART_TAG).permutation(n) if self.options.shuffle else np.arange(n)
            part = part.astype(np.int64) + starts[i]
            per_source.append([part[k:k + size] for k in range(0, n, size)])
        counts = [len(b) for b in per_source]
        if self.options.shuffle:
            labels = np.repeat(np.arange(len(counts)), counts)[self._rng(window.start, _ORDER_TAG).permutation(
                sum(counts))]
        else:
            labels = interleave_order(counts)
        taken = [0] * len(counts)
        out = []
        for label in labels.tolist():
            out.append((label, per_source[label][taken[label]]))
            taken[label] += 1
        return out


def mixture_windows(quanta: Sequence[int], draws: Sequence[int], *, options: MixOptions, rank: int,
                    world_size: int) -> list[MixWindow]:
    """All windows of one rank, in stream order, with each source's draws in each."""
    per_rank = sum(quanta) // world_size
    first, step, q = rank * per_rank, options.window_quanta, options.quantum
    bounds = list(range(first, first + per_rank, step)) + [first + per_rank]
    counts = [interleave_counts(quanta, t) for t in bounds]
    return [MixWindow(k, bounds[k], bounds[k + 1],
                      tuple((min(a * q, d), min(b * q, d)) for a, b, d in zip(counts[k], counts[k + 1], draws)))
            for k in range(len(bounds) - 1) if bounds[k + 1] > bounds[k]]


def plan_mixture(unit_rows: Sequence[np.ndarray], draws: Sequence[int], *, seed: int, epoch: int, rank: int,
                 world_size: int, worker: int, num_workers: int, options: MixOptions) -> MixturePlan:
    """The plan of worker ``worker`` of ``num_workers`` on rank ``rank`` of ``world_size``."""
    if not 0 <= rank < world_size or not 0 <= worker < num_workers:
        raise ValueError(f"rank={rank}/{world_size}, worker={worker}/{num_workers}: out of range.")
    sources = tuple(SourceDraws(unit_rows=np.asarray(rows, dtype=np.int64), draws=int(d), seed=seed, epoch=epoch,
                                source=i, shuffle=options.shuffle) for i, (rows, d) in enumerate(zip(unit_rows, draws)))
    quanta = [options.quanta(int(d)) for d in draws]
    windows = mixture_windows(quanta, draws, options=options, rank=rank, world_size=world_size)
    return MixturePlan(seed=seed, epoch=epoch, options=options, sources=sources,
                       windows=tuple(windows[worker::num_workers]))


def epoch_draws(quanta: Sequence[int], draws: Sequence[int], *, options: MixOptions, world_size: int) -> list[int]:
    """Examples each source gives one epoch over all ranks, after the dropped tail quanta."""
    kept = interleave_counts(quanta, (sum(quanta) // world_size) * world_size)
    return [min(k * options.quantum, d) for k, d in zip(kept, draws)]
