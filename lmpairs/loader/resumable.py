"""The resume protocol :class:`PairStream` and :class:`PairMixture` share, written once.

A subclass keeps its rows, plan and batches; this base holds its :class:`Position` and gives it
``set_epoch``, ``state_dict``/``load_state_dict`` (bound to the subclass's ``identity`` and
``fingerprint``), ``make_loader`` and ``track`` (which count what the caller received) and
:meth:`_start_iteration`, which resolves the worker and the batches a resumed iteration skips.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from lmpairs.loader.state import MAX_WORKERS, STATE_VERSION, WORKER_KEY, Position, StateError, check_state
from lmpairs.loader.stateful import PairLoader


class Resumable(IterableDataset):
    """Subclasses set ``identity`` and implement ``fingerprint(num_workers)`` and
    ``_max_batches(epoch, num_workers)`` (the most batches each logical worker can yield)."""

    identity: str

    def __init__(self) -> None:
        super().__init__()
        self._position = Position()
        self._loader_workers: int | None = None  # set by make_loader: batches then go through track()

    def fingerprint(self, num_workers: int) -> dict[str, Any]:
        raise NotImplementedError

    def _max_batches(self, epoch: int, num_workers: int) -> list[int]:
        raise NotImplementedError

    @property
    def epoch(self) -> int:
        return self._position.epoch

    @property
    def _logical_workers(self) -> int:
        return max(1, self._loader_workers or 0)

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` from its beginning, unless a loaded state resumes that very epoch."""
        if self._position.pending_epoch == epoch:
            return
        self._position.start(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Where the caller is: the batches it received, per logical worker, in this epoch.

        ``{"version", "dataset", "epoch", "batches", "worker_batches", "next_worker", "fingerprint"}``,
        plain ints, strings and lists (JSON-safe). ``dataset`` binds it to what is read.
        """
        name = type(self).__name__
        if self._loader_workers is None and self._position.iterated_in_worker:
            raise StateError(f"{name}.state_dict(): DataLoader workers iterate this {name}, and the dataset "
                             "cannot see their progress; build the loader with .make_loader(...) and take "
                             "loader.state_dict().")
        workers = self._logical_workers
        return {"version": STATE_VERSION, "dataset": self.identity, **self._position.state_dict(workers),
                "fingerprint": self.fingerprint(workers)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume where ``state`` was taken: the next batches are those the saved run would have seen."""
        workers = self._logical_workers
        epoch, next_worker, counts = check_state(state, dataset=self.identity, fingerprint=self.fingerprint(workers),
                                                 max_batches=lambda e: self._max_batches(e, workers))
        self._position.load(epoch, next_worker=next_worker, worker_batches=counts)

    def make_loader(self, **dataloader_kwargs: Any) -> PairLoader:
        """A ``DataLoader`` over this dataset (``batch_size=None``) with exact ``state_dict`` under workers.

        From here on the position counts what the loader hands out (see :meth:`track`).
        """
        num_workers = int(dataloader_kwargs.get("num_workers", 0))
        if not 0 <= num_workers <= MAX_WORKERS:
            raise ValueError(f"make_loader: num_workers={num_workers}; lmpairs supports 0..{MAX_WORKERS}.")
        self._loader_workers = num_workers
        return PairLoader(self, **dataloader_kwargs)

    def track(self, batches: Iterable[dict[str, torch.Tensor]]) -> Iterator[dict[str, torch.Tensor]]:
        """Hand out the batches of one ``make_loader`` epoch, counting each as the caller receives it.

        Workers tag each batch with its logical worker; the tag is removed here. Starting the
        iteration consumes a loaded position (the workers read it as they start).
        """
        self._position.begin()
        workers = self._logical_workers
        for batch in batches:
            self._position.delivered(int(batch.pop(WORKER_KEY)), workers)
            yield batch

    def _start_iteration(self) -> tuple[int, int, int, bool, bool]:
        """``(worker, num_workers, skip, in_worker, tagged)`` for an iterator being created now: the
        logical worker this process plays (rotated by a resumed state), the batches it skips, and
        whether batches must carry the worker tag for :meth:`track`."""
        info = get_worker_info()
        num_workers, physical = (info.num_workers, info.id) if info is not None else (1, 0)
        tagged = self._loader_workers is not None
        if info is None and not tagged:
            self._position.begin()  # iterated directly: the dataset counts its own batches
        elif info is not None:
            self._position.mark_worker_iteration()
        rotation, skips = self._position.resume_for(num_workers)
        worker = (physical + rotation) % num_workers
        return worker, num_workers, skips[worker], info is not None, tagged
