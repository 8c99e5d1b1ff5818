"""What the main process and DataLoader workers share: epoch, resume position, a few counters.

DataLoader workers hold copies of the dataset (forked or pickled), and with
``persistent_workers=True`` those copies live across epochs, so a plain attribute set by
``set_epoch`` in the main process never reaches them. These values therefore live in one small
int64 tensor in shared memory, created in ``PairStream.__init__``: a worker reads it each time its
iterator is created, which DataLoader does at the start of every epoch.

Slots: epoch; a pending resume (the number of workers it was saved with, the worker rotation and
each worker's batches already yielded); a flag set when a worker iterated; per-worker counts of
rows passed through dynamic corruption unchanged.
"""
from __future__ import annotations

from typing import Any

import torch

MAX_WORKERS = 128
_EPOCH, _RESUME_WORKERS, _ROTATION, _IN_WORKER = range(4)
_SKIPS = 4
_PASSED = _SKIPS + MAX_WORKERS


class StateError(ValueError):
    """A saved loader state does not fit this loader; the message names what differs and the fix."""


class SharedState:
    """The shared slots, with named accessors (see the module docstring)."""

    def __init__(self) -> None:
        self.tensor = torch.zeros(_PASSED + MAX_WORKERS, dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        return int(self.tensor[_EPOCH])

    def start(self, epoch: int) -> None:
        """Epoch ``epoch`` from its first batch; forgets any pending resume."""
        self.tensor[_EPOCH] = int(epoch)
        self.tensor[_RESUME_WORKERS:_ROTATION + 1] = 0
        self.tensor[_SKIPS:_PASSED] = 0

    def set_resume(self, epoch: int, *, rotation: int, worker_batches: list[int]) -> None:
        """Resume ``epoch`` where each (logical) worker had yielded ``worker_batches[k]`` batches."""
        if not 1 <= len(worker_batches) <= MAX_WORKERS:
            raise StateError(f"resume: {len(worker_batches)} workers; lmpairs supports 1..{MAX_WORKERS}.")
        self.start(epoch)
        self.tensor[_RESUME_WORKERS] = len(worker_batches)
        self.tensor[_ROTATION] = int(rotation)
        self.tensor[_SKIPS:_SKIPS + len(worker_batches)] = torch.tensor(worker_batches, dtype=torch.int64)

    @property
    def pending_epoch(self) -> int | None:
        """The epoch of a resume not yet started, if any."""
        return self.epoch if int(self.tensor[_RESUME_WORKERS]) else None

    def resume_for(self, num_workers: int) -> tuple[int, list[int]]:
        """``(rotation, batches to skip per logical worker)`` for an iteration with ``num_workers``."""
        saved = int(self.tensor[_RESUME_WORKERS])
        if not saved:
            return 0, [0] * num_workers
        if saved != num_workers:
            raise StateError(f"the loader state was saved with num_workers={saved}, but this DataLoader runs "
                             f"{num_workers}; resume with num_workers={saved} (worker count fixes the batch "
                             "order), or call set_epoch() with a new epoch to start it over.")
        return int(self.tensor[_ROTATION]), self.tensor[_SKIPS:_SKIPS + saved].tolist()

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
        return int(self.tensor[_PASSED:].sum())


def check_fingerprint(saved: Any, expected: dict[str, Any], *, where: str = "load_state_dict") -> None:
    """Refuse a state whose plan differs from this loader's: its batch positions mean other batches."""
    if not isinstance(saved, dict):
        raise StateError(f"{where}: expected the dict that state_dict() returned, got {type(saved).__name__}.")
    got = saved.get("fingerprint")
    if not isinstance(got, dict):
        raise StateError(f"{where}: the state has no 'fingerprint'; pass the dict that state_dict() returned.")
    differ = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    if differ:
        detail = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in sorted(differ.items()))
        raise StateError(f"{where}: the saved loader state belongs to another plan ({detail}); construct the "
                         "loader with the saved values to resume exactly, or start a new epoch with set_epoch().")
