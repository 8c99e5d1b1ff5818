"""Turn tokenized documents into one objective's examples, independent of bundling and workers.

Per document: a split (validation iff ``stable_hash64("split", key) / 2**64 < fraction``, so the
same document lands in the same split for every objective and seed) and whole rows cut from the
document itself. Only the remainders travel: keyed by ``(split, stable_hash64("bucket", key) %
pack_buckets)``, grouped, sorted by document key and packed per bucket. Each clean row then becomes
``num_copies`` examples seeded by their own identity. The objective comes from the name table in
:mod:`lmpairs.transforms`, so this module never branches on objective names.

Cost: one pass over the tokens plus one shuffle of the remainders (at most one row per document).
A bucket holds about 1/pack_buckets of all remainders in one worker's memory: raise
``pack_buckets`` for corpora of many short documents.
"""
from __future__ import annotations

from typing import Any, Iterator

import apache_beam as beam
import numpy as np
from apache_beam import pvalue

from lmpairs.pipeline.counters import COUNTS, EXAMPLES_PREFIX, MEASURED_PREFIX, CountingFn
from lmpairs.pipeline.records import Example, TokenizedDocument
from lmpairs.transforms import Objective, Row, make_objective, stable_hash64
from lmpairs.vocab import Vocab

TRAIN, VALIDATION = "train", "validation"
LEFTOVERS = "leftovers"


def assign_split(doc_key: str, validation_fraction: float) -> str:
    """``validation`` for a stable ``validation_fraction`` of document keys, else ``train``."""
    return VALIDATION if stable_hash64("split", doc_key) / 2**64 < validation_fraction else TRAIN


def pack_bucket(doc_key: str, pack_buckets: int) -> int:
    """The packing bucket of a document's remainder."""
    return stable_hash64("bucket", doc_key) % pack_buckets


def full_row_length(objective: Objective) -> int:
    """Length of a full stored row, framing included; shorter rows count the difference as padding."""
    full = np.zeros(objective.row_length, dtype=np.int32)
    return int(objective.finish_row(full, np.array([objective.row_length], dtype=np.int32))[0].shape[0])


class _ObjectiveFn(CountingFn):
    """A DoFn that builds its objective in ``setup()`` from small picklable parts."""

    def __init__(self, name: str, config: Any, vocab: Vocab, **options: Any) -> None:
        self.metrics_prefix = name + "."
        self._spec = (name, config, vocab)
        self._options = options
        self._objective: Objective | None = None

    def setup(self) -> None:
        if self._objective is None:
            self._objective = make_objective(*self._spec)


class CutDocumentsFn(_ObjectiveFn):
    """list[TokenizedDocument] -> one list of (split, Row) for the whole rows of the batch, and on
    ``leftovers`` one ((split, bucket), [(doc_key, remainder bytes)]) per bucket the batch touches.

    Remainders travel as int32 bytes: Beam's coder writes bytes natively but pickles arrays.
    """

    def process(self, docs: list[TokenizedDocument]) -> Iterator:
        rows, leftovers = [], {}
        for doc in docs:
            split = assign_split(doc.key, self._options["validation_fraction"])
            doc_rows, remainder = self._objective.document_rows(doc.key, doc.ids, doc.sentence_ends)
            rows.extend((split, row) for row in doc_rows)
            if remainder.shape[0]:
                group = (split, pack_bucket(doc.key, self._options["pack_buckets"]))
                leftovers.setdefault(group, []).append((doc.key, remainder.astype(np.int32).tobytes()))
        if rows:
            yield rows
        for group in sorted(leftovers):
            yield pvalue.TaggedOutput(LEFTOVERS, (group, leftovers[group]))


class PackLeftoversFn(_ObjectiveFn):
    """((split, bucket), [[(doc_key, remainder bytes)]]) -> one list of (split, Row), packed in key order."""

    def process(self, element) -> Iterator:
        (split, bucket), chunks = element
        ordered = sorted((item for chunk in chunks for item in chunk), key=lambda item: item[0])
        leftovers = [np.frombuffer(data, dtype=np.int32) for _, data in ordered]
        rows, dropped = self._objective.pack_leftovers(f"{split}/{bucket}", leftovers)
        if rows:
            yield [(split, row) for row in rows]
        yield pvalue.TaggedOutput(COUNTS, self.report({"dropped_tokens": dropped}))


class MakeExamplesFn(_ObjectiveFn):
    """list of (split, Row) -> an Example per row and copy; one counts dict (examples, padding, measured)."""

    def setup(self) -> None:
        super().setup()
        self._full_length = full_row_length(self._objective)

    def process(self, rows: list[tuple[str, Row]]) -> Iterator:
        counts: dict[str, int] = {"rows": len(rows), "padding_tokens": 0}
        for split, row in rows:
            examples = self._objective.examples(row, seed=self._options["seed"])
            counts[EXAMPLES_PREFIX + split] = counts.get(EXAMPLES_PREFIX + split, 0) + len(examples)
            counts["padding_tokens"] += (self._full_length - int(row.ids.shape[0])) * len(examples)
            for key, columns in examples:
                for name, value in self._objective.measure(columns).items():
                    counts[MEASURED_PREFIX + name] = counts.get(MEASURED_PREFIX + name, 0) + value
                yield Example(split, key, columns)
        yield pvalue.TaggedOutput(COUNTS, self.report(counts))


class BuildExamples(beam.PTransform):
    """Batches of TokenizedDocument -> ``{"examples": Example, "counts": {name: int}}`` for one objective."""

    def __init__(self, name: str, config: Any, vocab: Vocab, *, seed: int, validation_fraction: float,
                 pack_buckets: int) -> None:
        super().__init__()
        self._parts = (name, config, vocab)
        self._seed, self._fraction, self._buckets = seed, validation_fraction, pack_buckets

    def expand(self, documents):
        cut = documents | "Cut" >> beam.ParDo(CutDocumentsFn(
            *self._parts, validation_fraction=self._fraction, pack_buckets=self._buckets)).with_outputs(
            LEFTOVERS, main="rows")
        packed = (cut[LEFTOVERS]
                  | "GroupBuckets" >> beam.GroupByKey()
                  | "Pack" >> beam.ParDo(PackLeftoversFn(*self._parts)).with_outputs(COUNTS, main="rows"))
        made = ((cut.rows, packed.rows)
                | "AllRows" >> beam.Flatten()
                | "Corrupt" >> beam.ParDo(MakeExamplesFn(*self._parts, seed=self._seed)).with_outputs(
                    COUNTS, main="examples"))
        counts = (packed[COUNTS], made[COUNTS]) | "AllCounts" >> beam.Flatten()
        return {"examples": made.examples, "counts": counts}
