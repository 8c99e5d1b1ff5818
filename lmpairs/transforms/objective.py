"""The contract every objective implements: documents -> clean rows -> corrupted example columns.

The pipeline and the loader only talk to this interface and the name table in
``lmpairs.transforms``; a new objective is a new module that subclasses :class:`Objective`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lmpairs.transforms.packing import cut_document, pack_sequences
from lmpairs.transforms.seeding import OBJECTIVE_IDS, copy_key, example_rng, stable_hash64
from lmpairs.vocab import Vocab


@dataclass(frozen=True, eq=False)
class Row:
    """A clean row before corruption: its stable key, its int32 ids and its segment lengths
    (documents for CLM, sentences for BART; they sum to ``len(ids)``)."""

    key: int
    ids: np.ndarray
    segment_lengths: np.ndarray


Columns = dict[str, np.ndarray]
"""One example's stored columns other than ``example_key`` (``input_ids``, ``labels``, …)."""


class Objective(ABC):
    """One pretraining objective over a fixed config and vocabulary.

    Packing objectives frame each document, cut it into whole rows of ``row_length`` and hand the
    remainder to :meth:`pack_leftovers`, which the pipeline calls per hash bucket with remainders
    sorted by document key. Objectives that keep documents apart (BART) override
    :meth:`document_rows` and return no remainder.
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    randomized: ClassVar[bool] = True
    """False for objectives that draw nothing (CLM): :meth:`examples` then skips seeding (~12 µs a row)."""

    def __init__(self, config: Any, vocab: Vocab) -> None:
        self.config = config
        self.vocab = vocab

    @property
    def objective_id(self) -> int:
        return OBJECTIVE_IDS[self.name]

    @property
    def num_copies(self) -> int:
        """Differently corrupted copies written per clean row (BERT's dupe factor for MLM)."""
        return 1

    @property
    def keep_partial(self) -> bool:
        """Whether a bucket's final short row is kept (``final_row='pad'``) or dropped."""
        return getattr(self.config, "final_row", "pad") == "pad"

    @property
    @abstractmethod
    def row_length(self) -> int:
        """Tokens per packed row, before :meth:`finish_row` adds any framing."""

    def frame_document(self, ids: np.ndarray, sentence_ends: np.ndarray) -> np.ndarray:
        """A document's tokens as they enter the packed stream (e.g. ``[bos] ids [eos]``)."""
        return np.asarray(ids, dtype=np.int32)

    def finish_row(self, ids: np.ndarray, segment_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Framing added to each packed row (MLM prepends bos); identity by default."""
        return ids, segment_lengths

    def document_rows(self, doc_key: str, ids: np.ndarray, sentence_ends: np.ndarray) -> tuple[list[Row], np.ndarray]:
        """Whole rows cut from one document, and the remainder to pack with other documents."""
        framed = self.frame_document(ids, sentence_ends)
        full, remainder = cut_document(framed, self.row_length)
        rows = []
        for i in range(full.shape[0]):
            row_ids, segments = self.finish_row(full[i], np.array([self.row_length], dtype=np.int32))
            rows.append(Row(stable_hash64(self.name, "doc", doc_key, i), row_ids, segments))
        return rows, remainder

    def pack_leftovers(self, group: str, leftovers: list[np.ndarray]) -> tuple[list[Row], int]:
        """Pack remainders (already sorted by document key) of one bucket ``group`` into rows.

        Returns the rows and the number of tokens dropped (a final short row under ``drop``,
        or one too short to train on).
        """
        packed, dropped = pack_sequences(leftovers, self.row_length, keep_partial=self.keep_partial)
        rows = []
        for i in range(packed.num_rows):
            ids, segments = packed.row(i)
            if ids.shape[0] < self.min_row_tokens:
                dropped += int(ids.shape[0])
                continue
            ids, segments = self.finish_row(ids, segments)
            rows.append(Row(stable_hash64(self.name, "pack", group, i), ids, segments))
        return rows, dropped

    def rows_in_memory(self, documents: list[tuple[str, np.ndarray, np.ndarray]], group: str = "all") -> list[Row]:
        """Every clean row of ``(doc_key, ids, sentence_ends)`` documents, packed as one bucket.

        What the pipeline does with a single hash bucket, for tests, notebooks and benchmarks;
        remainders are packed in document-key order, as the pipeline sorts them.
        """
        rows, leftovers = [], []
        for key, ids, sentence_ends in sorted(documents, key=lambda doc: doc[0]):
            whole, rest = self.document_rows(key, ids, sentence_ends)
            rows += whole
            if rest.size:
                leftovers.append(rest)
        return rows + self.pack_leftovers(group, leftovers)[0]

    @property
    def min_row_tokens(self) -> int:
        """Shorter packed rows carry no training signal and are dropped (and counted)."""
        return 2

    @abstractmethod
    def corrupt(self, row: Row, *, rng: np.random.Generator) -> Columns:
        """The stored columns of one example made from ``row`` (inputs and targets/labels)."""

    @abstractmethod
    def clean_ids(self, columns: Columns) -> np.ndarray:
        """Recover the clean row ids from stored columns (the loader's dynamic re-corruption)."""

    def measure(self, columns: Columns) -> dict[str, int]:
        """Counts the manifest turns into applied rates (e.g. selected and masked tokens)."""
        return {"tokens": int(columns["input_ids"].shape[0])}

    def examples(self, row: Row, *, seed: int) -> list[tuple[int, Columns]]:
        """All stored examples of one clean row: ``num_copies`` copies, each seeded by its identity."""
        return [
            (copy_key(row.key, c),
             self.corrupt(row, rng=example_rng(seed, self.name, row.key, c) if self.randomized else None))
            for c in range(self.num_copies)
        ]
