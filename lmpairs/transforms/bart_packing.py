"""BART's packer: whole documents framed ``<s> … </s>``, packed best-fit into rows of ``seq_len``.

fairseq frames each block ``<s> … </s>`` and fills blocks of ``tokens_per_sample``; a BART row here
holds several whole documents, each framed on its own, so noise can stay inside each document.
A document whose framed length exceeds ``seq_len`` is first cut at sentence ends into greedy runs
of whole sentences of at most ``seq_len - 2`` body tokens (a single longer sentence is cut into
pieces, counted as ``sentences_cut``); each run is framed and packed like a document. Packing is
the CLM best-fit packer's (:func:`lmpairs.transforms.bestfit.best_fit_decreasing`): the output's
pieces wait in a pool until ``finish``, longest first into the open row with the least room.

Each row records its pieces' framed lengths (``segments``) and its sentence ends (exclusive,
offsets into the row, ``sentence_ends``), what the noise needs to keep to each document and what
the loader needs to re-noise a stored row. Cost: O(tokens) numpy per ``add`` plus one vectorized
``searchsorted`` per greedy round; ``finish`` is O(pieces × log(seq_len)) Python steps.
"""
from __future__ import annotations

import numpy as np

from lmpairs.transforms.batch import DocumentBatch, Ragged, RowBatch, concat_rows
from lmpairs.transforms.bestfit import best_fit_decreasing
from lmpairs.transforms.packing import empty_rows
from lmpairs.transforms.rowops import gather, lengths_of, offsets_of, positions_in_rows, row_of
from lmpairs.transforms.seeding import row_keys


