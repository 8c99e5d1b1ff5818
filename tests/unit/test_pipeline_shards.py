"""ShardWriter: row groups of a fixed byte budget, shards rolled at a size, sha256 and sizes as written."""
import hashlib

import numpy as np
import pyarrow.parquet as pq

from lmpairs.pipeline.shards import ShardWriter, shard_name
from lmpairs.transforms.batch import ExampleBatch, Ragged


def batch(start, n, width=50):
    rows = [np.arange(width, dtype=np.int32) + i for i in range(start, start + n)]
    return ExampleBatch(np.arange(start, start + n, dtype=np.uint64),
                        {"input_ids": Ragged.from_rows(rows), "doc_lengths": Ragged.from_rows([[width]] * n)})


def write(tmp_path, sizes, **kwargs):
    writer = ShardWriter("clm", str(tmp_path), "train", 3, **kwargs)
    start = 0
    for n in sizes:
        writer.add(batch(start, n))
        start += n
    return writer.close()


def test_shards_hold_every_row_in_order_with_true_sizes_and_hashes(tmp_path):
    shards = write(tmp_path, [20] * 10, row_group_mb=0.002, shard_mb=0.004)
    assert [s.path for s in shards][:2] == [shard_name("train", 3, 0), shard_name("train", 3, 1)]
    keys = []
    for s in shards:
        data = (tmp_path / s.path).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (s.num_bytes, s.sha256)
        meta = pq.read_metadata(tmp_path / s.path)
        assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == s.row_group_rows
        assert sum(s.row_group_rows) == s.num_rows
        keys += pq.read_table(tmp_path / s.path).column("example_key").to_pylist()
    assert keys == list(range(200)) and len(shards) > 1


def test_bytes_do_not_depend_on_how_rows_were_batched(tmp_path):
    a = write(tmp_path / "a", [20] * 10, row_group_mb=0.003, shard_mb=None)
    b = write(tmp_path / "b", [7, 1, 64, 3, 125], row_group_mb=0.003, shard_mb=None)
    assert [(s.sha256, s.row_group_rows) for s in a] == [(s.sha256, s.row_group_rows) for s in b]
    assert len(a[0].row_group_rows) > 2


def test_an_empty_stream_writes_no_file_and_abort_deletes_what_was_written(tmp_path):
    assert write(tmp_path, [], row_group_mb=1, shard_mb=None) == []
    assert not list(tmp_path.rglob("*.parquet"))
    writer = ShardWriter("clm", str(tmp_path), "train", 0, row_group_mb=0.001, shard_mb=None)
    writer.add(batch(0, 50))
    assert list(tmp_path.rglob("*.parquet"))
    writer.abort()
    assert not list(tmp_path.rglob("*.parquet"))
