"""Variable-length rows as flat ``(values, offsets)`` numpy arrays, and their vectorized padding.

Arrow list columns arrive in this form (:func:`lmpairs.schemas.list_to_numpy`), so a window of
thousands of rows is two arrays, never thousands of Python objects. Padding a batch is one fancy
index over a ``(rows, width)`` grid of positions: no loop over rows or tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Ragged:
    """Row ``i`` is ``values[offsets[i]:offsets[i + 1]]``; offsets are int64 and start at 0."""

    values: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @classmethod
    def from_rows(cls, rows: list[np.ndarray], dtype=np.int32) -> "Ragged":
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

    ``head``/``tail`` drop that many tokens from each row's start/end first (CLM inputs are
    ``row[:-1]``: ``tail=1``; targets ``row[1:]``: ``head=1``). The width is the longest kept row,
    rounded up to ``multiple``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = ragged.offsets[rows] + head
    lengths = np.maximum(ragged.offsets[rows + 1] - tail - starts, 0)
    width = round_up(int(lengths.max()) if lengths.size else 0, multiple)
    grid = starts[:, None] + np.arange(width, dtype=np.int64)[None, :]
    if lengths.size and (lengths == width).all():
        return ragged.values[grid].astype(np.int64), lengths
    inside = grid < (starts + lengths)[:, None]
    out = np.full((rows.shape[0], width), fill, dtype=np.int64)
    out[inside] = ragged.values[grid[inside]]
    return out, lengths


def length_mask(lengths: np.ndarray, width: int) -> np.ndarray:
    """int64 ``(B, width)``: 1 on each row's first ``lengths[b]`` positions (an attention mask)."""
    return (np.arange(width, dtype=np.int64)[None, :] < lengths[:, None]).astype(np.int64)
