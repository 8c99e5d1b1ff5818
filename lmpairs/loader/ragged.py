"""Variable-length rows as flat ``(values, offsets)`` numpy arrays, and their vectorized padding.

Arrow list columns arrive in this form (:func:`lmpairs.schemas.list_to_numpy`), so a window of
thousands of rows is two arrays, never thousands of Python objects. Padding a batch is one
vectorized copy of ``(rows, width)`` windows and one masked fill: no loop over rows or tokens.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True, eq=False)
class Ragged:
    """Row ``i`` is ``values[offsets[i]:offsets[i + 1]]``; offsets are int64 and start at 0."""

    values: np.ndarray
    offsets: np.ndarray
    _windows: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    def windows(self, width: int) -> np.ndarray:
        """Read-only strided view whose row ``s`` is ``values[s:s + width]`` (needs ``width <= len(values)``).

        Made once per width and kept: building the view costs more than copying a batch through it,
        and every batch of a window pads to the same few widths.
        """
        view = self._windows.get(width)
        if view is None:
            view = self._windows[width] = sliding_window_view(self.values, width)
        return view

    @classmethod
    def from_rows(cls, rows: list[np.ndarray], dtype=np.int32) -> Ragged:
        """Concatenate per-row arrays (used after per-example dynamic corruption)."""
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        values = np.concatenate(rows).astype(dtype, copy=False) if rows else np.zeros(0, dtype)
        return cls(values, offsets)


def round_up(width: int, multiple: int | None) -> int:
    """``width`` rounded up to a multiple (tensor-core friendly shapes); unchanged for None/1."""
    if not multiple or multiple <= 1:
        return width
    return -(-width // multiple) * multiple


def pad_rows(ragged: Ragged, rows: np.ndarray, *, fill: int, head: int = 0, tail: int = 0,
             multiple: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` of ``ragged`` as an int64 ``(B, width)`` grid padded with ``fill``, and its lengths.

    ``head``/``tail`` drop that many tokens from each row's start/end first. The width is the
    longest kept row, rounded up to ``multiple``. Rows are copied as whole windows of a strided
    view over ``values`` (row-sized memcpys, several times faster than a per-token fancy index);
    only positions past a row's end are then overwritten with ``fill``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = ragged.offsets[rows] + head
    lengths = np.maximum(ragged.offsets[rows + 1] - tail - starts, 0)
    width = round_up(int(lengths.max()) if lengths.size else 0, multiple)
    if width == 0 or rows.shape[0] == 0:
        return np.full((rows.shape[0], width), fill, dtype=np.int64), lengths
    values = ragged.values
    fits = starts + width <= values.shape[0]  # rows whose whole window lies inside ``values``
    if fits.all():  # the usual case: one gather, no fill pass before it
        out = ragged.windows(width)[starts].astype(np.int64)
    else:
        out = np.full((rows.shape[0], width), fill, dtype=np.int64)
        if fits.any():
            out[fits] = ragged.windows(width)[starts[fits]]
        late = np.flatnonzero(~fits)  # the last rows of ``values``: gather position by position, clipped
        grid = np.minimum(starts[late, None] + np.arange(width)[None, :], values.shape[0] - 1)
        out[late] = values[grid]
    if (lengths < width).any():
        out[np.arange(width)[None, :] >= lengths[:, None]] = fill
    return out, lengths


def length_mask(lengths: np.ndarray, width: int) -> np.ndarray:
    """int64 ``(B, width)``: 1 on each row's first ``lengths[b]`` positions (an attention mask)."""
    if lengths.size and int(lengths.min()) >= width:
        return np.ones((lengths.shape[0], width), dtype=np.int64)
    return (np.arange(width, dtype=np.int64)[None, :] < lengths[:, None]).astype(np.int64)
