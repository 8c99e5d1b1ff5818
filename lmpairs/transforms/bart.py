"""BART denoising: each document cut at sentence ends into ``<s> … </s>`` rows, noised as fairseq does.

Rows never mix documents (fairseq's ``complete_doc``): a document is split greedily into runs of
whole sentences of at most ``seq_len - 2`` tokens (a longer sentence is cut into pieces), so rows
are variable length. ``corrupt`` applies, in fairseq's order, sentence permutation, token masking,
token deletion, text infilling, insertion and rotation to the body; the target is the clean row.
"""
from __future__ import annotations

import numpy as np

from lmpairs.config import BartConfig
from lmpairs.transforms.bart_noise import (delete_tokens, infill_text, insert_noise, mask_tokens_bart,
                                           permute_sentences, rotate_document)
from lmpairs.transforms.objective import Columns, Objective, Row
from lmpairs.transforms.seeding import stable_hash64


def sentence_lengths(num_tokens: int, sentence_ends: np.ndarray, *, max_length: int) -> np.ndarray:
    """Lengths of a document's sentences, each longer one cut into pieces of at most ``max_length``.

    ``sentence_ends`` are exclusive end offsets; they are clipped, deduplicated and closed with
    ``num_tokens``, so the lengths (all > 0) always sum to ``num_tokens``.
    """
    if num_tokens == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.minimum(np.maximum(np.asarray(sentence_ends, dtype=np.int64), 0), num_tokens)  # a new array
    lengths = successive_differences(ends)
    # Ends from the tokenizer are already strictly increasing up to num_tokens: nothing to clean up.
    if not (ends.size and ends[-1] == num_tokens and (lengths > 0).all()):
        ends = np.unique(ends)
        lengths = np.diff(np.union1d(ends[ends > 0], [num_tokens]), prepend=0)
    if int(lengths.max()) <= max_length:  # every sentence fits a row: nothing to cut
        return lengths
    pieces = -(-lengths // max_length)
    out = np.full(int(pieces.sum()), max_length, dtype=np.int64)
    last_piece = np.cumsum(pieces) - 1
    out[last_piece] = lengths - (pieces - 1) * max_length
    return out


def successive_differences(ends: np.ndarray) -> np.ndarray:
    """``np.diff(ends, prepend=0)`` as two ufunc calls (``np.diff``'s wrapper costs more than the work)."""
    lengths = ends.copy()
    lengths[1:] -= ends[:-1]
    return lengths


def group_sentences(lengths: np.ndarray, capacity: int) -> np.ndarray:
    """Greedy row boundaries: indices ``b`` such that sentences ``b[i]:b[i+1]`` fill row ``i``.

    Each row takes whole sentences while their total stays within ``capacity`` (every length must
    be ``<= capacity``). One ``searchsorted`` per row, not a loop over sentences.
    """
    cumulative = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=cumulative[1:])
    if cumulative[-1] <= capacity:  # the whole document is one row (or none)
        return np.array([0, lengths.shape[0]] if lengths.shape[0] else [0], dtype=np.int64)
    bounds = [0]
    while bounds[-1] < lengths.shape[0]:
        start = bounds[-1]
        bounds.append(int(np.searchsorted(cumulative, cumulative[start] + capacity, side="right")) - 1)
    return np.asarray(bounds, dtype=np.int64)


def shared_count(a: np.ndarray, b: np.ndarray) -> int:
    """Size of the multiset intersection of ``a`` and ``b`` (sum over ids of the smaller count).

    Two sorts and binary searches over the rows themselves: no ``np.unique``, no vocabulary-sized
    count arrays. The ``r``-th copy of an id in ``b`` is shared when ``a`` holds more than ``r``.
    """
    sorted_a, sorted_b = np.sort(a), np.sort(b)
    rank = np.arange(sorted_b.shape[0]) - np.searchsorted(sorted_b, sorted_b, side="left")
    in_a = np.searchsorted(sorted_a, sorted_b, side="right") - np.searchsorted(sorted_a, sorted_b, side="left")
    return int((rank < in_a).sum())


def body_segments(segment_lengths: np.ndarray, head: int, body_length: int) -> np.ndarray:
    """A framed row's segment lengths re-cut to its body (framing removed, empty sentences dropped)."""
    ends = np.cumsum(np.asarray(segment_lengths, dtype=np.int64))
    ends -= head
    np.minimum(np.maximum(ends, 0, out=ends), body_length, out=ends)
    lengths = successive_differences(ends)
    return lengths[lengths > 0]


