"""Records of a Parquet file: each row's text column, by row index, a batch of rows at a time.

The column may be ``string``, ``large_string``, ``string_view``, any binary type holding UTF-8, or
a dictionary of those; values go through Arrow as bytes and are decoded strictly here, so a bad
value is an ``invalid_utf8`` rejection of that row rather than an error for the file.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from lmpairs.reading.errors import UnreadableInput
from lmpairs.reading.records import MISSING_FIELD, check_lines

BATCH_ROWS = 1024
_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view, pa.types.is_binary,
               pa.types.is_large_binary, pa.types.is_binary_view)


def iter_parquet(f: BinaryIO, *, path: str, text_field: str,
                 max_document_bytes: int) -> Iterator[tuple[int, list[str | None], list[str | None]]]:
    """``(first_row_index, texts, reasons)`` per batch of rows; :class:`UnreadableInput` for a file
    without a usable text column or one that cannot be decoded."""
    try:
        parquet = pq.ParquetFile(f)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as err:
        raise UnreadableInput(path, f"not a readable Parquet file ({err})") from err
    if text_field not in schema.names:
        raise UnreadableInput(path, f"no column {text_field!r} (columns: {', '.join(schema.names)}); "
                                    "pass --text-field NAME")
    kind = schema.field(text_field).type
    value_kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    if not any(is_text(value_kind) for is_text in _TEXT_TYPES):
        raise UnreadableInput(path, f"column {text_field!r} is {kind}, expected string or binary; "
                                    "pass --text-field NAME")
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[text_field]):
            column = batch.column(0)
            if pa.types.is_dictionary(column.type):
                column = column.dictionary_decode()
            values = column.cast(pa.large_binary()).to_pylist()
            raws = [b"" if value is None else value for value in values]
            texts, reasons = check_lines(raws, list(map(len, raws)), max_document_bytes)
            if column.null_count:
                for i, value in enumerate(values):
                    if value is None:
                        texts[i], reasons[i] = None, MISSING_FIELD
            yield row, texts, reasons
            row += len(values)
    except (pa.ArrowException, OSError) as err:
        raise UnreadableInput(path, f"damaged Parquet file after row {row} ({err})") from err
