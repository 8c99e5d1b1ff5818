"""Best-fit decreasing packing of whole documents into rows (Ding et al. 2024; OLMo-core's packed FSL).

A :class:`BestFitPacker` belongs to one output (an input split and side), like the concat packer,
but buffers that output's documents until ``finish``: best-fit decreasing needs them all. Each
framed document longer than a row is first cut into full rows (``fragment``, the remainder joins
the pool) or cut to one row (``truncate``, the rest dropped and counted); those full rows are
returned by ``add`` at once. ``finish`` then takes the pool's pieces longest first (ties in
document order) and puts each into the open row with the least room that still fits it, opening
a row when none does. A short document therefore always lands whole in one row. Rows are returned
in the order they were opened, their pieces in document order; ``doc_lengths`` are the pieces.

Cost: O(pieces × log(row length)) Python steps at ``finish`` (the open rows are kept in buckets by
remaining room, the non-empty rooms in a sorted list of at most ``row_length`` ints) plus O(tokens)
numpy to assemble the rows; memory holds the output's short documents.
"""
from __future__ import annotations

import bisect

import numpy as np

from lmpairs.transforms.batch import DocumentBatch, Ragged, RowBatch
from lmpairs.transforms.packing import empty_rows, frame_documents
from lmpairs.transforms.rowops import gather, offsets_of
from lmpairs.transforms.seeding import row_keys


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[int]:
    """The row index of each piece (``lengths`` all ``<= capacity``), rows numbered as opened.

    Pieces are placed longest first (stable: equal lengths in the given order) into the row with
    the least remaining room that fits; among rows with equal room, the most recently touched.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    rooms: list[int] = []  # sorted distinct rooms that some open row has
    rows_by_room: dict[int, list[int]] = {}
    row_of = [0] * len(lengths)
    num_rows = 0
    for i in order:
        need = lengths[i]
        at = bisect.bisect_left(rooms, need)
        if at == len(rooms):
            row, room = num_rows, capacity
            num_rows += 1
        else:
            room = rooms[at]
            bucket = rows_by_room[room]
            row = bucket.pop()
            if not bucket:
                del rows_by_room[room]
                rooms.pop(at)
        row_of[i] = row
        left = room - need
        if left > 0:
            bucket = rows_by_room.get(left)
            if bucket is None:
                rows_by_room[left] = bucket = []
                bisect.insort(rooms, left)
            bucket.append(row)
    return row_of


class BestFitPacker:
    """Whole documents into rows of ``row_length`` by best-fit decreasing, per output (see module doc)."""

    def __init__(self, *, objective_id: int, row_length: int, prefix: int | None = None, suffix: int | None = None,
                 long_documents: str = "fragment", min_row_tokens: int = 2) -> None:
        if long_documents not in ("fragment", "truncate"):
            raise ValueError(f"long_documents={long_documents!r}: choose 'fragment' or 'truncate'.")
        self.objective_id, self.row_length = objective_id, int(row_length)
        self.prefix, self.suffix = prefix, suffix
        self.long_documents, self.min_row_tokens = long_documents, min_row_tokens
        self._pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # keys, starts, tokens (ragged)
        self._dropped = 0
        self._finished = False

    def add(self, docs: DocumentBatch) -> RowBatch:
        """Full rows cut from long documents now; shorter pieces wait for :meth:`finish`."""
        if self._finished:
            raise RuntimeError("BestFitPacker.add after finish(): make a new packer per output.")
        framed, lengths = frame_documents(docs, self.prefix, self.suffix)
        keys = np.asarray(docs.keys, np.uint64)
        offsets = offsets_of(lengths)
        r = self.row_length
        full = lengths // r if self.long_documents == "fragment" else (lengths > r).astype(np.int64)
        if self.long_documents == "truncate":
            self._dropped += int(np.maximum(lengths - r, 0).sum())
            rest = np.where(lengths > r, 0, lengths)
        else:
            rest = lengths - full * r
        # full rows: document d's j-th row starts at j * r
        doc_of_row = np.repeat(np.arange(lengths.shape[0]), full)
        j = np.arange(doc_of_row.shape[0]) - np.repeat(offsets_of(full)[:-1], full)
        starts = j * r
        rows = empty_rows()
        if doc_of_row.size:
            values = gather(framed, offsets[:-1][doc_of_row] + starts, np.full(doc_of_row.shape[0], r))
            row_offsets = np.arange(doc_of_row.shape[0] + 1, dtype=np.int64) * r
            rows = RowBatch(row_keys(self.objective_id, keys[doc_of_row], starts), Ragged(values, row_offsets),
                            Ragged(np.full(doc_of_row.shape[0], r, np.int32),
                                   np.arange(doc_of_row.shape[0] + 1, dtype=np.int64)))
        keep = rest > 0
        if keep.any():
            piece_start = full * r if self.long_documents == "fragment" else np.zeros_like(full)
            piece_start = piece_start[keep]
            piece_len = rest[keep]
            tokens = gather(framed, offsets[:-1][keep] + piece_start, piece_len)
            self._pieces.append((keys[keep], piece_start, Ragged(tokens, offsets_of(piece_len))))
        return rows

    def finish(self) -> tuple[RowBatch, int]:
        """Every pool row, and the tokens dropped (truncation, rows under ``min_row_tokens``)."""
        self._finished = True
        dropped, self._dropped = self._dropped, 0
        if not self._pieces:
            return empty_rows(), dropped
        keys = np.concatenate([p[0] for p in self._pieces])
        starts = np.concatenate([p[1] for p in self._pieces])
        values = np.concatenate([p[2].values for p in self._pieces])
        lengths = np.concatenate([p[2].lengths for p in self._pieces])
        self._pieces = []
        row = np.asarray(best_fit_decreasing(lengths.tolist(), self.row_length), dtype=np.int64)
        order = np.lexsort((np.arange(row.shape[0]), row))  # each row's pieces in document order
        row_len = np.bincount(row, weights=lengths, minlength=int(row.max()) + 1).astype(np.int64)
        small = row_len < self.min_row_tokens
        if small.any():
            dropped += int(row_len[small].sum())
            order = order[~small[row[order]]]
            row_len = row_len[~small]
        piece_offsets = offsets_of(lengths)
        ids = gather(values, piece_offsets[:-1][order], lengths[order])
        counts = np.bincount(row[order], minlength=small.shape[0])[~small]
        first = order[offsets_of(counts)[:-1]]
        out = RowBatch(row_keys(self.objective_id, keys[first], starts[first]), Ragged(ids, offsets_of(row_len)),
                       Ragged(lengths[order].astype(np.int32), offsets_of(counts)))
        return out, dropped
