"""Span-corruption parts shared by T5 and UL2: T5's span counts, uniform partitions, noise masks, sentinels.

Exactly T5's ``random_spans_noise_mask`` and ``noise_span_to_unique_sentinel``
(``t5/data/preprocessors.py``) over a batch of rows: noise and non-noise lengths are each a
uniform random partition into ``num_spans`` non-empty parts (T5's ``_random_segmentation``:
``num_spans - 1`` cut points drawn without replacement among the ``items - 1`` gaps), here the gaps
with the smallest hash words of two streams; everything is a handful of flat numpy passes.
"""
from __future__ import annotations

import numpy as np

from lmpairs.transforms.batch import Ragged
from lmpairs.transforms.rowops import offsets_of, smallest_k_grid
from lmpairs.transforms.seeding import word_grid


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
