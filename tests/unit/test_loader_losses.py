"""Losses: equal to plain F.cross_entropy, −100 ignored, (sum, count) exact over uneven micro-batches."""
import pytest
import torch
import torch.nn.functional as F

from lmpairs.loader.formats import loss_for
from lmpairs.loader.losses import clm_loss, mlm_loss, num_targets, seq2seq_loss

VOCAB = 11


def batch(seed=0, shape=(4, 9), ignore=0.3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, VOCAB, generator=g)
    labels = torch.randint(0, VOCAB, shape, generator=g)
    labels[torch.rand(shape, generator=g) < ignore] = -100
    return logits, labels


@pytest.mark.parametrize("loss", [clm_loss, mlm_loss, seq2seq_loss])
def test_each_loss_equals_plain_cross_entropy(loss):
    logits, labels = batch()
    reference = F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1), ignore_index=-100)
    assert torch.allclose(loss(logits, labels), reference)
    reference_sum = F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1), ignore_index=-100, reduction="sum")
    assert torch.allclose(loss(logits, labels, reduction="sum"), reference_sum)


def test_ignored_positions_contribute_nothing_to_value_or_gradient():
    logits, labels = batch()
    changed = logits.clone()
    changed[labels == -100] = 1000.0 * torch.randn_like(changed[labels == -100])
    assert torch.allclose(mlm_loss(logits, labels), mlm_loss(changed, labels))
    leaf = logits.clone().requires_grad_()
    mlm_loss(leaf, labels).backward()
    assert (leaf.grad[labels == -100] == 0).all() and (leaf.grad[labels != -100] != 0).any()


def test_sum_and_count_over_uneven_micro_batches_equal_the_whole_batch_loss():
    logits, labels = batch(seed=1, shape=(8, 12), ignore=0.0)
    lengths = torch.tensor([12, 3, 7, 1, 12, 5, 9, 2])  # uneven padding per row
    labels[torch.arange(12)[None, :] >= lengths[:, None]] = -100
    whole = clm_loss(logits, labels)
    parts = [(0, 1), (1, 4), (4, 5), (5, 8)]  # 4 micro-batches of 1, 3, 1 and 3 rows
    sums, counts = zip(*(clm_loss(logits[a:b], labels[a:b], return_count=True) for a, b in parts))
    assert sum(counts) == num_targets(labels) == int(lengths.sum())
    assert torch.allclose(sum(sums) / sum(counts), whole)
    naive = sum(clm_loss(logits[a:b], labels[a:b]) for a, b in parts) / 4
    assert not torch.allclose(naive, whole)  # per-micro-batch means weight tokens unevenly


def test_half_precision_logits_are_computed_in_float32():
    logits, labels = batch(seed=2)
    half = logits.to(torch.bfloat16)
    loss = seq2seq_loss(half, labels)
    assert loss.dtype == torch.float32
    reference = F.cross_entropy(half.float().view(-1, VOCAB), labels.view(-1), ignore_index=-100)
    assert torch.allclose(loss, reference)
    leaf = half.clone().requires_grad_()
    seq2seq_loss(leaf, labels).backward()
    assert leaf.grad.dtype == torch.bfloat16


def test_a_batch_without_targets_has_zero_mean_loss():
    logits, labels = batch()
    labels[:] = -100
    assert mlm_loss(logits, labels).item() == 0.0
    loss_sum, count = mlm_loss(logits, labels, return_count=True)
    assert loss_sum.item() == 0.0 and count.item() == 0


def test_loss_for_and_shape_errors():
    assert loss_for("clm") is clm_loss and loss_for("t5") is seq2seq_loss and loss_for("bart") is seq2seq_loss
    with pytest.raises(ValueError, match="no loss for objective 'gpt'"):
        loss_for("gpt")
    logits, labels = batch()
    with pytest.raises(ValueError, match=r"do not match target_ids \(4, 8\)"):
        clm_loss(logits, labels[:, 1:])
