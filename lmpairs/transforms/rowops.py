"""Shared batch pieces over flat ragged rows (values + offsets): row ids, positions, keyed selections.

Every function works on a whole batch in a few numpy passes; none loops over rows. Draws come from
:mod:`lmpairs.transforms.seeding` words at (row key, position), so a row's result is the same in
any batch.
"""
from __future__ import annotations

import numpy as np

from lmpairs.transforms.batch import Ragged
from lmpairs.transforms.seeding import words_at


def lengths_of(offsets: np.ndarray) -> np.ndarray:
    return offsets[1:] - offsets[:-1]


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """``[0, cumsum(lengths)]`` as int64."""
    out = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def row_of(offsets: np.ndarray) -> np.ndarray:
    """The row index of every flat position (int64)."""
    return np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), lengths_of(offsets))


def positions_in_rows(offsets: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Each flat position's index inside its row (int64)."""
    if rows is None:
        rows = row_of(offsets)
    return np.arange(offsets[-1], dtype=np.int64) - offsets[rows]


def words_for(keys: np.ndarray, rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Hash words of flat items: stream key of their row (``keys[rows]``) at their ``positions``."""
    return words_at(keys[rows], positions)


def rank_in_rows(rows: np.ndarray, words: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Order of flat items by ``(row, word, original index)`` and each item's rank inside its row.

    Items must be given grouped by row in ascending row order with positions ascending (as flat
    ragged data is): a stable sort by word per row then breaks ties by position.
    """
    order = np.lexsort((words, rows))
    counts = np.bincount(rows, minlength=num_rows)
    starts = offsets_of(counts)
    rank = np.empty(rows.shape[0], dtype=np.int64)
    rank[order] = np.arange(rows.shape[0], dtype=np.int64) - starts[rows[order]]
    return order, rank


def smallest_k(rows: np.ndarray, words: np.ndarray, k: np.ndarray, num_rows: int) -> np.ndarray:
    """Boolean mask of each row's ``k[row]`` items with the smallest ``(word, position)`` keys.

    The exact-count draw of DESIGN ("Determinism"): uniform without replacement, order-free.
    Only candidates under a per-row hash bound holding ``k`` are sorted.

    The bound lets through about ``k + 6 sqrt(k) + 16`` of a row's ``n`` items; a row with fewer
    than ``k`` under it (vanishingly rare) takes all its items. The result is exactly the ``k``
    smallest ``(word, position)`` per row either way.
    """
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    n = np.bincount(rows, minlength=num_rows)
    frac = (k + 6.0 * np.sqrt(k) + 16.0) / np.maximum(n, 1)
    take_all = frac >= 1.0
    bound = np.where(take_all, 0, np.minimum(frac, 0.999) * 2.0**64).astype(np.uint64)
    cand = (words < bound[rows]) | take_all[rows]
    short = np.bincount(rows[cand], minlength=num_rows) < k
    if short.any():
        cand |= short[rows]
    idx = np.flatnonzero(cand)
    _, rank = rank_in_rows(rows[idx], words[idx], num_rows)
    out = np.zeros(rows.shape[0], dtype=bool)
    out[idx[rank < k[rows[idx]]]] = True
    return out


def segment_cumsum(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum restarting at every row (int64)."""
    total = np.cumsum(values, dtype=np.int64)
    if total.shape[0] == 0:
        return total
    base = np.zeros(offsets.shape[0] - 1, dtype=np.int64)
    starts = offsets[:-1]
    nonempty = starts < offsets[1:]
    base[nonempty] = total[starts[nonempty]] - values[starts[nonempty]]
    return total - np.repeat(base, lengths_of(offsets))


def gather(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``values[starts[i] : starts[i] + lengths[i]]`` in order, one fancy index."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = offsets_of(lengths)
    index = np.repeat(np.asarray(starts, dtype=np.int64) - offsets[:-1], lengths)
    index += np.arange(index.shape[0], dtype=np.int64)
    return values[index]


def ragged(values: np.ndarray, lengths: np.ndarray) -> Ragged:
    return Ragged(np.ascontiguousarray(values, dtype=np.int32), offsets_of(np.asarray(lengths, dtype=np.int64)))


def insert_values(values: np.ndarray, offsets: np.ndarray, new_values: np.ndarray, new_rows: np.ndarray,
                  slots_words: np.ndarray, new_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert ``new_counts[r]`` values into each row ``r`` at uniformly random distinct slots.

    ``new_values``/``new_rows`` list the inserted values grouped by row (in row order). Row ``r``
    grows to ``n + c``; the ``c`` slots are the ``c`` smallest ``slots_words`` among positions
    ``0 .. n + c - 1`` of that row (``slots_words`` is given for those positions, flat by row),
    filled in slot order. Returns the new flat values and offsets.
    """
    lengths = lengths_of(offsets)
    out_lengths = lengths + new_counts
    out_offsets = offsets_of(out_lengths)
    out_rows = row_of(out_offsets)
    is_new = smallest_k(out_rows, slots_words, new_counts, lengths.shape[0])
    out = np.empty(out_offsets[-1], dtype=np.int32)
    out[~is_new] = values
    out[is_new] = new_values
    return out, out_offsets
