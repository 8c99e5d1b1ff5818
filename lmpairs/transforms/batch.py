"""The batch types that flow through the transforms: documents, clean rows and stored examples.

Their variable-length columns are :class:`lmpairs.ragged.Ragged` (flat values plus offsets, the
layout of Arrow's list arrays), re-exported here with :func:`concat_ragged`, its concatenation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmpairs.ragged import Ragged
from lmpairs.ragged import concat as concat_ragged

__all__ = ["DocumentBatch", "ExampleBatch", "Ragged", "RowBatch", "concat_ragged", "concat_rows", "slice_rows",
           "take_rows"]


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


def take_rows(rows: RowBatch, indices: np.ndarray) -> RowBatch:
    """The rows at ``indices``, in that order."""
    ends = None if rows.sentence_ends is None else rows.sentence_ends.take(indices)
    return RowBatch(rows.keys[indices], rows.ids.take(indices), rows.segments.take(indices), ends)


def slice_rows(rows: RowBatch, start: int, stop: int) -> RowBatch:
    """Rows ``start`` to ``stop`` (clipped), sharing the arrays of ``rows``."""
    ends = None if rows.sentence_ends is None else rows.sentence_ends.slice(start, stop)
    return RowBatch(rows.keys[start:stop], rows.ids.slice(start, stop), rows.segments.slice(start, stop), ends)


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
