"""T5 span corruption, exactly T5's ``span_corruption`` (``t5/data/preprocessors.py``), over a batch.

Documents are concatenated with no separator and cut into raw rows of ``T5Config.raw_length``
tokens (568 for 512 inputs, 1137 for 1024: T5's ``random_spans_helper``); the final short row is
kept, since T5 corrupts it too. Each row gets a noise mask of random spans; the inputs replace each
noise span by one sentinel and the targets are each noise span preceded by its sentinel, both
ending in EOS:

    row      The  cat  sat  on   the  mat  today
    mask      .    N    N    .    .    N     N
    inputs   The <extra_id_0> on the <extra_id_1> </s>
    targets  <extra_id_0> cat sat <extra_id_1> mat today </s>

Noise and non-noise lengths are each a uniform random partition into ``num_spans`` non-empty
parts (T5's ``_random_segmentation``: ``num_spans - 1`` cut points drawn without replacement
among the ``items - 1`` gaps), here the gaps with the smallest hash words of streams ``NOISE`` and
``NONNOISE``. Everything is a handful of flat numpy passes over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lmpairs.config_base import MAX_SEQ_LEN, SPAN_LENGTH, Config, ConfigError, check, seq_len_setting
from lmpairs.fields import Limits, setting
from lmpairs.transforms.batch import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.packing import ConcatPacker
from lmpairs.transforms.rowops import (
    lengths_of,
    offsets_of,
    positions_in_rows,
    row_of,
    segment_cumsum,
    to_grid,
)
from lmpairs.transforms.spans import noise_counts, noise_masks, runs_to_sentinels
from lmpairs.vocab import Vocab

NOISE, NONNOISE = 0, 1
"""Hash streams of T5 (the noise partition is drawn first, as in T5)."""


def validate_t5_config(config: T5Config, vocab: Vocab) -> None:
    """Fail before a job starts when a full row can have more noise spans than there are sentinels."""
    _, needed = noise_counts(config.raw_length, noise_density=config.noise_density,
                             mean_noise_span_length=config.mean_noise_span_length)
    available = len(vocab.sentinel_ids)
    if needed > available:
        raise ConfigError(
            f"t5.seq_len={config.seq_len} (raw rows of {config.raw_length} tokens) with "
            f"t5.noise_density={config.noise_density} and t5.mean_noise_span_length="
            f"{config.mean_noise_span_length} makes up to {needed} noise spans per row, but the tokenizer "
            f"has only {available} sentinel ids (<extra_id_N>); lower --seq-len or --set t5.noise_density=..., "
            f"raise --set t5.mean_noise_span_length=..., or use a tokenizer with at least {needed} <extra_id_N> "
            "pieces.")


MAX_T5_RAW_LENGTH = 4 * MAX_SEQ_LEN
"""The longest raw T5 row (before corruption); a high noise density with long spans needs many raw
tokens per input token, and past this a single row no longer fits comfortably in memory."""


def t5_lengths(inputs_length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """T5's ``random_spans_helper``: the raw row length that corrupts to ``inputs_length`` inputs.

    Returns ``(raw_length, targets_length)``; both sides include their EOS. For the defaults
    (0.15, 3.0): 512 -> (568, 114) and 1024 -> (1137, 229), as in t5/data/preprocessors.py.
    T5 steps the raw length up one token at a time; the corrupted length never decreases as the
    raw length grows (each step adds 0, 1 or 2 tokens), so doubling then bisection finds the same
    answer in O(log n) steps instead of O(n).
    """

    def lengths_for(tokens_length: int) -> tuple[int, int]:
        num_noise_tokens = int(round(tokens_length * noise_density))
        num_nonnoise_tokens = tokens_length - num_noise_tokens
        num_noise_spans = int(round(num_noise_tokens / mean_noise_span_length))
        return num_nonnoise_tokens + num_noise_spans + 1, num_noise_tokens + num_noise_spans + 1

    # The longest raw length, at least inputs_length - 1, whose inputs fit: low fits (or is the start),
    # high does not.
    low, high = inputs_length - 1, max(inputs_length, 1)
    while lengths_for(high)[0] <= inputs_length:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if lengths_for(middle)[0] <= inputs_length else (low, middle)
    tokens_length = low
    targets_length = lengths_for(tokens_length)[1]
    if noise_density == 0.5 and targets_length > inputs_length:  # T5's own tweak for density 0.5
        tokens_length -= 1
        targets_length -= 1
    return tokens_length, targets_length


@dataclass(frozen=True, kw_only=True)
class T5Config(Config):
    """T5 span corruption; ``seq_len`` is the encoder input length (512 reads 568 raw tokens)."""

    owner: ClassVar[str] = "t5"
    # Below ~10 tokens T5's length arithmetic itself breaks (a full row corrupts to seq_len + 1).
    seq_len: int = seq_len_setting(512, 16, "encoder input length; raw rows are longer by the tokens the "
                                            "spans remove (512 reads 568 raw tokens)")
    noise_density: float = setting(0.15, "share of raw tokens that become noise (targets)",
                                   limits=Limits(0.0, 1.0, low_open=True, high_open=True))
    mean_noise_span_length: float = setting(3.0, "mean length of a noise span, in tokens", limits=SPAN_LENGTH)

    def __post_init__(self) -> None:
        super().__post_init__()
        raw = self.raw_length
        check(raw <= MAX_T5_RAW_LENGTH,
               f"t5.seq_len={self.seq_len} with t5.noise_density={self.noise_density} and "
               f"t5.mean_noise_span_length={self.mean_noise_span_length} needs raw rows of {raw:,} tokens, more "
               f"than the {MAX_T5_RAW_LENGTH:,} allowed; lower --seq-len or t5.noise_density, or shorten "
               "t5.mean_noise_span_length.")

    @property
    def raw_length(self) -> int:
        return t5_lengths(self.seq_len, self.noise_density, self.mean_noise_span_length)[0]

    @property
    def targets_length(self) -> int:
        return t5_lengths(self.seq_len, self.noise_density, self.mean_noise_span_length)[1]


@declare(name="t5", objective_id=3, config=T5Config, columns=("input_ids", "labels"), family="encoder-decoder",
         decoder_start="pad", view="sentinels",
         rates=(("noise tokens / tokens", "noise_tokens", "tokens", "noise_density"),
                ("noise tokens / span", "noise_tokens", "noise_spans", "mean_noise_span_length")))
class T5Objective(Objective):
    """Span corruption over packed raw rows; stores ``input_ids`` and ``labels`` (the targets)."""

    config: T5Config

    def __init__(self, config: T5Config, vocab: Vocab) -> None:
        super().__init__(config, vocab)
        validate_t5_config(config, vocab)
        self._raw_length = config.raw_length  # a search loop in T5Config: once, not per batch
        self._sentinels = np.asarray(vocab.sentinel_ids, dtype=np.int32)
        self._is_sentinel = np.zeros(vocab.size, dtype=bool)
        self._is_sentinel[self._sentinels] = True

    @property
    def full_row_length(self) -> int:
        return self._raw_length

    def packer(self) -> ConcatPacker:
        return ConcatPacker(objective_id=self.objective_id, row_length=self._raw_length, keep_final=True)

    def noise_mask(self, rows: RowBatch, *, seed: int, copy: int = 0) -> np.ndarray:
        """The batch's noise masks as a ``(rows, longest)`` grid."""
        noise_keys, nonnoise_keys = self.keys_for_streams(rows, seed, copy, (NOISE, NONNOISE))
        return noise_masks(rows.ids.lengths, noise_keys, nonnoise_keys, noise_density=self.config.noise_density,
                           mean_noise_span_length=self.config.mean_noise_span_length)

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        check_ids(rows.ids.values, self.vocab, "t5")
        grid, valid = to_grid(rows.ids.values, rows.ids.offsets, self.vocab.pad_id)
        mask = self.noise_mask(rows, seed=seed, copy=copy)
        eos = self.vocab.eos_id
        nonnoise = ~mask if valid is None else valid & ~mask
        return {"input_ids": runs_to_sentinels(grid, valid, mask, self._sentinels, eos),
                "labels": runs_to_sentinels(grid, valid, nonnoise, self._sentinels, eos)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        """The clean rows: each input sentinel replaced by what follows it in the targets.

        Every kept input token and every target token gets its output position from the number of
        sentinels before it and the lengths of the spans they stand for, for the whole batch.
        """
        inputs, in_offsets = self._bodies(examples.columns["input_ids"], "input_ids")
        targets, tg_offsets = self._bodies(examples.columns["labels"], "labels")
        num_rows = in_offsets.shape[0] - 1
        in_rows, tg_rows = row_of(in_offsets), row_of(tg_offsets)
        in_sent, tg_sent = self._is_sentinel[inputs], self._is_sentinel[targets]
        spans_in = np.bincount(in_rows[in_sent], minlength=num_rows)
        spans_tg = np.bincount(tg_rows[tg_sent], minlength=num_rows)
        tg_local = segment_cumsum(tg_sent, tg_offsets) - 1  # target span of each target token, in its row
        nonempty = lengths_of(tg_offsets) > 0
        opens = np.ones(num_rows, dtype=bool)
        opens[nonempty] = tg_sent[tg_offsets[:-1][nonempty]]
        # T5's targets may end with one extra, empty span (a mask ending in non-noise).
        extra = tg_local >= spans_in[tg_rows]
        bad = ~opens | (spans_tg < spans_in) | (spans_tg > spans_in + 1) \
            | (np.bincount(tg_rows[extra & ~tg_sent], minlength=num_rows) > 0)
        matched = tg_sent & ~extra
        if bad.any() or not np.array_equal(inputs[in_sent], targets[matched]):
            i = int(np.flatnonzero(bad)[0]) if bad.any() else 0
            raise ValueError(f"t5 example {i}: {int(spans_in[i])} input sentinels do not match the "
                             f"{int(spans_tg[i])} sentinels that open its target spans; these columns were not "
                             "written by T5 span corruption with this vocabulary.")
        take = ~tg_sent & ~extra
        tg_span = np.cumsum(matched) - 1  # global matched span of each target token
        span_len = np.bincount(tg_span[take], minlength=int(matched.sum()))
        span_offsets = offsets_of(spans_in)
        before = segment_cumsum(span_len, span_offsets) - span_len  # span tokens before each span in its row
        out_lengths = lengths_of(in_offsets) - spans_in + np.bincount(tg_rows[take], minlength=num_rows)
        out_offsets = offsets_of(out_lengths)
        out = np.empty(out_offsets[-1], dtype=np.int32)
        in_span = np.cumsum(in_sent) - in_sent  # global sentinels before each input token
        in_rank = in_span - span_offsets[in_rows]  # ... in its row
        in_pos = positions_in_rows(in_offsets, in_rows)
        keep = ~in_sent
        through = np.append(before + span_len, 0)  # span tokens up to and including each span; [-1] -> 0
        dest = out_offsets[in_rows] + in_pos - in_rank + np.where(in_rank > 0, through[in_span - 1], 0)
        out[dest[keep]] = inputs[keep]
        sentinel_at = np.flatnonzero(in_sent)  # flat input position of each global span's sentinel
        span = tg_span[take]
        offset = np.arange(targets.shape[0])[take] - np.flatnonzero(matched)[span] - 1
        s_row = in_rows[sentinel_at[span]]
        dest_t = (out_offsets[s_row] + (sentinel_at[span] - in_offsets[s_row]) - (span - span_offsets[s_row])
                  + before[span] + offset)
        out[dest_t] = targets[take]
        lengths = out_lengths
        return RowBatch(examples.keys, Ragged(out, out_offsets),
                        Ragged(lengths.astype(np.int32), np.arange(num_rows + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        """``tokens`` (clean row tokens), ``noise_tokens`` and ``noise_spans``, summed over the batch."""
        inputs, _ = self._bodies(examples.columns["input_ids"], "input_ids")
        targets, _ = self._bodies(examples.columns["labels"], "labels")
        num_spans = int(self._is_sentinel[inputs].sum())
        noise_tokens = int(targets.shape[0] - self._is_sentinel[targets].sum())
        return {"tokens": int(inputs.shape[0]) - num_spans + noise_tokens,
                "noise_tokens": noise_tokens, "noise_spans": num_spans}

    def _bodies(self, column: Ragged, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A stored column without each row's final EOS, as flat values and offsets."""
        ends = column.offsets[1:] - 1
        if (column.lengths < 1).any() or (column.values[ends] != self.vocab.eos_id).any():
            raise ValueError(f"t5 examples: every {name} row must end with eos id {self.vocab.eos_id}; these "
                             "columns were not written by T5 span corruption.")
        body = np.ones(column.values.shape[0], dtype=bool)
        body[ends] = False
        return column.values[body], offsets_of(column.lengths - 1)
