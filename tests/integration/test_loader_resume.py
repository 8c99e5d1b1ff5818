"""Exact mid-epoch resumption: interrupted + resumed == uninterrupted, batch for batch, at many midpoints."""
import json

import pytest
from loader_fixtures import clm_rows, epoch_signatures, seq2seq_rows, write_dataset
from torch.utils.data import DataLoader

from lmpairs.loader import PairStream, StateError


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory):
    keys, columns = clm_rows(101, seq_len=8, short_every=9)
    return write_dataset(tmp_path_factory.mktemp("out") / "clm", "clm", {"train": (keys, columns)},
                         num_shards=4, row_group_rows=7)


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    keys, columns = seq2seq_rows(160, max_len=30, seed=5)
    return write_dataset(tmp_path_factory.mktemp("out") / "t5", "t5", {"train": (keys, columns)},
                         num_shards=2, row_group_rows=16)


def check_resume(make, midpoints, *, number=1):
    """For each midpoint: stop there, save (through JSON), resume in a fresh loader, compare."""
    full = epoch_signatures(make(), number)
    following = epoch_signatures(make(), number + 1)
    for m in midpoints:
        first = make()
        head = epoch_signatures(first, number, limit=m)
        state = json.loads(json.dumps(first.state_dict()))
        assert state["epoch"] == number and state["batches"] == m
        resumed = make()
        resumed.load_state_dict(state)
        assert resumed.state_dict()["batches"] == m
        tail = epoch_signatures(resumed, number)  # set_epoch of the saved epoch keeps the position
        assert head + tail == full, f"resume after {m} batches differs"
        assert epoch_signatures(resumed, number + 1) == following  # and the next epoch starts over
    return full


def clm_stream(path, **kwargs):
    return PairStream(path, **({"batch_size": 4, "shuffle_buffer": 12, "return_keys": True} | kwargs))


def test_resume_without_workers_through_the_dataset_itself(clm_dir):
    full = check_resume(lambda: clm_stream(clm_dir), [1, 2, 3, 7, 25, 26])
    assert len(full) == 26


@pytest.mark.parametrize("midpoints", [[1, 2, 5], [13, 24, 25, 26]])
def test_resume_with_two_workers_inside_windows_and_across_workers(clm_dir, midpoints):
    # windows of 3 batches alternate between the workers; worker 0 holds 14 batches, worker 1 12,
    # so 1 and 2 stop inside worker 0's first window and 25 after worker 1 ran out
    check_resume(lambda: clm_stream(clm_dir).make_loader(num_workers=2), midpoints)


def test_resume_with_two_ranks_and_padding(clm_dir):
    for rank in range(2):
        check_resume(lambda rank=rank: clm_stream(clm_dir, rank=rank, world_size=2, remainder="pad",
                                                  position_ids=True).make_loader(num_workers=2), [4, 11])


def test_resume_token_budget_batches_with_workers(t5_dir):
    def make():
        return PairStream(t5_dir, max_tokens=150, shuffle_buffer=40, return_keys=True).make_loader(num_workers=2)
    full = epoch_signatures(make(), 1)
    check_resume(make, [1, len(full) // 2 + 1, len(full) - 1])


def test_persistent_workers_resume_in_the_same_loader(clm_dir):
    loader = clm_stream(clm_dir).make_loader(num_workers=2, persistent_workers=True)
    full = epoch_signatures(loader, 0)
    head = epoch_signatures(loader, 0, limit=7)
    state = loader.state_dict()
    epoch_signatures(loader, 0)  # run on; then go back to the saved point
    loader.load_state_dict(state)
    assert head + epoch_signatures(loader, 0) == full


def test_states_from_another_plan_are_refused_with_the_difference(clm_dir):
    loader = clm_stream(clm_dir).make_loader(num_workers=2)
    epoch_signatures(loader, 0, limit=3)
    state = loader.state_dict()
    # another worker count or batch size resumes elastically (test_loader_elastic.py); the rest is refused
    with pytest.raises(StateError, match="seed: saved 0, now 1, shuffle_buffer: saved 12, now 16"):
        clm_stream(clm_dir, shuffle_seed=1, shuffle_buffer=16).make_loader(num_workers=2).load_state_dict(state)
    with pytest.raises(StateError, match="state version None"):
        loader.load_state_dict({"epoch": 0})


def test_the_dataset_refuses_a_state_it_cannot_know_under_workers(clm_dir):
    ds = clm_stream(clm_dir)
    next(iter(DataLoader(ds, batch_size=None, num_workers=2)))
    with pytest.raises(StateError, match="make_loader"):
        ds.state_dict()


def test_the_loader_state_is_the_stream_state(clm_dir):
    ds = clm_stream(clm_dir)
    loader = ds.make_loader(num_workers=2)
    epoch_signatures(loader, 0, limit=5)
    assert loader.state_dict() == ds.state_dict()
    assert ds.state_dict()["batches"] == 5 and len(ds.state_dict()["worker_batches"]) == 2
