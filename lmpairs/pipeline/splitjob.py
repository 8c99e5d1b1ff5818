"""Build one input split on one worker, streaming: read -> tokenize -> train/validation -> pack -> corrupt -> write.

Memory is bounded whatever the split's size: about ``encode_characters`` of text per batch in flight
(one being read, one encoded, one packed: each stage runs one batch ahead in its own thread), one
packer's partial row and ``corrupt_rows`` rows per (objective, side), and one row group per open shard.
Everything after reading is a pure function of the split's records and the config, so every
runner and worker count writes the same bytes. The result is a small dict (shard infos and
counters); no token data leaves the worker.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmpairs.objectives import get_spec
from lmpairs.pipeline.api import UNREADABLE_FILE, UnreadableInput, build_objective, read_split_columns
from lmpairs.pipeline.counters import EXAMPLES_PREFIX, MEASURED_PREFIX
from lmpairs.pipeline.errors import OutOfSpace, is_out_of_space
from lmpairs.pipeline.keys import document_key, is_validation
from lmpairs.pipeline.prefetch import prefetched
from lmpairs.pipeline.shards import ShardWriter
from lmpairs.pipeline.tokenize import NO_TOKENS, UNENCODABLE, column_batches, tokenize_batch
from lmpairs.tokenizers import Tokenizer
from lmpairs.transforms.batch import (
    DocumentBatch,
    ExampleBatch,
    RowBatch,
    concat_ragged,
    concat_rows,
    slice_rows,
)
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)

TRAIN, VALIDATION = "train", "validation"
__all__ = ["NO_TOKENS", "UNENCODABLE", "SplitJob", "document_key", "is_validation", "process_split"]
ENCODE_CHARACTERS = 1 << 20
"""Characters of text per ``encode_documents`` call (about 1 MB)."""
CORRUPT_ROWS = 128
"""Rows per ``corrupt`` call: large enough to amortize numpy's per-call cost, small enough for cache."""


@dataclass(frozen=True)
class SplitJob:
    """What every split's worker needs besides the split and the tokenizer (small and picklable)."""

    objectives: tuple[tuple[str, Any], ...]
    vocab: Vocab
    seed: int
    validation_fraction: float
    documents: str
    text_field: str
    max_document_bytes: int
    tmp_root: str
    row_group_mb: float
    shard_mb: float | None
    corrupt_rows: int = CORRUPT_ROWS
    encode_characters: int = ENCODE_CHARACTERS
    specs: tuple[Any, ...] = ()
    """Each objective's ``ObjectiveSpec`` (same order): a worker builds from the spec that travels in
    the pickled job, so an objective registered at run time needs no registry lookup there."""
    shard_root: str | None = None
    """Object stores: shards go to this directory (``{objective}`` filled in), not to the temp dir."""

    def shard_dir(self, objective: str) -> str:
        return self.shard_root.replace("{objective}", objective) if self.shard_root else f"{self.tmp_root}/{objective}"

    @property
    def sides(self) -> tuple[str, ...]:
        return (TRAIN, VALIDATION) if self.validation_fraction > 0 else (TRAIN,)

    @property
    def needs_sentence_ends(self) -> bool:
        """Whether any objective uses sentence ends (only then are they computed from offsets); the
        specs that travel with the job answer, so a run-time registration needs no registry here."""
        specs = self.specs or tuple(get_spec(name) for name, _ in self.objectives)
        return any(spec.needs_sentence_ends for spec in specs)


def select_documents(docs: DocumentBatch, mask: np.ndarray) -> DocumentBatch:
    """The documents where ``mask`` is true, in file order (one side of the train/validation split)."""
    return DocumentBatch(docs.keys[mask], docs.ids.select(mask), docs.sentence_ends.select(mask))


def interleave_copies(copies: list[ExampleBatch]) -> ExampleBatch:
    """Copies of the same rows, ordered row by row (row 0's copies, then row 1's…): document order."""
    if len(copies) == 1:
        return copies[0]
    n, k = copies[0].num_examples, len(copies)
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1)
    keys = np.concatenate([c.keys for c in copies])[order]
    columns = {name: concat_ragged([c.columns[name] for c in copies]).take(order) for name in copies[0].columns}
    return ExampleBatch(keys, columns)


