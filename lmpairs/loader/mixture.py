"""``PairMixture``: batches drawn from several built directories of one model family at chosen rates.

Usage (like :class:`~lmpairs.loader.PairStream`; one process per GPU)::

    mix = PairMixture([("out/web/clm", 0.6), ("out/code/clm", 0.3), ("out/books/clm", 0.1)],
                      batch_size=32, seed=0)                       # mode="proportion"
    loader = mix.make_loader(num_workers=2, pin_memory=True, persistent_workers=True)
    for epoch in range(loader.epoch, num_epochs):
        loader.set_epoch(epoch)
        for batch in loader:                                       # batch["source"] with return_source=True
            ...                                                    # checkpoint["loader"] = loader.state_dict()

``mode="proportion"``: weights are shares of an epoch of ``num_examples`` examples (default: the
sources' rows together); a source smaller than its share is repeated (whole passes plus a part),
a larger one subsampled, as mosaic streaming's ``proportion``. ``mode="count"``: weights are the
examples each source gives per epoch (mosaic's ``choose``); a count equal to a source's rows
reads each of its rows exactly once. The epoch plan is :mod:`lmpairs.loader.mixplan`: a pure
function of ``(seed, epoch)``, equal batch counts on every rank, exact mid-epoch resume through
``state_dict()``/``load_state_dict()`` (the same position protocol as ``PairStream``).
``per_source=True`` makes every batch come from one source (rows shuffled within each source, the
batches' order shuffled); otherwise batches mix sources in proportion.

Each source is read through a ``PairStream`` of its own (validation, units, reader, collation), so
every check and storage option of a single stream applies; the sources must share the model family
(decoder, encoder, encoder-decoder), the tokenizer (sha256) and the effective vocabulary size, else
:class:`MixtureError`. Mixed batches need one objective; T5 and BART sources (one family, different
decoder starts) mix with ``per_source=True``.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lmpairs.errors import UserError
from lmpairs.loader.collate import batch_tensors
from lmpairs.loader.dataset import PairStream
from lmpairs.loader.mixplan import MixOptions, MixturePlan, apportion, epoch_draws, plan_mixture
from lmpairs.loader.ragged import Ragged
from lmpairs.loader.resumable import Resumable
from lmpairs.loader.shard_reader import WindowRows
from lmpairs.loader.state import WORKER_KEY

logger = logging.getLogger(__name__)

MODES = ("proportion", "count")


class MixtureError(UserError):
    """Sources that cannot be mixed, or weights that make no epoch; the message names the fix."""


def parse_source(text: str) -> tuple[str, float]:
    """``PATH:WEIGHT`` (the CLI's ``--data``) -> ``(path, weight)``; a bare ``PATH`` weighs 1.

    The weight is what follows the last ``:``, so URLs (``s3://…``) keep their scheme.
    """
    path, sep, weight = text.rpartition(":")
    if sep and path and "/" not in weight:
        try:
            return path, float(weight)
        except ValueError as err:
            raise MixtureError(f"--data {text!r}: the weight after the last ':' is not a number; write "
                               "PATH:WEIGHT, e.g. out/web/clm:0.7.") from err
    return text, 1.0


def _world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """This process's ``(rank, world_size)``: given, else torch.distributed's, else ``(0, 1)``."""
    if rank is None and world_size is None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    rank, world_size = rank or 0, world_size or 1
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank}, world_size={world_size}: need 0 <= rank < world_size.")
    return rank, world_size


def _concat(parts: Sequence[Ragged]) -> Ragged:
    values = np.concatenate([p.values for p in parts])
    sizes = np.concatenate([p.lengths for p in parts])
    offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return Ragged(values, offsets)


class PairMixture(Resumable):
    """Collated batches from several sources at chosen rates; see the module docs.

    ``sources``: ``[(path, weight), ...]``. ``return_source`` adds ``source`` (int64, one per row:
    the index into ``sources``). ``stream_options`` (``verify``, ``filesystem``,
    ``expected_tokenizer``, ``document_attention``, ``pad_to_multiple_of``, ...) go to each source's
    ``PairStream``.
    """

    def __init__(self, sources: Sequence[tuple[str, float]], split: str = "train", *, batch_size: int,
                 mode: str = "proportion", num_examples: int | None = None, per_source: bool = False,
                 shuffle: bool = True, seed: int = 0, shuffle_buffer: int = 8192, drop_last: bool = False,
                 return_keys: bool = False, return_source: bool = False, rank: int | None = None,
                 world_size: int | None = None, **stream_options: Any) -> None:
        super().__init__()
        if mode not in MODES:
            raise MixtureError(f"PairMixture: mode={mode!r}; choose 'proportion' (weights are shares of the epoch) "
                               "or 'count' (weights are examples per epoch).")
        if not sources:
            raise MixtureError("PairMixture: no sources; pass [(path, weight), ...].")
        unsupported = sorted(set(stream_options) & {"max_tokens", "remainder"})
        if unsupported:
            raise MixtureError(f"PairMixture: {', '.join(unsupported)} are PairStream options a mixture does not take "
                               "(its batches have batch_size rows; the epoch's last quanta that do not divide "
                               "among ranks are dropped).")
        self.paths = [str(p) for p, _ in sources]
        self.weights = [w for _, w in sources]
        self.mode, self.split = mode, split
        self.rank, self.world_size = _world(rank, world_size)
        self.seed, self.return_keys, self.return_source = int(seed), return_keys, return_source
        self.options = MixOptions(batch_size=batch_size, shuffle=shuffle, shuffle_buffer=shuffle_buffer,
                                  drop_last=drop_last, per_source=per_source)
        self.streams = [PairStream(p, split, batch_size=batch_size, shuffle=False, seed=seed, rank=0, world_size=1,
                                   return_keys=return_keys, **stream_options) for p in self.paths]
        self._check_sources()
        self.objective, self.manifest = self.streams[0].objective, self.streams[0].manifest
        self.format = self.streams[0].format  # every source's (checked above)
        self.draws = self._draws(num_examples)
        self.quanta = [self.options.quanta(d) for d in self.draws]
        if sum(self.quanta) // self.world_size == 0:
            raise MixtureError(f"PairMixture: {sum(self.draws)} examples per epoch ({sum(self.quanta)} quanta) give "
                               f"rank {self.rank} of {self.world_size} nothing; raise the weights or num_examples.")
        self.identity = self._identity()
        logger.info("PairMixture %s", self.describe())

    # -- sources ------------------------------------------------------------------------------
    def _check_sources(self) -> None:
        first = self.streams[0]

        def facts(stream: PairStream) -> tuple:
            tokenizer = stream.manifest.tokenizer
            return stream.format.name, tokenizer.get("sha256"), tokenizer.get("vocab_size")

        want = facts(first)
        for path, stream in zip(self.paths[1:], self.streams[1:]):
            got = facts(stream)
            for name, a, b in zip(("batch format", "tokenizer sha256", "vocab_size"), want, got):
                if a != b:
                    raise MixtureError(f"PairMixture: {path} has {name} {str(b)[:16]!r}, but {self.paths[0]} has "
                                       f"{str(a)[:16]!r}; mix only directories built for one model family with the "
                                       "same tokenizer (rebuild the odd one with the same --tokenizer).")
            if stream.objective != first.objective and not self.options.per_source:
                raise MixtureError(f"PairMixture: {path} holds {stream.objective}, {self.paths[0]} {first.objective}: "
                                   "one batch can mix rows of one objective only (they collate differently); pass "
                                   "per_source=True to give each batch rows of one source.")
            if stream.spec != first.spec:
                raise MixtureError(f"PairMixture: {path} collates with {stream.spec}, {self.paths[0]} with "
                                   f"{first.spec}; their special ids differ: rebuild with the same tokenizer.")

    def _draws(self, num_examples: int | None) -> list[int]:
        bad = [w for w in self.weights if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0]
        if bad or not any(self.weights):
            raise MixtureError(f"PairMixture: weights {self.weights}: need numbers >= 0, not all 0.")
        if self.mode == "count":
            if any(int(w) != w for w in self.weights) or num_examples is not None:
                raise MixtureError(f"PairMixture: mode='count' takes whole example counts as weights (got "
                                   f"{self.weights}) and no num_examples (the counts add up to the epoch).")
            return [int(w) for w in self.weights]
        total = sum(s.num_rows for s in self.streams) if num_examples is None else num_examples
        if not isinstance(total, int) or total < 1:
            raise MixtureError(f"PairMixture: num_examples={num_examples!r}: must be an integer >= 1.")
        return apportion(total, self.weights)

    def _identity(self) -> str:
        parts = [[s.identity, w] for s, w in zip(self.streams, self.weights)]
        return "mixture:" + hashlib.sha256(json.dumps([self.mode, parts]).encode()).hexdigest()[:32]

    # -- plan facts ---------------------------------------------------------------------------
    @property
    def world_draws(self) -> list[int]:
        """Examples each source gives per epoch over all ranks (the dropped tail quanta excluded)."""
        return epoch_draws(self.quanta, self.draws, options=self.options, world_size=self.world_size)

    def source_counts(self) -> list[dict[str, Any]]:
        """Per source: path, weight, rows, examples drawn per epoch (all ranks), their share and passes.

        The counts are the same every epoch (only which rows and their order change with it)."""
        drawn = self.world_draws
        total = max(1, sum(drawn))
        return [{"source": i, "path": s.path, "weight": w, "rows": s.num_rows, "examples": d,
                 "share": d / total, "passes": d / s.num_rows}
                for i, (s, w, d) in enumerate(zip(self.streams, self.weights, drawn))]

    def describe(self) -> str:
        """One log line: each source's examples per epoch, share and passes over its rows."""
        parts = [f"{c['path']}: {c['examples']} of {c['rows']} rows ({100 * c['share']:.1f}%, "
                 f"{c['passes']:.2f} passes)" for c in self.source_counts()]
        dropped = sum(self.draws) - sum(self.world_draws)
        return (f"{self.objective}[{self.split}] mode={self.mode}, {len(self)} batches per rank "
                f"({self.world_size} ranks), {dropped} examples dropped per epoch; " + "; ".join(parts))

    @property
    def path(self) -> str:
        """The sources' paths joined by ``+`` (names the mixture in messages)."""
        return "+".join(self.paths)

    @property
    def examples_per_rank(self) -> int:
        """Examples one rank reads per epoch (the same on every rank)."""
        return sum(sum(w.sizes) for w in self._plan(self._position.epoch, 0, 1).windows)

    def __len__(self) -> int:
        return self._plan(self._position.epoch, 0, 1).num_batches

    def fingerprint(self, num_workers: int) -> dict[str, Any]:
        """What fixes the batch order; a saved state only resumes a mixture with the same values."""
        return {"objective": self.objective, "split": self.split, "mode": self.mode, "draws": list(self.draws),
                "rows": [s.num_rows for s in self.streams], "seed": self.seed, "world_size": self.world_size,
                "num_workers": max(1, num_workers), "batch_size": self.options.batch_size,
                "per_source": self.options.per_source, "shuffle": self.options.shuffle,
                "shuffle_buffer": self.options.shuffle_buffer, "drop_last": self.options.drop_last}

    def _plan(self, epoch: int, worker: int, num_workers: int) -> MixturePlan:
        return plan_mixture([s.units.num_rows for s in self.streams], self.draws, seed=self.seed, epoch=epoch,
                            rank=self.rank, world_size=self.world_size, worker=worker, num_workers=num_workers,
                            options=self.options)

    # -- epochs and resumption (the Resumable protocol, so PairLoader drives it like a PairStream) --
    def set_epoch(self, epoch: int) -> None:
        if self._position.pending_epoch != epoch and epoch != self._position.epoch:
            logger.info("PairMixture epoch %d: %s", epoch, "; ".join(
                f"{c['path']} {c['examples']} examples ({100 * c['share']:.1f}%)" for c in self.source_counts()))
        super().set_epoch(epoch)

    def _max_batches(self, epoch: int, num_workers: int) -> list[int]:
        return [self._plan(epoch, w, num_workers).num_batches for w in range(num_workers)]

    # -- iteration ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker, num_workers, skip, in_worker, tagged = self._start_iteration()
        plan = self._plan(self._position.epoch, worker, num_workers)
        return self._generate(plan, worker, skip, in_worker=in_worker, tagged=tagged)

    def _read(self, plan: MixturePlan, window) -> list[WindowRows | None]:
        """Each source's rows of the window (None where it has none), re-corrupted if dynamic."""
        parts = []
        for stream, source, (a, b) in zip(self.streams, plan.sources, window.parts):
            rows = stream.reader.read(source.segments(a, b)) if b > a else None
            if rows is not None and stream.dynamic is not None:
                rows, _ = stream.dynamic.apply(rows, epoch=plan.epoch)  # a repeat within an epoch: same draws
            parts.append(rows)
        return parts

    def _generate(self, plan: MixturePlan, worker: int, skip: int, *, in_worker: bool,
                  tagged: bool) -> Iterator[dict]:
        first, offset = plan.skip(skip)
        collators = [(s.collate, s.spec) for s in self.streams]
        for window in plan.windows[first:]:
            parts = self._read(plan, window)
            present = [p for p in parts if p is not None]
            starts = np.concatenate([[0], np.cumsum(window.sizes)]).astype(np.int64)
            merged = None if self.options.per_source else {
                name: _concat([p.columns[name] for p in present]) for name in present[0].columns}
            labels = np.repeat(np.arange(len(parts), dtype=np.int64), window.sizes)
            keys = np.concatenate([p.keys for p in present]) if self.return_keys else None
            for source, rows in plan.batches(window)[offset:]:
                if source < 0:  # mixed: one objective (checked), its rows merged
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
                    batch[WORKER_KEY] = worker
                else:
                    self._position.delivered(0, 1)
                yield batch
            offset = 0
