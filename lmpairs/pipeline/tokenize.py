"""Records to tokenized documents, a batch of columns at a time: count rejections, encode, key, split.

A batch is about ``encode_characters`` of text from consecutive record blocks of one input split
(one file, so one key prefix). The texts go to the tokenizer in one native call (large enough to
keep its threads busy); keys and the train/validation draw are vector operations
(:mod:`lmpairs.pipeline.keys`); nothing here loops over documents in Python except to gather the
texts and count rejection reasons.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from lmpairs.pipeline.counters import REJECTED_PREFIX, count_documents
from lmpairs.pipeline.keys import document_keys, validation_mask
from lmpairs.reading import RecordColumns
from lmpairs.tokenizers import Tokenizer
from lmpairs.transforms.batch import DocumentBatch, Ragged

NO_TOKENS = "no_tokens"
UNENCODABLE = "unencodable"
_ENCODE_ERRORS = (TypeError, UnicodeError, RuntimeError, ValueError)


class TokenizedBatch(NamedTuple):
    """A batch's documents with tokens, in file order, and which of them are validation."""

    docs: DocumentBatch
    validation: np.ndarray
    texts: list[str] | None = None
    """The kept documents' texts, when asked for (objectives that read text, such as FIM)."""


def column_batches(blocks: Iterable[RecordColumns], max_characters: int) -> Iterator[RecordColumns]:
    """Consecutive record blocks merged into batches of about ``max_characters`` of text (a huge
    block rides alone; a block is never cut)."""
    prefix, positions, texts, reasons, size = None, [], [], [], 0
    for block in blocks:
        if prefix is not None and block.key_prefix != prefix and texts:
            yield RecordColumns(prefix, positions, texts, reasons)
            positions, texts, reasons, size = [], [], [], 0
        prefix = block.key_prefix
        positions += block.positions
        texts += block.texts
        reasons += block.reasons
        size += sum(map(len, filter(None, block.texts)))
        if size >= max_characters:
            yield RecordColumns(prefix, positions, texts, reasons)
            positions, texts, reasons, size = [], [], [], 0
    if texts:
        yield RecordColumns(prefix, positions, texts, reasons)


def encode_or_reject(tokenizer: Tokenizer, texts: list[str], *,
                     sentence_ends: bool) -> tuple[Ragged, Ragged, np.ndarray]:
    """``(ids, sentence_ends, failed)``: one call for the batch; if it fails, each text alone (a text
    the tokenizer cannot take gets no tokens and ``failed[i]``)."""
    failed = np.zeros(len(texts), dtype=bool)
    if not texts:
        empty = Ragged(np.zeros(0, np.int32), np.zeros(1, np.int64))
        return empty, empty, failed
    try:
        ids, ends = tokenizer.encode_columns(texts, sentence_ends=sentence_ends)
        return ids, ends, failed
    except _ENCODE_ERRORS:
        pass
    id_rows, end_rows = [], []
    for i, text in enumerate(texts):
        try:
            one_ids, one_ends = tokenizer.encode_columns([text], sentence_ends=sentence_ends)
            id_rows.append(one_ids.values)
            end_rows.append(one_ends.values)
        except _ENCODE_ERRORS:
            failed[i] = True
            id_rows.append(np.zeros(0, np.int32))
            end_rows.append(np.zeros(0, np.int32))
    return Ragged.from_rows(id_rows), Ragged.from_rows(end_rows), failed


def tokenize_batch(tokenizer: Tokenizer, batch: RecordColumns, counts: Counter, *, sentence_ends: bool,
                   validation_fraction: float, keep_texts: bool = False) -> TokenizedBatch:
    """Encode a batch's readable records; count every record read, rejected (by reason), used."""
    counts["documents_read"] += len(batch.reasons)
    readable = batch.reasons.count(None)
    if readable < len(batch.reasons):
        counts.update(REJECTED_PREFIX + r for r in batch.reasons if r is not None)
        keep = [i for i, r in enumerate(batch.reasons) if r is None]
        texts = [batch.texts[i] for i in keep]
        positions = np.asarray(batch.positions, dtype=np.uint64)[keep]
    else:
        texts, positions = batch.texts, np.asarray(batch.positions, dtype=np.uint64)
    ids, ends, failed = encode_or_reject(tokenizer, texts, sentence_ends=sentence_ends)
    empty = (ids.lengths == 0) & ~failed
    for reason, mask in ((UNENCODABLE, failed), (NO_TOKENS, empty)):
        if mask.any():
            counts[REJECTED_PREFIX + reason] += int(mask.sum())
    if failed.any() or empty.any():
        used = np.flatnonzero(~(failed | empty))
        ids, ends, positions = ids.take(used), ends.take(used), positions[used]
        if keep_texts:
            texts = [texts[i] for i in used.tolist()]
    count_documents(counts, ids.values, ids.lengths, tokenizer.vocab.unk_id)
    docs = DocumentBatch(document_keys(batch.key_prefix, positions), ids, ends)
    return TokenizedBatch(docs, validation_mask(batch.key_prefix, positions, validation_fraction),
                          list(texts) if keep_texts else None)
