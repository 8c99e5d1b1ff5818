"""What a model's ``forward`` gets from an lmpairs batch, and the loss lmpairs computes on its logits.

Shared by the Trainer and Lightning adapters. The targets (``target_ids`` for CLM, ``labels``
otherwise) are kept away from the model, so a Hugging Face model never computes its own loss:
for CLM that would shift the already shifted targets again, and for every objective lmpairs' loss
is the float32 cross-entropy with ``ignore_index=-100`` of :mod:`lmpairs.loader.losses`.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping

import torch
from torch import nn

from lmpairs.loader import FORMATS, loss_for

logger = logging.getLogger(__name__)

TARGET_KEYS = frozenset(f.target_key for f in FORMATS.values())
"""Batch keys that hold targets, never model inputs: every batch format's ``target_key``."""


def accepted_inputs(model: nn.Module) -> frozenset[str] | None:
    """The keyword arguments ``model.forward`` takes (None: it takes ``**kwargs``, so anything)."""
    params = inspect.signature(model.forward).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params)


class BatchAdapter:
    """Split a batch into model inputs and targets; apply the objective's loss to the logits.

    Keys the model's ``forward`` does not take (``cu_seqlens`` for a model without a varlen path,
    say) are left out with one warning naming them, so a silently ignored input is never a surprise.
    """

    def __init__(self, objective: str) -> None:
        self.objective = objective
        self.loss_fn = loss_for(objective)
        self._warned: set[str] = set()

    def split(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[dict, torch.Tensor]:
        accepted = accepted_inputs(model)
        inputs = {k: v for k, v in batch.items() if k not in TARGET_KEYS}
        dropped = sorted(k for k in inputs if accepted is not None and k not in accepted)
        new = [k for k in dropped if k not in self._warned]
        if new:
            logger.warning("%s.forward takes no %s; these batch keys are left out", type(model).__name__,
                           ", ".join(new))
            self._warned.update(new)
        target_key = "target_ids" if "target_ids" in batch else "labels"  # DESIGN's batch table
        return {k: v for k, v in inputs.items() if k not in dropped}, batch[target_key]

    def loss(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, object]:
        """``(loss, outputs)``: the model's outputs on the batch's inputs and lmpairs' loss on their logits."""
        inputs, targets = self.split(model, batch)
        outputs = model(**inputs)
        logits = outputs.logits if hasattr(outputs, "logits") else outputs
        return self.loss_fn(logits, targets), outputs

