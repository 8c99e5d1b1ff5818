"""CLM best-fit packing: short documents whole, rows rebuild the corpus minus counted truncation."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vocabs import toy_vocab

from lmpairs.config import ClmConfig
from lmpairs.objectives import make_objective
from lmpairs.transforms.batch import concat_rows
from lmpairs.transforms.bestfit import best_fit_decreasing
from lmpairs.transforms.testing import check_invariants, document_batch, rows_as_lists

VOCAB = toy_vocab()  # bos 2, eos 3


def test_best_fit_decreasing_places_each_piece_in_the_tightest_row():
    # capacity 10: 7 opens row 0 (room 3), 6 opens row 1 (room 4), 4 -> row 1 (room 0), 3 -> row 0, 2 -> row 2
    assert best_fit_decreasing([3, 7, 2, 6, 4], 10) == [0, 0, 2, 1, 1]
    assert best_fit_decreasing([], 10) == []
    assert best_fit_decreasing([5, 5, 5], 10) == [0, 0, 1]


def pack(config: ClmConfig, docs, cuts=()):
    clm = make_objective("clm", config, VOCAB)
    packer = clm.packer()
    bounds = [0, *cuts, len(docs)]
    parts = [packer.add(document_batch(docs[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
    last, dropped = packer.finish()
    return clm, concat_rows(parts + [last]), dropped


def test_small_example():
    docs = [("a", np.arange(100, 105), [5]), ("b", np.arange(200, 202), [2]), ("c", np.arange(300, 312), [12])]
    _, rows, dropped = pack(ClmConfig(seq_len=7, packing="best_fit"), docs)  # rows of 8
    # framed lengths 7, 4, 14 -> c gives one full row and a rest of 6; pool 7, 6, 4: three rows
    assert [r[1] for r in rows_as_lists(rows)] == [
        [2, *range(300, 307)], [2, *range(100, 105), 3], [307, 308, 309, 310, 311, 3], [2, 200, 201, 3]]
    assert [r[2] for r in rows_as_lists(rows)] == [[8], [7], [6], [4]] and dropped == 0
    _, rows, dropped = pack(ClmConfig(seq_len=7, packing="best_fit", long_documents="truncate"), docs)
    assert [r[1] for r in rows_as_lists(rows)][0] == [2, *range(300, 307)] and dropped == 6


@st.composite
def corpora(draw):
    lengths = draw(st.lists(st.integers(0, 60), min_size=1, max_size=25))
    return [(f"d{i}", np.arange(1000 * i + 105, 1000 * i + 105 + n), np.array([n])) for i, n in enumerate(lengths)]


@pytest.mark.parametrize("long_documents", ["fragment", "truncate"])
@settings(max_examples=60, deadline=None)
@given(docs=corpora(), seq_len=st.integers(2, 40), data=st.data())
def test_short_documents_whole_and_rows_rebuild_the_corpus(long_documents, docs, seq_len, data):
    config = ClmConfig(seq_len=seq_len, packing="best_fit", long_documents=long_documents)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(docs)), max_size=3))))
    clm, rows, dropped = pack(config, docs, cuts)
    again = pack(config, docs)
    assert rows_as_lists(rows) == rows_as_lists(again[1]) and dropped == again[2]  # any document batching
    row_length = seq_len + 1
    assert (rows.ids.lengths <= row_length).all()
    assert [sum(r[2]) for r in rows_as_lists(rows)] == rows.ids.lengths.tolist()
    framed = [np.concatenate([[2], ids, [3]]) for _, ids, _ in docs]
    as_text = [",".join(map(str, r[1])) for r in rows_as_lists(rows)]
    for doc in framed:
        if doc.shape[0] <= row_length:  # a short document sits whole inside one row
            assert any(f",{','.join(map(str, doc))}," in f",{t}," for t in as_text)
    # every framed token appears exactly once (ids are unique per document, bos/eos counted apart)
    want = Counter(int(x) for doc in framed for x in doc)
    got = Counter(rows.ids.values.tolist())
    missing = sum((want - got).values())
    assert not (got - want) and missing == dropped
    if long_documents == "fragment":  # only a lone one-token rest, in a row of its own, is ever dropped
        assert dropped <= sum(1 for doc in framed if doc.shape[0] % row_length == 1 and doc.shape[0] > 1)
    else:
        assert dropped == sum(max(doc.shape[0] - row_length, 0) for doc in framed)
    if rows.num_rows:
        check_invariants(clm, rows, seed=0, splits=[1])


def test_best_fit_pads_less_than_concat_cuts():
    rng = np.random.default_rng(0)
    docs = [(i, rng.integers(105, 1105, n), np.array([n])) for i, n in enumerate(rng.integers(5, 120, 300))]
    _, concat, _ = pack(ClmConfig(seq_len=128), docs)
    _, best, _ = pack(ClmConfig(seq_len=128, packing="best_fit"), docs)
    assert concat.ids.values.shape[0] == best.ids.values.shape[0]  # the same tokens
    cut = sum(1 for r in rows_as_lists(concat) for _ in r[2]) - len(docs)  # pieces beyond one per document
    assert cut > 50 and sum(1 for r in rows_as_lists(best) for _ in r[2]) == len(docs)  # no document cut
    padding = best.num_rows * 129 - best.ids.values.shape[0]
    assert padding / (best.num_rows * 129) < 0.05
