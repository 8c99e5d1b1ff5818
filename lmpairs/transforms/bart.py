"""BART denoising: rows of whole documents framed ``<s> … </s>``, each noised on its own as fairseq does.

The packer (:mod:`lmpairs.transforms.bart_packing`) fills rows best-fit with whole documents and
records each row's document lengths and sentence ends. ``corrupt`` cuts a batch of rows into its
documents and noises every document as a row of its own, in fairseq's order: sentence permutation,
token masking, token deletion, text infilling, insertion and rotation (:mod:`bart_noise`), with
draws keyed by ``(row key, document index in the row)``, so nothing crosses a document boundary;
each noised body is framed again and a row's documents are joined in order. The target is the
clean row. Stored columns: ``input_ids``, ``labels`` (the clean row), ``doc_lengths`` and
``sentence_ends``, from which ``clean`` rebuilds the packer's rows for dynamic re-noising.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lmpairs.config_base import FRACTION, MAX_SEQ_LEN, Config, seq_len_setting
from lmpairs.fields import Limits, setting
from lmpairs.transforms import bart_noise as noise
from lmpairs.transforms.bart_packing import BartPacker, group_sentences, sentence_lengths, sentence_pieces
from lmpairs.transforms.batch import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.rowops import lengths_of, offsets_of, positions_in_rows, row_of
from lmpairs.transforms.seeding import chain, words_at

__all__ = ["BartObjective", "BartPacker", "Documents", "group_sentences", "sentence_pieces", "shared_counts"]

(PERMUTE_CHOOSE, PERMUTE_ORDER, TOKEN_MASK, TOKEN_DELETE, SPAN_LENGTHS, SPAN_VALUES, SPAN_IDS, SPAN_PLACE,
 SPAN_SLOTS, INSERT_IDS, INSERT_SLOTS, ROTATE, ROUND) = range(13)
"""Hash streams of BART, one per draw purpose (keyed per document, see :meth:`BartObjective.document_keys`)."""

(ROUND_MASK, ROUND_DELETE, ROUND_INFILL, ROUND_INSERT) = range(4)
"""Word positions of the ``ROUND`` stream: one random rounding per count-based noise."""

DOCUMENT_TAG = 0xB0D0C
"""First part of a document's key chain, so document keys never equal row keys."""


@dataclass(frozen=True, eq=False)
class Documents:
    """The documents of a batch of framed rows, as flat bodies: what the noise functions take.

    ``row``: each document's row; ``index``: its position in the row; ``body``/``body_offsets``:
    the ids between its frame tokens; ``sentences``/``sentence_offsets``: each body's sentence
    lengths (a body without stored ends is one sentence).
    """

    row: np.ndarray
    index: np.ndarray
    body: np.ndarray
    body_offsets: np.ndarray
    sentences: np.ndarray
    sentence_offsets: np.ndarray


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


@dataclass(frozen=True, kw_only=True)
class BartConfig(Config):
    """BART denoising; defaults are BART-large's (fairseq ``denoising`` task)."""

    owner: ClassVar[str] = "bart"
    seq_len: int = seq_len_setting(512, 4, "tokens per row (source and target), including the frame tokens")
    mask_ratio: float = setting(0.3, "share of tokens (or words) masked by span infilling", limits=FRACTION)
    random_ratio: float = setting(0.1, "share of masked and inserted tokens given a random id instead of the "
                                       "mask id", limits=FRACTION)
    # Below 0.1 nearly every span is empty and the sampler draws ~1/λ lengths per masked token (1e-6: GBs).
    poisson_lambda: float = setting(3.5, "mean span length (Poisson) of text infilling", limits=Limits(
        0.1, float(MAX_SEQ_LEN)))
    mask_whole_words: bool = setting(True, "infill whole words (spans start at word starts)")
    token_mask_ratio: float = setting(0.0, "share of single tokens masked (no spans)", limits=FRACTION)
    token_delete_ratio: float = setting(0.0, "share of tokens deleted", limits=FRACTION)
    insert_ratio: float = setting(0.0, "mask tokens inserted, as a share of the row", limits=FRACTION)
    permute_sentence_ratio: float = setting(1.0, "share of sentences shuffled", limits=FRACTION)
    rotate_ratio: float = setting(0.0, "probability of rotating the row to start at a random token",
                                  limits=FRACTION)


