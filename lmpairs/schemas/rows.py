"""Arrow schemas of each objective's rows, and vectorized conversion between rows and Arrow tables.

Token lists are ``list<int32>`` (vocabularies fit in int32; half the bytes of int64) and the key is
``uint64`` (a blake2b digest). Schema metadata names the objective and the format version, so any
Parquet reader can tell what a shard holds without the manifest.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from lmpairs.errors import UserError
from lmpairs.objectives import get_spec

FORMAT_VERSION = 3
"""Bumped whenever the on-disk layout or the draws change incompatibly; readers refuse other versions.
Version 2: split-local packing, row keys from content positions, and keyed-hash draws
(:mod:`lmpairs.transforms.seeding`). Version 3: every document encoded whole and exactly (version 2
encoded SentencePiece documents sentence by sentence, losing the whitespace between sentences),
sentence ends from the tokenizer's offsets, document keys and the validation draw as SplitMix64
of the file's hashed key prefix and the record's position."""
WHY_REBUILD = {1: "version 1 packed across input splits and drew with generators",
               2: "version 2 split SentencePiece documents into sentences and lost the whitespace between them"}
"""What changed since each older version, for the message that asks for a rebuild."""

_TOKENS = pa.list_(pa.int32())


class SchemaError(UserError):
    """A shard's schema is not the one its objective requires; the message names the file."""


def list_columns(objective: str) -> tuple[str, ...]:
    """The ``list<int32>`` columns of an objective's rows, in schema order."""
    try:
        return get_spec(objective).columns
    except ValueError as err:
        raise SchemaError(str(err)) from None


def row_schema(objective: str) -> pa.Schema:
    """The Arrow schema of one objective's rows, with ``lmpairs.*`` metadata."""
    fields = [pa.field("example_key", pa.uint64(), nullable=False)]
    fields += [pa.field(name, _TOKENS, nullable=False) for name in list_columns(objective)]
    return pa.schema(fields, metadata={
        b"lmpairs.objective": objective.encode(),
        b"lmpairs.format_version": str(FORMAT_VERSION).encode(),
    })


def check_schema(schema: pa.Schema, objective: str, where: str) -> None:
    """Raise :class:`SchemaError` unless ``schema`` (of file ``where``) holds ``objective``'s rows."""
    want = row_schema(objective)
    meta = schema.metadata or {}
    got_objective = meta.get(b"lmpairs.objective", b"").decode() or None
    got_version = meta.get(b"lmpairs.format_version", b"").decode() or None
    if got_objective != objective:
        raise SchemaError(f"{where}: holds {got_objective or 'no lmpairs'} rows, expected {objective}; "
                          "point the reader at the matching OUT/<objective> directory.")
    if got_version != str(FORMAT_VERSION):
        why = WHY_REBUILD.get(int(got_version)) if (got_version or "").isdigit() else None
        raise SchemaError(f"{where}: format version {got_version}, this lmpairs reads {FORMAT_VERSION}"
                          f"{f' ({why})' if why else ''}; rebuild the shards with this lmpairs version.")
    for field in want:
        if field.name not in schema.names:
            raise SchemaError(f"{where}: missing column {field.name!r} ({field.type}); rebuild the shards.")
        got = schema.field(field.name).type
        if got != field.type:
            raise SchemaError(f"{where}: column {field.name!r} is {got}, expected {field.type}; "
                              "rebuild the shards with lmpairs.")


def rows_to_table(objective: str, keys: np.ndarray, columns: dict[str, list[np.ndarray]]) -> pa.Table:
    """Build a table from per-row arrays with one concatenation per column (no per-row Arrow calls)."""
    arrays = [pa.array(np.asarray(keys, dtype=np.uint64), type=pa.uint64())]
    for name in list_columns(objective):
        rows = columns[name]
        if len(rows) != len(keys):
            raise ValueError(f"{objective}.{name}: {len(rows)} rows for {len(keys)} keys.")
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        values = np.concatenate(rows).astype(np.int32, copy=False) if rows else np.zeros(0, np.int32)
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.int32())))
    return pa.Table.from_arrays(arrays, schema=row_schema(objective))


def batch_to_table(objective: str, keys: np.ndarray, columns: dict) -> pa.Table:
    """Build a table from flat ragged columns (anything with int32 ``values`` and int64 ``offsets``,
    e.g. an ``ExampleBatch``'s): zero per-row work, one Arrow list array per column."""
    arrays = [pa.array(np.asarray(keys, dtype=np.uint64), type=pa.uint64())]
    for name in list_columns(objective):
        column = columns[name]
        offsets = np.asarray(column.offsets)
        if offsets.shape[0] - 1 != len(keys):
            raise ValueError(f"{objective}.{name}: {offsets.shape[0] - 1} rows for {len(keys)} keys.")
        if offsets[-1] >= 2**31:
            raise ValueError(f"{objective}.{name}: {int(offsets[-1])} values in one batch overflow int32 list "
                             "offsets; write smaller row groups.")
        values = np.asarray(column.values, dtype=np.int32)[int(offsets[0]):int(offsets[-1])]
        arrays.append(pa.ListArray.from_arrays(pa.array((offsets - offsets[0]).astype(np.int32)),
                                               pa.array(values, type=pa.int32())))
    return pa.Table.from_arrays(arrays, schema=row_schema(objective))


def list_to_numpy(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A ``list<int32>`` column as ``(values int32, offsets int64)``, viewing Arrow's buffers directly.

    Reading the buffers (rather than ``Array.to_numpy``) stays zero-copy and avoids pyarrow's
    lazy pandas import, about a second in every fresh DataLoader worker.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(column) == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64)
    if column.type != _TOKENS and not pa.types.is_list(column.type):
        raise SchemaError(f"expected a list<int32> column, got {column.type}.")
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32, count=len(column) + 1,
                            offset=column.offset * 4).astype(np.int64)
    child = column.values
    if child.type != pa.int32():
        child = child.cast(pa.int32())
    data = child.buffers()[1]
    values = (np.frombuffer(data, dtype=np.int32, count=len(child), offset=child.offset * 4)
              if data is not None and len(child) else np.zeros(0, dtype=np.int32))
    if offsets[0] != 0:
        values = values[offsets[0]:offsets[-1]]
        offsets = offsets - offsets[0]
    return values, offsets
