"""The sentences ``train-tokenizer`` learns from: every usable record of the inputs, read exactly as
``lmpairs build`` reads them (same globs, formats, compressions, rejection reasons), split into
sentences as the tokenizer sees them at build time.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator

from lmpairs.reading.errors import InputError, UnreadableInput
from lmpairs.reading.files import FileAccess
from lmpairs.reading.read import DEFAULT_MAX_DOCUMENT_BYTES, read_split
from lmpairs.reading.splits import UNREADABLE_FILE, FileRejection, plan_splits
from lmpairs.sentences import split_sentences

logger = logging.getLogger(__name__)

REASON_FIXES = {
    "invalid_utf8": "not UTF-8 text: convert it to UTF-8, e.g. with iconv -t UTF-8",
    "invalid_unicode": "a JSON string with a lone surrogate escape: fix the record",
    "nul_bytes": "NUL bytes: is it a binary file?",
    "too_long": "longer than the document limit: split it into smaller documents",
    "invalid_json": "not one JSON object per line: fix the record or pass plain text files",
    "missing_field": "no string in the text field: pass --text-field with the right name",
    "empty": "no text in it",
}


class CorpusSentences:
    """Re-iterable sentences of the input globs that count what they gave and keep the error that
    stopped them (SentencePiece's trainer flattens exceptions from its iterator into a RuntimeError).

    Globs are planned at construction, so a glob that matches nothing raises :class:`InputError`
    before any training. Rejected records and unreadable files are left out and logged, as in a
    build; if nothing usable is left, iterating raises :class:`InputError` naming an example.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike] | str | os.PathLike, *, text_field: str = "text",
                 documents: str = "paragraph", max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
                 files: FileAccess | None = None) -> None:
        plan = plan_splits(inputs, documents=documents, files=files)
        self.splits, self.files_rejected = plan.splits, list(plan.rejected_files)
        self.num_files = len({split.path for split in self.splits})
        self._options = dict(documents=documents, text_field=text_field, max_document_bytes=max_document_bytes,
                             files=files)
        self.count = 0
        self.rejected: Counter = Counter()
        self.error: InputError | None = None
        self._example: dict[str, str] = {}

    def __iter__(self) -> Iterator[str]:
        self.count, self.error, self.rejected = 0, None, Counter()
        files_rejected = list(self.files_rejected)
        for split in self.splits:
            try:
                for record in read_split(split, **self._options):
                    if record.reason is not None:
                        self.rejected[record.reason] += 1
                        self._example.setdefault(record.reason, f"{split.path} (record {record.key})")
                        continue
                    for sentence in split_sentences(record.text):
                        self.count += 1
                        yield sentence
            except UnreadableInput as err:
                files_rejected.append(FileRejection(err.path, UNREADABLE_FILE, err.detail))
        self._report(files_rejected)

    def _report(self, files_rejected: list[FileRejection]) -> None:
        if self.rejected:
            counts = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.rejected.items()))
            logger.warning("left out %d records (%s)", sum(self.rejected.values()), counts)
        for rejection in files_rejected:
            logger.warning("%s: left out as a whole (%s)", rejection.path, rejection.detail)
        if self.count:
            return
        if self.rejected:
            reason = self.rejected.most_common(1)[0][0]
            self.error = InputError(f"no text to train on: every record was left out ({counts}); e.g. "
                                    f"{self._example[reason]}: {REASON_FIXES.get(reason, reason)}.")
        elif files_rejected:
            first = files_rejected[0]
            self.error = InputError(f"no text to train on: {len(files_rejected)} input file(s) could not be read, "
                                    f"e.g. {first.path}: {first.detail}.")
        if self.error is not None:
            raise self.error
