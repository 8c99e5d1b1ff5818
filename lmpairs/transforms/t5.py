"""T5 span corruption, exactly as ``t5/data/preprocessors.py`` (``span_corruption``), in numpy.

Documents are concatenated with no separator and cut into raw rows of ``T5Config.raw_length``
tokens (568 for 512 inputs, T5's ``random_spans_helper``); final short rows are kept, since T5
corrupts them too. Each row gets a noise mask of random spans (:func:`random_spans_noise_mask`);
:func:`span_corrupt` then replaces each noise span in the inputs by one sentinel and writes the
targets as each noise span preceded by its sentinel, both ending in EOS:

    row      The  cat  sat  on   the  mat  today
    mask      .    N    N    .    .    N     N
    inputs   The <extra_id_0> on the <extra_id_1> </s>
    targets  <extra_id_0> cat sat <extra_id_1> mat today </s>

Everything is O(row length) vectorized numpy; the only Python-level work is per row.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmpairs.config import ConfigError, T5Config
from lmpairs.transforms.objective import Columns, Objective, Row
from lmpairs.vocab import Vocab


def noise_counts(length: int, *, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """``(num_noise_tokens, num_noise_spans)`` that T5 draws for a row of ``length`` tokens.

    Rows shorter than 2 are treated as length 2 (T5's ``tf.maximum(length, 2)``) and then cut, so a
    one-token row has no noise at all. Rounding is Python's half-to-even in float64, as in T5's
    ``random_spans_helper`` (and ``T5Config``); T5's TF mask rounds in float32, which differs only
    at exact ``.5`` ties (e.g. length 190) and there makes full rows overshoot ``targets_length``.
    Spans are capped at the non-noise count (only reachable with density >= 0.5 and a mean near 1),
    where T5 itself fails on a partition into empty parts.
    """
    length = max(int(length), 2)
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(1, int(round(num_noise / mean_noise_span_length)))
    return num_noise, min(num_spans, length - num_noise)


def random_segmentation(num_items: int, num_segments: int, *, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random partition of ``num_items`` into ``num_segments`` non-empty parts.

    T5's ``_random_segmentation``: shuffle ``num_segments - 1`` ones among ``num_items - 1`` slots,
    prepend 0, and the running sum is each item's segment id; segment sizes are the lengths.
    """
    # Shuffling arange and comparing is the same draw as shuffling the boolean slots, and faster.
    first_in_segment = rng.permutation(max(num_items - 1, 0)) < num_segments - 1
    lengths = np.bincount(np.cumsum(first_in_segment, dtype=np.int64), minlength=max(num_segments, 1))
    lengths[0] += 1  # the first item, which always opens segment 0
    return lengths


def random_spans_noise_mask(length: int, *, noise_density: float, mean_noise_span_length: float,
                            rng: np.random.Generator) -> np.ndarray:
    """T5's noise mask: ``bool[length]``, alternating non-noise and noise spans, non-noise first.

    Noise and non-noise lengths are each a uniform random partition into ``num_noise_spans``
    non-empty parts (noise drawn first); for ``length >= 2`` the mask therefore starts with
    non-noise and ends with noise. All masks with these counts are equally likely.
    """
    if noise_density == 0.0:
        return np.zeros(length, dtype=bool)
    padded = max(int(length), 2)
    num_noise, num_spans = noise_counts(length, noise_density=noise_density,
                                        mean_noise_span_length=mean_noise_span_length)
    interleaved = np.empty(2 * num_spans, dtype=np.int64)
    interleaved[1::2] = random_segmentation(num_noise, num_spans, rng=rng)  # noise drawn first, as in T5
    interleaved[0::2] = random_segmentation(padded - num_noise, num_spans, rng=rng)
    is_noise = np.zeros(2 * num_spans, dtype=bool)
    is_noise[1::2] = True
    return np.repeat(is_noise, interleaved)[:length]


def _spans_to_sentinels(ids: np.ndarray, span_mask: np.ndarray, sentinels: np.ndarray, eos_id: int) -> np.ndarray:
    """T5's ``noise_span_to_unique_sentinel``: the i-th run of ``span_mask`` becomes sentinel i."""
    first = span_mask.copy()
    first[1:] &= ~span_mask[:-1]  # the first position of each run
    starts = np.flatnonzero(first)
    num_spans = starts.shape[0]
    if num_spans > sentinels.shape[0]:
        raise ValueError(f"span_corrupt: the noise mask has {num_spans} spans but only {sentinels.shape[0]} "
                         "sentinel ids were given; lower the noise density or span count (see "
                         "validate_t5_config), or use a vocabulary with more <extra_id_N> pieces.")
    marked = ids.astype(np.int32)  # a copy: each run's first id becomes its sentinel
    marked[starts] = sentinels[:num_spans]
    kept = marked[~span_mask | first]  # the rest of each run is dropped
    out = np.empty(kept.shape[0] + 1, dtype=np.int32)
    out[:-1] = kept
    out[-1] = eos_id
    return out


def span_corrupt(ids: np.ndarray, noise_mask: np.ndarray, *, sentinel_ids: Sequence[int] | np.ndarray,
                 eos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` int32: T5's ``noise_span_to_unique_sentinel`` for the inputs and
    ``nonnoise_span_to_unique_sentinel`` for the targets, each followed by EOS.

    ``sentinel_ids[i]`` is ``<extra_id_i>``. For masks that start with non-noise and end with
    noise (every mask :func:`random_spans_noise_mask` makes for 2+ tokens) the targets are each
    noise span preceded by its sentinel; other masks give T5's own (unaligned) output.
    """
    ids = np.asarray(ids, dtype=np.int32)
    noise_mask = np.asarray(noise_mask, dtype=bool)
    if ids.shape != noise_mask.shape or ids.ndim != 1:
        raise ValueError(f"span_corrupt: ids {ids.shape} and noise_mask {noise_mask.shape} must be equal 1-d shapes.")
    sentinels = np.asarray(sentinel_ids, dtype=np.int32)
    inputs = _spans_to_sentinels(ids, noise_mask, sentinels, eos_id)
    targets = _spans_to_sentinels(ids, ~noise_mask, sentinels, eos_id)
    return inputs, targets


def validate_t5_config(config: T5Config, vocab: Vocab) -> None:
    """Fail before a job starts when a full row can have more noise spans than there are sentinels.

    Span counts never decrease with row length, so the full raw row is the worst case; the count
    equals ``config.max_spans`` except where :func:`noise_counts` caps it.
    """
    _, needed = noise_counts(config.raw_length, noise_density=config.noise_density,
                             mean_noise_span_length=config.mean_noise_span_length)
    available = len(vocab.sentinel_ids)
    if needed > available:
        raise ConfigError(
            f"t5.seq_len={config.seq_len} (raw rows of {config.raw_length} tokens) with "
            f"t5.noise_density={config.noise_density} and t5.mean_noise_span_length="
            f"{config.mean_noise_span_length} makes up to {needed} noise spans per row, but the tokenizer "
            f"has only {available} sentinel ids (<extra_id_N>); lower --seq-len or --noise-density, raise "
            f"--mean-noise-span-length, or use a tokenizer with at least {needed} <extra_id_N> pieces.")


class T5Objective(Objective):
    """Span corruption over packed raw rows; stores ``input_ids`` and ``labels`` (the targets)."""

    name = "t5"
    columns = ("input_ids", "labels")
    config: T5Config

    def __init__(self, config: T5Config, vocab: Vocab) -> None:
        super().__init__(config, vocab)
        validate_t5_config(config, vocab)
        self._raw_length = config.raw_length  # T5Config derives it with a search loop: once, not per row
        self._sentinels = np.asarray(vocab.sentinel_ids, dtype=np.int32)
        self._is_sentinel = np.zeros(vocab.size, dtype=bool)
        self._is_sentinel[self._sentinels] = True

    @property
    def row_length(self) -> int:
        return self._raw_length

    @property
    def keep_partial(self) -> bool:
        """T5 corrupts a short final row like any other, so it is kept."""
        return True

    def noise_mask(self, length: int, *, rng: np.random.Generator) -> np.ndarray:
        """This config's :func:`random_spans_noise_mask` for a row of ``length`` tokens."""
        return random_spans_noise_mask(length, noise_density=self.config.noise_density,
                                       mean_noise_span_length=self.config.mean_noise_span_length, rng=rng)

    def corrupt(self, row: Row, *, rng: np.random.Generator) -> Columns:
        ids = np.asarray(row.ids, dtype=np.int32)
        inputs, targets = span_corrupt(ids, self.noise_mask(ids.shape[0], rng=rng),
                                       sentinel_ids=self._sentinels, eos_id=self.vocab.eos_id)
        return {"input_ids": inputs, "labels": targets}

    def clean_ids(self, columns: Columns) -> np.ndarray:
        """The clean row: each sentinel in the inputs replaced by what follows it in the targets.

        Vectorized: every kept input token and every target token gets its output position from
        the number of sentinels before it and the lengths of the spans they stand for.
        """
        inputs = self._body(columns["input_ids"], "input_ids")
        targets = self._body(columns["labels"], "labels")
        in_sentinel = self._is_sentinel[inputs]
        tg_sentinel = self._is_sentinel[targets]
        num_spans = int(in_sentinel.sum())
        tg_starts = np.flatnonzero(tg_sentinel)
        if tg_starts.shape[0] < num_spans or (targets.size and not tg_sentinel[0]) or not np.array_equal(
                inputs[in_sentinel], targets[tg_starts[:num_spans]]):
            raise ValueError(f"t5 example: input sentinels {inputs[in_sentinel].tolist()} do not match the "
                             f"sentinels that open the target spans {targets[tg_starts].tolist()}; these "
                             "columns were not written by span_corrupt with this vocabulary.")
        span_ends = np.append(tg_starts[1:], targets.shape[0])
        span_lengths = (span_ends - tg_starts - 1)[:num_spans]
        before = np.concatenate([[0], np.cumsum(span_lengths)])  # span tokens before span j
        in_rank = np.cumsum(in_sentinel) - in_sentinel  # sentinels before each input token
        out = np.empty(inputs.shape[0] - num_spans + int(span_lengths.sum()), dtype=np.int32)
        keep = ~in_sentinel
        out[(np.arange(inputs.shape[0]) - in_rank + before[in_rank])[keep]] = inputs[keep]
        span = np.cumsum(tg_sentinel) - 1
        take = ~tg_sentinel & (span < num_spans)
        sentinel_at = np.flatnonzero(in_sentinel)
        offset = np.arange(targets.shape[0]) - tg_starts[span] - 1
        out[(sentinel_at[span[take]] - span[take] + before[span[take]] + offset[take])] = targets[take]
        return out

    def measure(self, columns: Columns) -> dict[str, int]:
        """``tokens`` (clean row length), ``noise_tokens`` and ``noise_spans`` of one example."""
        inputs = self._body(columns["input_ids"], "input_ids")
        targets = self._body(columns["labels"], "labels")
        num_spans = int(self._is_sentinel[inputs].sum())
        noise_tokens = int(targets.shape[0] - self._is_sentinel[targets].sum())
        return {"tokens": int(inputs.shape[0]) - num_spans + noise_tokens,
                "noise_tokens": noise_tokens, "noise_spans": num_spans}

    def _body(self, column: np.ndarray, name: str) -> np.ndarray:
        """A stored column without its final EOS."""
        column = np.asarray(column, dtype=np.int32)
        if column.shape[0] == 0 or column[-1] != self.vocab.eos_id:
            raise ValueError(f"t5 example: {name} must end with eos id {self.vocab.eos_id}, got "
                             f"{column[-3:].tolist()} at its end; these columns were not written by span_corrupt.")
        return column[:-1]
