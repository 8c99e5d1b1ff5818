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

Each source is opened as a :class:`~lmpairs.loader.source.Source` (validation, units, reader,
collation spec), as a ``PairStream``'s one source is, so every check and storage option of a single
stream applies; both are read, skipped and batched by :class:`~lmpairs.loader.base.SourceDataset`.
The sources must share the model family (decoder, encoder, encoder-decoder), the tokenizer
(sha256) and the effective vocabulary size, else :class:`MixtureError`. Mixed batches need one
objective; T5 and BART sources (one family, different decoder starts) mix with ``per_source=True``.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from lmpairs.deprecation import renamed
from lmpairs.errors import UserError
from lmpairs.loader.base import SourceDataset, resolve_world
from lmpairs.loader.mixplan import MixOptions, MixturePlan, apportion, epoch_draws, plan_mixture
from lmpairs.loader.source import Source

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


class PairMixture(SourceDataset):
    """Collated batches from several sources at chosen rates; see the module docs.

    ``sources``: ``[(path, weight), ...]``; ``side``: ``"train"`` or ``"validation"``.
    ``shuffle_seed`` seeds the draws and the shuffle. ``return_source`` adds ``source`` (int64, one
    per row: the index into ``sources``). ``stream_options`` (``verify``, ``filesystem``,
    ``expected_tokenizer``, ``document_attention``, ``pad_to_multiple_of``, ...) open each source
    as ``PairStream`` does. ``split=`` and ``seed=`` are the deprecated names of ``side`` and
    ``shuffle_seed``.
    """

    def __init__(self, sources: Sequence[tuple[str, float]], side: str = "train", *, batch_size: int,
                 mode: str = "proportion", num_examples: int | None = None, per_source: bool = False,
                 shuffle: bool = True, shuffle_seed: int = 0, shuffle_buffer: int = 8192, drop_last: bool = False,
                 return_keys: bool = False, return_source: bool = False, rank: int | None = None,
                 world_size: int | None = None, split: str | None = None, seed: int | None = None,
                 **stream_options: Any) -> None:
        super().__init__()
        side = renamed("PairMixture", "split", split, "side", side, "train")
        shuffle_seed = renamed("PairMixture", "seed", seed, "shuffle_seed", shuffle_seed, 0)
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
        self.mode, self.side = mode, side
        self.rank, self.world_size = resolve_world(rank, world_size, "PairMixture")
        self.shuffle_seed, self.return_keys, self.return_source = int(shuffle_seed), return_keys, return_source
        self.options = MixOptions(batch_size=batch_size, shuffle=shuffle, shuffle_buffer=shuffle_buffer,
                                  drop_last=drop_last, per_source=per_source)
        self.sources = [Source(p, side, keys=return_keys, **stream_options) for p in self.paths]
        self._check_sources()
        self.objective, self.manifest = self.sources[0].objective, self.sources[0].manifest
        self.format = self.sources[0].format  # every source's (checked above)
        self.draws = self._draws(num_examples)
        self.quanta = [self.options.quanta(d) for d in self.draws]
        if sum(self.quanta) // self.world_size == 0:
            raise MixtureError(f"PairMixture: {sum(self.draws)} examples per epoch ({sum(self.quanta)} quanta) give "
                               f"rank {self.rank} of {self.world_size} nothing; raise the weights or num_examples.")
        self.identity = self._identity()
        logger.info("PairMixture %s", self.describe())

    # -- sources ------------------------------------------------------------------------------
    def _check_sources(self) -> None:
        first = self.sources[0]

        def facts(stream: Source) -> tuple:
            tokenizer = stream.manifest.tokenizer
            return stream.format.name, tokenizer.get("sha256"), tokenizer.get("vocab_size")

        want = facts(first)
        for path, stream in zip(self.paths[1:], self.sources[1:]):
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
        total = sum(s.num_rows for s in self.sources) if num_examples is None else num_examples
        if not isinstance(total, int) or total < 1:
            raise MixtureError(f"PairMixture: num_examples={num_examples!r}: must be an integer >= 1.")
        return apportion(total, self.weights)

    def _identity(self) -> str:
        parts = [[s.identity, w] for s, w in zip(self.sources, self.weights)]
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
                for i, (s, w, d) in enumerate(zip(self.sources, self.weights, drawn))]

    def describe(self) -> str:
        """One log line: each source's examples per epoch, share and passes over its rows."""
        parts = [f"{c['path']}: {c['examples']} of {c['rows']} rows ({100 * c['share']:.1f}%, "
                 f"{c['passes']:.2f} passes)" for c in self.source_counts()]
        dropped = sum(self.draws) - sum(self.world_draws)
        return (f"{self.objective}[{self.side}] mode={self.mode}, {len(self)} batches per rank "
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
        return {"objective": self.objective, "split": self.side, "mode": self.mode, "draws": list(self.draws),
                "rows": [s.num_rows for s in self.sources], "seed": self.shuffle_seed, "world_size": self.world_size,
                "num_workers": max(1, num_workers), "batch_size": self.options.batch_size,
                "per_source": self.options.per_source, "shuffle": self.options.shuffle,
                "shuffle_buffer": self.options.shuffle_buffer, "drop_last": self.options.drop_last}

    def _plan(self, epoch: int, worker: int, num_workers: int) -> MixturePlan:
        return plan_mixture([s.units.num_rows for s in self.sources], self.draws, seed=self.shuffle_seed, epoch=epoch,
                            rank=self.rank, world_size=self.world_size, worker=worker, num_workers=num_workers,
                            options=self.options)

    # -- epochs and resumption (the Resumable protocol, so PairLoader drives it like a PairStream) --
    def set_epoch(self, epoch: int) -> None:
        if self._position.pending_epoch != epoch and epoch != self._position.epoch:
            logger.info("PairMixture epoch %d: %s", epoch, "; ".join(
                f"{c['path']} {c['examples']} examples ({100 * c['share']:.1f}%)" for c in self.source_counts()))
        super().set_epoch(epoch)

    def _max_batches(self, epoch: int, num_workers: int, stages: tuple = ()) -> list[int]:
        return [self._plan(epoch, w, num_workers).num_batches for w in range(num_workers)]
