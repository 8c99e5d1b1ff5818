"""Row schemas and the manifest: exact columns, metadata, round trips and clear refusals."""
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmpairs.schemas import (
    FORMAT_VERSION,
    Manifest,
    ManifestError,
    SchemaError,
    ShardInfo,
    check_schema,
    list_columns,
    list_to_numpy,
    read_manifest,
    row_schema,
    rows_to_table,
    write_manifest,
)


@pytest.mark.parametrize("objective, extra", [("clm", ["doc_lengths"]), ("mlm", ["labels"]), ("t5", ["labels"]),
                                              ("bart", ["labels", "doc_lengths", "sentence_ends"])])
def test_every_objective_has_key_inputs_and_its_extra_columns(objective, extra):
    schema = row_schema(objective)
    assert schema.names == ["example_key", "input_ids", *extra]
    assert schema.field("example_key").type == pa.uint64()
    assert all(schema.field(name).type == pa.list_(pa.int32()) for name in extra)
    assert schema.metadata[b"lmpairs.objective"] == objective.encode()
    assert schema.metadata[b"lmpairs.format_version"] == str(FORMAT_VERSION).encode()


def test_rows_round_trip_through_parquet(tmp_path):
    rows = [np.array([5, 6, 7]), np.array([], dtype=np.int32), np.array([9])]
    labels = [np.array([-100, 6, -100]), np.array([], dtype=np.int32), np.array([4])]
    table = rows_to_table("mlm", np.array([2**64 - 1, 0, 7], dtype=np.uint64), {"input_ids": rows, "labels": labels})
    pq.write_table(table, tmp_path / "x.parquet", compression="zstd")
    back = pq.read_table(tmp_path / "x.parquet")
    check_schema(back.schema, "mlm", "x.parquet")
    assert back.column("example_key").to_pylist() == [2**64 - 1, 0, 7]
    assert back.column("labels").to_pylist() == [[-100, 6, -100], [], [4]]
    values, offsets = list_to_numpy(back.column("input_ids"))
    assert values.tolist() == [5, 6, 7, 9] and offsets.tolist() == [0, 3, 3, 4]


def test_list_to_numpy_handles_sliced_chunks():
    table = rows_to_table("t5", np.arange(3, dtype=np.uint64),
                          {"input_ids": [np.arange(2), np.arange(3), np.arange(4)], "labels": [np.arange(1)] * 3})
    values, offsets = list_to_numpy(table.column("input_ids").chunk(0).slice(1, 2))
    assert values.tolist() == [0, 1, 2, 0, 1, 2, 3] and offsets.tolist() == [0, 3, 7]


def test_check_schema_names_the_file_and_what_differs():
    with pytest.raises(SchemaError, match=r"shard\.parquet: holds clm rows, expected mlm"):
        check_schema(row_schema("clm"), "mlm", "shard.parquet")
    plain = pa.schema([("example_key", pa.uint64()), ("input_ids", pa.list_(pa.int32()))],
                      metadata=row_schema("clm").metadata)
    with pytest.raises(SchemaError, match="missing column 'doc_lengths'"):
        check_schema(plain, "clm", "s.parquet")
    wrong_type = row_schema("clm").set(1, pa.field("input_ids", pa.list_(pa.int64())))
    with pytest.raises(SchemaError, match="'input_ids' is list<item: int64>"):
        check_schema(wrong_type, "clm", "s.parquet")
    with pytest.raises(SchemaError, match="unknown objective"):
        list_columns("gpt")


def manifest(**changes):
    fields = dict(objective="clm", config={"seq_len": 8}, seed=3, tokenizer={"sha256": "ab" * 32, "vocab_size": 100},
                  inputs=[],
                  counters={"documents_read": 1}, lmpairs_version="0.1.0",
                  splits={"train": [ShardInfo(path="train/part-00000-of-00001.parquet", num_rows=2, num_bytes=10,
                                              num_row_groups=1, row_group_rows=[2], sha256="cd" * 32)]})
    return Manifest(**(fields | changes))


def test_manifest_round_trips_and_checks_objective(tmp_path):
    write_manifest(manifest(), str(tmp_path))
    back = read_manifest(str(tmp_path), objective="clm")
    assert back == manifest() and back.num_rows("train") == 2 and back.num_rows("validation") == 0
    with pytest.raises(ManifestError, match="holds clm examples, but mlm was expected"):
        read_manifest(str(tmp_path), objective="mlm")


def test_manifest_bytes_are_deterministic():
    assert manifest().to_json() == manifest().to_json()
    assert json.loads(manifest().to_json())["format_version"] == FORMAT_VERSION


def test_a_missing_manifest_is_explained_by_what_is_there(tmp_path):
    with pytest.raises(ManifestError, match="nope: no such directory; check the path"):
        read_manifest(str(tmp_path / "nope"))
    (tmp_path / "out" / "clm").mkdir(parents=True)
    (tmp_path / "out" / "clm" / "manifest.json").write_text("{}")
    with pytest.raises(ManifestError, match=r"--output directory, not one objective; point at one of .*out/clm"):
        read_manifest(str(tmp_path / "out"))
    (tmp_path / "out" / "_lmpairs_tmp").mkdir()
    with pytest.raises(ManifestError, match="running or was interrupted"):
        read_manifest(str(tmp_path / "out" / "mlm"))


def test_missing_damaged_or_newer_manifests_are_refused(tmp_path):
    with pytest.raises(ManifestError, match="no manifest"):
        read_manifest(str(tmp_path))
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(str(tmp_path))
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ManifestError, match="format version 99"):
        read_manifest(str(tmp_path))
    data = json.loads(manifest().to_json())
    del data["tokenizer"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=r"missing fields \['tokenizer'\]"):
        read_manifest(str(tmp_path))
