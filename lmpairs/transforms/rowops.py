"""Shared batch pieces over flat ragged rows (values + offsets): row ids, positions, keyed selections.

Every function works on a whole batch in a few numpy passes; none loops over rows. Draws come from
:mod:`lmpairs.transforms.seeding` words at (row key, position), so a row's result is the same in
any batch.
"""
from __future__ import annotations

import numpy as np

from lmpairs.transforms.batch import Ragged


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


_MAX64 = np.uint64(2**64 - 1)


def candidate_bounds(n: np.ndarray, k: np.ndarray, *, spread: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-row hash bound that lets through about ``k + spread (sqrt(k) + 2)`` of ``n`` uniform items
    (with the default, fewer than ``k`` get through in about one row in 3,000: callers redo those
    rows with a wider bound), and whether the row takes every item (the bound would be near 1)."""
    frac = (k + spread * (np.sqrt(k) + 2.0)) / np.maximum(n, 1)
    take_all = frac >= 0.5
    frac[take_all] = 0.0
    frac *= 2.0**64
    return frac.astype(np.uint64), take_all


def kth_smallest(words: np.ndarray, counts: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``k``-th smallest word among ``words`` grouped by row (``counts`` per row).

    Every row is placed in one padded matrix, shifted right by ``max(k) - k`` zeros so that all
    rows' k-th smallest land in the same column; one ``np.partition`` at that column (and the next)
    finds them all. Filled by boolean masks, no index arithmetic. Returns ``(kth, live, tie)``: the
    k-th word (rows with ``k > 0``: ``live``) and the rows whose k-th and (k+1)-th words are equal,
    which need positions to break the tie.
    """
    num_rows = counts.shape[0]
    kk = np.minimum(k, counts)
    live = kk > 0
    if not live.any():
        return np.zeros(num_rows, np.uint64), live, np.zeros(num_rows, bool)
    wide = counts > 2 * int(counts.mean()) + 16
    if wide.any() and not wide.all():  # a few long rows would widen everyone's matrix: do them apart
        item_wide = np.repeat(wide, counts)
        kth, tie = np.zeros(num_rows, np.uint64), np.zeros(num_rows, bool)
        for part, items in ((~wide, ~item_wide), (wide, item_wide)):
            kth[part], _, tie[part] = kth_smallest(words[items], counts[part], k[part])
        return kth, live, tie
    top = int(kk.max())
    pad = top - kk
    width = int((pad + counts).max()) + 1
    columns = np.arange(width)[None, :]
    grid = np.full((num_rows, width), _MAX64, dtype=np.uint64)
    grid[columns < pad[:, None]] = 0
    grid[(columns >= pad[:, None]) & (columns < (pad + counts)[:, None])] = words
    grid.partition((top - 1, top), axis=1)
    kth = grid[:, top - 1]
    tie = live & (grid[:, top] == kth) & (kk < counts)
    return kth, live, tie


def break_ties(out: np.ndarray, rows: np.ndarray, words: np.ndarray, k: np.ndarray, tie: np.ndarray,
               num_rows: int) -> None:
    """Redo the rows marked ``tie`` exactly, in place: the ``k`` smallest by ``(word, position)``."""
    items = np.flatnonzero(tie[rows])
    order = np.lexsort((items, words[items], rows[items]))
    sorted_rows = rows[items][order]
    starts = offsets_of(np.bincount(sorted_rows, minlength=num_rows))
    in_row = np.arange(items.shape[0]) - starts[sorted_rows]
    out[items] = False
    out[items[order][in_row < k[sorted_rows]]] = True


def select_sorted(rows: np.ndarray, words: np.ndarray, k: np.ndarray, counts: np.ndarray,
                  num_rows: int) -> np.ndarray:
    """Mask of the ``k[row]`` smallest ``(word, position)`` among items grouped by row, in position order.

    Items at or below each row's k-th smallest word are taken; a row whose k-th and (k+1)-th words
    are equal (probability about ``count**2 / 2**64``) is resolved exactly by position.
    """
    kth, live, tie = kth_smallest(words, counts, k)
    out = live[rows] & (words <= kth[rows])
    if tie.any():
        break_ties(out, rows, words, np.minimum(k, counts), tie, num_rows)
    return out


def smallest_k(rows: np.ndarray, words: np.ndarray, k: np.ndarray, num_rows: int) -> np.ndarray:
    """Boolean mask of each row's ``k[row]`` items with the smallest ``(word, position)`` keys.

    An exact-count draw from the keyed hash words: uniform without replacement, order-free. Items
    come grouped by row in position order (flat ragged data). Only candidates under a per-row hash
    bound that holds ``k`` with overwhelming probability are ranked; a row with fewer than ``k``
    under it is redone with all its items, so the result is exact either way.
    """
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    n = np.bincount(rows, minlength=num_rows)
    bound, take_all = candidate_bounds(n, k, spread=4.0)
    cand = (words < bound[rows]) | take_all[rows]
    counts = np.bincount(rows[cand], minlength=num_rows)
    short = counts < np.minimum(k, n)
    if short.any():
        cand |= short[rows]
        counts = np.bincount(rows[cand], minlength=num_rows)
    idx = np.flatnonzero(cand)
    out = np.zeros(rows.shape[0], dtype=bool)
    out[idx[select_sorted(rows[idx], words[idx], k, counts, num_rows)]] = True
    return out


def to_grid(values: np.ndarray, offsets: np.ndarray, fill: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows as a ``(rows, longest)`` grid (a free reshape when all rows are equally long) and the
    valid-position mask (None when every position is valid)."""
    lengths = offsets[1:] - offsets[:-1]
    num_rows = lengths.shape[0]
    width = int(lengths.max()) if num_rows else 0
    if num_rows and (lengths == width).all():
        return values.reshape(num_rows, width), None
    valid = np.arange(width)[None, :] < lengths[:, None]
    grid = np.full((num_rows, width), fill, dtype=values.dtype)
    grid[valid] = values
    return grid, valid


def smallest_k_grid(words: np.ndarray, eligible: np.ndarray, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row of a grid, the ``k`` eligible positions with the smallest ``(word, position)``, as
    sorted flat indices into the grid."""
    num_rows, width = words.shape
    bound, take_all = candidate_bounds(n, k)
    cand = words < bound[:, None]
    if take_all.any():
        cand |= take_all[:, None]
    cand &= eligible
    idx = np.flatnonzero(cand)
    counts = np.diff(np.searchsorted(idx, np.arange(num_rows + 1) * width))
    short = counts < k
    if short.any():  # about one row in 3,000: a bound 3x wider (then every eligible position, if ever needed)
        wide_bound, wide_all = candidate_bounds(n[short], k[short], spread=9.0)
        redo = (words[short] < wide_bound[:, None]) | wide_all[:, None]
        cand[short] = redo & eligible[short]
        idx = np.flatnonzero(cand)
        counts = np.diff(np.searchsorted(idx, np.arange(num_rows + 1) * width))
        still = counts < k
        if still.any():
            cand[still] = eligible[still]
            idx = np.flatnonzero(cand)
            counts = np.diff(np.searchsorted(idx, np.arange(num_rows + 1) * width))
    flat_words = words.reshape(-1).take(idx)
    kth, live, tie = kth_smallest(flat_words, counts, k)
    rows = np.repeat(np.arange(num_rows), counts)
    keep = (flat_words <= kth[rows]) & live[rows]
    if tie.any():  # equal words at the budget's edge (about 1 row in 2**50): order them by position
        break_ties(keep, rows, flat_words, np.minimum(k, counts), tie, num_rows)
    return idx[keep]


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
