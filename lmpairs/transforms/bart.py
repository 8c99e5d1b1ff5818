"""BART denoising: each document cut at sentence ends into ``<s> … </s>`` rows, noised as fairseq does.

Rows never mix documents (fairseq's ``complete_doc``): a document is split greedily into runs of
whole sentences of at most ``seq_len - 2`` tokens (a longer sentence is cut into pieces), so rows
are variable length. The greedy grouping advances every document of a batch by one row per
vectorized round (rounds = the most rows any one document gives). ``corrupt`` applies, in
fairseq's order, sentence permutation, token masking, token deletion, text infilling, insertion
and rotation to the bodies of the whole batch; the target is the clean row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lmpairs.config_base import FRACTION, MAX_SEQ_LEN, Config, seq_len_setting
from lmpairs.fields import Limits, setting
from lmpairs.transforms import bart_noise as noise
from lmpairs.transforms.batch import DocumentBatch, ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.packing import empty_rows
from lmpairs.transforms.rowops import gather, lengths_of, offsets_of, row_of
from lmpairs.transforms.seeding import row_keys

(PERMUTE_CHOOSE, PERMUTE_ORDER, TOKEN_MASK, TOKEN_DELETE, SPAN_LENGTHS, SPAN_VALUES, SPAN_IDS, SPAN_PLACE,
 SPAN_SLOTS, INSERT_IDS, INSERT_SLOTS, ROTATE) = range(12)
"""Hash streams of BART, one per draw purpose."""


def sentence_pieces(docs: DocumentBatch, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Each document's sentence lengths, sentences longer than ``max_length`` cut into pieces.

    Sentence ends are clipped to the document, deduplicated and closed with its length, so the
    lengths (all > 0) of a document sum to its token count. Returns flat lengths and per-document
    offsets into them.
    """
    num_docs = docs.num_documents
    doc_len = lengths_of(docs.ids.offsets)
    ends = docs.sentence_ends
    e_rows = row_of(ends.offsets)
    all_rows = np.concatenate([e_rows, np.arange(num_docs)])
    all_ends = np.concatenate([np.clip(ends.values.astype(np.int64), 0, doc_len[e_rows]), doc_len])
    order = np.lexsort((all_ends, all_rows))
    all_rows, all_ends = all_rows[order], all_ends[order]
    prev = np.zeros_like(all_ends)
    prev[1:] = all_ends[:-1]
    first = np.ones(all_rows.shape[0], dtype=bool)
    first[1:] = all_rows[1:] != all_rows[:-1]
    prev[first] = 0
    keep = all_ends > prev
    lengths = (all_ends - prev)[keep]
    rows = all_rows[keep]
    if lengths.size and int(lengths.max()) > max_length:
        pieces = -(-lengths // max_length)
        cut = np.full(int(pieces.sum()), max_length, dtype=np.int64)
        cut[np.cumsum(pieces) - 1] = lengths - (pieces - 1) * max_length
        lengths, rows = cut, np.repeat(rows, pieces)
    return lengths, offsets_of(np.bincount(rows, minlength=num_docs))


def group_sentences(lengths: np.ndarray, offsets: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy rows of whole sentences within ``capacity`` tokens, documents kept apart.

    Returns ``(first, stop)`` sentence indices (flat) of every row, rows in document order. Every
    length must be ``<= capacity``. One vectorized ``searchsorted`` per round over the documents
    still open.
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
    order = np.lexsort((first, doc))  # documents in order, each one's rows in order
    return first[order], stop[order]


def shared_counts(a: Ragged, b: Ragged) -> int:
    """Sum over rows of the multiset intersection of row ``i`` of ``a`` and of ``b``.

    Each row's values of both, tagged (``2 id`` for ``a``, ``2 id + 1`` for ``b``), go into one
    padded grid sorted row-wise: every id is then a run of its ``a`` copies followed by its ``b``
    copies, and the run contributes ``min(#a, #b)``. One 2-D sort and a few flat passes per batch.
    """
    num_rows = a.num_rows
    if num_rows == 0:
        return 0
    la, lb = a.lengths, b.lengths
    width = int((la + lb).max())
    top = int(max(a.values.max(initial=0), b.values.max(initial=0)))
    dtype = np.int32 if 2 * top + 2 < 2**31 - 1 else np.int64
    pad = np.iinfo(dtype).max
    grid = np.full((num_rows, width), pad, dtype=dtype)
    columns = np.arange(width)[None, :]
    grid[columns < la[:, None]] = a.values.astype(dtype) * 2
    grid[(columns >= la[:, None]) & (columns < (la + lb)[:, None])] = b.values.astype(dtype) * 2 + 1
    grid.sort(axis=1)
    flat = grid.reshape(-1)
    flat = flat[flat != pad]  # row by row, each row sorted
    ids, from_b = flat >> 1, (flat & 1).astype(bool)
    starts = np.ones(flat.shape[0], dtype=bool)
    starts[1:] = ids[1:] != ids[:-1]
    row_starts = offsets_of(la + lb)[:-1]
    starts[row_starts[row_starts < flat.shape[0]]] = True  # equal ids in adjacent rows are different runs
    run = np.cumsum(starts) - 1
    in_b = np.bincount(run[from_b], minlength=int(run[-1]) + 1 if run.size else 0)
    in_a = np.bincount(run[~from_b], minlength=in_b.shape[0])
    return int(np.minimum(in_a, in_b).sum())


class BartPacker:
    """BART rows of one stream: per document, never packed across documents; ``finish`` has nothing left."""

    def __init__(self, objective: BartObjective) -> None:
        self.objective = objective

    def add(self, docs: DocumentBatch) -> RowBatch:
        obj = self.objective
        if docs.num_documents == 0:
            return empty_rows()
        lengths, sent_offsets = sentence_pieces(docs, obj.body_capacity)
        first, stop = group_sentences(lengths, sent_offsets, obj.body_capacity)
        if first.size == 0:
            return empty_rows()
        sent_doc = row_of(sent_offsets)
        sent_start = np.cumsum(lengths) - lengths - docs.ids.offsets[sent_doc]  # token offset inside the document
        row_doc = sent_doc[first]
        body_start = sent_start[first]
        cumulative = offsets_of(lengths)
        body_len = cumulative[stop] - cumulative[first]
        body = gather(docs.ids.values, docs.ids.offsets[row_doc] + body_start, body_len)
        head = obj.head
        rows = obj.framed(body, body_len)
        seg_counts = stop - first
        seg = lengths[np.repeat(first, seg_counts) + (np.arange(int(seg_counts.sum()))
                                                     - np.repeat(offsets_of(seg_counts)[:-1], seg_counts))]
        seg = seg.astype(np.int32)
        seg_offsets = offsets_of(seg_counts)
        seg[seg_offsets[:-1]] += head
        seg[seg_offsets[1:] - 1] += 1
        keys = row_keys(obj.objective_id, np.asarray(docs.keys, np.uint64)[row_doc], body_start)
        return RowBatch(keys, rows, Ragged(seg, seg_offsets))

    def finish(self) -> tuple[RowBatch, int]:
        return empty_rows(), 0


@dataclass(frozen=True, kw_only=True)
class BartConfig(Config):
    """BART denoising; defaults are BART-large's (fairseq ``denoising`` task)."""

    owner: ClassVar[str] = "bart"
    seq_len: int = seq_len_setting(512, 4, "tokens per row (source and target), including the frame tokens")
    mask_ratio: float = setting(0.3, "share of tokens (or words) masked by span infilling", limits=FRACTION)
    random_ratio: float = setting(0.1, "share of masked and inserted tokens given a random id instead of the "
                                       "mask id", limits=FRACTION)
    poisson_lambda: float = setting(3.5, "mean span length (Poisson) of text infilling", limits=Limits(
        0.0, float(MAX_SEQ_LEN), low_open=True))
    mask_whole_words: bool = setting(True, "infill whole words (spans start at word starts)")
    token_mask_ratio: float = setting(0.0, "share of single tokens masked (no spans)", limits=FRACTION)
    token_delete_ratio: float = setting(0.0, "share of tokens deleted", limits=FRACTION)
    insert_ratio: float = setting(0.0, "mask tokens inserted, as a share of the row", limits=FRACTION)
    permute_sentence_ratio: float = setting(1.0, "share of sentences shuffled", limits=FRACTION)
    rotate_ratio: float = setting(0.0, "probability of rotating the row to start at a random token",
                                  limits=FRACTION)


@declare(name="bart", objective_id=4, config=BartConfig, columns=("input_ids", "labels"), family="encoder-decoder",
         decoder_start="eos", view="denoising", needs_sentence_ends=True,
         rates=(("removed / body tokens", "removed", "body_tokens", "mask_ratio"),
                ("added / masks", "added", "masks", "random_ratio")))
class BartObjective(Objective):
    config: BartConfig

    @property
    def full_row_length(self) -> int:
        """The longest row; rows are variable length (a document's last row is usually shorter)."""
        return self.config.seq_len

    def framed(self, bodies: np.ndarray, body_lengths: np.ndarray) -> Ragged:
        """Rows of ``<s>`` (when the objective has a head), the body, ``</s>``: int32 ids from flat
        ``bodies`` cut by ``body_lengths``."""
        head = self.head
        offsets = offsets_of(body_lengths + head + 1)
        ids = np.empty(offsets[-1], dtype=np.int32)
        frame = np.zeros(ids.shape[0], dtype=bool)
        frame[offsets[1:] - 1] = True
        ids[offsets[1:] - 1] = self.vocab.eos_id
        if head:
            frame[offsets[:-1]] = True
            ids[offsets[:-1]] = self.vocab.bos_id
        ids[~frame] = bodies
        return Ragged(ids, offsets)

    @property
    def head(self) -> int:
        """Framing tokens before the body: ``<s>``, or none when the vocabulary has no bos."""
        return 0 if self.vocab.bos_id is None else 1

    @property
    def body_capacity(self) -> int:
        return self.config.seq_len - self.head - 1

    def packer(self) -> BartPacker:
        return BartPacker(self)

    def bodies(self, rows: RowBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(values, offsets, sentence_lengths, sentence_offsets)`` of the rows' bodies, framing checked."""
        ids, offsets = rows.ids.values, rows.ids.offsets
        lengths = lengths_of(offsets)
        head = self.head
        bad = lengths < head + 1
        ok = ~bad
        bad[ok] |= ids[offsets[1:][ok] - 1] != self.vocab.eos_id
        if head:
            bad[ok] |= ids[offsets[:-1][ok]] != self.vocab.bos_id
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"bart: row {i} (key {int(rows.keys[i])}) is not framed <s> … </s> (got "
                             f"{rows.ids.row(i)[:3].tolist()}…); build rows with BartObjective.packer().")
        seg = rows.segments
        seg_sum = np.add.reduceat(seg.values.astype(np.int64), seg.offsets[:-1]) if seg.values.size else None
        if seg.num_rows != rows.num_rows or seg_sum is None or (lengths_of(seg.offsets) == 0).any() \
                or (seg_sum != lengths).any():
            raise ValueError("bart: row segments must give each row's sentence lengths summing to its length; "
                             "pass one segment per row when sentences are unknown.")
        body_mask = np.ones(ids.shape[0], dtype=bool)
        body_mask[offsets[1:] - 1] = False
        if head:
            body_mask[offsets[:-1]] = False
        values = ids[body_mask]
        body_offsets = offsets_of(lengths - head - 1)
        # sentence lengths re-cut to the body: drop the framing from the first and last, drop empties
        ends = np.cumsum(seg.values.astype(np.int64)) - np.repeat(offsets[:-1] + head, lengths_of(seg.offsets))
        seg_rows = row_of(seg.offsets)
        ends = np.minimum(np.maximum(ends, 0), (lengths - head - 1)[seg_rows])
        prev = np.zeros_like(ends)
        prev[1:] = ends[:-1]
        prev[seg.offsets[:-1]] = 0
        s_len = ends - prev
        keep = s_len > 0
        return values, body_offsets, s_len[keep], offsets_of(np.bincount(seg_rows[keep], minlength=rows.num_rows))

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        c = self.config
        check_ids(rows.ids.values, self.vocab, "bart")
        values, offsets, s_len, s_offsets = self.bodies(rows)

        def k(stream: int) -> np.ndarray:
            return self.keys_for(rows, seed, copy, stream)

        values = noise.permute_sentences(values, offsets, s_len, s_offsets, ratio=c.permute_sentence_ratio,
                                         choose_keys=k(PERMUTE_CHOOSE), order_keys=k(PERMUTE_ORDER))
        values = noise.mask_random_tokens(values, offsets, ratio=c.token_mask_ratio, keys=k(TOKEN_MASK),
                                          mask_id=self.vocab.mask_id)
        values, offsets = noise.delete_random_tokens(values, offsets, ratio=c.token_delete_ratio,
                                                     keys=k(TOKEN_DELETE))
        values, offsets = noise.infill(values, offsets, mask_ratio=c.mask_ratio, random_ratio=c.random_ratio,
                                       poisson_lambda=c.poisson_lambda, whole_words=c.mask_whole_words,
                                       vocab=self.vocab,
                                       keys={"lengths": k(SPAN_LENGTHS), "values": k(SPAN_VALUES),
                                             "ids": k(SPAN_IDS), "place": k(SPAN_PLACE), "slots": k(SPAN_SLOTS)})
        values, offsets = noise.insert_noise(values, offsets, ratio=c.insert_ratio, random_ratio=c.random_ratio,
                                             vocab=self.vocab, keys={"ids": k(INSERT_IDS), "slots": k(INSERT_SLOTS)})
        values = noise.rotate(values, offsets, ratio=c.rotate_ratio, keys=k(ROTATE))
        return {"input_ids": self.framed(values, lengths_of(offsets)),
                "labels": Ragged(rows.ids.values.copy(), rows.ids.offsets)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        """The labels are the clean rows; sentences are not stored, so each row is one segment."""
        labels = examples.columns["labels"]
        lengths = labels.lengths
        return RowBatch(examples.keys, Ragged(labels.values.copy(), labels.offsets),
                        Ragged(lengths.astype(np.int32), np.arange(lengths.shape[0] + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        """Counts behind the manifest's applied BART rates, from inputs versus labels, batch-summed.

        ``removed``: clean tokens missing from the input (as a multiset per row, so permutation and
        rotation cancel). ``masks``: mask ids in the input. ``added``: other input tokens absent
        from the labels (random replacements and insertions). A random id that happens to equal a
        removed token of the same row cancels one count from both (rare: about removed/vocab).
        """
        inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
        shared = shared_counts(labels, inputs)
        mask_id = self.vocab.mask_id
        in_masks = inputs.values == mask_id
        label_masks = np.bincount(row_of(labels.offsets)[labels.values == mask_id], minlength=labels.num_rows)
        surplus = np.maximum(np.bincount(row_of(inputs.offsets)[in_masks], minlength=inputs.num_rows) - label_masks, 0)
        masks = int(in_masks.sum())
        return {
            "tokens": int(inputs.values.shape[0]),
            "label_tokens": int(labels.values.shape[0]),
            "body_tokens": int(labels.values.shape[0]) - (self.head + 1) * labels.num_rows,
            "removed": int(labels.values.shape[0]) - shared,
            "masks": masks,
            "added": int(inputs.values.shape[0]) - shared - int(surplus.sum()),
        }