def sentence_lengths(num_docs: int, doc_lengths: np.ndarray, end_docs: np.ndarray,
                     ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's sentence lengths from its exclusive ``ends`` (``end_docs``: their documents).

    Ends are clipped to the document, deduplicated and closed with its length, so the lengths (all
    > 0) of a document sum to its length; an empty document has none. Returns flat lengths and
    per-document offsets into them.
    """
    all_docs = np.concatenate([end_docs.astype(np.int64), np.arange(num_docs)])
    all_ends = np.concatenate([np.clip(ends.astype(np.int64), 0, doc_lengths[end_docs]), doc_lengths])
    order = np.lexsort((all_ends, all_docs))
    all_docs, all_ends = all_docs[order], all_ends[order]
    prev = np.zeros_like(all_ends)
    prev[1:] = all_ends[:-1]
    first = np.ones(all_docs.shape[0], dtype=bool)
    first[1:] = all_docs[1:] != all_docs[:-1]
    prev[first] = 0
    keep = all_ends > prev
    return (all_ends - prev)[keep], offsets_of(np.bincount(all_docs[keep], minlength=num_docs))


def sentence_pieces(docs: DocumentBatch, max_length: int) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`sentence_lengths` of ``docs`` with sentences over ``max_length`` cut into pieces.

    Returns flat lengths, per-document offsets and how many sentences were cut.
    """
    num_docs = docs.num_documents
    ends = docs.sentence_ends
    lengths, offsets = sentence_lengths(num_docs, lengths_of(docs.ids.offsets), row_of(ends.offsets), ends.values)
    rows = row_of(offsets)
    long = lengths > max_length
    num_cut = int(long.sum())
    if num_cut:
        pieces = -(-lengths // max_length)
        cut = np.full(int(pieces.sum()), max_length, dtype=np.int64)
        cut[np.cumsum(pieces) - 1] = lengths - (pieces - 1) * max_length
        lengths, rows = cut, np.repeat(rows, pieces)
    return lengths, offsets_of(np.bincount(rows, minlength=num_docs)), num_cut


def group_sentences(lengths: np.ndarray, offsets: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy runs of whole sentences within ``capacity`` tokens, documents kept apart.

    Returns ``(first, stop)`` sentence indices (flat) of every run, in document order. Every
    length must be ``<= capacity``. One vectorized ``searchsorted`` per round over the documents
    still open, so a document that fits is one run after one round.
    """
    cumulative = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=cumulative[1:])
    doc_stop = offsets[1:]
    start = offsets[:-1].copy()
    open_docs = np.flatnonzero(start < doc_stop)
    firsts, stops, docs = [], [], []
    while open_docs.size:
        s = start[open_docs]
        stop = np.searchsorted(cumulative, cumulative[s] + capacity, side="right") - 1
        stop = np.minimum(stop, doc_stop[open_docs])
        firsts.append(s)
        stops.append(stop)
        docs.append(open_docs)
        start[open_docs] = stop
        open_docs = open_docs[stop < doc_stop[open_docs]]
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first, stop, doc = np.concatenate(firsts), np.concatenate(stops), np.concatenate(docs)
    order = np.lexsort((first, doc))  # documents in order, each one's runs in order
    return first[order], stop[order]


POOL_TOKENS = 1 << 22
"""Framed tokens the pool holds before it is packed (16 MB of int32 ids plus their sentence ends)."""


class BartPacker:
    """Framed documents (or sentence-cut pieces of long ones) best-fit into rows; see the module doc."""

    def __init__(self, *, objective_id: int, seq_len: int, bos_id: int | None, eos_id: int,
                 pool_tokens: int = POOL_TOKENS) -> None:
        self.objective_id, self.seq_len, self.pool_tokens = objective_id, int(seq_len), int(pool_tokens)
        self.bos_id, self.eos_id = bos_id, eos_id
        self.head = 0 if bos_id is None else 1
        self.capacity = self.seq_len - self.head - 1
        self.counts = {"sentences_cut": 0}
        """Counters the pipeline adds to the manifest: sentences longer than a row, cut."""
        self._pool: list[tuple[np.ndarray, np.ndarray, Ragged, Ragged]] = []  # keys, starts, ids, sentence ends
        self._pooled = 0  # tokens in the pool
        self._finished = False

    def frame(self, bodies: np.ndarray, body_lengths: np.ndarray) -> Ragged:
        """``<s>`` (when there is a bos), the body, ``</s>`` per body: int32 ids from flat ``bodies``."""
        offsets = offsets_of(body_lengths + self.head + 1)
        ids = np.empty(offsets[-1], dtype=np.int32)
        frame = np.zeros(ids.shape[0], dtype=bool)
        frame[offsets[1:] - 1] = True
        ids[offsets[1:] - 1] = self.eos_id
        if self.head:
            frame[offsets[:-1]] = True
            ids[offsets[:-1]] = self.bos_id
        ids[~frame] = bodies
        return Ragged(ids, offsets)

    def add(self, docs: DocumentBatch) -> RowBatch:
        """Pool the documents' framed pieces; the rows of every pool that filled up (usually none)."""
        if self._finished:
            raise RuntimeError("BartPacker.add after finish(): make a new packer per output.")
        if docs.num_documents == 0:
            return empty_rows()
        lengths, sent_offsets, num_cut = sentence_pieces(docs, self.capacity)
        self.counts["sentences_cut"] += num_cut
        first, stop = group_sentences(lengths, sent_offsets, self.capacity)
        if first.size == 0:
            return empty_rows()
        cumulative = offsets_of(lengths)  # sentences of consecutive documents are contiguous tokens
        sent_doc = row_of(sent_offsets)
        piece_doc = sent_doc[first]
        piece_start = cumulative[first] - docs.ids.offsets[piece_doc]  # token offset inside the document
        body_len = cumulative[stop] - cumulative[first]
        body = gather(docs.ids.values, cumulative[first], body_len)
        counts = stop - first
        end_offsets = offsets_of(counts)
        end_rows = row_of(end_offsets)
        sentence = first[end_rows] + positions_in_rows(end_offsets, end_rows)
        ends = (self.head + cumulative[sentence + 1] - cumulative[first][end_rows]).astype(np.int32)
        keys = np.asarray(docs.keys, np.uint64)[piece_doc]
        framed, sentence_ends = self.frame(body, body_len), Ragged(ends, end_offsets)
        out, lo, num = [], 0, keys.shape[0]
        cumulative = np.cumsum(framed.lengths)
        while lo < num:  # cut the batch at each piece that fills the pool
            before = int(cumulative[lo - 1]) if lo else 0
            hi = int(np.searchsorted(cumulative, before + self.pool_tokens - self._pooled, side="left")) + 1
            hi = min(hi, num)
            if lo == 0 and hi == num:
                self._pool.append((keys, piece_start, framed, sentence_ends))
            else:
                part = np.arange(lo, hi)
                self._pool.append((keys[part], piece_start[part], framed.take(part), sentence_ends.take(part)))
            self._pooled += int(cumulative[hi - 1]) - before
            if self._pooled >= self.pool_tokens:
                out.append(self._pack())
            lo = hi
        return concat_rows(out) if out else empty_rows()

    def finish(self) -> tuple[RowBatch, int]:
        """The rows of the last pool, and the tokens dropped (none: every piece fits a row)."""
        self._finished = True
        return self._pack(), 0

    def _pack(self) -> RowBatch:
        """The pool's pieces best-fit into rows (rows in the order opened, pieces in document order)."""
        if not self._pool:
            return empty_rows()
        keys = np.concatenate([p[0] for p in self._pool])
        starts = np.concatenate([p[1] for p in self._pool])
        values = np.concatenate([p[2].values for p in self._pool])
        lengths = np.concatenate([p[2].lengths for p in self._pool])
        end_values = np.concatenate([p[3].values for p in self._pool])
        end_counts = np.concatenate([p[3].lengths for p in self._pool])
        self._pool, self._pooled = [], 0
        row = np.asarray(best_fit_decreasing(lengths.tolist(), self.seq_len), dtype=np.int64)
        order = np.lexsort((np.arange(row.shape[0]), row))  # each row's pieces in document order
        num_rows = int(row.max()) + 1
        piece_counts = np.bincount(row, minlength=num_rows)
        piece_offsets = offsets_of(piece_counts)
        ids = gather(values, offsets_of(lengths)[:-1][order], lengths[order])
        row_len = np.bincount(row, weights=lengths, minlength=num_rows).astype(np.int64)
        # each piece's offset inside its row: exclusive cumulative length within the row
        ordered_len = lengths[order]
        at = np.cumsum(ordered_len) - ordered_len
        at -= np.repeat(at[piece_offsets[:-1]], piece_counts)
        ordered_ends = gather(end_values, offsets_of(end_counts)[:-1][order], end_counts[order])
        ordered_ends = ordered_ends + np.repeat(at, end_counts[order]).astype(np.int32)
        ends_per_row = np.bincount(row, weights=end_counts, minlength=num_rows).astype(np.int64)
        first = order[piece_offsets[:-1]]
        return RowBatch(row_keys(self.objective_id, keys[first], starts[first]), Ragged(ids, offsets_of(row_len)),
                        Ragged(ordered_len.astype(np.int32), piece_offsets),
                        Ragged(ordered_ends.astype(np.int32), offsets_of(ends_per_row)))
