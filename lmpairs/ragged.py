"""The one ragged type: variable-length int rows as flat ``(values, offsets)`` numpy arrays.

Arrow's list arrays use this layout, so the pipeline turns a batch into a Parquet row group and the
loader turns a row group into a batch without a Python loop over rows; the transforms, the
pipeline and the loader all pass rows in this form. numpy only: it sits below every part.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True, eq=False)
class Ragged:
    """``n`` variable-length int rows: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    ``values`` are int32 in the transforms (any int dtype is kept as given); ``offsets`` are int64,
    ``n + 1`` long, from 0.
    """

    values: np.ndarray
    offsets: np.ndarray
    _windows: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def num_rows(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @classmethod
    def from_rows(cls, rows: Sequence[np.ndarray], dtype=np.int32) -> Ragged:
        """Build from 1-D arrays (tests, small callers, per-example results; hot paths build flat arrays)."""
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        values = np.concatenate([np.asarray(r, dtype=dtype) for r in rows]) if len(rows) else np.zeros(0, dtype)
        return cls(values.astype(dtype, copy=False), offsets)

    def take(self, indices: np.ndarray) -> Ragged:
        """The rows at ``indices``, in that order (one gather, no loop over rows)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, lengths = self.offsets[indices], self.lengths[indices]
        offsets = np.zeros(indices.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        positions = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
        return Ragged(self.values[positions], offsets)

    def slice(self, start: int, stop: int) -> Ragged:
        """Rows ``start`` to ``stop`` (clipped), as views of these arrays: no copy of the values."""
        stop = min(stop, self.num_rows)
        low = self.offsets[start]
        return Ragged(self.values[low:self.offsets[stop]], self.offsets[start:stop + 1] - low)

    def select(self, mask: np.ndarray) -> Ragged:
        """The rows where ``mask`` is true, in order: :meth:`take` for a sorted subset, at a fraction of
        its cost on long rows (one byte of mask per value instead of an int64 position)."""
        mask = np.asarray(mask, dtype=bool)
        lengths = self.lengths[mask]
        offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return Ragged(self.values[np.repeat(mask, self.lengths)], offsets)

    def windows(self, width: int) -> np.ndarray:
        """Read-only strided view whose row ``s`` is ``values[s:s + width]`` (needs ``width <= len(values)``).

        Made once per width and kept: building the view costs more than copying a batch through it,
        and every batch of a loader window pads to the same few widths.
        """
        view = self._windows.get(width)
        if view is None:
            view = self._windows[width] = sliding_window_view(self.values, width)
        return view


def concat(parts: Sequence[Ragged], out: np.ndarray | None = None) -> Ragged:
    """Rows of ``parts`` one after another (one concatenate per array); no parts: zero int32 rows.

    ``out``: a buffer at least as long as all values together, written and viewed instead of a
    fresh array (the loader reuses one per column: a window-sized allocation per window costs more
    in page faults than the copy).
    """
    if not parts:
        return Ragged(np.zeros(0, np.int32), np.zeros(1, np.int64))
    lengths = np.concatenate([p.lengths for p in parts])
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = [p.values for p in parts]
    if out is None:
        return Ragged(np.concatenate(values), offsets)
    return Ragged(np.concatenate(values, out=out[:int(offsets[-1])]), offsets)
