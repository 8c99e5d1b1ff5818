"""A dataset's position: the one place that holds resume state, shared with DataLoader workers.

DataLoader workers hold copies of the dataset (forked or pickled), and with
``persistent_workers=True`` those copies live across epochs, so a plain attribute set in the main
process never reaches them. The position therefore lives in one small int64 tensor in shared
memory, created with the dataset: a worker reads it when its iterator is created, which DataLoader
does at the start of every epoch.

Slots: the epoch; where the current iteration started (the worker count it was saved with, the
round-robin rotation and each logical worker's batches to skip; a flag while a loaded state waits
to be started); a flag set when a worker iterated; per-worker counts of rows dynamic corruption
passed through unchanged; the earlier stages of an elastically resumed epoch (the shapes it ran
with and what each consumed, :mod:`lmpairs.loader.elastic`). What the consumer received since the
iteration started (batches per logical worker, the next worker in DataLoader's round robin) is
counted only in the main process, once per batch, so it lives in plain Python ints beside the
tensor (a tensor write per batch cost ~10% of a loader-only epoch).

Only :class:`~lmpairs.loader.resume.Resumable` writes it, through the methods below.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lmpairs.loader.elastic import Stage

MAX_WORKERS = 128
MAX_EPOCH = 2**40
MAX_STAGES = 4
"""Shape changes one epoch can go through (each elastic resume in the same epoch adds a stage)."""

_EPOCH, _RESUME_WORKERS, _ROTATION, _PENDING, _IN_WORKER, _NUM_STAGES = range(6)
_SKIPS = 8
_PASSED = _SKIPS + MAX_WORKERS
_STAGES = _PASSED + MAX_WORKERS
_STAGE_SIZE = 3 + MAX_WORKERS
_SIZE = _STAGES + MAX_STAGES * _STAGE_SIZE

WORKER_KEY = "_lmpairs_worker"
"""Batch key naming the logical worker that made a batch; added only under ``make_loader``, whose
iterator removes it before the batch reaches the caller."""


class Position:
    """The shared slots, with named accessors (see the module docstring)."""

    def __init__(self) -> None:
        self.tensor = torch.zeros(_SIZE, dtype=torch.int64).share_memory_()
        self._delivered: list[int] = []  # this process only: batches the consumer got, per logical worker
        self._next = 0

    @property
    def epoch(self) -> int:
        return int(self.tensor[_EPOCH])

    def start(self, epoch: int) -> None:
        """Epoch ``epoch`` from its first batch; forgets any loaded position."""
        self.tensor[_EPOCH] = int(epoch)
        self.tensor[_RESUME_WORKERS:_IN_WORKER] = 0
        self.tensor[_NUM_STAGES] = 0
        self.tensor[_SKIPS:_PASSED] = 0
        self.restart_count()

    def restart_count(self) -> None:
        """Forget what this process counted as delivered (a new iteration)."""
        self._delivered, self._next = [], 0

    def load(self, epoch: int, *, next_worker: int, worker_batches: Sequence[int],
             stages: Sequence[Stage] = ()) -> None:
        """Resume ``epoch`` where each logical worker had delivered ``worker_batches[k]`` batches,
        after the epoch's earlier ``stages`` (other shapes) consumed what they did."""
        self.start(epoch)
        n = len(worker_batches)
        self.tensor[_RESUME_WORKERS] = n
        self.tensor[_ROTATION] = int(next_worker)
        self.tensor[_PENDING] = 1
        self.tensor[_SKIPS:_SKIPS + n] = torch.tensor(list(worker_batches), dtype=torch.int64)
        self.tensor[_NUM_STAGES] = len(stages)
        for i, stage in enumerate(stages):
            base = _STAGES + i * _STAGE_SIZE
            counts = list(stage.worker_batches)
            self.tensor[base:base + 3] = torch.tensor([stage.world_size, stage.num_workers, stage.batch_size])
            self.tensor[base + 3:base + 3 + len(counts)] = torch.tensor(counts, dtype=torch.int64)
        self._delivered, self._next = [int(b) for b in worker_batches], int(next_worker)

    def stages(self) -> tuple[Stage, ...]:
        """The earlier stages of this epoch (empty unless an elastic resume loaded some)."""
        out = []
        for i in range(int(self.tensor[_NUM_STAGES])):
            base = _STAGES + i * _STAGE_SIZE
            world, workers, batch = self.tensor[base:base + 3].tolist()
            out.append(Stage(world_size=world, num_workers=workers, batch_size=batch,
                             worker_batches=tuple(self.tensor[base + 3:base + 3 + workers].tolist())))
        return tuple(out)

    @property
    def pending_epoch(self) -> int | None:
        """The epoch of a loaded position not yet started, if any."""
        return self.epoch if int(self.tensor[_PENDING]) else None

    def begin(self) -> None:
        """An iteration starts (main process): a loaded position is consumed, else the epoch restarts."""
        if int(self.tensor[_PENDING]):
            self.tensor[_PENDING] = 0
        else:
            self.start(self.epoch)

    def resume_for(self, num_workers: int) -> tuple[int, int, list[int]]:
        """``(workers loaded for, rotation, batches to skip per logical worker)`` for an iteration
        with ``num_workers``; ``(num_workers, 0, zeros)`` when nothing was loaded."""
        saved = int(self.tensor[_RESUME_WORKERS])
        if not saved:
            return num_workers, 0, [0] * num_workers
        return saved, int(self.tensor[_ROTATION]), self.tensor[_SKIPS:_SKIPS + saved].tolist()

    def delivered(self, worker: int, num_workers: int) -> None:
        """The consumer received one batch of logical worker ``worker`` (this process)."""
        if len(self._delivered) < num_workers:
            self._delivered += [0] * (num_workers - len(self._delivered))
        self._delivered[worker] += 1
        self._next = (worker + 1) % num_workers

    def state_dict(self, num_workers: int) -> dict[str, Any]:
        counts = (self._delivered + [0] * num_workers)[:num_workers]
        return {"epoch": self.epoch, "batches": sum(counts), "worker_batches": counts, "next_worker": self._next}

    def mark_worker_iteration(self) -> None:
        self.tensor[_IN_WORKER] = 1

    @property
    def iterated_in_worker(self) -> bool:
        return bool(self.tensor[_IN_WORKER])

    def add_passed(self, worker: int, count: int) -> None:
        if count:
            self.tensor[_PASSED + worker] += int(count)

    @property
    def passed(self) -> int:
        return int(self.tensor[_PASSED:_STAGES].sum())

    def load_count(self, batches: int) -> None:
        """This process resumes its own count at ``batches`` (a StatefulDataLoader worker)."""
        self._delivered, self._next = [int(batches)], 0
