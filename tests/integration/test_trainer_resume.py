"""Resuming from a checkpoint continues exactly like the uninterrupted run: same batches, same parameters.

Each case trains ``STEPS`` steps in one go, and again as two runs: the first ends after step ``k``
(``stop_after``, which saves the checkpoint), the second resumes from it. The batches of steps after
``k`` (by example key), the losses and the final parameters (bitwise, on CPU) must all match. The
data holds 30 rows, so runs cross epoch boundaries, and ``k`` falls mid-epoch, at one's end, or
inside a step's gradient accumulation window of batches.
"""
import pytest
import torch
from loader_fixtures import clm_rows, mlm_rows, seq2seq_rows, write_dataset

from lmpairs.trainer import CheckpointError, train

STEPS = 12
ROWS = 30
TINY = {"d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "log_every": 4, "record_keys": True}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("resume")
    return {
        "clm": write_dataset(root / "clm", "clm", {"train": clm_rows(ROWS, seq_len=12, short_every=4)}),
        "mlm": write_dataset(root / "mlm", "mlm", {"train": mlm_rows(ROWS, seq_len=12)}),
        "bart": write_dataset(root / "bart", "bart", {"train": seq2seq_rows(ROWS, max_len=24)}),
    }


def parameters(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def run_split(path: str, tmp_path, k: int, **settings):
    """The uninterrupted run and the stopped-then-resumed pair, with their final checkpoints."""
    whole = train(path, steps=STEPS, checkpoint=str(tmp_path / "whole.pt"), **TINY, **settings)
    first = train(path, steps=STEPS, stop_after=k, checkpoint=str(tmp_path / "split.pt"), **TINY, **settings)
    second = train(path, steps=STEPS, resume=True, checkpoint=str(tmp_path / "split.pt"), **TINY, **settings)
    return whole, first, second


@pytest.mark.parametrize("objective, k, settings", [
    ("clm", 5, {"batch_size": 4, "num_workers": 0}),                       # mid-epoch (7 batches per epoch)
    ("clm", 7, {"batch_size": 4, "num_workers": 2, "documents": "separate"}),  # at the end of epoch 0
    ("mlm", 4, {"batch_size": 3, "num_workers": 2, "grad_accum": 3, "dropout": 0.1}),  # RNG state matters
    ("bart", 6, {"batch_size": 8, "max_tokens": 120, "num_workers": 0, "grad_accum": 2}),  # token budgets
])
def test_resumed_run_equals_the_uninterrupted_run(data, tmp_path, objective, k, settings):
    whole, first, second = run_split(data[objective], tmp_path, k, **settings)
    assert (first.start_step, first.final_step, second.start_step, second.final_step) == (0, k, k, STEPS)
    assert first.example_keys == whole.example_keys[:k]
    assert second.example_keys == whole.example_keys[k:]
    assert first.losses + second.losses == whole.losses
    seen = [key for step in whole.example_keys for key in step]
    assert len(seen) > ROWS  # the runs crossed into a second epoch
    final, resumed = parameters(tmp_path / "whole.pt"), parameters(tmp_path / "split.pt")
    assert all(torch.equal(final[name], resumed[name]) for name in final)


def test_train_seeds_itself_and_checkpoints_the_whole_state(data, tmp_path):
    """The global RNG before ``train`` does not matter; the checkpoint holds all a resume needs."""
    settings = {"batch_size": 3, "dropout": 0.1}
    a = train(data["mlm"], steps=3, checkpoint=str(tmp_path / "a.pt"), **TINY, **settings)
    torch.manual_seed(123)
    b = train(data["mlm"], steps=3, checkpoint=str(tmp_path / "b.pt"), **TINY, **settings)
    assert a.example_keys == b.example_keys and a.losses == b.losses  # train() seeds everything itself
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    assert set(state) >= {"model", "optimizer", "step", "ranks", "objective", "model_config"}
    assert state["step"] == 3 and state["ranks"][0]["loader"]["batches"] == 3
    assert set(state["ranks"][0]["rng"]) >= {"torch"}


def test_resume_at_the_last_step_does_nothing(data, tmp_path):
    ckpt = str(tmp_path / "done.pt")
    train(data["clm"], steps=3, batch_size=4, checkpoint=ckpt, **TINY)
    again = train(data["clm"], steps=3, batch_size=4, checkpoint=ckpt, resume=True, **TINY)
    assert again.losses == [] and again.final_step == 3


def test_resume_refuses_another_model_or_data_order(data, tmp_path):
    ckpt = str(tmp_path / "c.pt")
    train(data["clm"], steps=4, stop_after=2, batch_size=4, checkpoint=ckpt, **TINY)
    with pytest.raises(CheckpointError, match="model_config"):
        train(data["clm"], steps=4, batch_size=4, checkpoint=ckpt, resume=True, **{**TINY, "d_model": 64})
    with pytest.raises(CheckpointError, match="objective"):
        train(data["mlm"], steps=4, batch_size=4, checkpoint=ckpt, resume=True, **TINY)
    # another batch size resumes the data elastically (each example of the epoch once); another order is refused
    with pytest.raises(CheckpointError, match=r"c\.pt: its data position does not fit this run: .*shuffle_buffer"):
        train(data["clm"], steps=4, batch_size=4, shuffle_buffer=16, checkpoint=ckpt, resume=True, **TINY)
    with pytest.raises(CheckpointError, match="without --resume"):
        train(data["clm"], steps=4, batch_size=4, checkpoint=str(tmp_path / "missing.pt"), resume=True, **TINY)
