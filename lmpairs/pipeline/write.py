"""Write one objective's examples as deterministic Parquet shards in a temporary directory.

Shard of an example: ``example_key % num_shards`` of its split (keys are blake2b digests, so shards
fill evenly). Rows are sorted by key inside a shard and every shard is written, empty ones
included, so the file set and every byte depend only on the examples. With ``shard_size_mb`` the
shard count is computed in the pipeline from the rows' total Arrow bytes (a side input).
"""
from __future__ import annotations

import hashlib
import logging
import math
import posixpath
from typing import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.records import Example
from lmpairs.schemas import ShardInfo, list_columns, rows_to_table

logger = logging.getLogger(__name__)

MB = 1 << 20


def shard_name(split: str, shard: int, num_shards: int) -> str:
    """``<split>/part-00000-of-00016.parquet``, relative to the objective directory."""
    return f"{split}/part-{shard:05d}-of-{num_shards:05d}.parquet"


def example_nbytes(example: Example) -> int:
    """Arrow bytes of one row: the uint64 key plus each list's int32 values and offset."""
    return 8 + sum(4 * (int(np.shape(v)[0]) + 1) for v in example.columns.values())


def shards_for_bytes(total_bytes: int, shard_size_mb: float) -> int:
    """Enough shards that each holds about ``shard_size_mb`` of row bytes (at least one)."""
    return max(1, math.ceil(total_bytes / (shard_size_mb * MB)))


def column_bytes(columns: dict[str, np.ndarray], names: tuple[str, ...]) -> tuple[bytes, ...]:
    """An example's columns as int32 bytes in schema order (Beam's coder writes bytes natively, pickles arrays)."""
    return tuple(np.asarray(columns[name], dtype=np.int32).tobytes() for name in names)


def shard_table(objective: str, examples: list[tuple[int, tuple[bytes, ...]]]) -> pa.Table:
    """The shard's rows as an Arrow table, sorted by key, then (after a 64-bit collision) by content.

    Sorting the ``(key, column bytes)`` tuples gives one total order whatever order they arrived in.
    """
    ordered = sorted(examples)
    keys = np.array([key for key, _ in ordered], dtype=np.uint64)
    columns = {name: [np.frombuffer(cols[i], dtype=np.int32) for _, cols in ordered]
               for i, name in enumerate(list_columns(objective))}
    return rows_to_table(objective, keys, columns)


def parquet_bytes(table: pa.Table, row_group_mb: float) -> tuple[bytes, list[int]]:
    """zstd Parquet of ``table`` with row groups of about ``row_group_mb``; also each group's rows.

    An empty shard gets no row group at all: some readers (HF datasets) fail on a 0-row group.
    """
    rows_per_group = max(1, int(row_group_mb * MB * table.num_rows / max(1, table.nbytes))) if table.num_rows else 1
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, compression="zstd") as writer:
        if table.num_rows:
            writer.write_table(table, row_group_size=rows_per_group)
    data = sink.getvalue().to_pybytes()
    meta = pq.read_metadata(pa.BufferReader(data))
    return data, [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


class WriteShardFn(beam.DoFn):
    """((split, shard), [None | (key, column bytes)]) -> ShardInfo, the file written under ``tmp_dir``."""

    def __init__(self, objective: str, tmp_dir: str, row_group_mb: float) -> None:
        self._objective, self._tmp_dir, self._row_group_mb = objective, tmp_dir, row_group_mb

    def process(self, element, num_shards: dict[str, int]) -> Iterator[ShardInfo]:
        (split, shard), items = element
        examples = [item for item in items if item is not None]
        data, group_rows = parquet_bytes(shard_table(self._objective, examples), self._row_group_mb)
        name = shard_name(split, shard, num_shards[split])
        with FileSystems.create(posixpath.join(self._tmp_dir, name)) as out:
            out.write(data)
        logger.debug("%s: wrote %s (%d rows, %d bytes)", self._objective, name, len(examples), len(data))
        yield ShardInfo(path=name, num_rows=len(examples), num_bytes=len(data), num_row_groups=len(group_rows),
                        row_group_rows=group_rows, sha256=hashlib.sha256(data).hexdigest())


class CountShards(beam.PTransform):
    """Examples -> a singleton ``{split: num_shards}``, fixed or from the rows' bytes."""

    def __init__(self, splits: tuple[str, ...], *, num_shards: int, shard_size_mb: float | None) -> None:
        super().__init__()
        self._splits, self._num_shards, self._shard_size_mb = splits, num_shards, shard_size_mb

    def expand(self, examples):
        splits, size_mb = self._splits, self._shard_size_mb
        if size_mb is None:
            fixed = {split: self._num_shards for split in splits}
            return examples.pipeline | "FixedShards" >> beam.Create([fixed])
        return (examples
                | "RowBytes" >> beam.Map(lambda e: (e.split, example_nbytes(e)))
                | "BytesPerSplit" >> beam.CombinePerKey(sum)
                | "AllSplits" >> beam.combiners.ToDict()
                | "ShardsPerSplit" >> beam.Map(
                    lambda total: {s: shards_for_bytes(total.get(s, 0), size_mb) for s in splits}))


class WriteShards(beam.PTransform):
    """Examples -> ShardInfo of every shard (empty ones too), written under ``tmp_dir``."""

    def __init__(self, objective: str, splits: tuple[str, ...], *, tmp_dir: str, num_shards: int,
                 shard_size_mb: float | None, row_group_mb: float) -> None:
        super().__init__()
        self._objective, self._splits, self._tmp_dir = objective, splits, tmp_dir
        self._count = CountShards(splits, num_shards=num_shards, shard_size_mb=shard_size_mb)
        self._row_group_mb = row_group_mb

    def expand(self, examples):
        counts = beam.pvalue.AsSingleton(examples | "CountShards" >> self._count)
        names = list_columns(self._objective)
        keyed = examples | "AssignShards" >> beam.Map(
            lambda e, n: ((e.split, e.key % n[e.split]), (e.key, column_bytes(e.columns, names))), counts)
        every = (examples.pipeline
                 | "Splits" >> beam.Create(self._splits)
                 | "EveryShard" >> beam.FlatMap(lambda split, n: [((split, i), None) for i in range(n[split])], counts))
        return ((keyed, every)
                | "WithEmptyShards" >> beam.Flatten()
                | "GroupShards" >> beam.GroupByKey()
                | "Write" >> beam.ParDo(WriteShardFn(self._objective, self._tmp_dir, self._row_group_mb), counts))
