"""A stream's position: the one place that holds resume state, shared with DataLoader workers.

DataLoader workers hold copies of the dataset (forked or pickled), and with
``persistent_workers=True`` those copies live across epochs, so a plain attribute set in the main
process never reaches them. The position therefore lives in one small int64 tensor in shared
memory, created with the stream: a worker reads it when its iterator is created, which DataLoader
does at the start of every epoch.

Slots: the epoch; where the current iteration started (the worker count it was saved with, the
round-robin rotation and each logical worker's batches to skip; a flag while a loaded state waits
to be started); a flag set when a worker iterated; per-worker counts of rows dynamic corruption
passed through unchanged. What the consumer received since the iteration started (batches per
logical worker, the next worker in DataLoader's round robin) is counted only in the main process,
once per batch, so it lives in plain Python ints beside the tensor (a tensor write per batch cost
~10% of a loader-only epoch).

Only :class:`~lmpairs.loader.resumable.Resumable` (the base of ``PairStream`` and ``PairMixture``)
writes it, through the methods below; its ``state_dict()`` is :meth:`Position.state_dict` plus
what binds the state to the dataset and plan.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lmpairs.errors import UserError

MAX_WORKERS = 128
MAX_EPOCH = 2**40
_EPOCH, _RESUME_WORKERS, _ROTATION, _PENDING, _IN_WORKER = range(5)
_SKIPS = 8
_PASSED = _SKIPS + MAX_WORKERS
_SIZE = _PASSED + MAX_WORKERS

WORKER_KEY = "_lmpairs_worker"
"""Batch key naming the logical worker that made a batch; added only under ``make_loader``, whose
iterator removes it before the batch reaches the caller."""

STATE_VERSION = 2
"""Bumped when the state dict's meaning changes; older states are refused with the fix."""

FIX = "pass the dict that loader.state_dict() returned for this dataset, or call set_epoch() to start over"


class StateError(UserError):
    """A saved loader state does not fit this loader; the message names what differs and the fix."""


class Position:
    """The shared slots, with named accessors (see the module docstring)."""

    def __init__(self) -> None:
        self.tensor = torch.zeros(_SIZE, dtype=torch.int64).share_memory_()
        self._delivered: list[int] = []  # main process only: batches the consumer got, per logical worker
        self._next = 0

    @property
    def epoch(self) -> int:
        return int(self.tensor[_EPOCH])

    def start(self, epoch: int) -> None:
        """Epoch ``epoch`` from its first batch; forgets any loaded position."""
        self.tensor[_EPOCH] = int(epoch)
        self.tensor[_RESUME_WORKERS:_IN_WORKER] = 0
        self.tensor[_SKIPS:_PASSED] = 0
        self._delivered, self._next = [], 0

    def load(self, epoch: int, *, next_worker: int, worker_batches: Sequence[int]) -> None:
        """Resume ``epoch`` where each logical worker had delivered ``worker_batches[k]`` batches."""
        self.start(epoch)
        n = len(worker_batches)
        self.tensor[_RESUME_WORKERS] = n
        self.tensor[_ROTATION] = int(next_worker)
        self.tensor[_PENDING] = 1
        self.tensor[_SKIPS:_SKIPS + n] = torch.tensor(list(worker_batches), dtype=torch.int64)
        self._delivered, self._next = [int(b) for b in worker_batches], int(next_worker)

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

    def delivered(self, worker: int, num_workers: int) -> None:
        """The consumer received one batch of logical worker ``worker`` (main process)."""
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
        return int(self.tensor[_PASSED:].sum())


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_state(state: Any, *, dataset: str, fingerprint: dict[str, Any],
                max_batches: Callable[[int], list[int]]) -> tuple[int, int, list[int]]:
    """Validate a saved state for this stream; return ``(epoch, next_worker, worker_batches)``.

    ``dataset`` is the identity of the split the stream reads (:func:`dataset_identity`);
    ``max_batches(epoch)`` the most batches each logical worker can deliver in that epoch.
    """
    if not isinstance(state, dict):
        raise StateError(f"load_state_dict: expected a dict, got {type(state).__name__}; {FIX}.")
    if state.get("version") != STATE_VERSION:
        raise StateError(f"load_state_dict: state version {state.get('version')!r}, this lmpairs reads "
                         f"{STATE_VERSION}; {FIX}.")
    if state.get("dataset") != dataset:
        raise StateError(f"load_state_dict: the state was saved from another dataset (identity "
                         f"{str(state.get('dataset'))[:16]}, this split is {dataset[:16]}); resume with the "
                         "dataset the state was taken from, or call set_epoch() to start over.")
    got = state.get("fingerprint")
    if not isinstance(got, dict):
        raise StateError(f"load_state_dict: the state has no 'fingerprint'; {FIX}.")
    differ = {k: (got.get(k), v) for k, v in fingerprint.items() if got.get(k) != v}
    if differ:
        detail = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in sorted(differ.items()))
        raise StateError(f"load_state_dict: the saved loader state belongs to another plan ({detail}); construct "
                         "the loader with the saved values to resume exactly, or start a new epoch with set_epoch().")
    epoch, counts, next_worker = state.get("epoch"), state.get("worker_batches"), state.get("next_worker")
    workers = max(1, int(fingerprint["num_workers"]))
    if not _integer(epoch) or not 0 <= epoch < MAX_EPOCH:
        raise StateError(f"load_state_dict: epoch={epoch!r}, expected an integer in [0, {MAX_EPOCH}); {FIX}.")
    if (not isinstance(counts, list) or len(counts) != workers or not all(_integer(c) for c in counts)
            or state.get("batches") != sum(counts)):
        raise StateError(f"load_state_dict: worker_batches={str(counts)[:80]} does not fit {workers} worker(s) and "
                         f"batches={state.get('batches')!r}; {FIX}.")
    if not _integer(next_worker) or not 0 <= next_worker < workers:
        raise StateError(f"load_state_dict: next_worker={next_worker!r}, expected 0..{workers - 1}; {FIX}.")
    limits = max_batches(epoch)
    bad = [(k, c, m) for k, (c, m) in enumerate(zip(counts, limits)) if not 0 <= c <= m]
    if bad:
        k, c, m = bad[0]
        raise StateError(f"load_state_dict: worker {k} delivered {c} batches, but it has {m} in epoch {epoch}; "
                         f"the state is damaged or from another plan; {FIX}.")
    return epoch, next_worker, counts
