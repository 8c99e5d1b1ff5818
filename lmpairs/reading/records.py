"""Check one record's bytes or text: a usable, normalized document, or a named rejection reason.

Every record-level failure is one of :data:`READ_REJECTION_REASONS`; nothing a record holds (deep
JSON nesting, lone surrogates, NUL bytes, bad UTF-8) escapes as an exception.
"""
from __future__ import annotations

import json
import re
from typing import NamedTuple

from lmpairs.sentences import normalize_text

EMPTY = "empty"
INVALID_UTF8 = "invalid_utf8"
INVALID_UNICODE = "invalid_unicode"
NUL_BYTES = "nul_bytes"
TOO_LONG = "too_long"
INVALID_JSON = "invalid_json"
MISSING_FIELD = "missing_field"
READ_REJECTION_REASONS = (EMPTY, INVALID_UTF8, INVALID_UNICODE, NUL_BYTES, TOO_LONG, INVALID_JSON, MISSING_FIELD)
"""Every reason reading leaves a record out. ``invalid_unicode``: a JSON string with a lone UTF-16
surrogate (``"\\ud800"``), which no UTF-8 encoder or tokenizer accepts."""
_SURROGATE = re.compile("[\ud800-\udfff]")
JSON_LINE_FACTOR = 6
"""A JSONL line may hold up to this many bytes per byte of its text (``\\u0001`` escapes) before it
is rejected unread as ``too_long``."""


class Record(NamedTuple):
    """``key`` = ``f"{key_prefix}:{position}"``; exactly one of ``text`` and ``reason`` is None."""

    key: str
    text: str | None
    reason: str | None


def check_text(text: str, *, max_document_bytes: int) -> tuple[str | None, str | None]:
    """``(normalized, None)`` for a usable document, else ``(None, reason)``."""
    if "\x00" in text:
        return None, NUL_BYTES
    text = normalize_text(text)
    if not text or text.isspace():
        return None, EMPTY
    if len(text) > max_document_bytes or (4 * len(text) > max_document_bytes
                                          and len(text.encode("utf-8")) > max_document_bytes):
        return None, TOO_LONG
    return text, None


def check_raw(raw: bytes | None, size: int, *, max_document_bytes: int) -> tuple[str | None, str | None]:
    """Decode one record's UTF-8 bytes (``None``: over the limit, not held) and check it."""
    if raw is None or size > max_document_bytes:
        return None, TOO_LONG
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, INVALID_UTF8
    return check_text(text, max_document_bytes=max_document_bytes)


def check_lines(raws: list[bytes | None], sizes: list[int],
                max_document_bytes: int) -> tuple[list[str | None], list[str | None]]:
    """:func:`check_raw` for a batch of records (text, Parquet values): ``(texts, reasons)``.

    The common batch (nothing too long, no NUL, CR or BOM, all valid UTF-8) is decoded in one call
    on the records joined by NUL, which none of them holds; any other batch is checked record by
    record. Lines and paragraphs never hold a CR (they are cut at breaks and joined with LF)."""
    if raws and None not in raws and max(sizes) <= max_document_bytes:
        joined = b"\x00".join(raws)
        if joined.count(b"\x00") == len(raws) - 1 and b"\r" not in joined and b"\xef\xbb\xbf" not in joined:
            try:
                texts = joined.decode("utf-8").split("\x00")
            except UnicodeDecodeError:
                pass
            else:
                reasons = [EMPTY if not text or text.isspace() else None for text in texts]
                if EMPTY in reasons:
                    texts = [None if reason else text for text, reason in zip(texts, reasons)]
                return texts, reasons
    checked = [check_raw(raw, size, max_document_bytes=max_document_bytes) for raw, size in zip(raws, sizes)]
    return [text for text, _ in checked], [reason for _, reason in checked]


def check_json_line(raw: bytes | None, *, text_field: str, max_document_bytes: int) -> tuple[str | None, str | None]:
    """One JSONL line: its object's ``text_field`` string, checked."""
    if raw is None:
        return None, TOO_LONG
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, INVALID_UTF8
    if not line or line.isspace():
        return None, EMPTY
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's limit
        return None, INVALID_JSON
    return check_json_value(record, text_field=text_field, max_document_bytes=max_document_bytes)


def check_json_value(value: object, *, text_field: str, max_document_bytes: int) -> tuple[str | None, str | None]:
    """A parsed JSONL record: its object's ``text_field`` string, checked."""
    text = value.get(text_field) if isinstance(value, dict) else None
    if not isinstance(text, str):
        return None, MISSING_FIELD
    if has_surrogate(text):
        return None, INVALID_UNICODE
    return check_text(text, max_document_bytes=max_document_bytes)


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (only JSON escapes can put one in a str)."""
    return not text.isascii() and _SURROGATE.search(text) is not None
