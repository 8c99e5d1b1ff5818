"""Split one file's bytes into records and check each: text lines/paragraphs/whole file, JSONL, Parquet.

Every function returns ``(record_index, text, reason)`` triples in file order: ``text`` is the
normalized document (BOM dropped, CRLF -> LF) and ``reason`` is None, or ``text`` is None and
``reason`` is one of :data:`~lmpairs.pipeline.records.REJECTION_REASONS`. A problem with the file
as a whole (a Parquet file without the text column) raises :class:`FileFormatError`.
"""
from __future__ import annotations

import json
import re
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from lmpairs.errors import UserError
from lmpairs.pipeline.records import EMPTY, INVALID_JSON, INVALID_UTF8, MISSING_FIELD, NUL_BYTES, TOO_LONG
from lmpairs.text import normalize_text

ParsedRecord = tuple[int, "str | None", "str | None"]
"""``(record_index, text, reason)``: exactly one of ``text`` and ``reason`` is None."""
UTF8_BOM = b"\xef\xbb\xbf"
_BREAK = rb"(?:\r\n|\n|\r(?!\n))"  # a CRLF is one break, never a CR break plus an LF break
_LINE_BREAK = re.compile(_BREAK)
_PARAGRAPH_BREAK = re.compile(_BREAK + rb"(?:[ \t\f\v]*" + _BREAK + rb")+")


class FileFormatError(UserError):
    """The file as a whole does not hold what the format needs (e.g. no text column)."""


def check_text(text: str, *, max_document_bytes: int) -> tuple[str | None, str | None]:
    """``(normalized, None)`` for a usable document, else ``(None, reason)``."""
    if "\x00" in text:
        return None, NUL_BYTES
    text = normalize_text(text)
    if not text.strip():
        return None, EMPTY
    if len(text) > max_document_bytes or (4 * len(text) > max_document_bytes
                                          and len(text.encode("utf-8")) > max_document_bytes):
        return None, TOO_LONG
    return text, None


def check_raw(raw: bytes, *, max_document_bytes: int) -> tuple[str | None, str | None]:
    """Decode one record's UTF-8 bytes and check it: ``(text, None)`` or ``(None, reason)``."""
    if len(raw) > max_document_bytes:
        return None, TOO_LONG
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, INVALID_UTF8
    return check_text(text, max_document_bytes=max_document_bytes)


def split_records(data: bytes, documents: str) -> list[bytes]:
    """A text file's records: lines, blank-line-separated paragraphs, or the whole file."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    if documents == "file":
        return [data]
    if documents == "line":
        pieces = _LINE_BREAK.split(data)
        return pieces[:-1] if len(pieces) > 1 and pieces[-1] == b"" else pieces
    if documents == "paragraph":
        pieces = _PARAGRAPH_BREAK.split(data)
        return [p for i, p in enumerate(pieces) if p or 0 < i < len(pieces) - 1]
    raise ValueError(f"documents={documents!r}: choose line, paragraph or file.")


def parse_text(data: bytes, *, documents: str, text_field: str, max_document_bytes: int) -> Iterator[ParsedRecord]:
    """Records of a plain-text file (``documents`` = line / paragraph / file)."""
    for index, raw in enumerate(split_records(data, documents)):
        yield (index, *check_raw(raw, max_document_bytes=max_document_bytes))


def parse_jsonl(data: bytes, *, documents: str, text_field: str, max_document_bytes: int) -> Iterator[ParsedRecord]:
    """Records of a JSON Lines file: each line's ``text_field`` string."""
    for index, raw in enumerate(split_records(data, "line")):
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield index, None, INVALID_UTF8
            continue
        except ValueError:
            yield index, None, (EMPTY if not raw.strip() else INVALID_JSON)
            continue
        text = record.get(text_field) if isinstance(record, dict) else None
        if not isinstance(text, str):
            yield index, None, MISSING_FIELD
            continue
        yield (index, *check_text(text, max_document_bytes=max_document_bytes))


def parse_parquet(data: bytes, *, documents: str, text_field: str, max_document_bytes: int) -> Iterator[ParsedRecord]:
    """Records of a Parquet file: each row's ``text_field`` (string or UTF-8 binary; null is missing)."""
    schema = pq.read_schema(pa.BufferReader(data))
    if text_field not in schema.names:
        raise FileFormatError(f"no column {text_field!r} (columns: {', '.join(schema.names)}); "
                              "pass --text-field NAME")
    kind = schema.field(text_field).type
    is_binary = pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
    if not (is_binary or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise FileFormatError(f"column {text_field!r} is {kind}, expected string; pass --text-field NAME")
    column = pq.read_table(pa.BufferReader(data), columns=[text_field]).column(0)
    for index, value in enumerate(column.to_pylist()):
        if value is None:
            yield index, None, MISSING_FIELD
        elif is_binary:
            yield (index, *check_raw(value, max_document_bytes=max_document_bytes))
        else:
            yield (index, *check_text(value, max_document_bytes=max_document_bytes))


PARSERS = {"text": parse_text, "jsonl": parse_jsonl, "parquet": parse_parquet}
"""Input format -> parser; every parser takes the same keyword arguments and ignores what it does not use."""


def parse_records(data: bytes, *, input_format: str, documents: str, text_field: str,
                  max_document_bytes: int) -> list[ParsedRecord]:
    """All records of one file, parsed by ``input_format`` (text, jsonl or parquet)."""
    try:
        parser = PARSERS[input_format]
    except KeyError:
        raise ValueError(f"input format {input_format!r}: choose {', '.join(PARSERS)}.") from None
    return list(parser(data, documents=documents, text_field=text_field, max_document_bytes=max_document_bytes))
