"""The one ragged type (lmpairs.ragged): rows, take, concat (into a reused buffer too), re-exports."""
import numpy as np

from lmpairs.loader.ragged import Ragged as LoaderRagged
from lmpairs.ragged import Ragged, concat
from lmpairs.transforms.batch import Ragged as TransformsRagged
from lmpairs.transforms.batch import concat_ragged


def rows(r):
    return [r.row(i).tolist() for i in range(len(r))]


def test_one_class_behind_every_import():
    assert LoaderRagged is Ragged is TransformsRagged and concat_ragged is concat


def test_from_rows_take_and_concat():
    a = Ragged.from_rows([[1, 2], [], [3]])
    b = Ragged.from_rows([[4, 5, 6]])
    assert a.values.dtype == np.int32 and a.offsets.dtype == np.int64 and len(a) == a.num_rows == 3
    assert rows(a.take(np.array([2, 0, 2]))) == [[3], [1, 2], [3]]
    assert rows(concat([a, b])) == [[1, 2], [], [3], [4, 5, 6]]
    empty = concat([])
    assert len(empty) == 0 and empty.values.dtype == np.int32


def test_concat_into_a_buffer_views_it():
    buffer = np.full(10, -1, dtype=np.int32)
    out = concat([Ragged.from_rows([[1], [2, 3]]), Ragged.from_rows([[4]])], out=buffer)
    assert rows(out) == [[1], [2, 3], [4]] and np.shares_memory(out.values, buffer)
    assert buffer[:4].tolist() == [1, 2, 3, 4] and buffer[4] == -1


def test_windows_are_strided_views_made_once():
    r = Ragged.from_rows([[1, 2, 3, 4]])
    assert r.windows(2)[1].tolist() == [2, 3] and r.windows(2) is r.windows(2)


def test_select_equals_take_of_the_masked_rows():
    rng = np.random.default_rng(0)
    rows = Ragged.from_rows([rng.integers(0, 99, n) for n in rng.integers(0, 9, 200)])
    for mask in (rng.random(200) < 0.3, np.ones(200, bool), np.zeros(200, bool)):
        picked, expected = rows.select(mask), rows.take(np.flatnonzero(mask))
        assert np.array_equal(picked.values, expected.values)
        assert np.array_equal(picked.offsets, expected.offsets)


def test_slice_equals_take_of_the_range_and_shares_the_values():
    rows = Ragged.from_rows([np.arange(n) + 10 * n for n in (3, 0, 2, 5, 1)])
    for start, stop in ((0, 5), (1, 3), (2, 99), (4, 4)):
        part, expected = rows.slice(start, stop), rows.take(np.arange(start, min(stop, 5)))
        assert np.array_equal(part.values, expected.values)
        assert np.array_equal(part.offsets, expected.offsets)
    assert np.shares_memory(rows.slice(1, 4).values, rows.values)
