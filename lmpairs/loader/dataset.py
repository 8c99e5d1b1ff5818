"""``PairStream``: a torch ``IterableDataset`` that streams an lmpairs split as ready batches.

Usage (one process per GPU; ``torch.distributed`` initialized first, or pass rank/world_size)::

    stream = PairStream("out/clm", batch_size=32, seed=0)
    loader = stream.make_loader(num_workers=2, pin_memory=True, persistent_workers=True)
    loader.load_state_dict(checkpoint["loader"])          # optional: exact mid-epoch resume
    for epoch in range(loader.epoch, num_epochs):
        loader.set_epoch(epoch)                           # keeps a loaded position for its epoch
        for batch in loader:
            ...                                           # checkpoint["loader"] = loader.state_dict()

Each epoch follows :mod:`lmpairs.loader.plan`: every rank yields ``len(stream)`` batches made of
its own examples (each read once, or a few repeated under ``remainder="pad"``), independent of the
other ranks. ``max_tokens`` batches (variable-length seq2seq) are cut per window after reading, so
ranks can differ in count; :class:`~lmpairs.loader.stateful.PairLoader` then keeps ranks in
lockstep and ends the epoch at the smallest count.

Resume state has one home, the stream's :class:`~lmpairs.loader.state.Position`, and one API,
``state_dict()`` / ``load_state_dict()`` (the loader's are the stream's). Iterated directly, the
stream counts the batches it yields; under ``make_loader`` workers run ahead of the trainer, so the
loader hands each batch through :meth:`PairStream.track`, which counts it when the caller gets it.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lmpairs.loader.budget import token_batches
from lmpairs.loader.collate import COLLATORS, CollateSpec, batch_tensors, example_lengths, needed_columns
from lmpairs.loader.documents import check_document_attention
from lmpairs.loader.dynamic import DynamicCorruption
from lmpairs.loader.plan import EpochPlan, PlanOptions, Window, plan_epoch, rank_num_batches, rank_size
from lmpairs.loader.resumable import Resumable
from lmpairs.loader.shard_reader import VERIFY_MODES, ShardReader, WindowRows, warm_arrow_to_numpy
from lmpairs.loader.state import WORKER_KEY
from lmpairs.loader.units import list_units
from lmpairs.loader.validate import open_split, special_id
from lmpairs.schemas.storage import FileSystemArg, is_url, local_copy

logger = logging.getLogger(__name__)


def _world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is None and world_size is None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if rank is None and world_size is None and os.environ.get("WORLD_SIZE", "1") != "1":
        logger.warning("WORLD_SIZE=%s but torch.distributed is not initialized: this PairStream reads the whole "
                       "split on every rank; call init_process_group() before creating it, or pass rank= and "
                       "world_size=.", os.environ["WORLD_SIZE"])
    rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank}, world_size={world_size}: need 0 <= rank < world_size.")
    return rank, world_size


def objective_config(manifest) -> dict[str, Any]:
    """The objective's config from the manifest (a full build config nests it under its name)."""
    nested = manifest.config.get(manifest.objective)
    return nested if isinstance(nested, dict) else manifest.config


