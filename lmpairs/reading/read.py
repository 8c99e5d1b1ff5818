"""Read one input split as a stream of records: text lines/paragraphs/whole files, JSONL, Parquet.

Records come one at a time in file order with memory bounded by the largest record kept (up to
``max_document_bytes``; longer ones are skipped unheld and rejected as ``too_long``) plus one read
chunk. A split that cannot be read to its end raises :class:`UnreadableInput` part-way, possibly
after some records: the caller discards everything the split produced and counts the split.
"""
from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, repeat
from typing import BinaryIO, NamedTuple

from lmpairs.reading.decompress import DamagedStream, iter_decompressed
from lmpairs.reading.errors import UnreadableInput
from lmpairs.reading.files import FileAccess, LocalFiles
from lmpairs.reading.jsonl import check_json_lines
from lmpairs.reading.lines import BOM, Blocks, LineScanner, iter_lines, line_before_is_blank
from lmpairs.reading.paragraphs import iter_paragraphs
from lmpairs.reading.parquet import iter_parquet
from lmpairs.reading.records import JSON_LINE_FACTOR, Record, check_lines
from lmpairs.reading.splits import DOCUMENTS, UNCOMPRESSED, InputSplit

DEFAULT_MAX_DOCUMENT_BYTES = 16 * 2**20


class RecordColumns(NamedTuple):
    """A block of consecutive records as columns: a record's key is ``(key_prefix, positions[i])``
    (its string form ``f"{key_prefix}:{position}"``); exactly one of ``texts[i]``, ``reasons[i]`` is None."""

    key_prefix: str
    positions: list[int]
    texts: list[str | None]
    reasons: list[str | None]


def read_split(split: InputSplit, *, documents: str = "paragraph", text_field: str = "text",
               max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
               files: FileAccess | None = None) -> Iterator[Record]:
    """The records of ``split`` in file order: ``Record(key, text, None)`` or ``Record(key, None, reason)``.

    ``documents`` applies to text (``paragraph``: blank-line separated; ``line``; ``file``); JSONL is
    one record per line and Parquet one per row, whatever it says. The build reads
    :func:`read_split_columns` instead (no per-record object).
    """
    for block in read_split_columns(split, documents=documents, text_field=text_field,
                                    max_document_bytes=max_document_bytes, files=files):
        keys = [f"{block.key_prefix}:{position}" for position in block.positions]
        yield from map(tuple.__new__, repeat(Record), zip(keys, block.texts, block.reasons))  # Record(k, t, r)


def read_split_columns(split: InputSplit, *, documents: str = "paragraph", text_field: str = "text",
                       max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
                       files: FileAccess | None = None) -> Iterator[RecordColumns]:
    """The records of ``split`` in file order, a block of columns at a time (see :func:`read_split`)."""
    if documents not in DOCUMENTS:
        raise ValueError(f"documents={documents!r}: choose {', '.join(DOCUMENTS)}.")
    files = files if files is not None else LocalFiles()
    prefix = split.key_prefix
    try:
        with files.open(split.path) as f:
            if split.format == "parquet":
                for first, texts, reasons in iter_parquet(f, path=split.path, text_field=text_field,
                                                          max_document_bytes=max_document_bytes):
                    yield RecordColumns(prefix, list(range(first, first + len(texts))), texts, reasons)
            elif split.format == "jsonl":
                for starts, raws, _ in _blocks(f, split, "line", max_document_bytes * JSON_LINE_FACTOR + 2**16):
                    texts, reasons = check_json_lines(raws, text_field=text_field,
                                                      max_document_bytes=max_document_bytes)
                    yield RecordColumns(prefix, starts, texts, reasons)
            elif split.format == "text":
                for starts, raws, sizes in _blocks(f, split, documents, max_document_bytes):
                    texts, reasons = check_lines(raws, sizes, max_document_bytes)
                    yield RecordColumns(prefix, starts, texts, reasons)
            else:
                raise ValueError(f"{split.path}: input format {split.format!r}: expected text, jsonl or parquet.")
    except DamagedStream as err:
        raise UnreadableInput(split.path, str(err)) from err
    except UnreadableInput:
        raise
    except OSError as err:
        raise UnreadableInput(split.path, f"cannot read it ({err})") from err


def _blocks(f: BinaryIO, split: InputSplit, documents: str, limit: int) -> Iterator[Blocks]:
    """Raw records of a text or JSONL split whose first byte lies in the split's range."""
    uncompressed = split.compression == UNCOMPRESSED
    if uncompressed and split.start > len(BOM):
        if documents != "file":  # a whole-file record starts in the split at the file's beginning
            yield from _range_blocks(f, split, documents, limit)
        return
    stop = split.end if uncompressed else None
    chunks, offset = _skip_bom(iter_decompressed(f.read, split.compression))
    if documents == "file":
        yield from _whole_file(chunks, offset, limit)
        return
    scanner = LineScanner(chunks, offset=offset, limit=limit, stop=stop)
    if documents == "paragraph":
        yield from iter_paragraphs(scanner, iter(scanner), limit=limit, stop=stop, min_start=split.start)
    else:
        yield from iter_lines(iter(scanner), stop=stop, min_start=split.start)
    if uncompressed:
        _check_size(split, scanner)


def _range_blocks(f: BinaryIO, split: InputSplit, documents: str, limit: int) -> Iterator[Blocks]:
    """A byte range inside an uncompressed file, scanned from the byte before its start: the first
    (partial) line then ends exactly where the first line starting at or after ``start`` begins."""
    f.seek(split.start - 1)
    scanner = LineScanner(iter_decompressed(f.read, UNCOMPRESSED), offset=split.start - 1, limit=limit,
                          stop=split.end, keep_first=True)
    batches = iter(scanner)
    head = next(batches, None)  # by now the first line is complete
    batches = chain([head] if head is not None else [], batches)
    if documents == "paragraph":
        previous_blank = scanner.first is None or line_before_is_blank(f, scanner.first)
        yield from iter_paragraphs(scanner, batches, limit=limit, stop=split.end, previous_blank=previous_blank)
    else:
        yield from iter_lines(batches, stop=split.end)
    _check_size(split, scanner)


def _skip_bom(chunks: Iterator[bytes]) -> tuple[Iterator[bytes], int]:
    """``(chunks without a leading UTF-8 BOM, offset of the first byte left)``."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(BOM):
            break
    offset = len(BOM) if head.startswith(BOM) else 0

    def rest() -> Iterator[bytes]:
        if head[offset:]:
            yield head[offset:]
        yield from chunks

    return rest(), offset


def _whole_file(chunks: Iterator[bytes], offset: int, limit: int) -> Iterator[Blocks]:
    """The whole (decoded) file as one record; nothing for an empty file; unheld past ``limit``."""
    held: list[bytes] | None = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if held is not None:
            held.append(chunk)
            if size > limit:
                held = None
    if size:
        yield Blocks([offset], [b"".join(held) if held is not None else None], [size])


def _check_size(split: InputSplit, scanner: LineScanner) -> None:
    if scanner.at_eof and scanner.position < split.end:
        raise UnreadableInput(split.path, f"ended at byte {scanner.position}, but it had {split.file_bytes} bytes "
                                          "when the inputs were listed; do not change inputs during a build")
