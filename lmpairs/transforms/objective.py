"""The contract every objective implements: documents -> clean rows -> corrupted example batches.

The pipeline calls, per output (one input split, one train/validation side)::

    packer = obj.packer()
    for docs in document_batches:            # DocumentBatch, in document order
        rows = packer.add(docs)              # RowBatch of the rows completed so far
        for c in range(obj.num_copies):
            ex = obj.corrupt(rows, seed=seed, copy=c)   # ExampleBatch; keys = copy keys of row keys
            counts = obj.measure(ex)
    rows, dropped_tokens = packer.finish()   # the final short row (or none), tokens dropped

and the loader's dynamic corruption calls ``obj.corrupt(obj.clean(stored), seed=seed, copy=epoch)``.
Corruption of a row depends only on ``(seed, objective_id, row key, copy)``, through the keyed hash
of :mod:`lmpairs.transforms.seeding`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np

from lmpairs.transforms.batch import DocumentBatch, ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.seeding import copy_keys, stream_keys, stream_keys_many
from lmpairs.transforms.spec import ObjectiveSpec
from lmpairs.vocab import Vocab


class Packer(Protocol):
    """Rows from one output's documents, in document order."""

    def add(self, docs: DocumentBatch) -> RowBatch: ...

    def finish(self) -> tuple[RowBatch, int]: ...


class Objective(ABC):
    """One pretraining objective over a fixed config and vocabulary (see the module docstring)."""

    name: ClassVar[str]
    spec: ClassVar[ObjectiveSpec]
    """The declaration, set by :func:`declare` (or by ``register`` for a spec made apart)."""

    def __init__(self, config: Any, vocab: Vocab) -> None:
        self.config = config
        self.vocab = vocab

    @property
    def objective_id(self) -> int:
        return self.spec.objective_id

    @property
    def columns(self) -> tuple[str, ...]:
        return self.spec.columns

    @property
    def num_copies(self) -> int:
        """Differently corrupted copies written per clean row (BERT's dupe factor for MLM)."""
        return 1

    @property
    def full_row_length(self) -> int:
        """Stored length of a full clean row; a short final row's padding is the difference.

        The config's ``seq_len`` unless the objective stores rows of another length (CLM's
        ``seq_len + 1``, T5's raw length)."""
        return self.config.seq_len

    @abstractmethod
    def packer(self) -> Packer:
        """A fresh packer for one output (an input split's train or validation documents)."""

    def corrupt(self, rows: RowBatch, *, seed: int, copy: int = 0) -> ExampleBatch:
        """Stored examples of ``rows`` for static copy (or dynamic epoch) ``copy``; inputs untouched."""
        columns = self.corrupt_columns(rows, seed=seed, copy=copy) if rows.num_rows else {
            name: _empty() for name in self.columns}
        return ExampleBatch(copy_keys(rows.keys, copy), {name: columns[name] for name in self.columns})

    @abstractmethod
    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        """``{column: Ragged}`` of the examples made from a non-empty batch of rows."""

    @abstractmethod
    def clean(self, examples: ExampleBatch) -> RowBatch:
        """The clean rows behind stored examples (keys kept; segments where they are stored)."""

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        """Counts the manifest turns into applied rates, summed over the batch."""
        return {"tokens": int(examples.columns["input_ids"].values.shape[0])}

    def keys_for(self, rows: RowBatch, seed: int, copy: int, stream: int) -> np.ndarray:
        """Stream keys of every row: ``k(seed, objective_id, row key, copy, stream)`` of the keyed hash."""
        return stream_keys(seed, self.objective_id, rows.keys, copy, stream)

    def keys_for_streams(self, rows: RowBatch, seed: int, copy: int, streams: tuple[int, ...]) -> list[np.ndarray]:
        """:meth:`keys_for` of several streams at once (the shared part of the chain computed once)."""
        return stream_keys_many(seed, self.objective_id, rows.keys, copy, streams)

    def examples(self, rows: RowBatch, *, seed: int) -> list[ExampleBatch]:
        """Every static copy of ``rows`` (``num_copies`` batches)."""
        return [self.corrupt(rows, seed=seed, copy=c) for c in range(self.num_copies)]


def declare(**fields: Any) -> Callable[[type[Objective]], type[Objective]]:
    """Class decorator: the objective's :class:`ObjectiveSpec` (``transform`` = the class), kept on
    the class as ``spec``, so the class never looks itself up by name in a registry."""

    def wrap(cls: type[Objective]) -> type[Objective]:
        cls.spec = ObjectiveSpec(transform=cls, **fields)
        cls.name = cls.spec.name
        return cls

    return wrap


def _empty() -> Ragged:
    return Ragged(np.zeros(0, np.int32), np.zeros(1, np.int64))


def check_ids(values: np.ndarray, vocab: Vocab, name: str) -> None:
    """Fail on ids outside the vocabulary (rows tokenized with another tokenizer)."""
    if values.size and (int(values.min()) < 0 or int(values.max()) >= vocab.size):
        raise ValueError(f"{name}: rows hold ids in [{int(values.min())}, {int(values.max())}], expected "
                         f"[0, {vocab.size}); they were tokenized with a different tokenizer than this vocab's.")
