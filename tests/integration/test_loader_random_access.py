"""Random access (issue 23): ``PairStream.example(i)`` is row ``i`` of the side as stored, through the
shard index; ``num_examples`` counts rows while ``len()`` counts this rank's batches."""
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from loader_fixtures import clm_rows, seq2seq_rows, write_dataset
from torch.utils.data import DataLoader

from lmpairs.loader import PairStream

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("random")
    keys, columns = clm_rows(53, seq_len=6, short_every=4)
    clm = write_dataset(root / "clm", "clm", {"train": (keys, columns)}, num_shards=3, row_group_rows=5)
    keys, columns = seq2seq_rows(20, seed=2)
    t5 = write_dataset(root / "t5", "t5", {"train": (keys, columns)}, num_shards=2, row_group_rows=4)
    return {"clm": clm, "t5": t5}


def stored_rows(path):
    """Every row of the train side, in manifest order, read with pyarrow alone."""
    manifest = json.loads(Path(path, "manifest.json").read_text())
    tables = [pq.read_table(Path(path, shard["path"])) for shard in manifest["splits"]["train"]]
    return [row for table in tables for row in table.to_pylist()]


@pytest.mark.parametrize("objective", ["clm", "t5"])
def test_example_i_is_row_i_of_the_side(dirs, objective):
    stream = PairStream(dirs[objective], batch_size=4, rank=1, world_size=2, shuffle_seed=5)
    rows = stored_rows(dirs[objective])
    assert stream.num_examples == len(rows) == len(stream.examples())
    order = np.random.default_rng(0).permutation(len(rows))  # any order: row groups re-read as needed
    for i in order.tolist():
        got = stream.example(i)
        assert set(got) == set(rows[i])
        assert got["example_key"] == int(np.uint64(rows[i]["example_key"]).astype(np.int64))
        for name in set(got) - {"example_key"}:
            assert got[name].dtype == np.int32 and got[name].tolist() == rows[i][name]
    assert stream.example(-1)["example_key"] == rows[-1]["example_key"]


def test_keys_past_2_63_keep_their_bits(tmp_path):
    keys, columns = clm_rows(3, seq_len=4)
    path = write_dataset(tmp_path / "clm", "clm", {"train": (keys + np.uint64(2**63), columns)}, num_shards=1)
    got = PairStream(path, batch_size=2).example(1)["example_key"]
    assert np.int64(got).view(np.uint64) == keys[1] + np.uint64(2**63)


def test_len_counts_batches_and_bad_indices_are_refused(dirs):
    stream = PairStream(dirs["clm"], batch_size=4, rank=0, world_size=2)
    assert len(stream) == 7 and stream.num_examples == 53  # 26 rows per rank in batches of 4
    with pytest.raises(IndexError, match=r"example 53: .* has 53 examples \(0\.\.52\)"):
        stream.example(53)
    with pytest.raises(TypeError, match="must be an integer"):
        stream.example("3")


def test_the_map_style_view_batches_through_a_dataloader(dirs):
    view = PairStream(dirs["clm"], batch_size=4).examples()
    loader = DataLoader(view, batch_size=1, shuffle=False)
    keys = [int(b["example_key"]) for b in loader]
    assert keys == [r["example_key"] for r in stored_rows(dirs["clm"])]
