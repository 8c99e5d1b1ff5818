"""The epoch plan: exact coverage over ranks and workers, equal batch counts, seeded orders, skips."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.loader.plan import PlanOptions, plan_epoch, rank_num_batches, rank_size, unit_order


def stream_positions(plan, window):
    """Global stream positions of a window's rows, in batch order (via the unit segments)."""
    rows = np.concatenate([plan.stream_offsets[np.flatnonzero(plan.unit_order == u)[0]] + np.arange(lo, hi)
                           for u, lo, hi in plan.segments(window)])
    return rows[plan.order(window)]


def all_positions(unit_rows, *, world, workers, options, epoch=0, seed=0):
    """Per rank: the stream positions each worker reads, in order, and the rank's batch count."""
    out = []
    for rank in range(world):
        per_worker, batches = [], 0
        for worker in range(workers):
            plan = plan_epoch(unit_rows, seed=seed, epoch=epoch, rank=rank, world_size=world, worker=worker,
                              num_workers=workers, options=options)
            per_worker.append(np.concatenate([stream_positions(plan, w) for w in plan.windows] or [[]]))
            batches += plan.num_batches
        out.append((per_worker, batches))
    return out


@settings(max_examples=60, deadline=None)
@given(unit_rows=st.lists(st.integers(0, 30), min_size=1, max_size=12), world=st.integers(1, 4),
       workers=st.integers(1, 3), batch=st.integers(1, 5), buffer=st.integers(1, 20),
       remainder=st.sampled_from(["drop", "pad"]), drop_last=st.booleans())
def test_ranks_and_workers_cover_the_stream_exactly_once_with_equal_batch_counts(
        unit_rows, world, workers, batch, buffer, remainder, drop_last):
    total = sum(unit_rows)
    if total == 0:
        return
    options = PlanOptions(shuffle=True, shuffle_buffer=buffer, remainder=remainder, batch_size=batch,
                          drop_last=drop_last)
    per_rank = all_positions(np.array(unit_rows), world=world, workers=workers, options=options)
    size = rank_size(total, world, remainder)
    seen = np.concatenate([np.concatenate(w) for w, _ in per_rank]).astype(np.int64)
    expected = np.arange(world * size) % total  # drop: the first W*P positions; pad: wrap around
    assert np.array_equal(np.sort(seen), np.sort(expected))
    counts = {b for _, b in per_rank}
    assert counts == {rank_num_batches(total, world_size=world, options=options)}


def test_remainder_sizes_and_reports():
    assert rank_size(10, 4, "drop") == 2 and rank_size(10, 4, "pad") == 3
    assert rank_size(3, 4, "pad") == 1 and rank_size(3, 4, "drop") == 0


def test_window_size_rounds_up_to_whole_batches_and_batches_never_straddle_windows():
    options = PlanOptions(shuffle_buffer=10, batch_size=4)
    assert options.window_size == 12
    plan = plan_epoch(np.array([25]), seed=0, epoch=0, rank=0, world_size=1, worker=0, num_workers=1,
                      options=options)
    assert [w.size for w in plan.windows] == [12, 12, 1]
    assert [len(plan.batch_starts(w)) for w in plan.windows] == [3, 3, 1]
    dropped = PlanOptions(shuffle_buffer=10, batch_size=4, drop_last=True)
    assert rank_num_batches(25, world_size=1, options=dropped) == 6


def test_windows_alternate_between_workers():
    options = PlanOptions(shuffle_buffer=5, batch_size=5)
    plans = [plan_epoch(np.array([30]), seed=0, epoch=0, rank=0, world_size=1, worker=k, num_workers=2,
                        options=options) for k in range(2)]
    assert [w.index for w in plans[0].windows] == [0, 2, 4]
    assert [w.index for w in plans[1].windows] == [1, 3, 5]


def test_order_is_a_pure_function_of_seed_and_epoch():
    options = PlanOptions(shuffle_buffer=16, batch_size=4)
    def order(seed, epoch):
        return all_positions(np.array([9, 13, 4, 20]), world=2, workers=2, options=options, seed=seed,
                             epoch=epoch)[0][0][0].tolist()
    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1)
    assert order(0, 0) != order(1, 0)
    assert sorted(order(0, 0)) != order(0, 0)  # shuffled within windows too


def test_no_shuffle_reads_the_stream_in_order():
    options = PlanOptions(shuffle=False, shuffle_buffer=4, batch_size=2)
    assert unit_order(3, seed=0, epoch=5, shuffle=False).tolist() == [0, 1, 2]
    per_rank = all_positions(np.array([3, 5]), world=1, workers=1, options=options)
    assert per_rank[0][0][0].tolist() == list(range(8))


def test_segments_cross_unit_boundaries_and_wrap_for_padding():
    options = PlanOptions(shuffle=False, shuffle_buffer=100, batch_size=1, remainder="pad")
    plan = plan_epoch(np.array([3, 0, 4]), seed=0, epoch=0, rank=2, world_size=3, worker=0, num_workers=1,
                      options=options)
    # N=7, P=3: rank 2 reads stream positions 6, 7, 8 -> 6, 0, 1 (unit 2's last row, then unit 0)
    assert [plan.segments(w) for w in plan.windows] == [[(2, 3, 4), (0, 0, 2)]]


def test_skip_finds_the_window_and_batch_of_a_resume():
    options = PlanOptions(shuffle_buffer=6, batch_size=3)
    plan = plan_epoch(np.array([16]), seed=0, epoch=0, rank=0, world_size=1, worker=0, num_workers=1,
                      options=options)
    assert [options.batches_in(w.size) for w in plan.windows] == [2, 2, 2]
    assert plan.skip(0) == (0, 0) and plan.skip(3) == (1, 1) and plan.skip(6) == (3, 0)


def test_bad_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="remainder='keep'"):
        PlanOptions(remainder="keep")
    with pytest.raises(ValueError, match="rank=2 is outside"):
        plan_epoch(np.array([4]), seed=0, epoch=0, rank=2, world_size=2, worker=0, num_workers=1,
                   options=PlanOptions(batch_size=1))
