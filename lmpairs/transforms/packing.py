"""Cut documents into fixed-length rows and pack their leftovers, recording segment boundaries.

Packing must not depend on how a runner bundles elements, so it runs in two steps: each document is
first cut into whole rows by itself (``cut_document``); only the remainders are grouped (by a hash
bucket), sorted by document key and packed together (``pack_sequences``). Both are O(tokens) numpy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class PackedRows:
    """Rows as one flat token array plus offsets, and each row's segment lengths likewise.

    ``tokens[row_offsets[i]:row_offsets[i+1]]`` is row ``i``; its segment (document) lengths are
    ``segment_lengths[segment_offsets[i]:segment_offsets[i+1]]`` and sum to the row's length.
    """

    tokens: np.ndarray
    row_offsets: np.ndarray
    segment_lengths: np.ndarray
    segment_offsets: np.ndarray

    @property
    def num_rows(self) -> int:
        return int(self.row_offsets.shape[0] - 1)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ``i`` as ``(ids, segment_lengths)``."""
        r0, r1 = self.row_offsets[i], self.row_offsets[i + 1]
        s0, s1 = self.segment_offsets[i], self.segment_offsets[i + 1]
        return self.tokens[r0:r1], self.segment_lengths[s0:s1]


def cut_document(ids: np.ndarray, row_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Split one document into ``(full_rows[n, row_length], remainder)`` without copying tokens."""
    ids = np.asarray(ids, dtype=np.int32)
    num_full = ids.shape[0] // row_length
    full = ids[: num_full * row_length].reshape(num_full, row_length)
    return full, ids[num_full * row_length:]


def pack_sequences(sequences: list[np.ndarray], row_length: int, *, keep_partial: bool) -> tuple[PackedRows, int]:
    """Concatenate ``sequences`` in the given order and cut the stream into rows of ``row_length``.

    Each row records the lengths of the pieces of sequences it holds. The final partial row is
    kept (shorter) when ``keep_partial``, else dropped. Returns the rows and the number of tokens
    dropped.
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    lengths = lengths[lengths > 0]
    tokens = (np.concatenate([np.asarray(s, dtype=np.int32) for s in sequences if len(s)])
              if lengths.size else np.zeros(0, dtype=np.int32))
    total = int(tokens.shape[0])
    num_full = total // row_length
    kept = total if keep_partial else num_full * row_length
    num_rows = -(-kept // row_length)
    row_ends = np.minimum(np.arange(1, num_rows + 1, dtype=np.int64) * row_length, kept)
    doc_ends = np.cumsum(lengths)
    doc_ends = doc_ends[doc_ends < kept]
    # Every segment ends at a document end or a row end; the union of both, sorted, cuts them all.
    cuts = np.union1d(doc_ends, row_ends)
    segment_lengths = np.diff(cuts, prepend=0).astype(np.int32)
    segment_row = (cuts - 1) // row_length
    segment_offsets = np.searchsorted(segment_row, np.arange(num_rows + 1), side="left").astype(np.int64)
    row_offsets = np.concatenate([[0], row_ends]).astype(np.int64)
    packed = PackedRows(tokens=tokens[:kept], row_offsets=row_offsets,
                        segment_lengths=segment_lengths, segment_offsets=segment_offsets)
    return packed, total - kept
