"""Loss normalization across gradient-accumulation micro-batches, the LR schedule and the settings."""
import pytest
import torch

from lmpairs.config import ConfigError
from lmpairs.loader import loss_for
from lmpairs.loader.formats import TARGET_KEYS
from lmpairs.trainer import TrainConfig, accumulate_gradients
from lmpairs.trainer.loop import lr_at
from lmpairs.trainer.models import ModelConfig, build_model

VOCAB = 61
PAD = 0


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def padded(rows: list[torch.Tensor], fill: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.stack([torch.cat([r, torch.full((width - len(r),), fill, dtype=torch.long)]) for r in rows])


def lengths_mask(rows: list[torch.Tensor]) -> torch.Tensor:
    return padded([torch.ones(len(r), dtype=torch.long) for r in rows], 0)


def make_batch(objective: str, rows: list[int], *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Rows ``rows`` of a fixed random set (uneven lengths and target counts), padded to their longest.

    Built per row from the same generator state, so a row is identical in every batch it joins.
    """
    parts: dict[str, list[torch.Tensor]] = {}
    for row in rows:
        g = torch.Generator().manual_seed(seed * 1000 + row)
        n, m = int(torch.randint(3, 17, (1,), generator=g)), int(torch.randint(2, 9, (1,), generator=g))
        ids = torch.randint(5, VOCAB, (n + 1,), generator=g)
        if objective == "clm":
            row_parts = {"input_ids": ids[:-1], "target_ids": ids[1:]}
        elif objective == "mlm":
            chosen = torch.rand(n, generator=g) < 0.4
            chosen[0] = True
            row_parts = {"input_ids": torch.where(chosen, 4, ids[:-1]), "labels": torch.where(chosen, ids[:-1], -100)}
        else:
            labels = torch.randint(5, VOCAB, (m,), generator=g)
            row_parts = {"input_ids": ids, "labels": labels,
                         "decoder_input_ids": torch.cat([torch.tensor([PAD]), labels[:-1]])}
        for key, value in row_parts.items():
            parts.setdefault(key, []).append(value)
    batch = {key: padded(values, -100 if key in ("labels", "target_ids") else PAD) for key, values in parts.items()}
    batch["attention_mask"] = lengths_mask(parts["input_ids"])
    if "decoder_input_ids" in parts:
        batch["decoder_attention_mask"] = lengths_mask(parts["decoder_input_ids"])
    return batch


def gradients(objective: str, splits: list[list[int]], *, naive: bool = False) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(objective, ModelConfig(vocab_size=VOCAB, d_model=32, num_layers=1, num_heads=2, d_ff=64))
    micro = [make_batch(objective, rows) for rows in splits]
    loss_fn, key = loss_for(objective), TARGET_KEYS[objective]
    if naive:  # the usual mistake: mean per micro-batch, divided by the number of micro-batches
        for batch in micro:
            (loss_fn(model(batch), batch[key]) / len(micro)).backward()
    else:
        accumulate_gradients(model, micro, loss_fn=loss_fn, target_key=key)
    return [p.grad.clone() for p in model.parameters()]


def assert_same(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=2e-6, rtol=1e-4)


@pytest.mark.parametrize("objective", ["clm", "mlm", "t5", "bart"])
def test_uneven_micro_batches_give_the_whole_batch_gradient(objective):
    whole = gradients(objective, [list(range(7))])
    assert_same(gradients(objective, [[0], [1, 2, 3, 4, 5, 6]]), whole)
    assert_same(gradients(objective, [[0, 1], [2, 3, 4], [5], [6]]), whole)
    naive = gradients(objective, [[0], [1, 2, 3, 4, 5, 6]], naive=True)
    assert max(float((x - y).abs().max()) for x, y in zip(naive, whole)) > 1e-4  # the test can tell


def test_step_loss_is_the_mean_over_every_target_token():
    torch.manual_seed(0)
    model = build_model("mlm", ModelConfig(vocab_size=VOCAB, d_model=32, num_layers=1, num_heads=2, d_ff=64))
    micro = [make_batch("mlm", [0]), make_batch("mlm", [1, 2, 3])]
    loss = accumulate_gradients(model, micro, loss_fn=loss_for("mlm"), target_key="labels")
    with torch.no_grad():
        sums = [loss_for("mlm")(model(b), b["labels"], return_count=True) for b in micro]
    assert int(loss.count) == sum(int(c) for _, c in sums)
    assert loss.mean() == pytest.approx(float(sum(s for s, _ in sums)) / int(loss.count), rel=1e-5)


def test_learning_rate_warms_up_then_decays_to_the_floor():
    config = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(1, config) == pytest.approx(1e-4)
    assert lr_at(10, config) == pytest.approx(1e-3)
    assert lr_at(55, config) == pytest.approx(0.55e-3)
    assert lr_at(100, config) == pytest.approx(1e-4)
    assert all(lr_at(s, config) >= lr_at(s + 1, config) for s in range(10, 100))


@pytest.mark.parametrize("settings, message", [
    ({"steps": 0}, "steps"), ({"grad_accum": 0}, "grad_accum"), ({"lr": 0.0}, "lr"),
    ({"resume": True}, "--checkpoint"), ({"documents": "mixed"}, "packed, separate"),
    ({"stop_after": 0}, "stop_after"), ({"batch_sizes": 3}, "unknown settings")])
def test_settings_are_checked_with_the_fix(settings, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().replace(**settings)
