"""Mixture planning: exact apportionment, the Sainte-Laguë interleave, source passes, rank/worker splits."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.loader.mixplan import (
    MixOptions,
    SourceDraws,
    apportion,
    epoch_draws,
    interleave_counts,
    interleave_order,
    mixture_windows,
    plan_mixture,
)


def brute_order(counts):
    seats = [(Fraction(2 * j + 1, c), i) for i, c in enumerate(counts) for j in range(c)]
    return [i for _, i in sorted(seats)]


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(0, 25), min_size=1, max_size=5).filter(any))
def test_interleave_counts_are_the_prefixes_of_the_sainte_lague_order(counts):
    order = brute_order(counts)
    assert interleave_order(counts).tolist() == order
    total = sum(counts)
    for t in range(total + 1):
        got = interleave_counts(counts, t)
        assert got == [order[:t].count(i) for i in range(len(counts))]
        for i, c in enumerate(counts):  # every prefix near its proportion (divisor methods: < m quanta off)
            assert abs(got[i] - t * c / total) <= max(1, len(counts) - 1)


def test_interleave_counts_scale_to_large_epochs():
    counts = [6_000_000_001, 3_000_000_000, 999_999_999]
    t = 7_777_777_777
    got = interleave_counts(counts, t)
    assert sum(got) == t and all(abs(g - t * c / sum(counts)) <= 1 for g, c in zip(got, counts))


@pytest.mark.parametrize("total,weights,expected", [
    (10, [0.6, 0.3, 0.1], [6, 3, 1]), (11, [1, 1, 1], [4, 4, 3]), (7, [0.5, 0.5], [4, 3]), (5, [0, 1], [0, 5])])
def test_apportion_is_exact(total, weights, expected):
    assert apportion(total, weights) == expected


def draws(rows, n, *, shuffle=True, epoch=0):
    return SourceDraws(unit_rows=np.array(rows), draws=n, seed=3, epoch=epoch, source=1, shuffle=shuffle)


def expand(source, start, stop):
    base = np.concatenate([[0], np.cumsum(source.unit_rows)])
    return [int(base[u]) + r for u, lo, hi in source.segments(start, stop) for r in range(lo, hi)]


def test_source_passes_draw_every_row_once_per_pass_and_a_distinct_part():
    source = draws([5, 3, 7, 1], 16 * 2 + 9)
    rows = expand(source, 0, source.draws)
    assert sorted(rows[:16]) == sorted(rows[16:32]) == list(range(16))
    assert len(set(rows[32:])) == 9
    assert rows[:16] != rows[16:32]  # each pass its own unit order
    assert rows == expand(source, 0, 20) + expand(source, 20, 33) + expand(source, 33, 41)  # ranges compose


def test_draws_equal_to_rows_are_exactly_once_and_unshuffled_in_manifest_order():
    assert sorted(expand(draws([4, 4, 2], 10), 0, 10)) == list(range(10))
    assert expand(draws([4, 4, 2], 10, shuffle=False), 0, 10) == list(range(10))


@pytest.mark.parametrize("per_source", [False, True])
@pytest.mark.parametrize("world_size,num_workers", [(1, 1), (2, 2), (3, 1)])
def test_ranks_have_equal_batches_and_together_cover_the_epoch(per_source, world_size, num_workers):
    options = MixOptions(batch_size=4, shuffle_buffer=10, per_source=per_source)
    unit_rows = [np.array([30, 30]), np.array([25, 5]), np.array([4])]
    counts = [61, 29, 11]
    per_rank = []
    seen = {i: [] for i in range(3)}
    for rank in range(world_size):
        plans = [plan_mixture(unit_rows, counts, seed=0, epoch=1, rank=rank, world_size=world_size, worker=w,
                              num_workers=num_workers, options=options) for w in range(num_workers)]
        per_rank.append(sum(p.num_batches for p in plans))
        for plan in plans:
            for window in plan.windows:
                rows = sorted(r for _, b in plan.batches(window) for r in b.tolist())
                assert rows == list(range(sum(window.sizes)))  # each window row batched once
                for i, (a, b) in enumerate(window.parts):
                    seen[i].extend(range(a, b))
    assert len(set(per_rank)) == 1
    kept = epoch_draws([options.quanta(c) for c in counts], counts, options=options, world_size=world_size)
    for i in range(3):
        assert sorted(seen[i]) == list(range(kept[i]))  # draws [0, kept) each in exactly one window


def test_single_source_batches_hold_one_source_and_mixed_windows_keep_proportions():
    options = MixOptions(batch_size=5, shuffle_buffer=20, per_source=True)
    counts = [60, 30, 10]
    plan = plan_mixture([np.array([60]), np.array([30]), np.array([10])], counts, seed=1, epoch=0, rank=0,
                        world_size=1, worker=0, num_workers=1, options=options)
    starts = None
    for window in plan.windows:
        starts = np.concatenate([[0], np.cumsum(window.sizes)])
        for source, rows in plan.batches(window):
            assert source >= 0 and len(rows) == 5
            assert ((rows >= starts[source]) & (rows < starts[source + 1])).all()
    mixed = MixOptions(batch_size=5, shuffle_buffer=20)
    for window in mixture_windows(counts, counts, options=mixed, rank=0, world_size=1):
        for size, c in zip(window.sizes, counts):
            assert abs(size - (window.stop - window.start) * c / 100) <= 2


def test_same_seed_and_epoch_same_plan_other_epoch_other_order():
    options = MixOptions(batch_size=4, shuffle_buffer=8)
    def batches(epoch):
        plan = plan_mixture([np.array([10, 10])], [20], seed=5, epoch=epoch, rank=0, world_size=1, worker=0,
                            num_workers=1, options=options)
        return [(w.parts, [b.tolist() for _, b in plan.batches(w)]) for w in plan.windows]
    assert batches(0) == batches(0) and batches(0) != batches(1)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 30), min_size=1, max_size=3), data=st.data(),
       batch_size=st.integers(1, 6), buffer=st.integers(1, 20), world_size=st.integers(1, 3),
       num_workers=st.integers(1, 3), per_source=st.booleans(), drop_last=st.booleans())
def test_a_worker_resumed_after_any_batch_yields_the_rest_of_its_batches(sizes, data, batch_size, buffer, world_size,
                                                                         num_workers, per_source, drop_last):
    counts = [data.draw(st.integers(0, 3 * n)) for n in sizes]
    options = MixOptions(batch_size=batch_size, shuffle_buffer=buffer, per_source=per_source, drop_last=drop_last)
    if sum(options.quanta(c) for c in counts) < world_size:
        return
    unit_rows = [np.array([n // 2, n - n // 2]) for n in sizes]
    lengths = set()
    for rank in range(world_size):
        total = 0
        for worker in range(num_workers):
            plan = plan_mixture(unit_rows, counts, seed=9, epoch=2, rank=rank, world_size=world_size, worker=worker,
                                num_workers=num_workers, options=options)
            full = [(w.index, s, b.tolist()) for w in plan.windows for s, b in plan.batches(w)]
            assert len(full) == plan.num_batches
            total += len(full)
            for done in range(len(full) + 1):
                first, offset = plan.skip(done)
                rest = [(w.index, s, b.tolist()) for w in plan.windows[first:] for s, b in plan.batches(w)][offset:]
                assert rest == full[done:]
        lengths.add(total)
    assert len(lengths) == 1  # every rank the same number of batches