class ObjectiveOutput:
    """One (objective, side) of one split: a packer, the rows waiting for corruption, a shard writer."""

    def __init__(self, name: str, objective, side: str, writer: ShardWriter, *, seed: int, corrupt_rows: int) -> None:
        self.name, self.side, self.writer = name, side, writer
        self._objective, self._seed, self._corrupt_rows = objective, seed, corrupt_rows
        self._packer = objective.packer()
        self.needs_text = bool(objective.spec.needs_text)
        self._waiting: list[RowBatch] = []
        self._num_waiting = 0
        self.counts: Counter = Counter()

    def add(self, docs: DocumentBatch, texts: list[str] | None = None, encode=None) -> None:
        """Pack ``docs``; an objective that reads text first rewrites them (``prepare``) from ``texts``."""
        if texts is not None:
            docs, measured = self._objective.prepare(docs, texts, encode, seed=self._seed)
            for name, value in measured.items():
                self.counts[MEASURED_PREFIX + name] += int(value)
        self._queue(self._packer.add(docs))
        if self._num_waiting >= self._corrupt_rows:
            self._corrupt_waiting()

    def finish(self) -> list:
        rows, dropped = self._packer.finish()
        self.counts["dropped_tokens"] += int(dropped)
        for name, value in getattr(self._packer, "counts", {}).items():  # e.g. BART's sentences_cut
            self.counts[MEASURED_PREFIX + name] += int(value)
        self._queue(rows)
        self._corrupt_waiting()
        return self.writer.close()

    def _queue(self, rows: RowBatch) -> None:
        if rows.num_rows:
            self._waiting.append(rows)
            self._num_waiting += rows.num_rows

    def _corrupt_waiting(self) -> None:
        if not self._waiting:
            return
        rows = concat_rows(self._waiting)
        self._waiting, self._num_waiting = [], 0
        for start in range(0, rows.num_rows, self._corrupt_rows):
            self._write(slice_rows(rows, start, start + self._corrupt_rows) if rows.num_rows > self._corrupt_rows
                        else rows)

    def _write(self, rows: RowBatch) -> None:
        obj, copies = self._objective, self._objective.num_copies
        examples = interleave_copies([obj.corrupt(rows, seed=self._seed, copy=c) for c in range(copies)])
        self.counts["rows"] += rows.num_rows
        self.counts[EXAMPLES_PREFIX + self.side] += examples.num_examples
        lengths = np.diff(rows.ids.offsets)
        self.counts["padding_tokens"] += int((obj.full_row_length - lengths).sum()) * copies
        self.counts["slots"] += obj.full_row_length * rows.num_rows * copies
        for name, value in obj.measure(examples).items():
            self.counts[MEASURED_PREFIX + name] += int(value)
        self.writer.add(examples)


def split_result(index: int, split, counts: Counter, objectives: dict, rejected: dict | None = None) -> dict:
    """The small record a split's worker emits: counters, shard infos, and the file if it was rejected."""
    return {"index": index, "split": split.describe(), "rejected": rejected,
            "counts": {k: int(v) for k, v in sorted(counts.items())}, "objectives": objectives}


def make_outputs(index: int, job: SplitJob) -> list[ObjectiveOutput]:
    """One output per (objective, side) of split ``index``, each with its own packer and shard writer."""
    outputs = []
    for i, (name, config) in enumerate(job.objectives):
        objective = build_objective(job.specs[i] if job.specs else name, config, job.vocab)
        for side in job.sides:
            writer = ShardWriter(name, job.shard_dir(name), side, index, row_group_mb=job.row_group_mb,
                                 shard_mb=job.shard_mb)
            outputs.append(ObjectiveOutput(name, objective, side, writer, seed=job.seed, corrupt_rows=job.corrupt_rows))
    return outputs


