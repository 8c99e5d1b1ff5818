"""CLM rows: framing, whole rows per document, packed leftovers with document lengths."""
import numpy as np

from lmpairs.config import ClmConfig
from lmpairs.transforms import make_objective
from lmpairs.vocab import toy_vocab

VOCAB = toy_vocab()


def test_documents_are_framed_and_cut_into_rows_of_seq_len_plus_one():
    clm = make_objective("clm", ClmConfig(seq_len=4), VOCAB)
    rows, rest = clm.document_rows("f.txt:0", np.arange(200, 211), np.array([11]))
    assert [r.ids.tolist() for r in rows] == [[2, 200, 201, 202, 203], [204, 205, 206, 207, 208]]
    assert rest.tolist() == [209, 210, VOCAB.eos_id]
    assert len({r.key for r in rows}) == 2


def test_leftovers_pack_across_documents_with_lengths():
    clm = make_objective("clm", ClmConfig(seq_len=4), VOCAB)
    rows, dropped = clm.pack_leftovers("train/0", [np.array([7, 8, 3]), np.array([2, 9, 3]), np.array([2, 5])])
    assert [r.ids.tolist() for r in rows] == [[7, 8, 3, 2, 9], [3, 2, 5]]
    assert [r.segment_lengths.tolist() for r in rows] == [[3, 2], [1, 2]]
    assert dropped == 0
    example = clm.corrupt(rows[0], rng=np.random.default_rng(0))
    assert example["doc_lengths"].tolist() == [3, 2] and example["input_ids"].dtype == np.int32


def test_drop_mode_drops_and_counts_the_final_short_row():
    clm = make_objective("clm", ClmConfig(seq_len=4, final_row="drop"), VOCAB)
    rows, dropped = clm.pack_leftovers("train/0", [np.arange(7)])
    assert [len(r.ids) for r in rows] == [5] and dropped == 2


def test_a_one_token_final_row_is_dropped_even_when_padding():
    clm = make_objective("clm", ClmConfig(seq_len=4), VOCAB)
    rows, dropped = clm.pack_leftovers("train/0", [np.arange(6)])
    assert [len(r.ids) for r in rows] == [5] and dropped == 1


def test_framing_follows_config():
    clm = make_objective("clm", ClmConfig(seq_len=8, add_bos=False, add_eos=True), VOCAB)
    assert clm.frame_document(np.array([9, 9]), np.array([2])).tolist() == [9, 9, VOCAB.eos_id]
