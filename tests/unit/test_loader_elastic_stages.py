"""Elastic stages as pure functions: what the stages consumed and what is left partition the epoch."""
import numpy as np
import pytest

from lmpairs.loader.elastic import Stage, remaining_positions
from lmpairs.loader.plan import PlanOptions, plan_epoch


def consumed(unit_rows, stage, options, positions):
    opts = PlanOptions(shuffle=options.shuffle, shuffle_buffer=options.shuffle_buffer, batch_size=stage.batch_size,
                       remainder=options.remainder)
    out = []
    for rank in range(stage.world_size):
        for worker, count in enumerate(stage.worker_batches):
            plan = plan_epoch(unit_rows, seed=3, epoch=2, rank=rank, world_size=stage.world_size, worker=worker,
                              num_workers=stage.num_workers, options=opts, positions=positions)
            out.append(positions[plan.consumed(count)])
    return np.concatenate(out)


@pytest.mark.parametrize("seed", range(6))
def test_consumed_and_remaining_partition_the_epoch(seed):
    rng = np.random.default_rng(seed)
    unit_rows = rng.integers(1, 30, size=int(rng.integers(2, 12))).astype(np.int64)
    n = int(unit_rows.sum())
    options = PlanOptions(shuffle=True, shuffle_buffer=int(rng.integers(1, 40)), batch_size=1)
    world, workers, batch = (int(x) for x in rng.integers(1, 4, size=3))
    probe = PlanOptions(shuffle=True, shuffle_buffer=options.shuffle_buffer, batch_size=batch)
    limits = [plan_epoch(unit_rows, seed=3, epoch=2, rank=0, world_size=world, worker=w, num_workers=workers,
                         options=probe).num_batches for w in range(workers)]
    stage = Stage(world_size=world, num_workers=workers, batch_size=batch,
                  worker_batches=tuple(int(rng.integers(0, m + 1)) for m in limits))
    rest = remaining_positions(unit_rows, [stage], seed=3, epoch=2, options=options)
    epoch = np.arange((n // world) * world)
    used = consumed(unit_rows, stage, options, epoch)
    assert len(set(used.tolist())) == used.shape[0]  # nothing consumed twice
    assert sorted(used.tolist() + rest.tolist()) == epoch.tolist()


def test_a_count_beyond_the_plan_is_refused():
    stage = Stage(world_size=1, num_workers=1, batch_size=4, worker_batches=(99,))
    with pytest.raises(ValueError, match="delivered 99 batches, but it has 3"):
        remaining_positions(np.array([10]), [stage], seed=0, epoch=0, options=PlanOptions(batch_size=4))


def test_stage_dicts_round_trip_and_damage_is_refused():
    stage = Stage(world_size=2, num_workers=3, batch_size=8, worker_batches=(1, 0, 2))
    assert Stage.from_dict(stage.to_dict()) == stage
    for bad in ({**stage.to_dict(), "worker_batches": [1, 2]}, {**stage.to_dict(), "batch_size": 0},
                {**stage.to_dict(), "world_size": True}, "x"):
        with pytest.raises(ValueError):
            Stage.from_dict(bad)
