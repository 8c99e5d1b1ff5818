"""Cross-entropy per batch format (``formats.loss_for`` picks one), float32, with a ``(sum, count)`` form.

Averaging per micro-batch weights tokens unevenly: a micro-batch with few targets counts as much as
one with many. Exact training divides the summed loss of every micro-batch and rank by the global
number of target tokens. With DDP (which averages gradients over ``world_size`` ranks)::

    counts = torch.stack([num_targets(mb["target_ids"]) for mb in micro_batches])  # before forward
    total = counts.sum(); dist.all_reduce(total)                                  # global targets
    for mb in micro_batches:
        loss_sum, _ = clm_loss(model(mb["input_ids"]).logits, mb["target_ids"], return_count=True)
        (loss_sum * world_size / total).backward()

Memory: half-precision logits are converted to float32 once (``B × L × V × 4`` bytes); the
cross-entropy itself works on that copy. Positions labelled −100 contribute nothing; a batch
without any target has mean loss 0 (not NaN), so an all-padding micro-batch is harmless.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lmpairs.transforms.spec import IGNORE_INDEX


def num_targets(labels: torch.Tensor) -> torch.Tensor:
    """Positions that carry loss (int64 scalar): the count a trainer all-reduces."""
    return (labels != IGNORE_INDEX).sum()


def token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, *, reduction: str = "mean",
                        return_count: bool = False, name: str = "labels"):
    """Cross-entropy of ``logits`` (``(..., V)``) against ``labels`` (``(...)``), −100 ignored.

    ``reduction``: ``"mean"`` over target tokens or ``"sum"``. ``return_count=True`` returns
    ``(sum, count)`` whatever the reduction: float32 loss sum and int64 target count.
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match {name} {tuple(labels.shape)}: expected "
                         f"logits of shape {tuple(labels.shape)} + (vocab,); pass the model's logits for this batch.")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction={reduction!r}: choose 'mean' or 'sum' (or return_count=True for (sum, count)).")
    flat = logits.reshape(-1, logits.shape[-1])
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    targets = labels.reshape(-1).long()
    loss_sum = F.cross_entropy(flat, targets, ignore_index=IGNORE_INDEX, reduction="sum")
    count = num_targets(targets)
    if return_count:
        return loss_sum, count
    return loss_sum if reduction == "sum" else loss_sum / count.clamp(min=1)


def clm_loss(logits: torch.Tensor, target_ids: torch.Tensor, **kwargs):
    """Causal LM: ``target_ids`` are already shifted (position t predicts token t + 1); no shift here."""
    return token_cross_entropy(logits, target_ids, name="target_ids", **kwargs)


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor, **kwargs):
    """Masked LM: loss only where ``labels`` hold the original id (−100 elsewhere)."""
    return token_cross_entropy(logits, labels, **kwargs)


def seq2seq_loss(logits: torch.Tensor, labels: torch.Tensor, **kwargs):
    """T5/BART: decoder logits (from ``decoder_input_ids``) against ``labels``, −100 on padding."""
    return token_cross_entropy(logits, labels, **kwargs)


LOSSES = {"decoder": clm_loss, "encoder": mlm_loss, "encoder-decoder": seq2seq_loss, "prefix-decoder": clm_loss}
"""Batch format name (an objective's declared ``family``) -> its loss; :mod:`lmpairs.loader.formats` reads it."""


def loss_for(objective: str):
    """The loss of ``objective``'s declared batch format."""
    from lmpairs.objectives import get_spec

    try:
        return LOSSES[get_spec(objective).family]
    except (KeyError, ValueError) as err:
        raise ValueError(f"no loss for objective {objective!r}: {err}") from None
