"""Vectorized padding of :class:`lmpairs.ragged.Ragged` rows into the loader's ``(B, L)`` grids.

Arrow list columns arrive as ragged ``(values, offsets)`` arrays (:func:`lmpairs.schemas.list_to_numpy`),
so a window of thousands of rows is two arrays, never thousands of Python objects. Padding a batch
is one vectorized copy of ``(rows, width)`` windows and one masked fill: no loop over rows or tokens.
``Ragged`` is re-exported here for the loader's modules.
"""
from __future__ import annotations

import numpy as np

from lmpairs.ragged import Ragged

__all__ = ["Ragged", "length_mask", "pad_rows", "round_up"]


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