class BartObjective(Objective):
    name = "bart"
    columns = ("input_ids", "labels")
    config: BartConfig

    @property
    def row_length(self) -> int:
        """The longest row; rows are variable length and never packed."""
        return self.config.seq_len

    @property
    def head(self) -> int:
        """Framing tokens before the body: ``<s>``, or none when the vocabulary has no bos."""
        return 0 if self.vocab.bos_id is None else 1

    @property
    def body_capacity(self) -> int:
        return self.config.seq_len - self.head - 1

    def document_rows(self, doc_key: str, ids: np.ndarray, sentence_ends: np.ndarray) -> tuple[list[Row], np.ndarray]:
        """One document's rows, each ``<s> sentences </s>``; no remainder, so nothing is packed."""
        ids = np.asarray(ids, dtype=np.int32)
        lengths = sentence_lengths(ids.shape[0], sentence_ends, max_length=self.body_capacity)
        bounds = group_sentences(lengths, self.body_capacity)
        offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        head, rows = self.head, []
        for i in range(bounds.shape[0] - 1):
            a, b = int(bounds[i]), int(bounds[i + 1])
            segments = lengths[a:b].astype(np.int32)
            segments[0] += head
            segments[-1] += 1
            start, stop = int(offsets[a]), int(offsets[b])
            row_ids = np.empty(stop - start + head + 1, dtype=np.int32)  # <s> body </s>
            row_ids[head:-1] = ids[start:stop]
            if head:
                row_ids[0] = self.vocab.bos_id
            row_ids[-1] = self.vocab.eos_id
            rows.append(Row(stable_hash64(self.name, "doc", doc_key, i), row_ids, segments))
        return rows, np.zeros(0, dtype=np.int32)

    def pack_leftovers(self, group: str, leftovers: list[np.ndarray]) -> tuple[list[Row], int]:
        """BART keeps documents apart: :meth:`document_rows` leaves nothing to pack."""
        if any(len(x) for x in leftovers):
            raise ValueError(f"bart: bucket {group!r} got {sum(len(x) for x in leftovers)} leftover tokens, "
                             "but BART rows never pack across documents; use BartObjective.document_rows.")
        return [], 0

    def split_frame(self, row: Row) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, body)`` of a framed row, checking ``<s> … </s>`` and the segment lengths."""
        ids = np.asarray(row.ids, dtype=np.int32)
        n = ids.shape[0]
        bos_ok = self.head == 0 or (n > 0 and ids[0] == self.vocab.bos_id)
        if n < self.head + 1 or not bos_ok or ids[-1] != self.vocab.eos_id:
            raise ValueError(f"bart: row {row.key} is not framed <s> … </s> (got {n} ids, first "
                             f"{ids[:1].tolist()}, last {ids[-1:].tolist()}); build rows with "
                             "BartObjective.document_rows.")
        total = int(np.sum(row.segment_lengths))
        if total != n:
            raise ValueError(f"bart: row {row.key} has segment_lengths summing to {total}, expected {n} "
                             f"(its length); pass segment_lengths=[{n}] when sentences are unknown.")
        return ids, ids[self.head:n - 1]

    def corrupt(self, row: Row, *, rng: np.random.Generator) -> Columns:
        """Noise the body of ``row`` (fairseq order) and keep the clean row as ``labels``.

        Inputs are variable length: with the defaults about 75% of the row. Only insertion noise
        and zero-length infill spans (about e^-λ of the spans) lengthen them, so an input can
        exceed ``seq_len`` only under a small λ or insertion noise; the loader pads per batch.
        A row whose sentences are unknown (dynamic re-noising) passes ``segment_lengths=[len]``.
        """
        c = self.config
        ids, body = self.split_frame(row)
        segments = body_segments(row.segment_lengths, self.head, body.shape[0])
        body = permute_sentences(body, segments, ratio=c.permute_sentence_ratio, rng=rng)
        body = mask_tokens_bart(body, ratio=c.token_mask_ratio, vocab=self.vocab, rng=rng)
        body = delete_tokens(body, ratio=c.token_delete_ratio, rng=rng)
        body = infill_text(body, mask_ratio=c.mask_ratio, random_ratio=c.random_ratio,
                           poisson_lambda=c.poisson_lambda, whole_words=c.mask_whole_words,
                           vocab=self.vocab, rng=rng)
        body = insert_noise(body, ratio=c.insert_ratio, random_ratio=c.random_ratio, vocab=self.vocab, rng=rng)
        body = rotate_document(body, ratio=c.rotate_ratio, rng=rng)
        input_ids = np.concatenate([ids[:self.head], body, ids[-1:]])  # all int32
        return {"input_ids": input_ids, "labels": ids.copy()}

    def clean_ids(self, columns: Columns) -> np.ndarray:
        return np.asarray(columns["labels"], dtype=np.int32).copy()

    def measure(self, columns: Columns) -> dict[str, int]:
        """Counts behind the manifest's applied BART rates, computed from inputs versus labels.

        ``removed``: clean tokens missing from the input (as a multiset, so permutation and
        rotation cancel): covered by infilled spans, token-masked or deleted. ``masks``: mask ids in
        the input. ``added``: other input tokens absent from the labels (random replacements and
        insertions). Applied infill rate ≈ removed / body_tokens. A random id that happens to equal
        a removed token of the same row cancels one count from both (rare: about removed/vocab).
        """
        input_ids = np.asarray(columns["input_ids"])
        labels = np.asarray(columns["labels"])
        shared = shared_count(labels, input_ids)
        masks = int((input_ids == self.vocab.mask_id).sum())
        mask_surplus = max(masks - int((labels == self.vocab.mask_id).sum()), 0)
        return {
            "tokens": int(input_ids.shape[0]),
            "label_tokens": int(labels.shape[0]),
            "body_tokens": int(labels.shape[0]) - self.head - 1,
            "removed": int(labels.shape[0]) - shared,  # sum over ids of max(in labels - in input, 0)
            "masks": masks,
            "added": int(input_ids.shape[0]) - shared - mask_surplus,  # the same surplus, mask ids aside
        }
