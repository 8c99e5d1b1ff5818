"""Join line batches into paragraphs (maximal runs of non-blank lines), with Python work per paragraph.

A 64 MB corpus holds about a million lines but only tens of thousands of paragraphs, so a batch's
blankness is found in C-level calls and numpy finds its runs of non-blank lines; Python then walks
the runs. A batch holding a line over the limit (content None, blankness only in ``long_blank``)
goes through the per-line loop instead; both follow the same rules, which a test checks.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from lmpairs.reading.lines import NON_BLANK, Blocks, LineBatch, LineScanner


@dataclass(slots=True)
class _State:
    """What a batch hands the next: the open paragraph (``start`` -1: none; ``contents`` None: not
    held) and whether the last line seen was blank (or absent), i.e. whether a paragraph may start."""

    previous_blank: bool
    start: int = -1
    contents: list[bytes] | None = None
    end: int = 0


# A step reads one batch into ``done`` and says whether to go on (False: a paragraph would start at
# or after ``stop``).
_Step = Callable[[_State, LineBatch, Blocks, int, int | None, int], bool]


def iter_paragraphs(scanner: LineScanner, batches: Iterable[LineBatch], *, limit: int, stop: int | None,
                    previous_blank: bool = True, min_start: int = 0) -> Iterator[Blocks]:
    """Runs of non-blank lines, joined by ``\\n``, a batch at a time; ``previous_blank`` says whether
    the line before the first one given was blank (or absent), i.e. whether it may start a paragraph.
    A paragraph starts only at or after ``min_start`` and before ``stop``; once one is open
    ``scanner.continuing`` lets the scanner read past ``stop`` to finish it."""
    return _paragraphs(scanner, batches, _by_runs, limit=limit, stop=stop, previous_blank=previous_blank,
                       min_start=min_start)


def _paragraphs(scanner: LineScanner, batches: Iterable[LineBatch], step: _Step, *, limit: int, stop: int | None,
                previous_blank: bool, min_start: int) -> Iterator[Blocks]:
    """:func:`iter_paragraphs` with each batch read by ``step`` (the test runs the per-line one)."""
    state = _State(previous_blank)
    for batch in batches:
        done = Blocks([], [], [])
        going = step(state, batch, done, limit, stop, min_start)
        if done.starts:
            yield done
        if not going:
            return
        scanner.continuing = state.start >= 0
    if state.start >= 0:
        done = Blocks([], [], [])
        _close(state, done)
        yield done


def _by_runs(state: _State, batch: LineBatch, done: Blocks, limit: int, stop: int | None, min_start: int) -> bool:
    """The batch a run of non-blank lines at a time."""
    starts, lines, sizes, _ = batch
    try:  # lines hold no break, so strip() drops exactly the blank bytes " \t\f\v"
        filled = np.fromiter(map(bool, map(bytes.strip, lines)), bool, count=len(lines))
    except TypeError:  # a None line: its blankness is in long_blank, which the per-line loop reads
        return _by_line(state, batch, done, limit, stop, min_start)
    edges = np.diff(filled.view(np.int8), prepend=0, append=0)
    firsts, ends = np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()
    for a, b in zip(firsts, ends):
        if a > 0:  # blank lines come before this run
            _close(state, done)
            state.previous_blank = True
        if state.start < 0 and state.previous_blank:
            if stop is not None and starts[a] >= stop:
                return False
            if starts[a] >= min_start:
                _open(state, starts[a], sizes[a], lines[a])
                a += 1  # the rest of the run extends it
        if state.start >= 0 and a < b:
            _extend(state, lines[a:b], starts[b - 1] + sizes[b - 1], limit)
        state.previous_blank = False
    if lines and (not ends or ends[-1] < len(lines)):  # the batch ends on blank lines
        _close(state, done)
        state.previous_blank = True
    return True


def _open(state: _State, start: int, size: int, line: bytes | None) -> None:
    state.start, state.end = start, start + size
    state.contents = [line] if line is not None else None


def _extend(state: _State, lines: list[bytes], end: int, limit: int) -> None:
    """Add ``lines`` (none None) to the open paragraph, now ending at ``end``. Line ends only grow,
    so the last line taking the paragraph past ``limit`` is the same test as any line doing so."""
    state.end = end
    if state.contents is not None and end - state.start <= limit:
        state.contents += lines
    else:
        state.contents = None


def _close(state: _State, done: Blocks) -> None:
    """Move the open paragraph, if any, into ``done``."""
    if state.start >= 0:
        done.starts.append(state.start)
        done.raws.append(b"\n".join(state.contents) if state.contents is not None else None)
        done.sizes.append(state.end - state.start)
        state.start = -1


def _by_line(state: _State, batch: LineBatch, done: Blocks, limit: int, stop: int | None, min_start: int) -> bool:
    """The batch a line at a time: the rules in their plainest form, and the only step that reads
    lines over the limit (None)."""
    starts, lines, sizes, long_blank = batch
    search = NON_BLANK.search
    for i, line in enumerate(lines):
        if (i in long_blank) if line is None else not search(line):
            _close(state, done)
            state.previous_blank = True
            continue
        if state.start >= 0:  # the open paragraph goes on
            state.end = starts[i] + sizes[i]
            if state.contents is not None and line is not None and state.end - state.start <= limit:
                state.contents.append(line)
            else:
                state.contents = None
        elif state.previous_blank:
            if stop is not None and starts[i] >= stop:
                return False
            if starts[i] >= min_start:
                _open(state, starts[i], sizes[i], line)
        state.previous_blank = False
    return True
