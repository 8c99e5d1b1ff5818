"""Packing: documents cut into whole rows, leftovers packed with exact segment boundaries."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.transforms.packing import cut_document, pack_sequences


def test_cut_document_splits_whole_rows_and_remainder():
    full, rest = cut_document(np.arange(11), 4)
    assert full.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert rest.tolist() == [8, 9, 10]
    assert full.dtype == np.int32 and rest.dtype == np.int32


def test_pack_sequences_records_segments_and_drops_partial_on_request():
    seqs = [np.arange(5), np.arange(10, 13), np.arange(20, 27)]
    packed, dropped = pack_sequences(seqs, 4, keep_partial=True)
    rows = [packed.row(i) for i in range(packed.num_rows)]
    assert [r.tolist() for r, _ in rows] == [[0, 1, 2, 3], [4, 10, 11, 12], [20, 21, 22, 23], [24, 25, 26]]
    assert [s.tolist() for _, s in rows] == [[4], [1, 3], [4], [3]]
    assert dropped == 0
    packed, dropped = pack_sequences(seqs, 4, keep_partial=False)
    assert packed.num_rows == 3 and dropped == 3


def test_pack_sequences_of_nothing_is_empty():
    packed, dropped = pack_sequences([np.zeros(0, np.int32)], 8, keep_partial=True)
    assert packed.num_rows == 0 and dropped == 0


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(0, 40), max_size=12), row_length=st.integers(1, 16), keep=st.booleans())
def test_packing_loses_and_duplicates_nothing(lengths, row_length, keep):
    seqs = [np.arange(n, dtype=np.int32) + 1000 * i for i, n in enumerate(lengths)]
    stream = np.concatenate(seqs) if seqs else np.zeros(0, np.int32)
    packed, dropped = pack_sequences(seqs, row_length, keep_partial=keep)
    rows = [packed.row(i) for i in range(packed.num_rows)]
    joined = np.concatenate([r for r, _ in rows]) if rows else np.zeros(0, np.int32)
    assert joined.tolist() == stream[: len(joined)].tolist()
    assert len(joined) + dropped == len(stream)
    for i, (ids, segments) in enumerate(rows):
        assert int(segments.sum()) == len(ids)
        assert (segments > 0).all()
        assert len(ids) == row_length or (keep and i == len(rows) - 1)
    # Segment ends are exactly the document ends and row ends inside the kept stream.
    seg_ends = np.cumsum(np.concatenate([s for _, s in rows])) if rows else np.zeros(0)
    doc_ends = np.cumsum([n for n in lengths if n])
    row_ends = np.cumsum([len(r) for r, _ in rows])
    expected = np.union1d(doc_ends[doc_ends < len(joined)], row_ends)
    assert seg_ends.tolist() == expected.tolist()
