"""The trainer under real DDP (2 gloo ranks on CPU, spawned here).

- Normalization: ranks holding uneven shares of one global batch (1 and 2 micro-batches, with
  different target counts) end with exactly the gradient of that whole batch in one process.
- Resume: an uninterrupted 6-step DDP run equals a run stopped after step 3 and resumed, per rank.
"""
import datetime
from dataclasses import asdict

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from loader_fixtures import clm_rows, write_dataset

from lmpairs.loader import clm_loss
from lmpairs.trainer import ModelConfig, accumulate_gradients, build_model, train

VOCAB = 53
MODEL = ModelConfig(vocab_size=VOCAB, d_model=32, num_layers=1, num_heads=2, d_ff=64)
LENGTHS = [3, 11, 6, 9, 2, 12]
RANK_SPLITS = [[[0]], [[1, 2], [3, 4, 5]]]  # rank 0: one micro-batch of 1 row; rank 1: two of 2 and 3
TINY = {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "batch_size": 2, "record_keys": True,
        "log_every": 3}


def clm_batch(rows: list[int]) -> dict[str, torch.Tensor]:
    """CLM rows of ``LENGTHS`` (deterministic ids), padded to the longest; targets −100 on padding."""
    width = max(LENGTHS[r] for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    targets = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        tokens = torch.randint(5, VOCAB, (LENGTHS[r] + 1,), generator=torch.Generator().manual_seed(r))
        ids[i, :LENGTHS[r]], targets[i, :LENGTHS[r]] = tokens[:-1], tokens[1:]
    return {"input_ids": ids, "attention_mask": (targets != -100).long(), "target_ids": targets}


def gradients(model: torch.nn.Module, splits: list[list[int]]) -> list[torch.Tensor]:
    accumulate_gradients(model, [clm_batch(rows) for rows in splits], loss_fn=clm_loss, target_key="target_ids")
    return [p.grad.clone() for p in model.parameters()]


def rank_main(rank: int, world_size: int, init_file: str, out_dir: str, data: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=120))
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        ddp = torch.nn.parallel.DistributedDataParallel(build_model("clm", MODEL))
        seen = {"grads": gradients(ddp, RANK_SPLITS[rank])}
        runs = {"whole": {"checkpoint": f"{out_dir}/whole.pt"},
                "first": {"checkpoint": f"{out_dir}/split.pt", "stop_after": 3},
                "second": {"checkpoint": f"{out_dir}/split.pt", "resume": True}}
        for name, settings in runs.items():
            seen[name] = asdict(train(data, steps=6, **TINY, **settings))
        torch.save(seen, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer_ddp")
    data = write_dataset(root / "clm", "clm", {"train": clm_rows(20, seq_len=10, short_every=3)})
    mp.spawn(rank_main, args=(2, str(root / "init"), str(root), data), nprocs=2, join=True)
    return root, [torch.load(root / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_uneven_ranks_and_micro_batches_give_the_whole_batch_gradient(ranks):
    _, seen = ranks
    torch.manual_seed(0)
    whole = gradients(build_model("clm", MODEL), [list(range(len(LENGTHS)))])
    for rank in seen:
        for got, want in zip(rank["grads"], whole):
            torch.testing.assert_close(got, want, atol=2e-6, rtol=1e-4)


def test_ranks_read_disjoint_data_and_log_the_global_loss(ranks):
    _, (r0, r1) = ranks
    epoch0 = [[k for step in r["whole"]["example_keys"][:5] for k in step] for r in (r0, r1)]  # 10 rows each
    assert len(set(epoch0[0] + epoch0[1])) == 20  # together: every example once
    assert r0["whole"]["losses"] == r1["whole"]["losses"]


def test_resumed_ddp_run_equals_the_uninterrupted_run(ranks):
    root, seen = ranks
    for rank in seen:
        assert rank["first"]["example_keys"] + rank["second"]["example_keys"] == rank["whole"]["example_keys"]
        assert rank["first"]["losses"] + rank["second"]["losses"] == rank["whole"]["losses"]
    state = torch.load(root / "split.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    whole = torch.load(root / "whole.pt", weights_only=True)["model"]
    assert all(torch.equal(whole[name], state["model"][name]) for name in whole)
