"""Prefix-LM (T5's ``prefix_lm``; UL2's S-denoiser): a packed row split at a uniform random point.

Documents are framed ``[bos] ids [eos]``, concatenated and cut into rows of ``seq_len`` tokens, as
CLM's are. Each row of ``n >= 2`` tokens is split after ``P`` tokens, ``P`` uniform in
``[1, n - 1]`` (T5's ``random_prefix_noise_mask`` at noise density 0.5): ``input_ids`` = the
prefix, ``labels`` = the rest. The same stored rows make two model-side layouts:

- ``prefix-decoder`` (the default): one decoder reads ``prefix + target``; the prefix attends
  bidirectionally and the loss covers the target only (PaLM/UL2's prefix-LM on one stack);
- ``encoder-decoder`` (``PairStream(..., batch_format="encoder-decoder")``): inputs = the
  prefix, labels = the rest (T5's ``prefix_lm`` task).

The parts (:func:`random_prefix_lengths`, :func:`split_rows`, :func:`join_rows`) are UL2's
S-denoiser too. Cost: one hash word and a few flat numpy passes per batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal  # noqa: F401  (Literal: pdoc resolves the inherited fields here)

import numpy as np

from lmpairs.config_base import FramedDocumentsConfig, seq_len_setting
from lmpairs.transforms.batch import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.packing import ConcatPacker
from lmpairs.transforms.rowops import lengths_of, offsets_of, positions_in_rows, row_of
from lmpairs.transforms.seeding import uniform_ints, words_at

SPLIT = 0
"""Hash stream of the split point (one word per row, at position 0)."""


@dataclass(frozen=True, kw_only=True)
class PrefixLmConfig(FramedDocumentsConfig):
    """Prefix-LM: rows of ``seq_len`` tokens split at a uniform point into prefix and target."""

    owner: ClassVar[str] = "prefix_lm"
    seq_len: int = seq_len_setting(1024, 2, "tokens per row, prefix and target together")


def random_prefix_lengths(keys: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Prefix length of each row: uniform in ``[1, n - 1]`` for ``n >= 2`` tokens (``n`` itself for
    shorter rows). ``keys`` are the rows' stream keys; int64."""
    words = words_at(keys, np.zeros_like(keys))
    choices = np.maximum(lengths - 1, 1)
    return np.where(lengths >= 2, 1 + uniform_ints(words, choices), lengths).astype(np.int64)


def split_rows(ids: Ragged, prefix_lengths: np.ndarray) -> tuple[Ragged, Ragged]:
    """``(prefixes, rests)`` of every row, cut after ``prefix_lengths[i]`` tokens (no copy of order)."""
    rows = row_of(ids.offsets)
    in_prefix = positions_in_rows(ids.offsets) < prefix_lengths[rows]
    lengths = lengths_of(ids.offsets)
    return (Ragged(ids.values[in_prefix], offsets_of(prefix_lengths)),
            Ragged(ids.values[~in_prefix], offsets_of(lengths - prefix_lengths)))


def join_rows(first: Ragged, second: Ragged) -> Ragged:
    """Row ``i`` of ``first`` followed by row ``i`` of ``second`` (the inverse of :func:`split_rows`)."""
    a, b = lengths_of(first.offsets), lengths_of(second.offsets)
    offsets = offsets_of(a + b)
    out = np.empty(offsets[-1], dtype=np.int32)
    in_first = positions_in_rows(offsets) < a[row_of(offsets)]
    out[in_first], out[~in_first] = first.values, second.values
    return Ragged(out, offsets)


@declare(name="prefix_lm", objective_id=5, config=PrefixLmConfig, columns=("input_ids", "labels"),
         family="prefix-decoder", view="plain", rates=(("prefix / tokens", "prefix_tokens", "tokens", None),))
class PrefixLmObjective(Objective):
    """Packed rows split into ``input_ids`` (the prefix) and ``labels`` (the target)."""

    config: PrefixLmConfig

    def packer(self) -> ConcatPacker:
        c = self.config
        return ConcatPacker(objective_id=self.objective_id, row_length=c.seq_len,
                            prefix=self.vocab.bos_id if c.add_bos else None,
                            suffix=self.vocab.eos_id if c.add_eos else None, keep_final=c.final_row == "pad")

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        check_ids(rows.ids.values, self.vocab, self.name)
        prefix_lengths = random_prefix_lengths(self.keys_for(rows, seed, copy, SPLIT), lengths_of(rows.ids.offsets))
        inputs, labels = split_rows(rows.ids, prefix_lengths)
        return {"input_ids": inputs, "labels": labels}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        ids = join_rows(examples.columns["input_ids"], examples.columns["labels"])
        return RowBatch(examples.keys, ids, Ragged(lengths_of(ids.offsets).astype(np.int32),
                                                   np.arange(ids.num_rows + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        prefix = int(examples.columns["input_ids"].values.shape[0])
        return {"tokens": prefix + int(examples.columns["labels"].values.shape[0]), "prefix_tokens": prefix}
