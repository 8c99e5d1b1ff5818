"""Text clean-up before tokenization: newline/BOM normalization and rule-based sentence splitting.

Sentences are found from the raw text, never from token ids, so BART's sentence permutation works
for any tokenizer (a period piece differs per vocabulary and Japanese has none). The splitter is
one compiled regular expression that finds sentence ends (C speed); Python only slices sentences.
"""
from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path
from typing import Iterator, Sequence

from lmpairs.errors import UserError

BOM = "\ufeff"
GLOB_CHARS = frozenset("*?[")
_CLOSERS = "\"'”’)\\]}»」』）】〉》"
_NEWLINES = "\n\r\u2028\u2029\x85"
_SENTENCE_END = re.compile(
    # Every branch starts at one character class, so the regex engine skips to candidates in C.
    rf"[.!?。！？{_NEWLINES}](?:"
    # Latin . ! ? (plus closing quotes/brackets) then whitespace, unless the next word starts in
    # lowercase, so "e.g. the" or "Mr. and Mrs." stay in one sentence.
    rf"(?<=[.!?])[{_CLOSERS}]*(?=\s+(?![\sa-z]))"
    # CJK 。！？ (plus closers): no space needed after them.
    rf"|(?<=[。！？])[{_CLOSERS}]*"
    # Any line break ends a sentence.
    rf"|(?<=[{_NEWLINES}]))"
)


class CorpusError(UserError):
    """An input path or record is unusable; the message names it and the fix."""


def normalize_text(text: str) -> str:
    """Drop a leading byte-order mark and turn CRLF / CR line endings into LF.

    Files from Windows and Project Gutenberg carry both; left alone, ``\\ufeff`` becomes an unknown
    piece and ``\\r`` a stray token in models that keep control characters (byte fallback).
    """
    if text.startswith(BOM):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences at line breaks, after ``. ! ?`` and after ``。！？``.

    Only the whitespace between sentences is dropped: joining the result with the removed
    whitespace gives ``text`` back. Empty pieces (blank lines) are skipped. A final sentence
    without end punctuation is kept.
    """
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    ends.append(len(text))
    pieces = map(text.__getitem__, map(slice, [0, *ends], ends))
    return [piece for piece in map(str.strip, pieces) if piece]


def sentence_end_offsets(text: str) -> list[int]:
    """Where each sentence of :func:`split_sentences` ends in ``text``: the character offset just
    past its last non-space character, one per sentence, increasing. Tokenizers that encode a whole
    text map these to token positions through their offsets."""
    cuts = [match.end() for match in _SENTENCE_END.finditer(text)]
    cuts.append(len(text))
    ends, start = [], 0
    for cut in cuts:
        kept = text[start:cut].rstrip()
        if kept.strip():
            ends.append(start + len(kept))
        start = cut
    return ends


def resolve_inputs(inputs: Sequence[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    """Expand files, directories (every file below, hidden ones skipped) and globs, in the given
    order, each expansion sorted, duplicates dropped, so a run reads files in a stable order."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found: dict[Path, None] = {}
    for item in inputs:
        text = os.fspath(item)
        if GLOB_CHARS & set(text):
            matches = sorted(p for p in map(Path, glob.glob(text, recursive=True)) if p.is_file())
        elif Path(text).is_dir():
            root = Path(text)
            matches = sorted(p for p in root.rglob("*") if p.is_file()
                             and not any(part.startswith(".") for part in p.relative_to(root).parts))
        elif Path(text).is_file():
            matches = [Path(text)]
        else:
            raise CorpusError(f"{text}: no such file or directory; pass text files, folders or globs.")
        if not matches:
            raise CorpusError(f"{text}: matches no files; check the pattern or folder (quote a "
                              "pattern so the shell does not expand it).")
        found.update(dict.fromkeys(matches))
    if not found:
        raise CorpusError("no inputs given; pass text files, folders or globs.")
    return list(found)


def iter_corpus_sentences(paths: Sequence[Path], *, text_field: str = "text") -> Iterator[str]:
    """Sentences of every file: text files line by line (UTF-8, BOM and CRLF handled), ``.jsonl``
    files record by record from ``text_field``."""
    for path in paths:
        try:
            if path.suffix == ".jsonl":
                for text in _iter_jsonl_texts(path, text_field):
                    yield from split_sentences(normalize_text(text))
            else:
                # utf-8-sig drops a BOM; newline=None turns CRLF and CR into LF.
                with open(path, encoding="utf-8-sig", newline=None) as lines:
                    for line in lines:
                        yield from split_sentences(line)
        except UnicodeDecodeError as err:
            raise CorpusError(f"{path}: not UTF-8 text ({err.reason}); convert it to UTF-8, "
                              "e.g. with iconv -t UTF-8.") from err
        except OSError as err:
            raise CorpusError(f"{path}: cannot read it ({err.strerror}); check that it exists "
                              "and is readable.") from err


class CorpusSentences:
    """Re-iterable sentences of ``paths`` that count what they gave and keep the error that stopped
    them: SentencePiece's trainer flattens exceptions from its iterator into a RuntimeError."""

    def __init__(self, paths: Sequence[Path], *, text_field: str = "text") -> None:
        self.paths, self.text_field = list(paths), text_field
        self.count = 0
        self.error: CorpusError | None = None

    def __iter__(self) -> Iterator[str]:
        self.count, self.error = 0, None
        try:
            for sentence in iter_corpus_sentences(self.paths, text_field=self.text_field):
                self.count += 1
                yield sentence
        except CorpusError as err:
            self.error = err
            raise


def _iter_jsonl_texts(path: Path, text_field: str) -> Iterator[str]:
    with open(path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line).get(text_field)
            except (json.JSONDecodeError, AttributeError) as err:
                raise CorpusError(f"{path}:{number}: not a JSON object per line; fix the record or "
                                  "pass plain text files.") from err
            if not isinstance(text, str):
                raise CorpusError(f"{path}:{number}: field {text_field!r} is {type(text).__name__}, "
                                  "expected a string; pass --text-field with the right name.")
            yield text
