"""Corpus reading without Beam or torch: plan input splits, then stream each split's records.

``plan_splits`` expands globs into deterministic :class:`InputSplit` s (whole files, or byte ranges
of large uncompressed text/JSONL); ``read_split`` yields one split's :class:`Record` s with bounded
memory. ``lmpairs build`` (one Beam DoFn per split) and ``lmpairs train-tokenizer`` both read
through these two functions, so they accept the same formats, compressions and globs.

Conventions (the same for every caller):

- Globs use Beam's syntax (``*`` within a directory, ``**`` across, ``[...]`` a character class:
  write ``[[]`` for a literal ``[``); a wildcard-free path naming a directory reads every file below
  it, hidden names skipped. Paths inside ``exclude`` (the build's output) are never inputs.
- Text documents are blank-line-separated paragraphs by default, or lines, or whole files; a line
  ends at LF, CRLF or a lone CR; a leading UTF-8 BOM is dropped. JSONL is one record per line,
  Parquet one per row (string, large_string, string_view, binary or dictionary columns).
- Keys are ``"<path under the glob's root>:<position>"``: the byte offset of the record's first
  byte in the (decompressed) file for text and JSONL, the row index for Parquet.
- A record that cannot be used is a :class:`Record` with one of :data:`REJECTION_REASONS`; a split
  that cannot be read to its end raises :class:`UnreadableInput`; a FIFO or device matched by a
  glob is listed in ``SplitPlan.rejected_files`` and never opened; a 0-byte file is zero records,
  whatever its compression (``.gz``, ``.bz2``, ``.xz``, ``.zst``: no stream is an empty stream).
"""
from lmpairs.reading.errors import InputError, UnreadableInput
from lmpairs.reading.files import FileAccess, FileMatch, LocalFiles
from lmpairs.reading.read import DEFAULT_MAX_DOCUMENT_BYTES, RecordColumns, read_split, read_split_columns
from lmpairs.reading.records import READ_REJECTION_REASONS, Record
from lmpairs.reading.splits import (
                                    DEFAULT_SPLIT_BYTES,
                                    NOT_REGULAR_FILE,
                                    UNREADABLE_FILE,
                                    FileRejection,
                                    InputSplit,
                                    SplitPlan,
                                    plan_splits,
)

REJECTION_REASONS = READ_REJECTION_REASONS
"""Every reason reading leaves a record out (the build adds its own, e.g. ``no_tokens``)."""

__all__ = ["DEFAULT_MAX_DOCUMENT_BYTES", "DEFAULT_SPLIT_BYTES", "NOT_REGULAR_FILE", "READ_REJECTION_REASONS",
           "REJECTION_REASONS", "UNREADABLE_FILE", "FileAccess", "FileMatch", "FileRejection", "InputError",
           "InputSplit", "LocalFiles", "Record", "RecordColumns", "SplitPlan", "UnreadableInput", "plan_splits",
           "read_split", "read_split_columns"]
