"""PairStream(dynamic=True) reads the tokenizer with the same bounds as the build: one-line errors."""
import json
import os

import pytest
from loader_fixtures import clm_rows, write_dataset

from lmpairs.loader import PairStream
from lmpairs.tokenizers import TokenizerError

pytestmark = pytest.mark.fast  # no workers, no Beam: the default tier


@pytest.fixture
def clm_dir(tmp_path):
    keys, columns = clm_rows(8, seq_len=6)
    return write_dataset(tmp_path / "clm", "clm", {"train": (keys, columns)}, num_shards=1, row_group_rows=4)


@pytest.mark.parametrize("make", ["fifo", "deep", "huge_id"])
def test_dynamic_refuses_unbounded_tokenizer_files(clm_dir, tmp_path, make):
    path = tmp_path / ("tokenizer.model" if make == "fifo" else "tokenizer.json")
    if make == "fifo":
        os.mkfifo(path)
    elif make == "deep":
        path.write_bytes(b"[" * 200_000)
    else:
        path.write_text(json.dumps({"added_tokens": [{"id": 2**31, "content": "x"}], "model": {"vocab": {}}}))
    with pytest.raises(TokenizerError) as excinfo:
        PairStream(clm_dir, batch_size=2, dynamic=True, tokenizer=str(path))
    assert str(path) in str(excinfo.value) and "\n" not in str(excinfo.value)
