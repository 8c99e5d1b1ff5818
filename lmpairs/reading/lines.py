"""Cut a byte stream into lines and paragraphs with their byte offsets, in bounded memory.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``; a blank line holds only spaces and tabs
(`` \\t\\f\\v``); a paragraph is a maximal run of non-blank lines. A record's key position is the
offset of its first byte (after a leading UTF-8 byte-order mark). Whether a position starts a
record depends only on the bytes around it (the line before it, for a paragraph), which is what
lets a byte-range split find its first record without reading what precedes it:

    a split [start, end) reads the records whose first byte lies in [start, end): it skips to the
    first record start at or after ``start`` and reads past ``end`` to finish its last record.

The scanner works a read chunk at a time and hands over the chunk's complete lines as one batch
(Python work per line stays a few list operations; :mod:`lmpairs.reading.paragraphs` joins them
into paragraphs). Lines longer than the limit are not held: their content is ``None`` and only
their size and blankness are tracked while the scanner skips.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import BinaryIO, NamedTuple

BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\f\v"
_BREAK = re.compile(rb"(\r\n|\r|\n)")
NON_BLANK = re.compile(rb"[^ \t\f\v]")
LOOKBACK_BYTES = 4096


class Line(NamedTuple):
    """``start``: offset of the first byte; ``content`` without its break (None when over the
    limit); ``size``: bytes of content; ``blank``: only spaces/tabs."""

    start: int
    content: bytes | None
    size: int
    blank: bool


class LineBatch(NamedTuple):
    """Complete lines of one chunk: parallel lists, and the indices of overlong blank lines."""

    starts: list[int]
    contents: list[bytes | None]
    sizes: list[int]
    long_blank: frozenset[int]


class Blocks(NamedTuple):
    """Records' raw bytes (None: over the limit, not held) with their start offsets and sizes."""

    starts: list[int]
    raws: list[bytes | None]
    sizes: list[int]


class LineScanner:
    """Line batches of ``chunks`` (consecutive bytes starting at ``offset``).

    It never begins reading a line that starts at or after ``stop`` unless the consumer has set
    :attr:`continuing` (a paragraph that began before ``stop`` is still open) after the batch it
    was given; the consumer still skips such lines inside a batch. With ``keep_first`` the first
    line is held out of the batches as :attr:`first` (a range split's partial first line).
    :attr:`position` is the offset reached; :attr:`at_eof` says whether that is the stream's end.
    """

    def __init__(self, chunks: Iterable[bytes], *, offset: int, limit: int, stop: int | None = None,
                 keep_first: bool = False) -> None:
        self._chunks, self._limit, self._stop, self._keep_first = chunks, limit, stop, keep_first
        self.position = offset
        self.continuing = False
        self.stopped = False
        self.at_eof = False
        self.first: Line | None = None
        self._batches = self._scan()

    def __iter__(self) -> Iterator[LineBatch]:
        return self._batches

    def _stop_here(self, cursor: int) -> bool:
        if self._stop is not None and cursor >= self._stop and not self.continuing:
            self.position, self.stopped = cursor, True
            return True
        return False

    def _scan(self) -> Iterator[LineBatch]:
        limit = self._limit
        cursor = self.position  # offset of the pending line's first byte
        held = b""  # a CR at a chunk's end: maybe half of a CRLF, decided with the next chunk
        # The pending line so far; None: not held (over the limit, or a range split's first line,
        # of which only the size and blankness matter).
        pieces: list[bytes] | None = None if self._keep_first else []
        size, blank = 0, True
        if self._stop_here(cursor):
            return
        for chunk in self._chunks:
            data = held + chunk if held else chunk
            held = b""
            if data.endswith(b"\r"):
                data, held = data[:-1], b"\r"
            if b"\r" in data:
                parts = _BREAK.split(data)
                contents, seps = parts[0::2], list(map(len, parts[1::2]))
            else:
                contents, seps = data.split(b"\n"), None
            last = contents.pop()
            if contents:  # the pending line ends in this chunk
                head = contents[0]
                if pieces is None:
                    blank = blank and not NON_BLANK.search(head)
                    size += len(head)
                    contents[0] = b""
                elif pieces:
                    pieces.append(head)
                    contents[0] = b"".join(pieces)
                sizes = list(map(len, contents))
                long_blank = frozenset()
                if pieces is None:
                    contents[0], sizes[0] = None, size
                    if blank:
                        long_blank = frozenset((0,))
                steps = map(int.__add__, sizes, seps) if seps is not None else (n + 1 for n in sizes)
                starts = list(accumulate(steps, initial=cursor))
                cursor = starts.pop()
                if max(sizes) > limit:
                    long_blank = long_blank | self._drop_long(contents, sizes, limit)
                batch = LineBatch(starts, contents, sizes, long_blank)
                if self._keep_first and self.first is None:
                    batch = self._take_first(batch)
                if batch.starts:
                    yield batch
                pieces, size, blank = [], 0, True
                if self._stop_here(cursor):
                    return
            if last:
                size += len(last)
                if pieces is not None:
                    pieces.append(last)
                    if size > limit:
                        blank = not any(NON_BLANK.search(p) for p in pieces)
                        pieces = None
                else:
                    blank = blank and not NON_BLANK.search(last)
        if held or size:  # a final line without a break, or one ending in a lone CR
            content = b"".join(pieces) if pieces is not None else None
            blank = not NON_BLANK.search(content) if content is not None else blank
            long_blank = frozenset((0,)) if content is None and blank else frozenset()
            batch = LineBatch([cursor], [content], [size], long_blank)
            cursor += size + len(held)
            if self._keep_first and self.first is None:
                batch = self._take_first(batch)
            if batch.starts:
                yield batch
        self.position, self.at_eof = cursor, True

    @staticmethod
    def _drop_long(contents: list, sizes: list[int], limit: int) -> frozenset[int]:
        """Replace lines over ``limit`` by None; the indices of those that were blank."""
        blank = set()
        for i, n in enumerate(sizes):
            if n > limit and contents[i] is not None:
                if not NON_BLANK.search(contents[i]):
                    blank.add(i)
                contents[i] = None
        return frozenset(blank)

    def _take_first(self, batch: LineBatch) -> LineBatch:
        content = batch.contents[0]
        blank = 0 in batch.long_blank if content is None else not NON_BLANK.search(content)
        self.first = Line(batch.starts[0], content, batch.sizes[0], blank)
        return LineBatch(batch.starts[1:], batch.contents[1:], batch.sizes[1:],
                         frozenset(i - 1 for i in batch.long_blank if i))


def iter_lines(batches: Iterable[LineBatch], *, stop: int | None, min_start: int = 0) -> Iterator[Blocks]:
    """Every line as a record (blank and empty lines too: ``line`` documents and JSONL), a batch at a time."""
    for starts, contents, sizes, _ in batches:
        low = bisect_left(starts, min_start) if starts[0] < min_start else 0
        high = bisect_left(starts, stop) if stop is not None and starts[-1] >= stop else len(starts)
        if low == 0 and high == len(starts):
            yield Blocks(starts, contents, sizes)
        elif low < high:
            yield Blocks(starts[low:high], contents[low:high], sizes[low:high])
        if high < len(starts):
            return


def line_before_is_blank(f: BinaryIO, first: Line) -> bool:
    """Whether the whole line that ends where ``first`` ends is blank, where ``first`` is the
    (partial) line a range split's scan began with, at ``first.start`` > len(BOM).

    Only the bytes before ``first.start`` that are spaces/tabs are read back, in small blocks:
    the answer is known at the first other byte. The file position is restored.
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
        if f.read(2) == b"\r\n":
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
