"""``PairStream``: a torch ``IterableDataset`` that streams an lmpairs split as ready batches.

Usage (one process per GPU; ``torch.distributed`` initialized first, or pass rank/world_size)::

    stream = PairStream("out/clm", batch_size=32, shuffle_seed=0)
    loader = stream.make_loader(num_workers=2, pin_memory=True, persistent_workers=True)
    loader.load_state_dict(checkpoint["loader"])          # optional: exact mid-epoch resume
    for epoch in range(loader.epoch, num_epochs):
        loader.set_epoch(epoch)                           # keeps a loaded position for its epoch
        for batch in loader:
            ...                                           # checkpoint["loader"] = loader.state_dict()

Each epoch follows :mod:`lmpairs.loader.plan`: every rank yields ``len(stream)`` batches made of
its own examples (each read once, or a few repeated under ``remainder="pad"``), independent of the
other ranks. ``max_tokens`` batches (variable-length seq2seq) are cut per window after reading, so
ranks can differ in count; :class:`~lmpairs.loader.pair_loader.PairLoader` then keeps ranks in
lockstep and ends the epoch at the smallest count.

A ``PairStream`` is the mixture of its one source (:class:`~lmpairs.loader.base.SourceDataset`:
one reading, skipping and batch generation for both); only its plan is its own.

Resume state has one home, the stream's :class:`~lmpairs.loader.position.Position`, and one API,
``state_dict()`` / ``load_state_dict()`` (torchdata's ``Stateful`` protocol; the loader's are the
stream's; :mod:`lmpairs.loader.resume`). Iterated directly, the stream counts the batches it
yields; under ``make_loader`` workers run ahead of the trainer, so the loader hands each batch
through ``count_delivered``, which counts it when the caller gets it. A state of another shape
(ranks, workers, batch size) resumes elastically (:mod:`lmpairs.loader.elastic`).
``example(i)`` reads row ``i`` of the side directly (random access).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from lmpairs.deprecation import renamed
from lmpairs.loader.base import SourceDataset, resolve_world
from lmpairs.loader.budget import token_batches
from lmpairs.loader.elastic import Stage, remaining_positions
from lmpairs.loader.plan import EpochPlan, PlanOptions, Window, plan_epoch, rank_num_batches, rank_size
from lmpairs.loader.shard_reader import WindowRows, warm_arrow_to_numpy
from lmpairs.loader.source import Source, objective_config
from lmpairs.schemas.storage import FileSystemArg

logger = logging.getLogger(__name__)

__all__ = ["PairStream", "objective_config"]


class PairStream(SourceDataset):
    """Collated batches of one side of ``OUT/<objective>`` (local path or URL); see module docs.

    ``side``: ``"train"`` or ``"validation"``. ``batch_size`` rows per batch, or ``max_tokens``
    padded tokens per batch (``batch_size`` then caps the rows). ``shuffle_seed`` seeds the unit
    and window orders; ``shuffle_buffer`` examples are shuffled at a time (rounded up to whole
    batches). ``remainder``: ``"drop"`` or ``"pad"`` when the rows do not divide evenly among ranks.
    ``document_attention`` (CLM): ``"position_ids"``, ``"cu_seqlens"`` or ``"block_mask"`` adds
    per-document attention inputs (:mod:`lmpairs.loader.documents`); ``position_ids=True`` is the first.
    ``dynamic=True`` re-corrupts rows per epoch with the build's seed (from the manifest) and needs
    ``tokenizer`` (the ``.model`` file).
    ``batch_format``: the model-side layout (:mod:`lmpairs.loader.formats`; default: the objective's
    declared ``family``), e.g. ``"encoder-decoder"`` to read prefix-LM rows as T5-style pairs.
    ``objective`` / ``expected_tokenizer`` (path or sha256) make the manifest check what you expect.
    ``return_keys`` adds ``example_key`` (the uint64 keys' bits as int64; pop it before
    ``model(**batch)``). ``verify``: ``"sha256"`` (each shard hashed on first open), ``"size"`` or
    ``"none"`` (see :mod:`lmpairs.loader.shard_reader`). ``filesystem``: a ``pyarrow.fs.FileSystem`` or a dict of
    its options (endpoint, credentials) for URLs of the dataset and of ``tokenizer``.
    ``split=`` and ``seed=`` are the deprecated names of ``side`` and ``shuffle_seed`` (one release).
    """

    def __init__(self, path: str, side: str = "train", *, batch_size: int | None = None,
                 max_tokens: int | None = None, shuffle: bool = True, shuffle_seed: int = 0,
                 shuffle_buffer: int = 8192, remainder: str = "drop", drop_last: bool = False,
                 pad_to_multiple_of: int | None = None, position_ids: bool = False,
                 document_attention: str | None = None, return_keys: bool = False, dynamic: bool = False,
                 batch_format: str | None = None,
                 tokenizer: str | None = None, objective: str | None = None, expected_tokenizer: str | None = None,
                 rank: int | None = None, world_size: int | None = None, verify_footers: bool = True,
                 verify: str = "sha256", filesystem: FileSystemArg = None, split: str | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        side = renamed("PairStream", "split", split, "side", side, "train")
        shuffle_seed = renamed("PairStream", "seed", seed, "shuffle_seed", shuffle_seed, 0)
        if max_tokens is None and batch_size is None:
            raise ValueError("PairStream: pass batch_size (rows per batch) or max_tokens (padded tokens per batch).")
        if max_tokens is not None and (drop_last or not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"PairStream: max_tokens={max_tokens!r} must be an integer >= 1 and cannot be "
                             "combined with drop_last (token batches have no fixed size to fall short of).")
        source = Source(path, side, keys=return_keys, pad_to_multiple_of=pad_to_multiple_of,
                        position_ids=position_ids, document_attention=document_attention, dynamic=dynamic,
                        batch_format=batch_format,
                        tokenizer=tokenizer, objective=objective, expected_tokenizer=expected_tokenizer,
                        verify_footers=verify_footers, verify=verify, filesystem=filesystem)
        self.sources = [source]
        self.filesystem, self.path, self.side, self.manifest = filesystem, path, side, source.manifest
        self.identity, self.objective, self.spec = source.identity, source.objective, source.spec
        self.format = source.format
        self.units, self.reader, self.dynamic = source.units, source.reader, source.dynamic
        self.rank, self.world_size = resolve_world(rank, world_size)
        self.shuffle_seed, self.max_tokens, self.return_keys = int(shuffle_seed), max_tokens, return_keys
        self.max_rows = batch_size if max_tokens is not None else None
        self.options = PlanOptions(shuffle=shuffle, shuffle_buffer=shuffle_buffer, remainder=remainder,
                                   batch_size=None if max_tokens is not None else batch_size, drop_last=drop_last)
        self._rest_cache: tuple | None = None
        warm_arrow_to_numpy()
        self._log_plan()

    def _log_plan(self) -> None:
        extra = self.remainder_examples
        what = (f"{extra} examples skipped per epoch" if self.remainder == "drop" else f"{extra} examples repeated")
        logger.info("PairStream %s[%s]: %d rows in %d row groups; rank %d/%d reads %d (remainder=%s: %s)",
                    self.path, self.side, self.num_rows, len(self.units), self.rank, self.world_size,
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
    def num_examples(self) -> int:
        """Examples (rows) of the side, all ranks together: the indices :meth:`example` takes."""
        return self.num_rows

    def example(self, index: int) -> dict[str, Any]:
        """Row ``index`` of the side as stored (``example_key`` and the int32 list columns), read
        directly through the shard index; negative indices count from the end. Not re-corrupted
        under ``dynamic=True``, and independent of rank, shuffle and epoch."""
        return self.sources[0].example(index)

    def examples(self) -> Examples:
        """A map-style view (``len`` = :attr:`num_examples`, ``view[i]`` = :meth:`example`)."""
        return Examples(self)

    def __len__(self) -> int:
        """Batches this rank yields per epoch (what a training loop counts; :attr:`num_examples`
        counts rows). Unknown with ``max_tokens``: a TypeError."""
        if self.options.batch_size is None:
            raise TypeError("len(PairStream) is unknown with max_tokens: token batches are cut after reading.")
        return rank_num_batches(self.num_rows, world_size=self.world_size, options=self.options)

    def fingerprint(self, num_workers: int) -> dict[str, Any]:
        """What fixes the batch order; a saved state only resumes a loader with the same values."""
        return {"objective": self.objective, "split": self.side, "num_rows": self.num_rows,
                "num_units": len(self.units), "seed": self.shuffle_seed, "world_size": self.world_size,
                "num_workers": max(1, num_workers), "batch_size": self.options.batch_size,
                "max_tokens": self.max_tokens, "max_rows": self.max_rows, "shuffle": self.options.shuffle,
                "shuffle_buffer": self.options.shuffle_buffer, "remainder": self.options.remainder,
                "drop_last": self.options.drop_last, "pad_to_multiple_of": self.spec.pad_to_multiple_of,
                "dynamic": self.dynamic is not None}

    def _plan(self, epoch: int, worker: int, num_workers: int, stages: tuple[Stage, ...] | None = None) -> EpochPlan:
        stages = self._position.stages() if stages is None else stages
        return plan_epoch(self.units.num_rows, seed=self.shuffle_seed, epoch=epoch, rank=self.rank,
                          world_size=self.world_size, worker=worker, num_workers=num_workers, options=self.options,
                          positions=self._remaining(epoch, stages) if stages else None)

    def _remaining(self, epoch: int, stages: tuple[Stage, ...]) -> np.ndarray:
        """The positions an elastically resumed epoch has left (cached: every worker start asks)."""
        key = (epoch, stages)
        if self._rest_cache is None or self._rest_cache[0] != key:
            rest = remaining_positions(self.units.num_rows, stages, seed=self.shuffle_seed, epoch=epoch,
                                       options=self.options)
            self._rest_cache = (key, rest)
        return self._rest_cache[1]

    def _elastic_refusal(self) -> str | None:
        if self.options.batch_size is None:
            return "max_tokens batches are cut after reading, so their positions cannot be recomputed"
        return None

    def _elastic_remainder(self, epoch: int, stages: tuple[Stage, ...]) -> str:
        left = int(self._remaining(epoch, stages).shape[0])
        extra = abs(rank_size(left, self.world_size, self.remainder) * self.world_size - left)
        if not extra:
            return ""
        what = "skipped" if self.remainder == "drop" else "repeated"
        return (f"; {extra} of the {left} examples left do not divide among {self.world_size} ranks and are {what} "
                f"(remainder={self.remainder!r})")

    def _max_batches(self, epoch: int, num_workers: int, stages: tuple[Stage, ...] = ()) -> list[int]:
        """The most batches each logical worker can yield in ``epoch`` (token batches: its rows)."""
        plans = [self._plan(epoch, worker, num_workers, stages) for worker in range(num_workers)]
        if self.options.batch_size is not None:
            return [plan.num_batches for plan in plans]
        return [sum(w.size for w in plan.windows) for plan in plans]

    def _window_batches(self, plan: EpochPlan, window: Window,
                        parts: list[WindowRows | None]) -> list[tuple[int, np.ndarray]]:
        if self.options.batch_size is not None:
            return plan.batches(window)
        lengths = self.format.example_lengths(parts[0].columns)
        cut = token_batches(lengths, plan.order(window), max_tokens=self.max_tokens, max_rows=self.max_rows,
                            multiple=self.spec.pad_to_multiple_of, rng=plan.batch_rng(window))
        return [(-1, rows) for rows in cut]


class Examples(Dataset):
    """Map-style view of a stream's side: ``len(view)`` examples, ``view[i]`` row ``i`` as stored."""

    def __init__(self, stream: PairStream) -> None:
        self.stream = stream

    def __len__(self) -> int:
        return self.stream.num_examples

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.stream.example(index)
