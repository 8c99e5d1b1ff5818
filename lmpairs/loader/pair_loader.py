"""``PairLoader``: a DataLoader over a PairStream whose ``state_dict`` is exactly what the trainer got.

DataLoader workers run ahead of the trainer (prefetch), so neither the main-process dataset nor
the workers know the position of a checkpoint. Each batch carries its logical worker's id, and
this iterator passes every batch through the dataset's ``count_delivered``
(:class:`~lmpairs.loader.resume.Resumable`), which counts it per worker as the caller receives it
and removes the id. To resume, each worker skips its own count and the
workers are rotated so the round robin restarts at the saved next worker: the batches that follow
are exactly those of the uninterrupted run. The state lives in the stream only; this class holds
none and its ``state_dict``/``load_state_dict``/``set_epoch`` are the stream's (per rank; in
batch-size mode the ranks' states are equal, so saving rank 0's is enough).

With ``max_tokens`` under ``torch.distributed`` the ranks' batch counts can differ (batches are
cut after reading), so before handing out each batch the ranks agree through one all_reduce(MIN)
of a has-a-batch flag over a gloo group; the epoch ends for all ranks when the first runs out, and
the others' surplus batches are skipped (logged). Batch-size mode needs no communication: its
counts are equal by construction (:mod:`lmpairs.loader.plan`).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

logger = logging.getLogger(__name__)


def lockstep_group():
    """The gloo process group for the per-batch agreement (None: the default group is gloo)."""
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("max_tokens with world_size > 1 needs torch.distributed initialized before "
                           "make_loader(): ranks agree on each epoch's batch count through it.")
    return None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")


def lockstep(batches: Iterator[dict], group) -> Iterator[dict]:
    """Yield while every rank still has a batch (one all_reduce of a flag per batch)."""
    while True:
        batch = next(batches, None)
        flag = torch.tensor([0 if batch is None else 1], dtype=torch.int64)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN, group=group)
        if int(flag) == 0:
            if batch is not None:
                logger.info("rank %d: another rank ran out of token batches; ending the epoch here "
                            "(this rank's remaining batches are skipped)", dist.get_rank())
            return
        yield batch


class PairLoader:
    """Iterate like a DataLoader; ``state_dict``/``load_state_dict``/``set_epoch`` are the stream's.

    Built by ``PairStream.make_loader``; ``stream`` is any object with the stream's public surface
    (this module imports nothing of :mod:`lmpairs.loader.dataset`).
    """

    def __init__(self, stream: Any, **dataloader_kwargs: Any) -> None:
        if dataloader_kwargs.get("batch_size") is not None:
            raise ValueError("make_loader: batch_size belongs to PairStream (it yields whole batches); "
                             "leave it out of the DataLoader arguments.")
        if dataloader_kwargs.get("in_order") is False:
            raise ValueError("make_loader: in_order=False makes the batch order depend on timing; leave it True.")
        self.num_workers = int(dataloader_kwargs.get("num_workers", 0))
        dataloader_kwargs["batch_size"] = None
        self.stream = stream
        self.loader = DataLoader(stream, **dataloader_kwargs)
        self._lockstep = stream.options.batch_size is None and stream.world_size > 1
        self._group = lockstep_group() if self._lockstep else None

    @property
    def epoch(self) -> int:
        return self.stream.epoch

    def __len__(self) -> int:
        return len(self.stream)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``; a state loaded for that same epoch still resumes mid-epoch."""
        self.stream.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.stream.count_delivered(self._agreed())

    def _agreed(self) -> Iterator[dict[str, torch.Tensor]]:
        """The DataLoader's batches (kept in step across ranks for token batches); a generator, so
        the workers start only when ``count_delivered`` asks for the first batch, after it set the position."""
        batches = iter(self.loader)
        yield from lockstep(batches, self._group) if self._lockstep else batches
