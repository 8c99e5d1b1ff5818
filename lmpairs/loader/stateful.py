"""``PairLoader``: a DataLoader over a PairStream that knows exactly which batches the trainer got.

DataLoader workers run ahead of the trainer (prefetch), so neither the main-process dataset nor
the workers know the position of a checkpoint. This thin iterator counts, per worker, the batches
it hands out (each batch carries its worker's id, removed here) and which worker is next in
DataLoader's round robin. To resume, each worker skips its own count and the workers are rotated
so the round robin restarts at the saved next worker: the batches that follow are exactly those
of the uninterrupted run. The state is a small plain dict (per rank; in batch-size mode the ranks'
states are equal, so saving rank 0's is enough).

With ``max_tokens`` under ``torch.distributed`` the ranks' batch counts can differ (batches are
cut after reading), so before handing out each batch the ranks agree through one all_reduce(MIN)
of a has-a-batch flag over a gloo group; the epoch ends for all ranks when the first runs out, and
the others' surplus batches are skipped (logged). Batch-size mode needs no communication: its
counts are equal by construction (:mod:`lmpairs.loader.plan`).
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from lmpairs.loader.dataset import WORKER_KEY, PairStream
from lmpairs.loader.state import MAX_WORKERS, StateError, check_fingerprint

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
    """Iterate like a DataLoader; ``state_dict``/``load_state_dict``/``set_epoch`` as on PairStream."""

    def __init__(self, stream: PairStream, **dataloader_kwargs: Any) -> None:
        if dataloader_kwargs.get("batch_size") is not None:
            raise ValueError("make_loader: batch_size belongs to PairStream (it yields whole batches); "
                             "leave it out of the DataLoader arguments.")
        if dataloader_kwargs.get("in_order") is False:
            raise ValueError("make_loader: in_order=False makes the batch order depend on timing; leave it True.")
        self.num_workers = int(dataloader_kwargs.get("num_workers", 0))
        if self.num_workers > MAX_WORKERS:
            raise ValueError(f"make_loader: num_workers={self.num_workers}; at most {MAX_WORKERS} are supported.")
        dataloader_kwargs["batch_size"] = None
        stream._tag = True
        self.stream = stream
        self.loader = DataLoader(stream, **dataloader_kwargs)
        self._lockstep = stream.options.batch_size is None and stream.world_size > 1
        self._group = lockstep_group() if self._lockstep else None
        self._pending: dict[str, Any] | None = None
        self._reset(stream.epoch)

    @property
    def _workers(self) -> int:
        return max(1, self.num_workers)

    def _reset(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._worker_batches = [0] * self._workers
        self._next_worker = 0

    def __len__(self) -> int:
        return len(self.stream)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``; a state loaded for that same epoch still resumes mid-epoch."""
        if self._pending is not None and int(self._pending["epoch"]) == epoch:
            return
        self._pending = None
        self._reset(epoch)
        self.stream.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        if self._pending is not None:
            return dict(self._pending)
        return {"epoch": self.epoch, "batches": sum(self._worker_batches),
                "worker_batches": list(self._worker_batches), "next_worker": self._next_worker,
                "fingerprint": self.stream.fingerprint(self.num_workers)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_fingerprint(state, self.stream.fingerprint(self.num_workers))
        counts = state.get("worker_batches")
        if not isinstance(counts, list) or len(counts) != self._workers or sum(counts) != state.get("batches"):
            raise StateError(f"load_state_dict: worker_batches={counts!r} does not fit {self._workers} workers and "
                             f"batches={state.get('batches')!r}; pass the dict that state_dict() returned.")
        self._pending = dict(state)
        self.epoch = int(state["epoch"])

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        state, self._pending = self._pending, None
        if state is not None:
            self.stream._state.set_resume(self.epoch, rotation=int(state["next_worker"]),
                                          worker_batches=[int(b) for b in state["worker_batches"]])
            self._worker_batches = [int(b) for b in state["worker_batches"]]
            self._next_worker = int(state["next_worker"])
        else:
            self.stream._state.start(self.epoch)
            self._reset(self.epoch)
        batches = iter(self.loader)
        for batch in lockstep(batches, self._group) if self._lockstep else batches:
            worker = int(batch.pop(WORKER_KEY))
            self._worker_batches[worker] += 1
            self._next_worker = (worker + 1) % self._workers
            yield batch
