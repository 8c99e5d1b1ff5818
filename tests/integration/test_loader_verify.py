"""The loader does not trust its files: each attack of issue 14 is a one-line error naming the file and the fix.

Flipped bytes, forged digests, paths out of the dataset, duplicated shards, impossible special ids,
garbled manifests, states from other datasets or with impossible counters. Datasets are written
directly with the schemas (no Beam), so every case runs in well under a second.
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest
from loader_fixtures import clm_rows, mlm_rows, write_dataset

from lmpairs.errors import UserError
from lmpairs.loader import PairStream, ShardError, StateError
from lmpairs.schemas import FORMAT_VERSION, ManifestError, read_manifest
from lmpairs.schemas.storage import UnsafePath

SHARD = "train/part-00001-of-00002.parquet"

pytestmark = pytest.mark.fast  # well under a second each: the default tier


@pytest.fixture
def clm_dir(tmp_path):
    keys, columns = clm_rows(40, seq_len=6)
    return write_dataset(tmp_path / "clm", "clm", {"train": (keys, columns)}, num_shards=2, row_group_rows=5)


def edit_manifest(objective_dir, edit):
    """Apply ``edit`` to the manifest's JSON object and write it back as is (no validation)."""
    path = Path(objective_dir, "manifest.json")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def one_line_error(excinfo, *fragments):
    text = str(excinfo.value)
    assert isinstance(excinfo.value, UserError)
    assert "\n" not in text, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def read_all(path, **kwargs):
    return [b["input_ids"].clone() for b in PairStream(path, batch_size=4, shuffle=False, **kwargs)]


# -- shard contents -------------------------------------------------------------------------------
def test_every_single_byte_flip_is_refused_before_any_row_is_served(clm_dir):
    path = Path(clm_dir, SHARD)
    original = path.read_bytes()
    clean = read_all(clm_dir)
    positions = np.linspace(0, len(original) - 1, 40).astype(int)
    for position in positions:
        damaged = bytearray(original)
        damaged[position] ^= 0x5A
        path.write_bytes(bytes(damaged))
        with pytest.raises(UserError) as excinfo:  # the footer check at start, else the hash at first open
            read_all(clm_dir)
        one_line_error(excinfo, SHARD, "rebuild")
    path.write_bytes(original)
    assert all((a == b).all() for a, b in zip(read_all(clm_dir), clean))


def test_without_hashing_flips_still_never_serve_out_of_range_ids(clm_dir):
    """verify='size' skips the hash; damage then fails as Arrow or range errors, or leaves valid ids."""
    path = Path(clm_dir, SHARD)
    original = path.read_bytes()
    vocab = read_manifest(clm_dir).tokenizer["vocab_size"]
    for position in np.linspace(0, len(original) - 1, 40).astype(int):
        damaged = bytearray(original)
        damaged[position] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            batches = read_all(clm_dir, verify="size")
        except UserError as err:
            assert "\n" not in str(err) and SHARD in str(err)
            continue
        for ids in batches:
            assert int(ids.min()) >= 0 and int(ids.max()) < vocab


def test_a_zero_sha256_in_the_manifest_is_refused(clm_dir):
    edit_manifest(clm_dir, lambda d: d["splits"]["train"][1].update(sha256="0" * 64))
    with pytest.raises(ShardError) as excinfo:
        read_all(clm_dir)
    one_line_error(excinfo, SHARD, "sha256", "000000000000")


def test_verify_modes_and_their_names(clm_dir):
    assert len(read_all(clm_dir, verify="none")) == len(read_all(clm_dir, verify="size")) == 10
    with pytest.raises(ValueError, match="verify='md5'"):
        PairStream(clm_dir, batch_size=4, verify="md5")


def test_ids_outside_the_vocabulary_are_refused_by_the_range_check(clm_dir, tmp_path):
    keys, columns = mlm_rows(12, seq_len=8)
    columns["input_ids"][5][3] = 99999
    objective_dir = write_dataset(tmp_path / "mlm", "mlm", {"train": (keys, columns)}, num_shards=1)
    with pytest.raises(ShardError) as excinfo:
        read_all(objective_dir)
    one_line_error(excinfo, "part-00000-of-00001.parquet", "column input_ids", "99999", "outside the vocabulary")
    keys, columns = mlm_rows(12, seq_len=8)
    columns["labels"][2][1] = -7  # only -100 may stand for "no label"
    objective_dir = write_dataset(tmp_path / "mlm2", "mlm", {"train": (keys, columns)}, num_shards=1)
    with pytest.raises(ShardError, match="column labels holds ids in"):
        read_all(objective_dir)


# -- shard paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../elsewhere.parquet", "train/../../elsewhere.parquet", "/etc/passwd",
                                 "s3://bucket/x.parquet", "train//part.parquet", "C:\\x.parquet", ""])
def test_shard_paths_must_stay_in_the_dataset_directory(clm_dir, bad):
    edit_manifest(clm_dir, lambda d: d["splits"]["train"][1].update(path=bad))
    with pytest.raises(UnsafePath) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, "manifest.json", repr(bad), "rebuild")


def test_a_symlink_out_of_the_dataset_is_refused(clm_dir, tmp_path):
    outside = tmp_path / "outside.parquet"
    Path(clm_dir, SHARD).rename(outside)
    os.symlink(outside, Path(clm_dir, SHARD))
    with pytest.raises(UnsafePath) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, SHARD, "outside the dataset directory", str(outside))


def test_a_symlink_inside_the_dataset_is_read_through_its_target(clm_dir):
    target = Path(clm_dir, "train", "real.parquet")
    Path(clm_dir, SHARD).rename(target)
    os.symlink("real.parquet", Path(clm_dir, SHARD))
    assert len(read_all(clm_dir)) == 10


