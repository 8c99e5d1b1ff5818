"""Streaming concat-and-chunk packing: documents in order -> rows of a fixed length, with segments.

A :class:`ConcatPacker` belongs to one output (one input split, one train/validation side). Each
``add`` frames a batch of documents (``[prefix] ids [suffix]``), appends them to the carried tail
of the previous batch and cuts every complete row; ``finish`` returns the final short row (kept or
dropped per config, counted). Rows record segment lengths: the pieces of documents they hold.

A row's key is ``row_keys(objective_id, key of the document it starts in, token offset there)``:
a function of the content alone, so any split of the documents into batches gives the same rows
and keys. Cost: O(tokens) numpy per ``add``; the carry is shorter than one row.
"""
from __future__ import annotations

import numpy as np

from lmpairs.transforms.batch import DocumentBatch, Ragged, RowBatch
from lmpairs.transforms.rowops import lengths_of, offsets_of
from lmpairs.transforms.seeding import row_keys


def empty_rows() -> RowBatch:
    empty = Ragged(np.zeros(0, np.int32), np.zeros(1, np.int64))
    return RowBatch(np.zeros(0, np.uint64), empty, empty)


def frame_documents(docs: DocumentBatch, prefix: int | None, suffix: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``[prefix] ids [suffix]`` of every document as one flat int32 array, and the framed lengths."""
    lengths = lengths_of(docs.ids.offsets)
    extra = (prefix is not None) + (suffix is not None)
    if extra == 0:
        return docs.ids.values.astype(np.int32, copy=False), lengths
    framed_lengths = lengths + extra
    offsets = offsets_of(framed_lengths)
    out = np.empty(offsets[-1], dtype=np.int32)
    body = np.ones(offsets[-1], dtype=bool)
    if prefix is not None:
        body[offsets[:-1]] = False
        out[offsets[:-1]] = prefix
    if suffix is not None:
        body[offsets[1:] - 1] = False
        out[offsets[1:] - 1] = suffix
    out[body] = docs.ids.values
    return out, framed_lengths


class ConcatPacker:
    """Packs one output's documents into rows of ``row_length`` tokens (plus ``row_prefix``).

    ``row_prefix`` (MLM's bos) is prepended to every row and counted in its first segment.
    ``keep_final``: the final short row is kept (when it has at least ``min_row_tokens``) or dropped.
    """

    def __init__(self, *, objective_id: int, row_length: int, prefix: int | None = None,
                 suffix: int | None = None, row_prefix: int | None = None, keep_final: bool = True,
                 min_row_tokens: int = 2) -> None:
        self.objective_id = objective_id
        self.row_length = int(row_length)
        self.prefix, self.suffix, self.row_prefix = prefix, suffix, row_prefix
        self.keep_final, self.min_row_tokens = keep_final, min_row_tokens
        self._tokens = np.zeros(0, np.int32)
        self._piece_keys = np.zeros(0, np.uint64)      # document of each carried piece
        self._piece_starts = np.zeros(0, np.int64)     # framed offset of the piece inside its document
        self._piece_lengths = np.zeros(0, np.int64)
        self._finished = False

    def add(self, docs: DocumentBatch) -> RowBatch:
        """Rows completed by ``docs`` (documents in order)."""
        if self._finished:
            raise RuntimeError("ConcatPacker.add after finish(): make a new packer per output.")
        framed, framed_lengths = frame_documents(docs, self.prefix, self.suffix)
        keep = framed_lengths > 0
        tokens = np.concatenate([self._tokens, framed]) if self._tokens.size else framed
        keys = np.concatenate([self._piece_keys, np.asarray(docs.keys, np.uint64)[keep]])
        starts = np.concatenate([self._piece_starts, np.zeros(int(keep.sum()), np.int64)])
        lengths = np.concatenate([self._piece_lengths, framed_lengths[keep]])
        num_full = tokens.shape[0] // self.row_length
        return self._emit(tokens, keys, starts, lengths, num_full * self.row_length)

    def finish(self) -> tuple[RowBatch, int]:
        """The final short row (or none) and the number of tokens dropped."""
        self._finished = True
        n = self._tokens.shape[0]
        if n == 0:
            return empty_rows(), 0
        if not self.keep_final or n < self.min_row_tokens:
            self._tokens = self._tokens[:0]
            return empty_rows(), n
        tokens, keys, starts, lengths = self._tokens, self._piece_keys, self._piece_starts, self._piece_lengths
        self._tokens = tokens[:0]
        return self._emit(tokens, keys, starts, lengths, n, final=True), 0

    def _emit(self, tokens: np.ndarray, keys: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
              cut: int, *, final: bool = False) -> RowBatch:
        """Rows of ``tokens[:cut]`` (full rows, or the one final row); carry the rest."""
        piece_ends = np.cumsum(lengths)
        piece_begins = piece_ends - lengths
        r = self.row_length
        num_rows = 1 if final else cut // r
        row_starts = np.arange(num_rows, dtype=np.int64) * r
        row_ends = np.minimum(row_starts + r, cut)
        first = np.searchsorted(piece_ends, row_starts, side="right")
        out_keys = row_keys(self.objective_id, keys[first], starts[first] + row_starts - piece_begins[first])
        # Segments: cut the documents at every piece end and row end.
        cuts = np.union1d(piece_ends[piece_ends < cut], row_ends)
        seg_lengths = np.diff(cuts, prepend=0)
        seg_row = (cuts - 1) // r
        seg_offsets = np.searchsorted(seg_row, np.arange(num_rows + 1), side="left").astype(np.int64)
        ids_lengths = row_ends - row_starts
        values = tokens[:cut]
        if self.row_prefix is not None:
            ids_lengths = ids_lengths + 1
            offsets = offsets_of(ids_lengths)
            out = np.empty(offsets[-1], dtype=np.int32)
            body = np.ones(offsets[-1], dtype=bool)
            body[offsets[:-1]] = False
            out[offsets[:-1]] = self.row_prefix
            out[body] = values
            values = out
            seg_lengths[seg_offsets[:-1]] += 1
        # Carry the tail: pieces that end after the cut, trimmed to start there.
        tail = piece_ends > cut
        self._tokens = tokens[cut:].copy() if not final else tokens[:0]
        if not final:
            skip = np.maximum(cut - piece_begins[tail], 0)
            self._piece_keys = keys[tail]
            self._piece_starts = starts[tail] + skip
            self._piece_lengths = lengths[tail] - skip
        rows = RowBatch(out_keys, Ragged(np.ascontiguousarray(values, np.int32), offsets_of(ids_lengths)),
                        Ragged(seg_lengths.astype(np.int32), seg_offsets))
        return rows