def feed_outputs(blocks: Iterable, outputs: list[ObjectiveOutput], job: SplitJob, tokenizer: Tokenizer,
                 counts: Counter, progress: Callable[[Counter], None] | None) -> None:
    """Tokenize record blocks batch by batch and hand each side's documents to its outputs, in order.

    Reading and encoding run ahead in two background threads (:mod:`lmpairs.pipeline.prefetch`), one
    batch each, while this thread packs, corrupts and writes: the same batches in the same order."""
    wants_text = any(output.needs_text for output in outputs)

    def encode_ids(texts: list[str]) -> list[np.ndarray]:
        return tokenizer.encode_batch(texts)

    batches = prefetched(column_batches(blocks, job.encode_characters), name="lmpairs-read")
    encoding = tokenized(batches, tokenizer, job, keep_texts=wants_text)
    with closing(prefetched(encoding, name="lmpairs-encode")) as encoded:
        for (docs, validation, texts), batch_counts in encoded:
            counts.update(batch_counts)
            sides = side_documents(docs, validation)
            for output in outputs:
                side_docs, chosen = sides[output.side]
                if chosen.shape[0]:
                    if output.needs_text:
                        output.add(side_docs, [texts[i] for i in chosen], encode_ids)
                    else:
                        output.add(side_docs)
            if progress is not None:
                progress(counts)


def side_documents(docs: DocumentBatch, validation: np.ndarray) -> dict[str, tuple[DocumentBatch, np.ndarray]]:
    """Per side, its documents and their indices in the batch; a side with every document shares the batch."""
    sides = {}
    for side, mask in ((TRAIN, ~validation), (VALIDATION, validation)):
        chosen = np.flatnonzero(mask)
        partial = 0 < chosen.shape[0] < docs.num_documents
        sides[side] = (select_documents(docs, mask) if partial else docs), chosen
    return sides


def tokenized(batches: Iterator, tokenizer: Tokenizer, job: SplitJob, *, keep_texts: bool) -> Iterator[tuple]:
    """``(TokenizedBatch, its counters)`` per record batch; each batch counts apart, so this can run in
    another thread than the one that sums the counters. Closing it closes ``batches``."""
    sentence_ends = job.needs_sentence_ends
    with closing(batches):
        for batch in batches:
            batch_counts: Counter = Counter()
            yield tokenize_batch(tokenizer, batch, batch_counts, sentence_ends=sentence_ends,
                                 validation_fraction=job.validation_fraction, keep_texts=keep_texts), batch_counts


def process_split(index: int, split, job: SplitJob, tokenizer: Tokenizer, *, files=None,
                  progress: Callable[[Counter], None] | None = None) -> dict:
    """Build every objective's shards of input split number ``index``; see the module docstring.

    A split whose reading fails part-way (:class:`UnreadableInput`) deletes what it wrote and is
    reported as a rejected file. A full disk deletes what it wrote and raises :class:`OutOfSpace`.
    """
    counts: Counter = Counter()
    outputs = make_outputs(index, job)
    try:
        blocks = read_split_columns(split, documents=job.documents, text_field=job.text_field,
                                    max_document_bytes=job.max_document_bytes, files=files)
        feed_outputs(blocks, outputs, job, tokenizer, counts, progress)
        shards = {(s.name, s.side): s.finish() for s in outputs}
    except UnreadableInput as err:
        _abort(outputs)
        logger.warning("%s: left out as a whole (%s)", split.path, err)
        rejected = {"path": split.path, "reason": UNREADABLE_FILE, "detail": str(getattr(err, "detail", err))}
        return split_result(index, split, Counter(files_rejected=1), {}, rejected)
    except OSError as err:
        _abort(outputs)
        if is_out_of_space(err):
            raise OutOfSpace(f"{job.tmp_root}: out of disk space while writing shards; free space or choose "
                             "another --output.") from err
        raise
    except BaseException:
        _abort(outputs)
        raise
    counts["bytes_read"] += split.end - split.start
    return split_result(index, split, counts, collect(outputs, shards))


def collect(outputs: list[ObjectiveOutput], shards: dict) -> dict[str, dict]:
    """Per objective: every side's shard infos and the summed output counters."""
    objectives: dict[str, dict] = {}
    for output in outputs:
        entry = objectives.setdefault(output.name, {"shards": [], "counts": Counter()})
        entry["shards"] += shards[(output.name, output.side)]
        entry["counts"].update(output.counts)
    for entry in objectives.values():
        entry["counts"] = {k: int(v) for k, v in sorted(entry["counts"].items())}
    return objectives


def _abort(outputs: list[ObjectiveOutput]) -> None:
    for output in outputs:
        try:
            output.writer.abort()
        except Exception:  # noqa: BLE001 - best effort; the original error is what matters
            logger.warning("could not delete the partial shards of %s/%s", output.name, output.side)