@declare(name="bart", objective_id=4, config=BartConfig,
         columns=("input_ids", "labels", "doc_lengths", "sentence_ends"), family="encoder-decoder",
         decoder_start="eos", view="denoising", needs_sentence_ends=True,
         rates=(("removed / body tokens", "removed", "body_tokens", "mask_ratio"),
                ("added / masks", "added", "masks", "random_ratio")))
class BartObjective(Objective):
    config: BartConfig

    @property
    def head(self) -> int:
        """Framing tokens before a body: ``<s>``, or none when the vocabulary has no bos."""
        return 0 if self.vocab.bos_id is None else 1

    @property
    def body_capacity(self) -> int:
        return self.config.seq_len - self.head - 1

    def packer(self) -> BartPacker:
        return BartPacker(objective_id=self.objective_id, seq_len=self.config.seq_len, bos_id=self.vocab.bos_id,
                          eos_id=self.vocab.eos_id)

    def framed(self, bodies: np.ndarray, body_lengths: np.ndarray) -> Ragged:
        """Each body framed ``<s> … </s>`` (int32), as the packer frames documents."""
        return self.packer().frame(bodies, body_lengths)

    def documents(self, rows: RowBatch) -> Documents:
        """Cut ``rows`` into their documents (``segments``), framing and sentence ends checked."""
        ids, offsets = rows.ids.values, rows.ids.offsets
        seg = rows.segments
        doc_len = seg.values.astype(np.int64)
        head = self.head
        row_sum = np.bincount(row_of(seg.offsets), weights=doc_len, minlength=rows.num_rows).astype(np.int64)
        if seg.num_rows != rows.num_rows or (row_sum != lengths_of(offsets)).any() or (doc_len < head + 1).any():
            raise ValueError("bart: row segments must give each row's document lengths (each framed <s> … </s>) "
                             "summing to its length; build rows with BartObjective.packer().")
        doc_end = np.cumsum(doc_len)
        doc_start = doc_end - doc_len
        bad = ids[doc_end - 1] != self.vocab.eos_id
        if head:
            bad |= ids[doc_start] != self.vocab.bos_id
        if bad.any():
            d = int(np.flatnonzero(bad)[0])
            r = int(row_of(seg.offsets)[d])
            raise ValueError(f"bart: row {r} (key {int(rows.keys[r])}) holds a document not framed <s> … </s> (got "
                             f"{ids[doc_start[d]:doc_end[d]][:3].tolist()}…); build rows with BartObjective.packer().")
        doc_row = row_of(seg.offsets)
        body_mask = np.ones(ids.shape[0], dtype=bool)
        body_mask[doc_end - 1] = False
        if head:
            body_mask[doc_start] = False
        body_len = doc_len - head - 1
        body_start = doc_start + head  # flat position of each body
        ends = rows.sentence_ends
        if ends is None:
            end_docs, rel = np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            if ends.num_rows != rows.num_rows:
                raise ValueError(f"bart: {ends.num_rows} rows of sentence ends for {rows.num_rows} rows.")
            flat = ends.values.astype(np.int64) + offsets[row_of(ends.offsets)]
            end_docs = np.searchsorted(body_start + body_len, flat, side="left")
            inside = end_docs < doc_len.shape[0]
            end_docs = np.minimum(end_docs, max(doc_len.shape[0] - 1, 0))
            inside &= flat > body_start[end_docs] if end_docs.size else inside
            inside &= doc_row[end_docs] == row_of(ends.offsets) if end_docs.size else inside
            if not inside.all():
                i = int(np.flatnonzero(~inside)[0])
                raise ValueError(f"bart: sentence end {int(ends.values[i])} of row {int(row_of(ends.offsets)[i])} "
                                 "is not inside one of its documents; rebuild the shards.")
            rel = flat - body_start[end_docs]
        sentences, sentence_offsets = sentence_lengths(doc_len.shape[0], body_len, end_docs, rel)
        return Documents(doc_row, positions_in_rows(seg.offsets, doc_row), ids[body_mask], offsets_of(body_len),
                         sentences, sentence_offsets)

    def document_keys(self, rows: RowBatch, docs: Documents) -> np.ndarray:
        """Each document's example key: a chain of the row's key and the document's index in the row."""
        with np.errstate(over="ignore"):
            return np.broadcast_to(chain(DOCUMENT_TAG, rows.keys[docs.row], docs.index.astype(np.uint64)),
                                   docs.row.shape).astype(np.uint64)

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        c = self.config
        check_ids(rows.ids.values, self.vocab, "bart")
        docs = self.documents(rows)
        streams = self.keys_for_streams(RowBatch(self.document_keys(rows, docs), rows.ids, rows.segments), seed, copy,
                                        tuple(range(ROUND + 1)))

        def rounding(purpose: int) -> np.ndarray:
            return words_at(streams[ROUND], np.full(streams[ROUND].shape, purpose))

        values, offsets = docs.body, docs.body_offsets
        values = noise.permute_sentences(values, offsets, docs.sentences, docs.sentence_offsets,
                                         ratio=c.permute_sentence_ratio, choose_keys=streams[PERMUTE_CHOOSE],
                                         order_keys=streams[PERMUTE_ORDER])
        values = noise.mask_random_tokens(values, offsets, ratio=c.token_mask_ratio, keys=streams[TOKEN_MASK],
                                          mask_id=self.vocab.mask_id, round_words=rounding(ROUND_MASK))
        values, offsets = noise.delete_random_tokens(values, offsets, ratio=c.token_delete_ratio,
                                                     keys=streams[TOKEN_DELETE], round_words=rounding(ROUND_DELETE))
        values, offsets = noise.infill(values, offsets, mask_ratio=c.mask_ratio, random_ratio=c.random_ratio,
                                       poisson_lambda=c.poisson_lambda, whole_words=c.mask_whole_words,
                                       vocab=self.vocab, round_words=rounding(ROUND_INFILL),
                                       keys={"lengths": streams[SPAN_LENGTHS], "values": streams[SPAN_VALUES],
                                             "ids": streams[SPAN_IDS], "place": streams[SPAN_PLACE],
                                             "slots": streams[SPAN_SLOTS]})
        values, offsets = noise.insert_noise(values, offsets, ratio=c.insert_ratio, random_ratio=c.random_ratio,
                                             vocab=self.vocab, round_words=rounding(ROUND_INSERT),
                                             keys={"ids": streams[INSERT_IDS], "slots": streams[INSERT_SLOTS]})
        values = noise.rotate(values, offsets, ratio=c.rotate_ratio, keys=streams[ROTATE])
        framed = self.framed(values, lengths_of(offsets))
        row_offsets = framed.offsets[rows.segments.offsets]  # a row's documents are consecutive
        ends = rows.sentence_ends if rows.sentence_ends is not None else Ragged(
            np.zeros(0, np.int32), np.zeros(rows.num_rows + 1, np.int64))
        return {"input_ids": Ragged(framed.values, row_offsets),
                "labels": Ragged(rows.ids.values.copy(), rows.ids.offsets),
                "doc_lengths": Ragged(rows.segments.values.astype(np.int32), rows.segments.offsets),
                "sentence_ends": Ragged(ends.values.astype(np.int32), ends.offsets)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        """The stored clean rows, their documents and sentence ends: what the packer gave."""
        labels, cols = examples.columns["labels"], examples.columns
        return RowBatch(examples.keys, Ragged(labels.values.copy(), labels.offsets), cols["doc_lengths"],
                        cols["sentence_ends"])

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
        num_docs = int(examples.columns["doc_lengths"].values.shape[0])
        return {
            "tokens": int(inputs.values.shape[0]),
            "label_tokens": int(labels.values.shape[0]),
            "body_tokens": int(labels.values.shape[0]) - (self.head + 1) * num_docs,
            "removed": int(labels.values.shape[0]) - shared,
            "masks": masks,
            "added": int(inputs.values.shape[0]) - shared - int(surplus.sum()),
        }