class PairStream(Resumable):
    """Collated batches of one split of ``OUT/<objective>`` (local path or URL); see module docs.

    ``batch_size`` rows per batch, or ``max_tokens`` padded tokens per batch (``batch_size`` then
    caps the rows). ``shuffle_buffer`` examples are shuffled at a time (rounded up to whole batches).
    ``remainder``: ``"drop"`` or ``"pad"`` when the rows do not divide evenly among ranks.
    ``document_attention`` (CLM): ``"position_ids"``, ``"cu_seqlens"`` or ``"block_mask"`` adds
    per-document attention inputs (:mod:`lmpairs.loader.documents`); ``position_ids=True`` is the first.
    ``dynamic=True`` re-corrupts rows per epoch and needs ``tokenizer`` (the ``.model`` file).
    ``objective`` / ``expected_tokenizer`` (path or sha256) make the manifest check what you expect.
    ``return_keys`` adds ``example_key`` (the uint64 keys' bits as int64; pop it before
    ``model(**batch)``). ``verify``: ``"sha256"`` (each shard hashed on first open), ``"size"`` or
    ``"none"`` (see :mod:`lmpairs.loader.shard_reader`). ``filesystem``: a ``pyarrow.fs.FileSystem`` or a dict of
    its options (endpoint, credentials) for URLs of the dataset and of ``tokenizer``.
    """

    def __init__(self, path: str, split: str = "train", *, batch_size: int | None = None,
                 max_tokens: int | None = None, shuffle: bool = True, seed: int = 0, shuffle_buffer: int = 8192,
                 remainder: str = "drop", drop_last: bool = False, pad_to_multiple_of: int | None = None,
                 position_ids: bool = False, document_attention: str | None = None, return_keys: bool = False,
                 dynamic: bool = False,
                 tokenizer: str | None = None, objective: str | None = None, expected_tokenizer: str | None = None,
                 rank: int | None = None, world_size: int | None = None, verify_footers: bool = True,
                 verify: str = "sha256", filesystem: FileSystemArg = None) -> None:
        super().__init__()
        if max_tokens is None and batch_size is None:
            raise ValueError("PairStream: pass batch_size (rows per batch) or max_tokens (padded tokens per batch).")
        if max_tokens is not None and (drop_last or not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"PairStream: max_tokens={max_tokens!r} must be an integer >= 1 and cannot be "
                             "combined with drop_last (token batches have no fixed size to fall short of).")
        if verify not in VERIFY_MODES:
            raise ValueError(f"PairStream: verify={verify!r}; choose one of {', '.join(VERIFY_MODES)}.")
        found = open_split(path, split, objective=objective, expected_tokenizer=expected_tokenizer,
                           verify_footers=verify_footers, verify=verify, filesystem=filesystem)
        self.filesystem = filesystem
        self.path, self.split, self.manifest = path, split, found.manifest
        self.identity = found.identity
        self.objective = found.manifest.objective
        if position_ids and self.objective != "clm":
            raise ValueError(f"position_ids=True: only CLM rows record documents; {path} holds {self.objective}.")
        if check_document_attention(document_attention) is not None and self.objective != "clm":
            raise ValueError(f"document_attention={document_attention!r}: only CLM rows record documents; {path} "
                             f"holds {self.objective}.")
        self.rank, self.world_size = _world(rank, world_size)
        self.seed, self.max_tokens, self.return_keys = int(seed), max_tokens, return_keys
        self.max_rows = batch_size if max_tokens is not None else None
        self.options = PlanOptions(shuffle=shuffle, shuffle_buffer=shuffle_buffer, remainder=remainder,
                                   batch_size=None if max_tokens is not None else batch_size, drop_last=drop_last)
        self.spec = CollateSpec(pad_id=special_id(found.manifest, "pad", found.where),
                                eos_id=special_id(found.manifest, "eos", found.where),
                                pad_to_multiple_of=pad_to_multiple_of, position_ids=position_ids,
                                document_attention=document_attention)
        self.units = list_units(found.shards, paths=found.paths, where=found.where)
        self.reader = ShardReader(path, found.shards, self.units, objective=self.objective,
                                  columns=needed_columns(self.objective, self.spec), keys=return_keys or dynamic,
                                  vocab_size=found.manifest.tokenizer["vocab_size"], verify=verify,
                                  filesystem=filesystem)
        self.dynamic = self._dynamic(tokenizer, found.where) if dynamic else None
        warm_arrow_to_numpy()
        self._log_plan()

    def _dynamic(self, tokenizer: str | None, where: str) -> DynamicCorruption:
        from lmpairs.tokenizers import Tokenizer  # sentencepiece only when re-corrupting

        if tokenizer is None:
            raise ValueError("dynamic=True needs tokenizer=PATH (the .model the shards were built with) to rebuild "
                             "the vocabulary the transforms use.")
        with local_copy(tokenizer, self.filesystem if is_url(tokenizer) else None) as local:
            loaded = Tokenizer.load(local)
        if loaded.sha256 != self.manifest.tokenizer.get("sha256"):
            raise ValueError(f"{where}: written with tokenizer {str(self.manifest.tokenizer.get('sha256'))[:12]}, "
                             f"but tokenizer={tokenizer} is {loaded.sha256[:12]}; pass the tokenizer the shards "
                             "were built with.")
        return DynamicCorruption(objective=self.objective, config=objective_config(self.manifest),
                                 vocab=loaded.vocab, seed=self.manifest.seed)

    def _log_plan(self) -> None:
        extra = self.remainder_examples
        what = (f"{extra} examples skipped per epoch" if self.remainder == "drop" else f"{extra} examples repeated")
        logger.info("PairStream %s[%s]: %d rows in %d row groups; rank %d/%d reads %d (remainder=%s: %s)",
                    self.path, self.split, self.num_rows, len(self.units), self.rank, self.world_size,
                    self.examples_per_rank, self.remainder, what)

    # -- plan facts ---------------------------------------------------------------------------
    @property
    def num_rows(self) -> int:
        return self.units.total_rows

    @property
    def remainder(self) -> str:
        """``"drop"`` or ``"pad"``: what happens to rows that do not divide evenly among ranks."""
        return self.options.remainder

    @property
    def examples_per_rank(self) -> int:
        return rank_size(self.num_rows, self.world_size, self.options.remainder)

    @property
    def remainder_examples(self) -> int:
        """Examples skipped (drop) or repeated (pad) per epoch across all ranks."""
        return abs(self.num_rows - self.examples_per_rank * self.world_size)

    @property
    def dynamic_passed_through(self) -> int:
        """Rows dynamic corruption left unchanged (too long), summed over workers since creation."""
        return self._position.passed

    def __len__(self) -> int:
        if self.options.batch_size is None:
            raise TypeError("len(PairStream) is unknown with max_tokens: token batches are cut after reading.")
        return rank_num_batches(self.num_rows, world_size=self.world_size, options=self.options)

    def fingerprint(self, num_workers: int) -> dict[str, Any]:
        """What fixes the batch order; a saved state only resumes a loader with the same values."""
        return {"objective": self.objective, "split": self.split, "num_rows": self.num_rows,
                "num_units": len(self.units), "seed": self.seed, "world_size": self.world_size,
                "num_workers": max(1, num_workers), "batch_size": self.options.batch_size,
                "max_tokens": self.max_tokens, "max_rows": self.max_rows, "shuffle": self.options.shuffle,
                "shuffle_buffer": self.options.shuffle_buffer, "remainder": self.options.remainder,
                "drop_last": self.options.drop_last, "pad_to_multiple_of": self.spec.pad_to_multiple_of,
                "dynamic": self.dynamic is not None}

    def _max_batches(self, epoch: int, num_workers: int) -> list[int]:
        """The most batches each logical worker can yield in ``epoch`` (token batches: its rows)."""
        limits = []
        for worker in range(num_workers):
            plan = plan_epoch(self.units.num_rows, seed=self.seed, epoch=epoch, rank=self.rank,
                              world_size=self.world_size, worker=worker, num_workers=num_workers,
                              options=self.options)
            limits.append(plan.num_batches if self.options.batch_size is not None
                          else sum(w.size for w in plan.windows))
        return limits

    # -- iteration ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker, num_workers, skip, in_worker, tagged = self._start_iteration()
        plan = plan_epoch(self.units.num_rows, seed=self.seed, epoch=self._position.epoch, rank=self.rank,
                          world_size=self.world_size, worker=worker, num_workers=num_workers, options=self.options)
        return self._generate(plan, worker, skip, in_worker=in_worker, tagged=tagged)

    def _window_batches(self, plan: EpochPlan, window: Window, worker: int) -> tuple[WindowRows, list[np.ndarray]]:
        rows = self.reader.read(plan.segments(window))
        if self.dynamic is not None:
            rows, passed = self.dynamic.apply(rows, epoch=plan.epoch)
            self._position.add_passed(worker, passed)
        order = plan.order(window)
        if self.options.batch_size is not None:
            size = self.options.batch_size
            return rows, [order[s:s + size] for s in plan.batch_starts(window)]
        lengths = example_lengths(self.objective, rows.columns)
        return rows, token_batches(lengths, order, max_tokens=self.max_tokens, max_rows=self.max_rows,
                                   multiple=self.spec.pad_to_multiple_of, rng=plan.batch_rng(window))

    def _generate(self, plan: EpochPlan, worker: int, skip: int, *, in_worker: bool,
                  tagged: bool) -> Iterator[dict]:
        """Batches of one worker, after skipping ``skip`` it already yielded (whole windows unread)."""
        first, offset = plan.skip(skip) if self.options.batch_size is not None else (0, skip)
        collate = COLLATORS[self.objective]
        for window in plan.windows[first:]:
            rows, batches = self._window_batches(plan, window, worker)
            if offset >= len(batches):  # token batches: counted only after reading the window
                offset -= len(batches)
                continue
            for rows_index in batches[offset:]:
                arrays = collate(rows.columns, rows_index, self.spec)
                if self.return_keys:
                    arrays["example_key"] = rows.keys[rows_index].view(np.int64)
                batch: dict = batch_tensors(arrays, pack=in_worker)
                if tagged:
                    batch[WORKER_KEY] = worker  # a plain int: no shared-memory segment of its own
                else:
                    self._position.delivered(0, 1)
                yield batch
            offset = 0
