"""The batch types that flow through the transforms: ragged int arrays as flat values plus offsets.

A batch of variable-length rows is one flat ``values`` array and ``offsets`` of length ``n + 1``
(row ``i`` is ``values[offsets[i]:offsets[i + 1]]``), the layout Arrow's list arrays use, so the
pipeline turns a batch into a Parquet row group and the loader turns a row group into a batch
without a Python loop over rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Ragged:
    """``n`` variable-length int rows: ``values`` (int32) and ``offsets`` (int64, ``n + 1``, from 0)."""

    values: np.ndarray
    offsets: np.ndarray

    @property
    def num_rows(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @classmethod
    def from_rows(cls, rows: list[np.ndarray], dtype=np.int32) -> Ragged:
        """Build from a list of 1-D arrays (tests and small callers; the hot paths build flat arrays)."""
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        values = np.concatenate([np.asarray(r, dtype=dtype) for r in rows]) if rows else np.zeros(0, dtype)
        return cls(values.astype(dtype, copy=False), offsets)

    def take(self, indices: np.ndarray) -> Ragged:
        """The rows at ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, lengths = self.offsets[indices], self.lengths[indices]
        offsets = np.zeros(indices.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        positions = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
        return Ragged(self.values[positions], offsets)


@dataclass(frozen=True, eq=False)
class DocumentBatch:
    """Tokenized documents of one input split, in document (file) order.

    ``keys`` are uint64 document keys (a fixed hash of ``"<relative path>:<byte offset or row>"``);
    ``sentence_ends`` holds each document's exclusive sentence end offsets relative to its start.
    """

    keys: np.ndarray
    ids: Ragged
    sentence_ends: Ragged

    @property
    def num_documents(self) -> int:
        return int(self.keys.shape[0])


@dataclass(frozen=True, eq=False)
class RowBatch:
    """Clean rows before corruption: uint64 ``keys``, the ``ids`` and each row's ``segments``
    (the lengths of the documents or document pieces it holds; each row's segments sum to its
    length). ``sentence_ends``, for objectives that need them (BART), holds each row's exclusive
    sentence ends as offsets into the row; ``None`` elsewhere."""

    keys: np.ndarray
    ids: Ragged
    segments: Ragged
    sentence_ends: Ragged | None = None

    @property
    def num_rows(self) -> int:
        return int(self.keys.shape[0])


@dataclass(frozen=True, eq=False)
class ExampleBatch:
    """Stored examples: uint64 ``keys`` and one :class:`Ragged` per stored list column, in schema order."""

    keys: np.ndarray
    columns: dict[str, Ragged]

    @property
    def num_examples(self) -> int:
        return int(self.keys.shape[0])


def concat_ragged(parts: list[Ragged]) -> Ragged:
    """Rows of ``parts`` one after another (one concatenate per array)."""
    if not parts:
        return Ragged(np.zeros(0, np.int32), np.zeros(1, np.int64))
    values = np.concatenate([p.values for p in parts])
    lengths = np.concatenate([np.diff(p.offsets) for p in parts])
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Ragged(values, offsets)


def take_rows(rows: RowBatch, indices: np.ndarray) -> RowBatch:
    """The rows at ``indices``, in that order."""
    ends = None if rows.sentence_ends is None else rows.sentence_ends.take(indices)
    return RowBatch(rows.keys[indices], rows.ids.take(indices), rows.segments.take(indices), ends)


def concat_rows(parts: list[RowBatch]) -> RowBatch:
    """Row batches one after another."""
    keys = np.concatenate([p.keys for p in parts]) if parts else np.zeros(0, np.uint64)
    ends = None
    if any(p.sentence_ends is not None for p in parts):
        if any(p.sentence_ends is None and p.num_rows for p in parts):
            raise ValueError("concat_rows: some row batches carry sentence_ends and others do not.")
        ends = concat_ragged([p.sentence_ends for p in parts if p.sentence_ends is not None])
    return RowBatch(keys.astype(np.uint64), concat_ragged([p.ids for p in parts]),
                    concat_ragged([p.segments for p in parts]), ends)
