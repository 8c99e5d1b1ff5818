"""Bad input: each problem is refused before reading, with the file and the fix in the message."""
import dataclasses
import hashlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from loader_fixtures import TOY_SHA, clm_rows, mlm_rows, truncate, write_dataset, write_split

from lmpairs.loader import PairStream, ShardError
from lmpairs.schemas import ManifestError, SchemaError, read_manifest, write_manifest

SHARD = "train/part-00001-of-00002.parquet"

pytestmark = pytest.mark.fast  # no workers, no Beam: the default tier


@pytest.fixture
def clm_dir(tmp_path):
    keys, columns = clm_rows(20, seq_len=6)
    return write_dataset(tmp_path / "clm", "clm", {"train": (keys, columns)}, num_shards=2, row_group_rows=4)


def replace_shard_info(objective_dir, index, **changes):
    manifest = read_manifest(objective_dir)
    shards = list(manifest.splits["train"])
    shards[index] = dataclasses.replace(shards[index], **changes)
    write_manifest(dataclasses.replace(manifest, splits={"train": shards}), objective_dir)


def test_missing_manifest_names_the_path_and_what_a_built_directory_is(tmp_path):
    with pytest.raises(ManifestError, match=r"holds no manifest\.json.*OUT/<objective>"):
        PairStream(str(tmp_path), batch_size=2)


def test_objective_mismatch_names_the_manifest(clm_dir):
    with pytest.raises(ManifestError, match=r"manifest\.json: holds clm examples, but t5 was expected"):
        PairStream(clm_dir, batch_size=2, objective="t5")


def test_tokenizer_mismatch_by_digest_or_by_file(clm_dir, tmp_path):
    PairStream(clm_dir, batch_size=2, expected_tokenizer=TOY_SHA)  # the recorded one passes
    with pytest.raises(ManifestError, match=r"manifest\.json: written with tokenizer abababababab, but this run "
                                            r"uses cdcdcdcdcdcd.*rebuild the shards"):
        PairStream(clm_dir, batch_size=2, expected_tokenizer="cd" * 32)
    model = tmp_path / "other.model"
    model.write_bytes(b"not the same model")
    with pytest.raises(ManifestError, match=hashlib.sha256(b"not the same model").hexdigest()[:12]):
        PairStream(clm_dir, batch_size=2, expected_tokenizer=str(model))
    with pytest.raises(ManifestError, match="neither a sha256 digest"):
        PairStream(clm_dir, batch_size=2, expected_tokenizer=str(tmp_path / "absent.model"))


def test_missing_shard_is_named(clm_dir):
    Path(clm_dir, SHARD).unlink()
    with pytest.raises(ShardError, match=rf"{SHARD}: shard listed in the manifest is missing; copy the shard"):
        PairStream(clm_dir, batch_size=2)


def test_truncated_shard_is_caught_by_its_size(clm_dir):
    truncate(Path(clm_dir, SHARD))
    with pytest.raises(ShardError, match=rf"{SHARD}: \d+ bytes, the manifest records \d+: the file is truncated"):
        PairStream(clm_dir, batch_size=2)


@pytest.mark.parametrize("verify_footers", [True, False])
def test_truncated_shard_with_a_matching_size_fails_at_its_footer(clm_dir, verify_footers):
    path = Path(clm_dir, SHARD)
    truncate(path)
    replace_shard_info(clm_dir, 1, num_bytes=path.stat().st_size)
    with pytest.raises(ShardError, match=rf"{SHARD}: not a readable Parquet file .*truncated or damaged"):
        list(PairStream(clm_dir, batch_size=2, verify_footers=verify_footers, verify="size"))


def test_shard_with_another_schema_is_named(clm_dir):
    keys, columns = mlm_rows(10, seq_len=7)
    shards = write_split(Path(clm_dir), "mlm", "train", keys, columns, num_shards=1, row_group_rows=4)
    Path(clm_dir, shards[0].path).rename(Path(clm_dir, SHARD))
    replace_shard_info(clm_dir, 1, **dataclasses.asdict(dataclasses.replace(shards[0], path=SHARD)))
    with pytest.raises(SchemaError, match=rf"{SHARD}: holds mlm rows, expected clm"):
        PairStream(clm_dir, batch_size=2)


def test_shard_replaced_after_the_build_is_named(clm_dir):
    keys, columns = clm_rows(10, seq_len=6)
    table = pq.read_table(Path(clm_dir, SHARD))
    pq.write_table(table, Path(clm_dir, SHARD), compression="zstd", row_group_size=5)
    replace_shard_info(clm_dir, 1, num_bytes=Path(clm_dir, SHARD).stat().st_size)
    with pytest.raises(ShardError, match=rf"{SHARD}: has row groups of \[5, 5\] rows .* manifest says \[4, 4, 2\]"):
        PairStream(clm_dir, batch_size=2)


def test_empty_split_and_damaged_row_counts(clm_dir):
    with pytest.raises(ManifestError, match="side 'validation' has no rows"):
        PairStream(clm_dir, side="validation", batch_size=2)
    replace_shard_info(clm_dir, 0, row_group_rows=[4, 4, 1])
    with pytest.raises(ManifestError, match=r"manifest\.json: shard train/part-00000-of-00002\.parquet lists row "
                                            r"groups \[4, 4, 1\].*rebuild with `lmpairs build --overwrite`"):
        PairStream(clm_dir, batch_size=2, verify_footers=False)


def test_options_that_cannot_work_are_refused(clm_dir):
    with pytest.raises(ValueError, match="pass batch_size"):
        PairStream(clm_dir)
    with pytest.raises(ValueError, match="position_ids / document_attention: only rows that record documents"):
        keys, columns = mlm_rows(8)
        PairStream(write_dataset(Path(clm_dir).parent / "mlm", "mlm", {"train": (keys, columns)}),
                   batch_size=2, position_ids=True)
    with pytest.raises(ValueError, match="dynamic=True needs tokenizer"):
        PairStream(clm_dir, batch_size=2, dynamic=True)
    with pytest.raises(ValueError, match="batch_size belongs to PairStream"):
        PairStream(clm_dir, batch_size=2).make_loader(batch_size=4)
