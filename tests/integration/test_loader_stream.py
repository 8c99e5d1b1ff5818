"""PairStream over real shards with real DataLoader workers: coverage, content, epochs, seeds, remainders."""
from collections import Counter

import numpy as np
import pytest
import torch
from loader_fixtures import clm_rows, seq2seq_rows, write_dataset

from lmpairs.loader import PairStream

N = 101


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory):
    keys, columns = clm_rows(N, seq_len=8, short_every=9)
    return write_dataset(tmp_path_factory.mktemp("out") / "clm", "clm", {"train": (keys, columns)},
                         num_shards=4, row_group_rows=7)


@pytest.fixture(scope="module")
def bart_dir(tmp_path_factory):
    keys, columns = seq2seq_rows(300, max_len=40)
    return write_dataset(tmp_path_factory.mktemp("out") / "bart", "bart", {"train": (keys, columns)},
                         num_shards=3, row_group_rows=16)


def epoch_keys(batches):
    return [b["example_key"].tolist() for b in batches]


def stream(path, **kwargs):
    return PairStream(path, **({"batch_size": 4, "shuffle_buffer": 12, "return_keys": True} | kwargs))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_one_epoch_yields_every_example_exactly_once(clm_dir, num_workers):
    ds = stream(clm_dir)
    batches = epoch_keys(ds.make_loader(num_workers=num_workers))
    assert sorted(k for b in batches for k in b) == list(range(1000, 1000 + N))
    assert len(batches) == len(ds) == 26  # 9 windows of 12 (3 batches) minus the short last one


def test_batches_hold_the_stored_rows_shifted_for_clm(clm_dir):
    keys, columns = clm_rows(N, seq_len=8, short_every=9)
    rows = dict(zip(keys.tolist(), columns["input_ids"]))
    for batch in stream(clm_dir, position_ids=True).make_loader(num_workers=2):
        for key, ids, targets, mask in zip(batch["example_key"].tolist(), batch["input_ids"],
                                           batch["target_ids"], batch["attention_mask"]):
            row = rows[key]
            n = len(row) - 1
            assert ids[:n].tolist() == row[:-1].tolist() and targets[:n].tolist() == row[1:].tolist()
            assert (ids[n:] == 0).all() and (targets[n:] == -100).all() and mask.sum() == n


def test_workers_change_the_batch_order_but_not_the_batches(clm_dir):
    single = epoch_keys(stream(clm_dir).make_loader(num_workers=0))
    double = epoch_keys(stream(clm_dir).make_loader(num_workers=2))
    assert single != double and Counter(map(tuple, single)) == Counter(map(tuple, double))
    # windows alternate between workers and DataLoader takes one batch from each in turn
    assert double[:6] == [single[0], single[3], single[1], single[4], single[2], single[5]]


def test_set_epoch_reaches_persistent_workers(clm_dir):
    loader = stream(clm_dir).make_loader(num_workers=2, persistent_workers=True)
    first = epoch_keys(loader)
    loader.set_epoch(1)
    second = epoch_keys(loader)
    fresh = stream(clm_dir).make_loader(num_workers=2)
    fresh.set_epoch(1)
    assert second == epoch_keys(fresh) and second != first
    loader.stream.set_epoch(0)  # the dataset's own set_epoch reaches them as well
    loader.set_epoch(0)
    assert epoch_keys(loader) == first


def test_same_seed_repeats_and_another_seed_reorders(clm_dir):
    a = epoch_keys(stream(clm_dir, seed=3).make_loader(num_workers=2))
    b = epoch_keys(stream(clm_dir, seed=3).make_loader(num_workers=2))
    c = epoch_keys(stream(clm_dir, seed=4).make_loader(num_workers=2))
    assert a == b and a != c


def test_no_shuffle_streams_rows_in_storage_order(clm_dir):
    keys = sum(epoch_keys(stream(clm_dir, shuffle=False)), [])
    assert keys == list(range(1000, 1000 + N))


@pytest.mark.parametrize("remainder, unique, repeated, reported", [("drop", 99, 0, 2), ("pad", N, 1, 1)])
def test_remainder_drop_or_pad_across_ranks_with_equal_batch_counts(clm_dir, remainder, unique, repeated, reported):
    seen, counts = Counter(), set()
    for rank in range(3):
        ds = stream(clm_dir, remainder=remainder, rank=rank, world_size=3)
        assert ds.remainder == remainder and ds.remainder_examples == reported
        batches = epoch_keys(ds.make_loader(num_workers=2))
        counts.add(len(batches))
        seen.update(k for b in batches for k in b)
    assert len(counts) == 1 and len(seen) == unique and sum(seen.values()) - len(seen) == repeated


def test_token_budget_batches_cover_every_row_within_the_budget(bart_dir):
    ds = PairStream(bart_dir, max_tokens=200, shuffle_buffer=64, return_keys=True)
    keys = []
    for batch in ds.make_loader(num_workers=2):
        rows, width = batch["input_ids"].shape
        assert rows * max(width, batch["labels"].shape[1]) <= 200
        assert (batch["decoder_input_ids"][:, 0] == 3).all()  # BART starts the decoder with eos
        keys += batch["example_key"].tolist()
    assert sorted(keys) == list(range(1000, 1300))
    with pytest.raises(TypeError, match="unknown with max_tokens"):
        len(ds)


def test_file_urls_go_through_pyarrow_filesystems(clm_dir):
    keys = sum(epoch_keys(stream("file://" + clm_dir).make_loader(num_workers=2)), [])
    assert sorted(keys) == list(range(1000, 1000 + N))


def test_pinned_batches_and_int64_tensors(clm_dir):
    batch = next(iter(stream(clm_dir).make_loader(num_workers=2)))
    assert set(batch) == {"input_ids", "attention_mask", "target_ids", "example_key"}
    assert all(t.dtype == torch.int64 for t in batch.values())
    assert np.all(batch["attention_mask"].numpy() >= 0)


def test_window_columns_hold_exactly_their_rows_values(clm_dir):
    """A slice from the start of a row group must not carry the group's other values (transforms
    such as dynamic corruption take ``values`` to be exactly the rows' ids)."""
    ds = PairStream(clm_dir, batch_size=4, shuffle=False)
    rows = ds.reader.read([(0, 0, 2)])
    ids = rows.columns["input_ids"]
    assert ids.offsets.shape[0] == 3 and ids.values.shape[0] == int(ids.offsets[-1])
