"""Sentence ends in tokens, mapped from the sentence rule's character ends through token offsets.

Every kind encodes a document whole; only an objective that needs sentences (BART) asks for them.
Token starts come from the tokenizer (SentencePiece: byte offsets of its immutable proto pieces;
``tokenizers``: character offsets; tiktoken: running sums of each token's byte length). A sentence
ends after the last token that starts before the sentence's last character ends, so a token that
spans a boundary (``."`` + newline) stays with the earlier sentence, and the last sentence takes
any trailing whitespace: ends are strictly increasing and the last is the document's length.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmpairs.sentences import sentence_end_offsets
from lmpairs.transforms.batch import Ragged


def whole_documents(lengths: np.ndarray) -> Ragged:
    """One sentence per document ending at its length (none for a document without tokens): what
    objectives without sentences get."""
    lengths = np.asarray(lengths, dtype=np.int64)
    keep = lengths > 0
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(keep, out=offsets[1:])
    return Ragged(lengths[keep].astype(np.int32), offsets)


def utf8_offsets(text: str) -> np.ndarray:
    """Byte offset in ``text``'s UTF-8 of every character offset ``0..len(text)`` (int64), in one
    pass (slicing and encoding per sentence is quadratic on long documents)."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    sizes = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    out = np.zeros(points.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def sentence_token_ends(texts: Sequence[str], lengths: np.ndarray, starts: np.ndarray, *, unit: str) -> Ragged:
    """Each document's exclusive sentence ends in tokens (int32 ragged, last == its length).

    ``starts`` holds every token's start offset inside its own document (``unit`` ``"char"`` or
    ``"byte"``), documents back to back as ``lengths`` says. A document without tokens has no
    ends; one whose text has no sentence (all whitespace) gets one sentence.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    starts = np.asarray(starts, dtype=np.int64)
    rows: list[np.ndarray] = []
    for d, text in enumerate(texts):
        n = int(lengths[d])
        if n == 0:
            rows.append(np.zeros(0, dtype=np.int32))
            continue
        char_ends = sentence_end_offsets(text)
        if unit == "byte" and not text.isascii():
            char_ends = utf8_offsets(text)[np.asarray(char_ends, dtype=np.int64)]
        doc_starts = np.maximum.accumulate(starts[offsets[d]:offsets[d + 1]])
        ends = np.searchsorted(doc_starts, np.asarray(char_ends[:-1], dtype=np.int64), side="left")
        ends = np.append(ends[(ends > 0) & (ends < n)], n)  # the last sentence takes trailing whitespace
        rows.append(np.unique(ends).astype(np.int32))
    return Ragged.from_rows(rows)
