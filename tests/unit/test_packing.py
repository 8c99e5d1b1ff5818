"""ConcatPacker: framing, rows of a fixed length with segments, a carry shorter than a row, content keys."""
from __future__ import annotations

import numpy as np
import pytest

from lmpairs.transforms.packing import ConcatPacker, frame_documents
from lmpairs.transforms.seeding import row_keys
from lmpairs.transforms.testing import document_batch, rows_as_lists


def docs(*lengths, start: int = 100):
    out, next_id = [], start
    for i, n in enumerate(lengths):
        out.append((i + 1, np.arange(next_id, next_id + n), np.array([n])))
        next_id += n
    return out


def test_frame_documents():
    framed, lengths = frame_documents(document_batch(docs(2, 0, 3)), 2, 3)
    assert framed.tolist() == [2, 100, 101, 3, 2, 3, 2, 102, 103, 104, 3] and lengths.tolist() == [4, 2, 5]
    framed, lengths = frame_documents(document_batch(docs(2, 1)), None, None)
    assert framed.tolist() == [100, 101, 102] and lengths.tolist() == [2, 1]


def test_rows_segments_keys_and_carry_across_add_calls():
    packer = ConcatPacker(objective_id=9, row_length=4, suffix=3)
    first = rows_as_lists(packer.add(document_batch(docs(2, 6)[:1])))  # [100 101 3] carried
    assert first == []
    second = packer.add(document_batch([(2, np.arange(200, 206), np.array([6]))]))
    assert rows_as_lists(second) == [
        (int(row_keys(9, np.array([1], np.uint64), np.array([0]))[0]), [100, 101, 3, 200], [3, 1]),
        (int(row_keys(9, np.array([2], np.uint64), np.array([1]))[0]), [201, 202, 203, 204], [4])]
    last, dropped = packer.finish()
    assert rows_as_lists(last) == [(int(row_keys(9, np.array([2], np.uint64), np.array([5]))[0]), [205, 3], [2])]
    assert dropped == 0
    with pytest.raises(RuntimeError, match="after finish"):
        packer.add(document_batch(docs(1)))


def test_row_prefix_is_prepended_and_counted_in_the_first_segment():
    packer = ConcatPacker(objective_id=2, row_length=3, suffix=3, row_prefix=2)
    rows = rows_as_lists(packer.add(document_batch(docs(1, 3))))
    assert [r[1] for r in rows] == [[2, 100, 3, 101], [2, 102, 103, 3]] and [r[2] for r in rows] == [[3, 1], [4]]


def test_a_document_spanning_many_rows_and_empty_batches():
    packer = ConcatPacker(objective_id=1, row_length=5)
    assert packer.add(document_batch([])).num_rows == 0
    rows = packer.add(document_batch(docs(23)))
    assert rows.num_rows == 4 and rows.segments.values.tolist() == [5, 5, 5, 5]
    assert rows.keys.tolist() == row_keys(1, np.ones(4, np.uint64), np.arange(0, 20, 5)).tolist()
    last, dropped = packer.finish()
    assert last.ids.values.tolist() == [120, 121, 122]


def test_short_final_rows_dropped_and_counted():
    packer = ConcatPacker(objective_id=1, row_length=5, keep_final=False)
    packer.add(document_batch(docs(8)))
    assert packer.finish()[1] == 3
    packer = ConcatPacker(objective_id=1, row_length=5, min_row_tokens=2)
    packer.add(document_batch(docs(6)))
    last, dropped = packer.finish()
    assert last.num_rows == 0 and dropped == 1
