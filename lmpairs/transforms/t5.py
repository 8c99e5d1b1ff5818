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

import numpy as np

from lmpairs.config import ConfigError, T5Config
from lmpairs.transforms.batch import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids
from lmpairs.transforms.packing import ConcatPacker
from lmpairs.transforms.rowops import (
    lengths_of,
    offsets_of,
    positions_in_rows,
    row_of,
    segment_cumsum,
    smallest_k_grid,
    to_grid,
)
from lmpairs.transforms.seeding import word_grid
from lmpairs.vocab import Vocab

NOISE, NONNOISE = 0, 1
"""Hash streams of T5 (the noise partition is drawn first, as in T5)."""


def noise_counts(length, *, noise_density: float, mean_noise_span_length: float):
    """``(num_noise_tokens, num_noise_spans)`` T5 draws for rows of ``length`` (int or int array).

    Rows shorter than 2 count as 2 (T5's ``tf.maximum(length, 2)``) and are then cut, so a
    one-token row has no noise. Rounding is half-to-even in float64, as T5's ``random_spans_helper``
    (``T5Config``). Spans are capped at the non-noise count (only reachable with density >= 0.5 and
    a mean near 1), where T5 itself fails on a partition into empty parts.
    """
    scalar = np.ndim(length) == 0
    padded = np.maximum(np.asarray(length, dtype=np.int64), 2)
    num_noise = np.minimum(np.maximum(np.rint(padded * noise_density).astype(np.int64), 1), padded - 1)
    num_spans = np.maximum(1, np.rint(num_noise / mean_noise_span_length).astype(np.int64))
    num_spans = np.minimum(num_spans, padded - num_noise)
    return (int(num_noise), int(num_spans)) if scalar else (num_noise, num_spans)


def random_partitions(items: np.ndarray, parts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Flat part lengths: row ``i``'s ``items[i]`` split uniformly into ``parts[i]`` non-empty parts.

    The cut points are the ``parts - 1`` gaps (of ``items - 1``) with the smallest hash words,
    drawn on a ``(rows, most gaps)`` grid.
    """
    num_rows = items.shape[0]
    gaps = np.maximum(items - 1, 0)
    width = int(gaps.max()) if num_rows else 0
    part_offsets = offsets_of(parts)
    ends = np.empty(part_offsets[-1], dtype=np.int64)
    ends[part_offsets[1:] - 1] = items  # the last part ends at the row's end
    if width:
        eligible = np.arange(width)[None, :] < gaps[:, None]
        cuts = smallest_k_grid(word_grid(keys, width, scratch=True), eligible, gaps, parts - 1)
        cut_rows = cuts // width
        rank = np.arange(cuts.shape[0]) - np.searchsorted(cut_rows, cut_rows, side="left")
        ends[part_offsets[cut_rows] + rank] = cuts - cut_rows * width + 1
    lengths = ends.copy()
    lengths[1:] -= ends[:-1]
    lengths[part_offsets[:-1][parts > 0]] = ends[part_offsets[:-1][parts > 0]]
    return lengths


def noise_masks(lengths: np.ndarray, noise_keys: np.ndarray, nonnoise_keys: np.ndarray, *, noise_density: float,
                mean_noise_span_length: float) -> np.ndarray:
    """T5's noise masks of rows of ``lengths`` as a ``(rows, longest)`` bool grid (False past a row's end):
    non-noise and noise spans alternate, non-noise first."""
    num_noise, num_spans = noise_counts(lengths, noise_density=noise_density,
                                        mean_noise_span_length=mean_noise_span_length)
    padded = np.maximum(lengths, 2)
    noise = random_partitions(num_noise, num_spans, noise_keys)  # noise drawn first, as in T5
    nonnoise = random_partitions(padded - num_noise, num_spans, nonnoise_keys)
    interleaved = np.empty(2 * noise.shape[0], dtype=np.int64)
    interleaved[0::2] = nonnoise
    interleaved[1::2] = noise
    is_noise = np.zeros(interleaved.shape[0], dtype=bool)
    is_noise[1::2] = True
    flat = np.repeat(is_noise, interleaved)  # rows of padded lengths, one after another
    num_rows, width = lengths.shape[0], int(padded.max()) if lengths.size else 0
    if (padded == width).all():
        grid = flat.reshape(num_rows, width)
    else:
        grid = np.zeros((num_rows, width), dtype=bool)
        grid[np.arange(width)[None, :] < padded[:, None]] = flat
    real = int(lengths.max()) if lengths.size else 0
    grid = grid[:, :real]
    if (lengths < real).any():
        grid = grid & (np.arange(real)[None, :] < lengths[:, None])
    return grid


def runs_to_sentinels(ids: np.ndarray, valid: np.ndarray | None, span_mask: np.ndarray, sentinels: np.ndarray,
                      eos_id: int) -> Ragged:
    """T5's ``noise_span_to_unique_sentinel`` per row of a grid: the j-th run of ``span_mask``
    becomes sentinel j, the rest of the run vanishes, and EOS ends the row."""
    num_rows, width = ids.shape
    first = span_mask.copy()
    first[:, 1:] &= ~span_mask[:, :-1]
    at = np.flatnonzero(first)  # run starts, row by row
    at_rows = at // max(width, 1)
    span_index = np.arange(at.shape[0]) - np.searchsorted(at_rows, at_rows, side="left")
    most = int(span_index.max()) + 1 if at.size else 0
    if most > sentinels.shape[0]:
        raise ValueError(f"t5: a row has {most} noise spans but only {sentinels.shape[0]} sentinel ids exist; "
                         "lower the noise density or the row length (see validate_t5_config), or use a "
                         "vocabulary with more <extra_id_N> pieces.")
    keep = ~span_mask
    keep |= first
    if valid is not None:
        keep &= valid
    marked = ids.copy()
    marked.reshape(-1)[at] = sentinels[span_index]
    counts = np.count_nonzero(keep, axis=1)
    out_width = int(counts.max()) + 1 if num_rows else 1
    columns = np.arange(out_width)[None, :]
    if (counts == out_width - 1).all():  # every row keeps as many: one reshape
        out = np.empty((num_rows, out_width), dtype=np.int32)
        out[:, :-1] = marked[keep].reshape(num_rows, out_width - 1)
        out[:, -1] = eos_id
        return Ragged(out.reshape(-1), np.arange(num_rows + 1, dtype=np.int64) * out_width)
    out = np.full((num_rows, out_width), eos_id, dtype=np.int32)
    out[columns < counts[:, None]] = marked[keep]
    return Ragged(out[columns <= counts[:, None]], offsets_of(counts + 1))


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


class T5Objective(Objective):
    """Span corruption over packed raw rows; stores ``input_ids`` and ``labels`` (the targets)."""

    name = "t5"
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
