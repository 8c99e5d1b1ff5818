"""Real DDP: 2 ranks (gloo, CPU) spawned here, each with 2 DataLoader workers."""
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from loader_fixtures import clm_rows, ddp_rank, write_dataset

N = 101


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each rank saw: CLM epochs 0 and 1, and token-budget batches with and without lockstep."""
    root = tmp_path_factory.mktemp("ddp")
    keys, columns = clm_rows(N, seq_len=8, short_every=9)
    clm = write_dataset(root / "clm", "clm", {"train": (keys, columns)}, num_shards=4, row_group_rows=7)
    # unshuffled, rank 0 reads the first half (long rows: many batches), rank 1 the short rows
    lengths = [40] * 60 + [4] * 60
    rows = [np.full(n, 7, dtype=np.int32) for n in lengths]
    bart = write_dataset(root / "bart", "bart", {"train": (np.arange(120, dtype=np.uint64) + 1000,
                                                           {"input_ids": rows, "labels": rows,
                                                            "doc_lengths": [[len(r)] for r in rows],
                                                            "sentence_ends": [[len(r) - 1] for r in rows]})},
                         num_shards=2, row_group_rows=16)
    mp.spawn(ddp_rank, args=(2, str(root / "init"), str(root), clm, bart), nprocs=2, join=True)
    return [torch.load(root / f"rank{r}.pt") for r in range(2)]


def test_ranks_and_workers_together_read_every_example_once(ranks):
    for epoch in ("clm0", "clm1"):
        keys = [k for seen in ranks for batch in seen[epoch] for k in batch]
        assert len(keys) == len(set(keys)) == N - 1  # remainder="drop": N % 2 = 1 example skipped
        assert set(keys) <= set(range(1000, 1000 + N))


def test_ranks_yield_equal_batch_counts(ranks):
    assert len(ranks[0]["clm0"]) == len(ranks[1]["clm0"]) == ranks[0]["len"] == ranks[1]["len"]


def test_epochs_differ_in_order_and_cover_the_same_examples(ranks):
    for seen in ranks:
        assert seen["clm0"] != seen["clm1"]
    union = [sorted(k for seen in ranks for b in seen[e] for k in b) for e in ("clm0", "clm1")]
    assert union[0] == union[1] or len(set(union[0]) ^ set(union[1])) == 2  # the skipped example may change


def test_token_budget_batches_stay_in_lockstep_across_ranks(ranks):
    natural = [seen["natural"] for seen in ranks]
    assert natural[0] > natural[1]  # the ranks' own counts differ ...
    assert len(ranks[0]["lockstep"]) == len(ranks[1]["lockstep"]) == natural[1]  # ... so both stop at the min
