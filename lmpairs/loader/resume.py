"""Resuming a dataset: torchdata's ``Stateful`` protocol (``state_dict``/``load_state_dict``), written once.

:class:`Resumable` is the base of ``PairStream`` and ``PairMixture``: it holds their
:class:`~lmpairs.loader.position.Position` and gives them ``set_epoch``, ``state_dict`` and
``load_state_dict`` (bound to the subclass's ``identity`` and ``fingerprint``), ``make_loader``
and :meth:`~Resumable.count_delivered`. A state is a small JSON-safe dict::

    {"version", "dataset", "epoch", "batches", "worker_batches", "next_worker", "fingerprint"}
    (+ "stages" after an elastic resume, + "worker"/"num_workers" for one StatefulDataLoader worker)

Three ways to resume, all exact:

- ``make_loader(...)`` (:class:`~lmpairs.loader.pair_loader.PairLoader`) or the dataset iterated
  directly: the position counts what the caller received, per logical worker.
- ``torchdata.stateful_dataloader.StatefulDataLoader(dataset, batch_size=None, ...)``: torchdata
  calls ``state_dict()``/``load_state_dict()`` inside each worker and keeps the round robin
  itself; each worker's state then counts the batches that worker produced.
- Another shape (ranks, workers, batch size): the state resumes elastically
  (:mod:`lmpairs.loader.elastic`): each example of the epoch is read once, in another order.

Any other difference (seed, shuffle buffer, data) is refused with the difference and the fix.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from lmpairs.errors import UserError, differences
from lmpairs.loader.elastic import ELASTIC_KEYS, Stage
from lmpairs.loader.pair_loader import PairLoader
from lmpairs.loader.position import MAX_EPOCH, MAX_STAGES, MAX_WORKERS, WORKER_KEY, Position

logger = logging.getLogger(__name__)

STATE_VERSION = 2
"""Bumped when the state dict's meaning changes; older states are refused with the fix."""
STAGED_VERSION = 3
"""States that carry elastic ``stages`` (older readers must not take them for plain ones)."""

FIX = "pass the dict that loader.state_dict() returned for this dataset, or call set_epoch() to start over"


class StateError(UserError):
    """A saved loader state does not fit this loader; the message names what differs and the fix."""


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_counts(state: dict[str, Any], workers: int) -> tuple[int, int, list[int]]:
    epoch, counts, next_worker = state.get("epoch"), state.get("worker_batches"), state.get("next_worker")
    if not _integer(epoch) or not 0 <= epoch < MAX_EPOCH:
        raise StateError(f"load_state_dict: epoch={epoch!r}, expected an integer in [0, {MAX_EPOCH}); {FIX}.")
    if (not isinstance(counts, list) or len(counts) != workers or not all(_integer(c) and c >= 0 for c in counts)
            or state.get("batches") != sum(counts)):
        raise StateError(f"load_state_dict: worker_batches={str(counts)[:80]} does not fit {workers} worker(s) and "
                         f"batches={state.get('batches')!r}; {FIX}.")
    if not _integer(next_worker) or not 0 <= next_worker < workers:
        raise StateError(f"load_state_dict: next_worker={next_worker!r}, expected 0..{workers - 1}; {FIX}.")
    return epoch, next_worker, counts


