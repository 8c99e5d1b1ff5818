"""``SourceDataset``: the one batch machinery under ``PairStream`` (one source) and ``PairMixture`` (several).

A subclass plans each (rank, worker)'s epoch (``_plan``: windows, the rows each source gives a
window, the batches cut from it); this base resolves the process's rank, reads a window's rows
from each source, cuts and collates its batches, skips what a resumed worker already delivered
and counts or tags each batch for :class:`~lmpairs.loader.resume.Resumable`. A ``PairStream``
is the mixture of its one source: the same reading, skipping and generation, only its plan
differs (the remainder rule, token-budget batches and the seeds of its unit and window orders,
kept so its batches and states stay those of earlier releases).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lmpairs.loader.collate import batch_tensors
from lmpairs.loader.position import WORKER_KEY
from lmpairs.loader.resume import Resumable
from lmpairs.loader.shard_reader import WindowRows
from lmpairs.loader.source import Source
from lmpairs.ragged import concat

logger = logging.getLogger(__name__)


def resolve_world(rank: int | None, world_size: int | None, name: str = "PairStream") -> tuple[int, int]:
    """This process's ``(rank, world_size)``: given, else torch.distributed's, else ``(0, 1)``
    (with a warning when ``WORLD_SIZE`` says the job has several ranks)."""
    if rank is None and world_size is None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if rank is None and world_size is None and os.environ.get("WORLD_SIZE", "1") != "1":
        logger.warning("WORLD_SIZE=%s but torch.distributed is not initialized: this %s reads the whole "
                       "split on every rank; call init_process_group() before creating it, or pass rank= and "
                       "world_size=.", os.environ["WORLD_SIZE"], name)
    rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank}, world_size={world_size}: need 0 <= rank < world_size.")
    return rank, world_size


class SourceDataset(Resumable):
    """Subclasses set ``sources``, ``rank``, ``world_size``, ``return_keys``, ``return_source`` and
    implement ``_plan(epoch, worker, num_workers)``; the plan gives ``windows``, ``skip(batches)``,
    ``parts(window)`` (per source: segments or None) and ``batches(window)``."""

    sources: list[Source]
    side: str
    shuffle_seed: int
    rank: int
    world_size: int
    return_keys: bool = False
    return_source: bool = False

    @property
    def split(self) -> str:
        """The side read (``"train"``/``"validation"``): ``side``'s earlier name."""
        return self.side

    @property
    def seed(self) -> int:
        """``shuffle_seed``'s earlier name."""
        return self.shuffle_seed

    def _plan(self, epoch: int, worker: int, num_workers: int) -> Any:
        raise NotImplementedError

    @property
    def streams(self) -> list[Source]:
        """The sources (the name earlier releases used)."""
        return self.sources

    @property
    def dynamic_passed_through(self) -> int:
        """Rows dynamic corruption left unchanged (too long), summed over workers since creation."""
        return self._position.passed

    def _window_batches(self, plan: Any, window: Any, parts: list[WindowRows | None]) -> list[tuple[int, np.ndarray]]:
        """``(source or -1 when the batch may mix sources, rows)`` per batch of the window."""
        return plan.batches(window)

    # -- iteration ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker, num_workers, skip, in_worker, tagged = self._start_iteration()
        plan = self._plan(self._position.epoch, worker, num_workers)
        return self._generate(plan, worker, skip, in_worker=in_worker, tagged=tagged)

    def _read(self, plan: Any, window: Any, worker: int) -> list[WindowRows | None]:
        """Each source's rows of the window (None where it has none), re-corrupted if dynamic."""
        parts = []
        for source, segments in zip(self.sources, plan.parts(window)):
            rows = None
            if segments is not None:
                rows, passed = source.read(segments, epoch=plan.epoch)  # a repeat within an epoch: same draws
                self._position.add_passed(worker, passed)
            parts.append(rows)
        return parts

    def _generate(self, plan: Any, worker: int, skip: int, *, in_worker: bool, tagged: bool) -> Iterator[dict]:
        """Batches of one worker, after skipping ``skip`` it already delivered (whole windows unread;
        token batches are counted after reading their window)."""
        first, offset = plan.skip(skip)
        collators = [(s.collate, s.spec) for s in self.sources]
        for window in plan.windows[first:]:
            parts = self._read(plan, window, worker)
            batches = self._window_batches(plan, window, parts)
            if offset >= len(batches):
                offset -= len(batches)
                continue
            present = [p for p in parts if p is not None]
            sizes = [0 if p is None else len(p) for p in parts]
            starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            labels = np.repeat(np.arange(len(parts), dtype=np.int64), sizes) if self.return_source else None
            merged = self._merged(present)
            keys = (present[0].keys if len(present) == 1 else np.concatenate([p.keys for p in present])
                    ) if self.return_keys else None
            for source, rows in batches[offset:]:
                if source < 0:  # may mix sources: one objective (checked), their rows merged
                    arrays = collators[0][0](merged, rows, collators[0][1])
                else:
                    collate, spec = collators[source]
                    arrays = collate(parts[source].columns, rows - starts[source], spec)
                if self.return_keys:
                    arrays["example_key"] = keys[rows].view(np.int64)
                if self.return_source:
                    arrays["source"] = labels[rows]
                batch: dict = batch_tensors(arrays, pack=in_worker)
                if tagged:
                    batch[WORKER_KEY] = worker  # a plain int: no shared-memory segment of its own
                else:
                    self._position.delivered(0, 1)
                yield batch
            offset = 0

    @staticmethod
    def _merged(present: list[WindowRows]) -> dict:
        """The window's rows of all sources laid end to end (one source: its own columns, no copy)."""
        if len(present) == 1:
            return present[0].columns
        return {name: concat([p.columns[name] for p in present]) for name in present[0].columns}
