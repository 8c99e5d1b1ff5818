"""Elastic resume (issue 23): a state taken with N ranks x W workers x batch B resumes with another
N' x W' x B', and every example of the epoch is read exactly once across the runs. Ranks are
simulated with rank=/world_size= in one process; workers are real DataLoader workers."""
import collections
import json

import numpy as np
import pytest
from loader_fixtures import clm_rows, write_dataset

from lmpairs.loader import PairMixture, PairStream, StateError

ROWS = 250
EPOCH = 1
FORK = {"multiprocessing_context": "fork"}


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory):
    keys, columns = clm_rows(ROWS, seq_len=6, short_every=7)
    return write_dataset(tmp_path_factory.mktemp("elastic") / "clm", "clm", {"train": (keys, columns)},
                         num_shards=3, row_group_rows=11)


def loader(path, *, rank, world_size, workers, batch_size):
    stream = PairStream(path, batch_size=batch_size, shuffle_buffer=20, return_keys=True, rank=rank,
                        world_size=world_size)
    return stream.make_loader(num_workers=workers, **FORK) if workers else stream


def run(path, shape, *, stop=None, state=None):
    """Each rank of ``shape = (ranks, workers, batch)`` iterates epoch EPOCH (after loading ``state``),
    stopping after ``stop`` batches; returns the keys read and rank 0's state."""
    ranks, workers, batch = shape
    keys, states = [], []
    for rank in range(ranks):
        it = loader(path, rank=rank, world_size=ranks, workers=workers, batch_size=batch)
        if state is not None:
            it.load_state_dict(json.loads(json.dumps(state)))
        it.set_epoch(EPOCH)
        for n, b in enumerate(it, start=1):
            keys += b["example_key"].tolist()
            if n == stop:
                break
        states.append(it.state_dict())
    assert all(s == states[0] for s in states), "ranks' states differ in batch-size mode"
    return keys, states[0]


def check_once(*parts):
    seen = collections.Counter(k for keys in parts for k in keys)
    assert max(seen.values()) == 1, "an example was read twice"
    assert sorted(seen) == list(range(1000, 1000 + ROWS)), "an example of the epoch was skipped"


@pytest.mark.parametrize("there, back", [((2, 2, 8), (1, 3, 12)), ((1, 3, 12), (2, 2, 8))])
def test_every_example_once_across_a_change_of_ranks_workers_and_batch_size(clm_dir, there, back):
    total = len(loader(clm_dir, rank=0, world_size=there[0], workers=0, batch_size=there[2]))
    for stop in sorted(set(np.random.default_rng(sum(there)).integers(1, total, size=3).tolist())):
        first, state = run(clm_dir, there, stop=stop)
        assert state["batches"] == stop and "stages" not in state
        rest, after = run(clm_dir, back, state=state)
        check_once(first, rest)
        assert after["version"] == 3 and len(after["stages"]) == 1


def test_a_second_change_of_shape_in_the_same_epoch(clm_dir):
    first, state = run(clm_dir, (2, 2, 8), stop=3)
    middle, state = run(clm_dir, (1, 3, 12), stop=4, state=state)
    assert state["stages"][0]["worker_batches"] == [2, 1]  # round robin: worker 0 gave batches 1 and 3
    same, _ = run(clm_dir, (1, 3, 12), state=state)  # same shape as the saved one: exact, not elastic
    rest, _ = run(clm_dir, (2, 0, 5), state=state)
    check_once(first, middle, rest)
    check_once(first, middle, same)


def test_same_shape_stays_exact_to_the_batch_in_an_elastic_epoch(clm_dir):
    _, state = run(clm_dir, (2, 2, 8), stop=3)
    whole = loader(clm_dir, rank=0, world_size=1, workers=0, batch_size=12)
    whole.load_state_dict(state)
    whole.set_epoch(EPOCH)
    batches = [b["example_key"].tolist() for b in whole]
    again = loader(clm_dir, rank=0, world_size=1, workers=0, batch_size=12)
    again.load_state_dict(state)
    again.set_epoch(EPOCH)
    head = [next(iter_ := iter(again))["example_key"].tolist()] + [next(iter_)["example_key"].tolist()]
    resumed = loader(clm_dir, rank=0, world_size=1, workers=0, batch_size=12)
    resumed.load_state_dict(again.state_dict())
    resumed.set_epoch(EPOCH)
    assert head + [b["example_key"].tolist() for b in resumed] == batches


@pytest.mark.fast
def test_other_differences_and_token_batches_are_refused(clm_dir, tmp_path):
    stream = loader(clm_dir, rank=0, world_size=1, workers=0, batch_size=8)
    stream.set_epoch(0)
    next(iter(stream))
    state = stream.state_dict()
    with pytest.raises(StateError, match="shuffle_buffer: saved 20, now 30"):
        PairStream(clm_dir, batch_size=8, shuffle_buffer=30).load_state_dict(state)
    tokens = PairStream(clm_dir, max_tokens=64, shuffle_buffer=20)
    next(iter(tokens))
    with pytest.raises(StateError, match="max_tokens batches are cut after reading"):
        PairStream(clm_dir, max_tokens=64, shuffle_buffer=20, rank=1, world_size=2).load_state_dict(tokens.state_dict())
    mix = PairMixture([(clm_dir, 1)], batch_size=8, shuffle_buffer=20)
    next(iter(mix))
    with pytest.raises(StateError, match="PairMixture resumes only states of its own shape"):
        PairMixture([(clm_dir, 1)], batch_size=4, shuffle_buffer=20).load_state_dict(mix.state_dict())


@pytest.mark.fast
def test_a_rest_that_does_not_divide_among_the_new_ranks_is_logged(clm_dir, caplog):
    _, state = run(clm_dir, (1, 0, 8), stop=1)  # 242 examples left
    with caplog.at_level("INFO", logger="lmpairs"):
        loader(clm_dir, rank=0, world_size=3, workers=0, batch_size=8).load_state_dict(state)
    assert "resuming epoch 1 elastically" in caplog.text
    assert "2 of the 242 examples left do not divide among 3 ranks and are skipped" in caplog.text