def test_a_shard_listed_twice_is_refused(clm_dir):
    edit_manifest(clm_dir, lambda d: d["splits"]["train"].append(dict(d["splits"]["train"][0])))
    with pytest.raises(ManifestError) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, "manifest.json", "listed twice", "part-00000-of-00002.parquet")


# -- manifest fields ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [("pad", 99999999), ("eos", -1), ("mask", "4"), ("num_sentinels", None)])
def test_special_ids_must_lie_inside_the_vocabulary(clm_dir, name, value):
    edit_manifest(clm_dir, lambda d: d["tokenizer"]["special_ids"].update({name: value}))
    with pytest.raises(ManifestError) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, "manifest.json", f"special_ids.{name}", "outside the vocabulary")


@pytest.mark.parametrize("field, value", [("num_rows", -3), ("num_bytes", "12"), ("row_group_rows", [True]),
                                          ("sha256", "xyz")])
def test_shard_entries_with_impossible_fields_are_refused(clm_dir, field, value):
    edit_manifest(clm_dir, lambda d: d["splits"]["train"][0].update({field: value}))
    with pytest.raises(ManifestError) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, "manifest.json", "part-00000-of-00002.parquet")


@pytest.mark.parametrize("content", [b"\xff\xfe{\x00", b'{"format_version": 2, "objective": "cl\xe9"}',
                                     b"{" * 100_000, b"[1, 2", b"null"])
def test_a_garbled_manifest_is_one_line(clm_dir, content):
    Path(clm_dir, "manifest.json").write_bytes(content)
    with pytest.raises(ManifestError) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, "manifest.json", "rebuild")


def test_an_older_format_version_names_the_fix(clm_dir):
    edit_manifest(clm_dir, lambda d: d.update(format_version=FORMAT_VERSION - 1))
    with pytest.raises(ManifestError) as excinfo:
        PairStream(clm_dir, batch_size=4)
    one_line_error(excinfo, "manifest.json", f"format version {FORMAT_VERSION - 1}", "older lmpairs",
                   "rebuild the dataset with this lmpairs")


# -- saved states ---------------------------------------------------------------------------------
def saved_state(path, batches=3, **kwargs):
    stream = PairStream(path, batch_size=4, **kwargs)
    for n, _ in enumerate(stream, 1):
        if n == batches:
            break
    return stream.state_dict()


def test_a_state_from_another_dataset_with_the_same_rows_is_refused(clm_dir, tmp_path):
    keys, columns = clm_rows(40, seq_len=6, seed=9)  # same row count and layout, other rows
    other = write_dataset(tmp_path / "other", "clm", {"train": (keys, columns)}, num_shards=2, row_group_rows=5)
    state = saved_state(other)
    stream = PairStream(clm_dir, batch_size=4)
    with pytest.raises(StateError) as excinfo:
        stream.load_state_dict(state)
    one_line_error(excinfo, "another dataset", "set_epoch")
    stream.load_state_dict(saved_state(clm_dir))  # its own is fine


@pytest.mark.parametrize("change", [
    {"worker_batches": [-1], "batches": -1}, {"worker_batches": [10**12], "batches": 10**12},
    {"worker_batches": [11], "batches": 11}, {"worker_batches": [3, 0], "batches": 3},
    {"worker_batches": [2], "batches": 3}, {"worker_batches": [True], "batches": 1},
    {"epoch": -1}, {"epoch": 2**60}, {"epoch": "1"}, {"next_worker": 1}, {"next_worker": -1},
    {"version": 1}, {"dataset": "0" * 64}, {"fingerprint": None},
])
def test_impossible_counters_are_refused(clm_dir, change):
    state = saved_state(clm_dir) | change
    with pytest.raises(StateError) as excinfo:
        PairStream(clm_dir, batch_size=4).load_state_dict(state)
    one_line_error(excinfo, "load_state_dict")


def test_a_finished_epoch_is_a_valid_state(clm_dir):
    stream = PairStream(clm_dir, batch_size=4)
    assert len(list(stream)) == 10
    state = stream.state_dict()
    resumed = PairStream(clm_dir, batch_size=4)
    resumed.load_state_dict(state)
    assert list(resumed) == []



def test_a_shard_replaced_after_it_was_verified_is_hashed_again(tmp_path, monkeypatch):
    from lmpairs.loader.shard_reader import ShardReader

    keys, columns = clm_rows(40, seq_len=6)
    root = write_dataset(tmp_path / "clm", "clm", {"train": (keys, columns)}, num_shards=10, row_group_rows=2)
    hashed = []
    check = ShardReader._check_sha256
    monkeypatch.setattr(ShardReader, "_check_sha256", lambda self, shard, path: hashed.append(shard) or
                        check(self, shard, path))
    stream = PairStream(root, batch_size=4, shuffle=False)
    first = [b["input_ids"].clone() for b in stream]
    assert sorted(hashed) == list(range(10))
    again = [b["input_ids"].clone() for b in stream]  # unchanged files: no second hash
    assert sorted(hashed) == list(range(10)) and all((a == b).all() for a, b in zip(first, again))
    shard = Path(root, read_manifest(root).splits["train"][0].path)
    damaged = bytearray(shard.read_bytes())
    damaged[len(damaged) // 2] ^= 0x5A  # same size, new bytes: only the hash can tell
    shard.write_bytes(bytes(damaged))
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
    with pytest.raises(ShardError) as excinfo:
        for _ in stream:
            pass
    one_line_error(excinfo, str(shard), "the file changed after the build")