class Resumable(IterableDataset):
    """Subclasses set ``identity`` and implement ``fingerprint(num_workers)``,
    ``_max_batches(epoch, num_workers, stages)`` (the most batches each logical worker can yield)
    and, to resume elastically, ``_elastic_refusal()`` returning None."""

    identity: str

    def __init__(self) -> None:
        super().__init__()
        self._position = Position()
        self._loader_workers: int | None = None  # set by make_loader: batches then go through count_delivered()
        self._worker_state: tuple[int, int] | None = None  # (epoch, batches) a StatefulDataLoader worker resumes

    def fingerprint(self, num_workers: int) -> dict[str, Any]:
        raise NotImplementedError

    def _max_batches(self, epoch: int, num_workers: int, stages: tuple[Stage, ...] = ()) -> list[int]:
        raise NotImplementedError

    def _elastic_refusal(self) -> str | None:
        """Why this dataset cannot resume a state of another shape (None: it can)."""
        return f"{type(self).__name__} resumes only states of its own shape"

    def _elastic_remainder(self, epoch: int, stages: tuple[Stage, ...]) -> str:
        """What the remainder rule does to the rest of an elastically resumed epoch (for the log)."""
        return ""

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

    # -- the Stateful protocol ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Where the caller is: the batches it received, per logical worker, in this epoch (JSON-safe).

        Inside a DataLoader worker (torchdata's StatefulDataLoader asks there) it is that worker's
        own count of the batches it produced, with ``worker``/``num_workers``.
        """
        name = type(self).__name__
        info = get_worker_info()
        if info is not None and self._loader_workers is None:
            counts = self._position.state_dict(1)
            return {"version": STATE_VERSION, "dataset": self.identity, "epoch": counts["epoch"],
                    "worker": info.id, "num_workers": info.num_workers, "batches": counts["batches"],
                    "fingerprint": self.fingerprint(info.num_workers)}
        if self._loader_workers is None and self._position.iterated_in_worker:
            raise StateError(f"{name}.state_dict(): DataLoader workers iterate this {name}, and the dataset "
                             "cannot see their progress; build the loader with .make_loader(...) and take "
                             "loader.state_dict(), or use torchdata's StatefulDataLoader.")
        workers = self._logical_workers
        stages = self._position.stages()
        state = {"version": STAGED_VERSION if stages else STATE_VERSION, "dataset": self.identity,
                 **self._position.state_dict(workers), "fingerprint": self.fingerprint(workers)}
        if stages:
            state["stages"] = [s.to_dict() for s in stages]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume where ``state`` was taken: the same shape gives exactly the batches the saved run
        would have seen next; another shape (ranks, workers, batch size) reads each example of the
        epoch that the saved run had not once (see :mod:`lmpairs.loader.elastic`)."""
        if not isinstance(state, dict):
            raise StateError(f"load_state_dict: expected a dict, got {type(state).__name__}; {FIX}.")
        if state.get("version") not in (STATE_VERSION, STAGED_VERSION):
            raise StateError(f"load_state_dict: state version {state.get('version')!r}, this lmpairs reads "
                             f"{STATE_VERSION} and {STAGED_VERSION}; {FIX}.")
        if state.get("dataset") != self.identity:
            raise StateError(f"load_state_dict: the state was saved from another dataset (identity "
                             f"{str(state.get('dataset'))[:16]}, this split is {self.identity[:16]}); resume with "
                             "the dataset the state was taken from, or call set_epoch() to start over.")
        saved = state.get("fingerprint")
        if not isinstance(saved, dict):
            raise StateError(f"load_state_dict: the state has no 'fingerprint'; {FIX}.")
        if get_worker_info() is not None and self._loader_workers is None and "worker" in state:
            return self._load_worker_state(state, saved)
        workers = self._logical_workers
        try:
            stages = tuple(Stage.from_dict(s) for s in state.get("stages", []))
        except ValueError as err:
            raise StateError(f"load_state_dict: damaged 'stages' ({err}); {FIX}.") from err
        now = self.fingerprint(workers)
        differ = differences(saved, now, "saved", "now")
        if differ and not set(differ) <= ELASTIC_KEYS:
            raise StateError(f"load_state_dict: the saved loader state belongs to another plan "
                             f"({differ.detail}); construct the loader with the saved values to resume, or start "
                             "a new epoch with set_epoch().")
        epoch, next_worker, counts = _check_counts(state, max(1, int(saved.get("num_workers", 1))))
        if differ:  # another shape: this state becomes one more stage of the epoch
            refusal = self._elastic_refusal()
            if refusal or len(stages) >= MAX_STAGES:
                raise StateError(f"load_state_dict: the state was saved with another shape ({differ.detail}), "
                                 f"and {refusal or f'an epoch resumes elastically at most {MAX_STAGES} times'}; "
                                 "construct the loader with the saved values, or start over with set_epoch().")
            stages += (Stage(world_size=saved["world_size"], num_workers=saved["num_workers"],
                             batch_size=saved["batch_size"], worker_batches=tuple(counts)),)
            next_worker, counts = 0, [0] * workers
            logger.info("resuming epoch %d elastically (%s): each example the saved run had not read is read "
                        "once, in a new order%s", epoch, differ.detail, self._elastic_remainder(epoch, stages))
        try:
            limits = self._max_batches(epoch, workers, stages)
        except ValueError as err:
            raise StateError(f"load_state_dict: {err}; the state is damaged or from another plan; {FIX}.") from err
        bad = [(k, c, m) for k, (c, m) in enumerate(zip(counts, limits)) if not c <= m]
        if bad:
            k, c, m = bad[0]
            raise StateError(f"load_state_dict: worker {k} delivered {c} batches, but it has {m} in epoch {epoch}; "
                             f"the state is damaged or from another plan; {FIX}.")
        self._position.load(epoch, next_worker=next_worker, worker_batches=counts, stages=stages)

    def _load_worker_state(self, state: dict[str, Any], saved: dict[str, Any]) -> None:
        """One StatefulDataLoader worker's own state: kept in this process until its iterator starts."""
        info = get_worker_info()
        differ = differences(saved, self.fingerprint(info.num_workers), "saved", "now")
        batches, epoch = state.get("batches"), state.get("epoch")
        if differ or state.get("worker") != info.id or not _integer(batches) or not _integer(epoch) or batches < 0:
            raise StateError(f"load_state_dict: worker {info.id} got the state of worker {state.get('worker')!r} "
                             f"({differ.detail if differ else 'counts ' + str(batches)}); resume a "
                             "StatefulDataLoader with the num_workers and dataset settings it was saved with.")
        self._worker_state = (epoch, batches)

    # -- handing out batches ---------------------------------------------------------------------
    def make_loader(self, **dataloader_kwargs: Any) -> PairLoader:
        """A ``DataLoader`` over this dataset (``batch_size=None``) with exact ``state_dict`` under workers.

        From here on the position counts what the loader hands out (see :meth:`count_delivered`).
        """
        num_workers = int(dataloader_kwargs.get("num_workers", 0))
        if not 0 <= num_workers <= MAX_WORKERS:
            raise ValueError(f"make_loader: num_workers={num_workers}; lmpairs supports 0..{MAX_WORKERS}.")
        self._loader_workers = num_workers
        return PairLoader(self, **dataloader_kwargs)

    def count_delivered(self, batches: Iterable[dict[str, torch.Tensor]]) -> Iterator[dict[str, torch.Tensor]]:
        """Hand out the batches of one ``make_loader`` epoch, counting each as the caller receives it.

        Workers tag each batch with its logical worker; the tag is removed here. Starting the
        iteration consumes a loaded position (the workers read it as they start).
        """
        self._position.begin()
        workers = self._logical_workers
        for batch in batches:
            self._position.delivered(int(batch.pop(WORKER_KEY)), workers)
            yield batch

    track = count_delivered
    """The name earlier releases used for :meth:`count_delivered`."""

    def _start_iteration(self) -> tuple[int, int, int, bool, bool]:
        """``(worker, num_workers, skip, in_worker, tagged)`` for an iterator being created now: the
        logical worker this process plays (rotated by a resumed state), the batches it skips, and
        whether batches must carry the worker tag for :meth:`count_delivered`."""
        info = get_worker_info()
        num_workers, physical = (info.num_workers, info.id) if info is not None else (1, 0)
        tagged = self._loader_workers is not None
        if info is None and not tagged:
            self._position.begin()  # iterated directly: the dataset counts its own batches
        elif info is not None:
            self._position.mark_worker_iteration()
            self._position.restart_count()  # a worker's own count (StatefulDataLoader reads it)
        if self._worker_state is not None:
            epoch, batches = self._worker_state
            self._worker_state = None
            if epoch != self._position.epoch:
                raise StateError(f"load_state_dict: the worker state is from epoch {epoch}, but this iteration "
                                 f"runs epoch {self._position.epoch}; call set_epoch({epoch}) before iterating.")
            self._position.load_count(batches)
            return physical, num_workers, batches, True, tagged
        saved, rotation, skips = self._position.resume_for(num_workers)
        if saved != num_workers:
            raise StateError(f"the loader state was loaded for num_workers={saved}, but this DataLoader runs "
                             f"{num_workers}; load the state into the loader you iterate (make_loader(...) first, "
                             "then load_state_dict), or call set_epoch() with a new epoch to start it over.")
        worker = (physical + rotation) % num_workers
        return worker, num_workers, skips[worker], info is not None, tagged
