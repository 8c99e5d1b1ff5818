"""Helpers for tests, notebooks and benchmarks: documents in memory -> rows -> examples (no Beam).

``rows_in_memory`` does what the pipeline does for one stream (one packer, documents in order), so
tests and benchmarks never re-implement row building. ``check_invariants`` is the one invariant
checker every objective's property test runs.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmpairs.transforms.batch import DocumentBatch, ExampleBatch, Ragged, RowBatch, concat_rows, slice_rows
from lmpairs.transforms.objective import Objective
from lmpairs.transforms.seeding import stable_hash64

Document = tuple[str | int, np.ndarray, np.ndarray]
"""``(key, ids, sentence_ends)``; a str key is hashed with ``stable_hash64``."""


def document_batch(documents: Sequence[Document]) -> DocumentBatch:
    keys = np.array([k if isinstance(k, (int, np.integer)) else stable_hash64(k) for k, _, _ in documents],
                    dtype=np.uint64)
    return DocumentBatch(keys, Ragged.from_rows([np.asarray(ids) for _, ids, _ in documents]),
                         Ragged.from_rows([np.asarray(ends) for _, _, ends in documents]))


def rows_in_memory(objective: Objective, documents: Sequence[Document], *, batch_size: int = 256,
                   with_final: bool = True) -> RowBatch:
    """Every clean row of ``documents`` as one stream (one packer), fed ``batch_size`` documents at a time."""
    packer = objective.packer()
    parts = [packer.add(document_batch(documents[i:i + batch_size])) for i in range(0, len(documents), batch_size)]
    if with_final:
        parts.append(packer.finish()[0])
    return concat_rows(parts)


def rows_as_lists(rows: RowBatch) -> list[tuple[int, list[int], list[int]]]:
    return [(int(rows.keys[i]), rows.ids.row(i).tolist(), rows.segments.row(i).tolist())
            for i in range(rows.num_rows)]


def examples_as_lists(examples: ExampleBatch) -> list[tuple]:
    return [(int(examples.keys[i]), *(c.row(i).tolist() for c in examples.columns.values()))
            for i in range(examples.num_examples)]


def _snapshot(rows: RowBatch) -> tuple:
    ends = () if rows.sentence_ends is None else (rows.sentence_ends.values.copy(), rows.sentence_ends.offsets.copy())
    return (rows.keys.copy(), rows.ids.values.copy(), rows.ids.offsets.copy(), rows.segments.values.copy(),
            rows.segments.offsets.copy(), *ends)


def check_invariants(objective: Objective, rows: RowBatch, *, seed: int, splits: Sequence[int] = ()) -> ExampleBatch:
    """What every objective guarantees, asserted on ``rows``; returns copy 0's examples.

    Same seed -> same output; int32 ragged columns in the declared order; keys are the copy keys;
    inputs never mutated; ``clean(corrupt(rows)) == rows`` (ids); the same examples whatever the
    batch split (``splits``: cut points into ``rows``).
    """
    before = _snapshot(rows)
    first = objective.corrupt(rows, seed=seed, copy=0)
    again = objective.corrupt(rows, seed=seed, copy=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, _snapshot(rows))), "corrupt mutated its input"
    assert examples_as_lists(first) == examples_as_lists(again)
    assert tuple(first.columns) == objective.columns
    for name, column in first.columns.items():
        assert column.values.dtype == np.int32, name
        assert column.offsets.dtype == np.int64 and column.offsets[0] == 0, name
        assert column.offsets.shape[0] == rows.num_rows + 1, name
    assert first.keys.dtype == np.uint64 and np.array_equal(first.keys, rows.keys)
    clean = objective.clean(first)
    assert np.array_equal(clean.ids.values, rows.ids.values) and np.array_equal(clean.ids.offsets, rows.ids.offsets)
    assert np.array_equal(clean.keys, rows.keys)
    cuts = [0, *sorted(set(int(s) for s in splits if 0 < s < rows.num_rows)), rows.num_rows]
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        pieces += examples_as_lists(objective.corrupt(slice_rows(rows, a, b), seed=seed, copy=0))
    assert pieces == examples_as_lists(first), "a row's example depends on its batch"
    return first
