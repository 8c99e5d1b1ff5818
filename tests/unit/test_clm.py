"""CLM: ``[bos] ids [eos]`` documents concatenated into ``seq_len + 1``-token rows with document segments."""
from __future__ import annotations

import numpy as np
from vocabs import toy_vocab

from lmpairs.config import ClmConfig
from lmpairs.objectives import make_objective
from lmpairs.transforms.seeding import row_keys, stable_hash64
from lmpairs.transforms.testing import check_invariants, document_batch, rows_as_lists, rows_in_memory

VOCAB = toy_vocab()  # bos 2, eos 3


def test_rows_are_the_framed_stream_cut_into_seq_len_plus_one_with_document_segments():
    clm = make_objective("clm", ClmConfig(seq_len=4), VOCAB)
    docs = [("a", np.array([7, 8]), np.array([2])), ("b", np.array([9, 10, 11, 12]), np.array([4])),
            ("c", np.array([5]), np.array([1]))]
    rows = rows_as_lists(rows_in_memory(clm, docs))
    assert [r[1] for r in rows] == [[2, 7, 8, 3, 2], [9, 10, 11, 12, 3], [2, 5, 3]]
    assert [r[2] for r in rows] == [[4, 1], [5], [3]]
    a, b, c = (stable_hash64(k) for k in "abc")
    assert [r[0] for r in rows] == row_keys(1, np.array([a, b, c], np.uint64), np.array([0, 1, 0])).tolist()
    assert clm.full_row_length == 5


def test_final_row_pad_keeps_it_short_drop_counts_it_and_one_token_rows_are_dropped():
    docs = [("a", np.arange(100, 106), np.array([6]))]  # framed: 8 tokens
    keep = make_objective("clm", ClmConfig(seq_len=4), VOCAB).packer()
    assert keep.add(document_batch(docs)).num_rows == 1
    last, dropped = keep.finish()
    assert last.ids.row(0).tolist() == [104, 105, 3] and dropped == 0
    drop = make_objective("clm", ClmConfig(seq_len=4, final_row="drop"), VOCAB).packer()
    drop.add(document_batch(docs))
    last, dropped = drop.finish()
    assert last.num_rows == 0 and dropped == 3
    one = make_objective("clm", ClmConfig(seq_len=2, add_bos=False), VOCAB).packer()
    assert one.add(document_batch([("a", np.arange(100, 103), np.array([3]))])).num_rows == 1
    last, dropped = one.finish()
    assert last.num_rows == 0 and dropped == 1  # a single token has no next-token target


def test_examples_are_the_rows_and_draw_nothing():
    clm = make_objective("clm", ClmConfig(seq_len=8), VOCAB)
    rng = np.random.default_rng(0)
    rows = rows_in_memory(clm, [(i, rng.integers(105, 1105, n), np.array([n])) for i, n in enumerate([3, 20, 7])])
    ex = check_invariants(clm, rows, seed=0, splits=[1])
    assert np.array_equal(ex.columns["input_ids"].values, rows.ids.values)
    assert np.array_equal(ex.columns["doc_lengths"].values, rows.segments.values)
    assert np.array_equal(clm.corrupt(rows, seed=1).columns["input_ids"].values, rows.ids.values)
    assert clm.measure(ex) == {"tokens": rows.ids.values.shape[0]}
