"""One optimizer step's gradients over micro-batches, normalized by the global number of target tokens.

Dividing each micro-batch's loss by its own target count (or by ``grad_accum``) weights tokens
unevenly: a short micro-batch counts as much as a long one. Here every micro-batch's summed loss is
divided by the count over all micro-batches of the step and, under ``torch.distributed``, over all
ranks (one ``all_reduce`` before the forward passes). DDP averages gradients over ranks, so the
scale is ``world_size / global_count``; the result equals the gradient of the mean loss over every
target token of the global batch, whatever the split.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from lmpairs.loader.losses import num_targets
from lmpairs.trainer.models import Batch


def distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if distributed() else 1


@dataclass(frozen=True, eq=False)
class StepLoss:
    """The step's summed loss and target count over every micro-batch and rank (device tensors)."""

    loss_sum: torch.Tensor
    count: torch.Tensor

    def mean(self) -> float:
        """Mean loss per target token (synchronizes with the device)."""
        return float(self.loss_sum / self.count.clamp(min=1))


def global_count(micro_batches: Sequence[Batch], target_key: str) -> torch.Tensor:
    """Target tokens over all micro-batches and ranks (int64 scalar on the batches' device)."""
    count = torch.stack([num_targets(mb[target_key]) for mb in micro_batches]).sum()
    if distributed():
        dist.all_reduce(count)
    return count


def accumulate_gradients(model: nn.Module, micro_batches: Sequence[Batch], *, loss_fn: Callable,
                         target_key: str, autocast: Callable[[], AbstractContextManager] = contextlib.nullcontext
                         ) -> StepLoss:
    """Backward every micro-batch with the global normalization; gradients add up in ``.grad``.

    ``autocast`` wraps each forward pass (bf16 on CUDA); the loss is computed in float32 outside
    it. Under DDP, gradient synchronization runs only on the last micro-batch (``no_sync``).
    """
    count = global_count(micro_batches, target_key)
    scale = world_size() / count.clamp(min=1).to(torch.float32)
    loss_sum = torch.zeros((), dtype=torch.float32, device=count.device)
    last = len(micro_batches) - 1
    for i, batch in enumerate(micro_batches):
        sync = model.no_sync() if i < last and hasattr(model, "no_sync") else contextlib.nullcontext()
        with sync:
            with autocast():
                logits = model(batch)
            part, _ = loss_fn(logits, batch[target_key], return_count=True)
            (part * scale).backward()
        loss_sum = loss_sum + part.detach()
    if distributed():
        dist.all_reduce(loss_sum)
    return StepLoss(loss_sum, count)
