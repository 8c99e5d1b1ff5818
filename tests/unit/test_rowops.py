"""Batch building blocks: the exact k-smallest selection (ties included) against a brute-force reference."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.transforms.rowops import gather, insert_values, offsets_of, segment_cumsum, smallest_k, smallest_k_grid


def reference(rows, words, k):
    out = np.zeros(len(rows), dtype=bool)
    for r in set(rows.tolist()):
        items = sorted((int(words[i]), i) for i in np.flatnonzero(rows == r))  # (hash, position)
        for _, i in items[:k[r]]:
            out[i] = True
    return out


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(0, 40), min_size=1, max_size=8), data=st.data(),
       spread=st.sampled_from([3, 2**20, 2**64 - 1]))
def test_smallest_k_is_exact_with_and_without_ties(counts, data, spread):
    counts = np.array(counts)
    rows = np.repeat(np.arange(counts.shape[0]), counts)
    words = np.array(data.draw(st.lists(st.integers(0, spread), min_size=rows.shape[0], max_size=rows.shape[0])),
                     dtype=np.uint64)
    k = np.array([data.draw(st.integers(0, c)) for c in counts])
    assert smallest_k(rows, words, k, counts.shape[0]).tolist() == reference(rows, words, k).tolist()


@settings(max_examples=100, deadline=None)
@given(data=st.data(), width=st.integers(1, 60), num_rows=st.integers(1, 6), spread=st.sampled_from([2, 2**64 - 1]))
def test_smallest_k_grid_matches(data, width, num_rows, spread):
    words = np.array(data.draw(st.lists(st.integers(0, spread), min_size=width * num_rows,
                                        max_size=width * num_rows)), dtype=np.uint64).reshape(num_rows, width)
    flags = data.draw(st.lists(st.booleans(), min_size=words.size, max_size=words.size))
    eligible = np.array(flags).reshape(words.shape)
    n = eligible.sum(axis=1)
    k = np.array([data.draw(st.integers(0, int(c))) for c in n])
    got = smallest_k_grid(words, eligible, n, k)
    rows = np.repeat(np.arange(num_rows), width)[eligible.ravel()]
    want = np.zeros(words.size, dtype=bool)
    want[np.flatnonzero(eligible)] = reference(rows, words.ravel()[eligible.ravel()], k)
    assert got.tolist() == np.flatnonzero(want).tolist()


def test_segment_cumsum_gather_and_insert():
    offsets = offsets_of(np.array([2, 0, 3]))
    assert segment_cumsum(np.array([1, 2, 3, 4, 5]), offsets).tolist() == [1, 3, 3, 7, 12]
    assert gather(np.arange(10), np.array([7, 1]), np.array([2, 3])).tolist() == [7, 8, 1, 2, 3]
    values, out_offsets = insert_values(np.array([10, 11, 12], np.int32), np.array([0, 1, 3]),
                                        np.array([7, 8], np.int32), np.array([0, 1]),
                                        np.array([5, 0, 9, 0, 1], np.uint64), np.array([1, 1]))
    # row 0: slots 0..1, smallest word at slot 1 -> [10, 7]; row 1: slots 0..2 words [9, 0, 1] -> slot 1
    assert values.tolist() == [10, 7, 11, 8, 12] and out_offsets.tolist() == [0, 2, 5]
