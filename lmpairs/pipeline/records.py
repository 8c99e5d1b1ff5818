"""The elements that flow between pipeline steps, and the named reasons a document is rejected.

They are NamedTuples: Beam's fast coder carries them, and tests read them like plain tuples.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

EMPTY = "empty"
INVALID_UTF8 = "invalid_utf8"
NUL_BYTES = "nul_bytes"
TOO_LONG = "too_long"
INVALID_JSON = "invalid_json"
MISSING_FIELD = "missing_field"
NO_TOKENS = "no_tokens"
REJECTION_REASONS = (EMPTY, INVALID_UTF8, NUL_BYTES, TOO_LONG, INVALID_JSON, MISSING_FIELD, NO_TOKENS)
"""Every reason a single document is left out; the manifest counts each one (zeros included)."""

UNREADABLE_FILE = "unreadable_file"
"""A whole file is left out (truncated archive, I/O error, Parquet without the text column)."""


class InputFile(NamedTuple):
    """One file to read; ``key_prefix`` is its path relative to its glob's directory."""

    path: str
    key_prefix: str
    format: str
    compression: str
    num_bytes: int

    def describe(self) -> dict:
        """The file's entry in the manifest's ``inputs``."""
        return {"path": self.path, "key_prefix": self.key_prefix, "format": self.format,
                "compression": self.compression, "bytes": self.num_bytes}


class Document(NamedTuple):
    """Normalized text with its stable key ``f"{key_prefix}:{record_index}"``."""

    key: str
    text: str


class TokenizedDocument(NamedTuple):
    """A document's int32 ids and the exclusive end offset of each sentence in them."""

    key: str
    ids: np.ndarray
    sentence_ends: np.ndarray


class Rejection(NamedTuple):
    """A document left out, by key, with one of :data:`REJECTION_REASONS`."""

    key: str
    reason: str


class FileRejection(NamedTuple):
    """A file left out as a whole; ``detail`` says what went wrong reading it."""

    path: str
    reason: str
    detail: str

    def describe(self) -> dict:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}


class Example(NamedTuple):
    """One stored example: its split, its uint64 key and its columns (``input_ids``, ``labels``…)."""

    split: str
    key: int
    columns: dict
