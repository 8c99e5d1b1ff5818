"""Cut a byte stream into lines and paragraphs with their byte offsets, in bounded memory.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``; a blank line holds only spaces and tabs
(`` \\t\\f\\v``); a paragraph is a maximal run of non-blank lines. A record's key position is the
offset of its first byte (after a leading UTF-8 byte-order mark). Whether a position starts a
record depends only on the bytes around it (the line before it, for a paragraph), which is what
lets a byte-range split find its first record without reading what precedes it:

    a split [start, end) reads the records whose first byte lies in [start, end): it skips to the
    first record start at or after ``start`` and reads past ``end`` to finish its last record.

Lines longer than the limit are not held: their content is ``None`` and only their size and
blankness are tracked while the scanner skips to their end.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Iterable, Iterator, NamedTuple

BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\f\v"
_BREAK = re.compile(rb"(\r\n|\r|\n)")
_NON_BLANK = re.compile(rb"[^ \t\f\v]")
LOOKBACK_BYTES = 4096


class Line(NamedTuple):
    """``start``: offset of the first byte; ``content`` without its break (None when over the
    limit); ``size``: bytes of content; ``blank``: only spaces/tabs; ``end``: offset after the break."""

    start: int
    content: bytes | None
    size: int
    blank: bool
    end: int


class Block(NamedTuple):
    """A record's raw bytes (None when over the limit) at ``start``, with ``size`` bytes."""

    start: int
    raw: bytes | None
    size: int


class LineScanner:
    """Lines of ``chunks`` (consecutive bytes starting at ``offset``), stopping before a line that
    starts at or after ``stop`` unless the consumer has set :attr:`continuing` (a paragraph that
    began before ``stop`` is still open). :attr:`position` is the offset reached (EOF: the size)."""

    def __init__(self, chunks: Iterable[bytes], *, offset: int, limit: int, stop: int | None = None) -> None:
        self._chunks, self._limit, self._stop = chunks, limit, stop
        self.position = offset
        self.continuing = False
        self.stopped = False
        self._lines = self._scan()

    def __iter__(self) -> Iterator[Line]:
        return self

    def __next__(self) -> Line:
        return next(self._lines)

    def _scan(self) -> Iterator[Line]:
        limit, stop = self._limit, self._stop
        cursor = self.position  # offset of the first byte of ``data`` / the pending line
        held = b""
        pieces: list[bytes] | None = []
        size, blank = 0, True
        for chunk in self._chunks:
            data = held + chunk if held else chunk
            held = b""
            if data.endswith(b"\r"):  # a CR might be half of a CRLF: decide with the next chunk
                data, held = data[:-1], b"\r"
            if b"\r" in data:
                parts = _BREAK.split(data)
                contents, seps = parts[0::2], [len(s) for s in parts[1::2]]
            else:
                contents = data.split(b"\n")
                seps = None
            last = len(contents) - 1
            for i, content in enumerate(contents):
                if not size and not pieces and stop is not None and cursor >= stop and not self.continuing:
                    self.position, self.stopped = cursor, True
                    return
                if i == last:  # the line goes on in the next chunk
                    if content:
                        size += len(content)
                        blank = blank and not _NON_BLANK.search(content)
                        if pieces is not None:
                            pieces.append(content)
                            if size > limit:
                                pieces = None
                    continue
                sep = 1 if seps is None else seps[i]
                if pieces:
                    pieces.append(content)
                    content = b"".join(pieces)
                    size = len(content)
                    line_blank = not _NON_BLANK.search(content)
                elif pieces is None:
                    size += len(content)
                    line_blank = blank and not _NON_BLANK.search(content)
                    content = None
                else:
                    size = len(content)
                    line_blank = not _NON_BLANK.search(content)
                start = cursor
                cursor += size + sep
                if size > limit:
                    content = None
                yield Line(start, content, size, line_blank, cursor)
                pieces, size, blank = [], 0, True
        if held or size or pieces:  # a final line without a break, or ending in a CR
            if not (size or pieces) and stop is not None and cursor >= stop and not self.continuing:
                self.position, self.stopped = cursor, True
                return
            content = b"".join(pieces) if pieces is not None else None
            start = cursor
            cursor += size + len(held)
            if content is not None:
                blank = not _NON_BLANK.search(content)
            yield Line(start, content if size <= limit else None, size, blank, cursor)
        self.position = cursor


def iter_lines(scanner: LineScanner, *, min_start: int = 0) -> Iterator[Block]:
    """Every line as a record (blank and empty lines too: ``line`` documents and JSONL)."""
    for line in scanner:
        if line.start >= min_start:
            yield Block(line.start, line.content, line.size)


def iter_paragraphs(scanner: LineScanner, *, limit: int, previous_blank: bool = True,
                    min_start: int = 0) -> Iterator[Block]:
    """Runs of non-blank lines, joined by ``\\n``; ``previous_blank`` says whether the line before
    the scanner's first line was blank (or absent), i.e. whether that first line may start one."""
    start, contents, end = -1, None, 0
    for line in scanner:
        if line.blank:
            if start >= 0:
                yield _paragraph(start, contents, end)
                start, scanner.continuing = -1, False
            previous_blank = True
            continue
        if start >= 0:  # the open paragraph goes on
            end = line.start + line.size
            if contents is not None and line.content is not None and end - start <= limit:
                contents.append(line.content)
            else:
                contents = None
        elif previous_blank and line.start >= min_start:
            start, end = line.start, line.start + line.size
            contents = [line.content] if line.content is not None else None
            scanner.continuing = True
        previous_blank = False
    if start >= 0:
        yield _paragraph(start, contents, end)


def _paragraph(start: int, contents: list[bytes] | None, end: int) -> Block:
    return Block(start, b"\n".join(contents) if contents is not None else None, end - start)


def line_before_is_blank(f: BinaryIO, first: Line) -> bool:
    """Whether the whole line that ends where ``first`` ends is blank, where ``first`` is the
    (partial) line a range split's scan began with, at ``first.start`` > len(BOM).

    Only the bytes before ``first.start`` that are spaces/tabs are read back, in small blocks:
    the answer is known at the first other byte.
    """
    if not first.blank:
        return False
    resume = f.tell()
    try:
        return _blank_before(f, first)
    finally:
        f.seek(resume)


def _blank_before(f: BinaryIO, first: Line) -> bool:
    pos = first.start - 1
    if first.size == 0:  # the scan began on a break: was it the LF of a CRLF?
        f.seek(pos)
        if f.read(1) == b"\r" and f.read(1) == b"\n" and first.end == first.start + 1:
            pos -= 1
    f.seek(0)
    floor = len(BOM) if f.read(len(BOM)) == BOM else 0
    while pos >= floor:
        low = max(floor, pos - LOOKBACK_BYTES + 1)
        f.seek(low)
        kept = f.read(pos - low + 1).rstrip(WHITESPACE)
        if kept:
            return kept[-1:] in (b"\r", b"\n")
        pos = low - 1
    return True
