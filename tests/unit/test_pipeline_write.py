"""Shard naming, shard counts from bytes, key order with collisions, row groups, the written file."""
import hashlib

import numpy as np
import pyarrow.parquet as pq

from lmpairs.pipeline.records import Example
from lmpairs.pipeline.write import (WriteShardFn, column_bytes, example_nbytes, parquet_bytes, shard_name,
                                    shard_table, shards_for_bytes)
from lmpairs.schemas import check_schema


def cols(*ids):
    return {"input_ids": np.array(ids, np.int32), "doc_lengths": np.array([len(ids)], np.int32)}


def encoded(*ids):
    return column_bytes(cols(*ids), ("input_ids", "doc_lengths"))


def test_shard_name_and_count():
    assert shard_name("train", 3, 16) == "train/part-00003-of-00016.parquet"
    assert shards_for_bytes(0, 1.0) == 1
    assert shards_for_bytes(2**20, 1.0) == 1 and shards_for_bytes(2**20 + 1, 1.0) == 2
    assert example_nbytes(Example("train", 1, cols(1, 2, 3))) == 8 + 4 * 4 + 4 * 2


def test_sort_by_key_and_break_ties_by_content_whatever_the_input_order():
    items = [(5, encoded(9)), (2, encoded(1)), (5, encoded(3)), (1, encoded(7))]
    for order in (items, items[::-1]):
        table = shard_table("clm", order)
        assert table.column("example_key").to_pylist() == [1, 2, 5, 5]
        assert table.column("input_ids").to_pylist() == [[7], [1], [3], [9]]


def test_row_groups_follow_the_size_target():
    rows = [(i, encoded(*range(100))) for i in range(1000)]
    table = shard_table("clm", rows)
    data, groups = parquet_bytes(table, row_group_mb=table.nbytes / 4 / 2**20)
    assert sum(groups) == 1000 and 4 <= len(groups) <= 5
    assert pq.read_metadata(__import__("pyarrow").BufferReader(data)).num_row_groups == len(groups)


def test_write_shard_skips_markers_writes_sorted_rows_and_reports_the_file(tmp_path):
    fn = WriteShardFn("clm", str(tmp_path), row_group_mb=1.0)
    element = (("validation", 2), [None, (9, encoded(1, 2)), (4, encoded(3))])
    [info] = list(fn.process(element, {"validation": 3}))
    path = tmp_path / "validation/part-00002-of-00003.parquet"
    data = path.read_bytes()
    assert (info.path, info.num_rows, info.num_bytes) == ("validation/part-00002-of-00003.parquet", 2, len(data))
    assert info.sha256 == hashlib.sha256(data).hexdigest() and info.row_group_rows == [2]
    table = pq.read_table(path)
    check_schema(table.schema, "clm", str(path))
    assert table.column("example_key").to_pylist() == [4, 9]


def test_an_empty_shard_is_still_a_valid_file(tmp_path):
    [info] = list(WriteShardFn("t5", str(tmp_path), 1.0).process((("train", 0), [None]), {"train": 1}))
    table = pq.read_table(tmp_path / info.path)
    assert info.num_rows == 0 and table.num_rows == 0
    check_schema(table.schema, "t5", info.path)
