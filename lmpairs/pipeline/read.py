"""Read input files into documents: one file per element, all of its records or none of them.

A file is read and parsed completely before anything is emitted, so a file that fails part-way
(a truncated ``.gz``, an I/O error, a Parquet file without the text column) never leaves half its
documents behind: it goes to the ``files_rejected`` output as a whole, with the reason
``unreadable_file``. Memory per worker is one file's decompressed bytes; split huge files.
"""
from __future__ import annotations

import logging
from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue

from lmpairs.pipeline.compression import UnreadableFileError, read_file_bytes
from lmpairs.pipeline.counters import COUNTS, REJECTED_PREFIX, CountingFn
from lmpairs.pipeline.formats import FileFormatError, parse_records
from lmpairs.pipeline.records import UNREADABLE_FILE, Document, FileRejection, InputFile, Rejection

logger = logging.getLogger(__name__)

REJECTED = "rejected"
FILES_REJECTED = "files_rejected"


class ReadFileFn(CountingFn):
    """InputFile -> Document(key, text) on the main output; Rejection(key, reason) on ``rejected``;
    FileRejection on ``files_rejected``; one ``{name: count}`` dict per file on ``counts``."""

    def __init__(self, *, documents: str, text_field: str, max_document_bytes: int) -> None:
        self._options = {"documents": documents, "text_field": text_field, "max_document_bytes": max_document_bytes}

    def process(self, file: InputFile) -> Iterator:
        try:
            records = parse_records(read_file_bytes(file.path, file.compression), input_format=file.format,
                                    **self._options)
        except (UnreadableFileError, FileFormatError, OSError, ValueError) as err:
            logger.warning("%s: left out as a whole (%s)", file.path, err)
            yield pvalue.TaggedOutput(FILES_REJECTED, FileRejection(file.path, UNREADABLE_FILE, str(err)))
            yield pvalue.TaggedOutput(COUNTS, self.report({"files_rejected": 1}))
            return
        counts = {"files_read": 1, "documents_read": len(records)}
        for index, text, reason in records:
            key = f"{file.key_prefix}:{index}"
            if reason is None:
                yield Document(key, text)
            else:
                counts[REJECTED_PREFIX + reason] = counts.get(REJECTED_PREFIX + reason, 0) + 1
                yield pvalue.TaggedOutput(REJECTED, Rejection(key, reason))
        logger.info("%s: %d documents read", file.path, len(records))
        yield pvalue.TaggedOutput(COUNTS, self.report(counts))


class ReadFiles(beam.PTransform):
    """InputFiles -> tagged outputs ``documents``, ``rejected``, ``files_rejected`` and ``counts``.

    Files are redistributed first, so a glob's files are read in parallel rather than in the one
    bundle that listed them.
    """

    def __init__(self, *, documents: str, text_field: str, max_document_bytes: int) -> None:
        super().__init__()
        self._fn = ReadFileFn(documents=documents, text_field=text_field, max_document_bytes=max_document_bytes)

    def expand(self, files):
        return (files
                | "Redistribute" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(self._fn).with_outputs(REJECTED, FILES_REJECTED, COUNTS, main="documents"))
