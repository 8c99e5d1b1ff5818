"""Record splitting and per-record checks: text lines/paragraphs/files, JSONL and Parquet."""
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmpairs.pipeline.formats import FileFormatError, parse_records, split_records
from lmpairs.pipeline.records import EMPTY, INVALID_JSON, INVALID_UTF8, MISSING_FIELD, NUL_BYTES, TOO_LONG


def parse(data: bytes, fmt: str = "text", documents: str = "line", limit: int = 1000):
    return parse_records(data, input_format=fmt, documents=documents, text_field="text", max_document_bytes=limit)


def test_lines_split_on_every_line_break_and_drop_bom_and_final_newline():
    data = b"\xef\xbb\xbfone\r\ntwo\nthree\rfour\n"
    assert split_records(data, "line") == [b"one", b"two", b"three", b"four"]
    assert parse(data) == [(0, "one", None), (1, "two", None), (2, "three", None), (3, "four", None)]


def test_paragraphs_split_at_blank_lines_and_keep_inner_newlines_normalized():
    data = b"\n\nfirst line\r\nsecond line\r\n\r\n  \r\nnext para\n\n\n"
    assert parse(data, documents="paragraph") == [(0, "first line\nsecond line", None), (1, "next para", None)]


def test_whole_file_is_one_document_with_crlf_normalized():
    assert parse(b"\xef\xbb\xbfa\r\nb\r\n", documents="file") == [(0, "a\nb\n", None)]


def test_each_bad_line_gets_its_reason_and_keeps_its_index():
    data = b"good\n\n   \nbad \xff utf8\nnul\x00byte\n" + b"x" * 11 + b"\nlast"
    assert parse(data, limit=10) == [(0, "good", None), (1, None, EMPTY), (2, None, EMPTY), (3, None, INVALID_UTF8),
                                     (4, None, NUL_BYTES), (5, None, TOO_LONG), (6, "last", None)]


def test_too_long_counts_utf8_bytes_not_characters():
    # 4 characters, 12 bytes in UTF-8.
    assert parse("日本語だ".encode(), limit=11) == [(0, None, TOO_LONG)]
    assert parse("日本語だ".encode(), limit=12) == [(0, "日本語だ", None)]


def test_jsonl_reasons_for_bad_json_missing_or_non_string_field():
    lines = [json.dumps({"text": "ok\r\nline"}), "{not json", json.dumps({"other": 1}), json.dumps({"text": 5}),
             json.dumps([1, 2]), "", json.dumps({"text": "nul\u0000"}), json.dumps({"text": " "})]
    data = b"\xef\xbb\xbf" + "\n".join(lines).encode()
    assert parse(data, "jsonl") == [(0, "ok\nline", None), (1, None, INVALID_JSON), (2, None, MISSING_FIELD),
                                    (3, None, MISSING_FIELD), (4, None, MISSING_FIELD), (5, None, EMPTY),
                                    (6, None, NUL_BYTES), (7, None, EMPTY)]


def test_jsonl_invalid_utf8_line():
    assert parse(b'{"text": "\xff"}\n', "jsonl") == [(0, None, INVALID_UTF8)]


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_parquet_string_and_binary_columns_with_nulls():
    strings = parquet(pa.table({"text": ["a\r\nb", None, ""], "n": [1, 2, 3]}))
    assert parse(strings, "parquet") == [(0, "a\nb", None), (1, None, MISSING_FIELD), (2, None, EMPTY)]
    binary = parquet(pa.table({"text": pa.array([b"x", b"\xff"], type=pa.binary())}))
    assert parse(binary, "parquet") == [(0, "x", None), (1, None, INVALID_UTF8)]


def test_parquet_without_the_text_column_is_a_file_error_naming_the_fix():
    with pytest.raises(FileFormatError, match=r"no column 'text' \(columns: body\); pass --text-field"):
        parse(parquet(pa.table({"body": ["x"]})), "parquet")
    with pytest.raises(FileFormatError, match="column 'text' is int64, expected string"):
        parse(parquet(pa.table({"text": [1]})), "parquet")
