"""Corpus reading without Beam or torch: plan input splits, then stream each split's records.

``plan_splits`` expands globs into deterministic :class:`InputSplit` s (whole files, or byte ranges
of large uncompressed text/JSONL); ``read_split`` yields one split's :class:`Record` s with bounded
memory. ``lmpairs build`` (one Beam DoFn per split) and ``lmpairs train-tokenizer`` both read
through these two functions, so they accept the same formats, compressions and globs.
"""
from lmpairs.reading.errors import InputError, UnreadableInput
from lmpairs.reading.files import FileAccess, FileMatch, LocalFiles
from lmpairs.reading.read import DEFAULT_MAX_DOCUMENT_BYTES, read_split
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
           "InputSplit", "LocalFiles", "Record", "SplitPlan", "UnreadableInput", "plan_splits", "read_split"]
