"""BeamFiles: the reading package's FileAccess through Beam's FileSystems agrees with LocalFiles."""
import gzip
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmpairs.pipeline.filesystems import BeamFiles
from lmpairs.reading import LocalFiles, plan_splits, read_split


@pytest.fixture
def corpus(tmp_path):
    for name, data in {"a.txt": b"one\n\ntwo wrapped\nline\n\nthree\n", "sub/b.jsonl": b'{"text": "json"}\n',
                       "sub/deeper/c.txt.gz": gzip.compress(b"packed\n"), ".hidden.txt": b"dot\n",
                       "x[1].txt": b"bracket\n"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    pq.write_table(pa.table({"text": ["row zero", "row one"]}), tmp_path / "sub" / "d.parquet", row_group_size=1)
    os.mkfifo(tmp_path / "pipe.txt")
    return tmp_path


@pytest.mark.parametrize("glob", ["*", "**", "**/*.txt*", "sub", "s?b/*", "x[[]1].txt", "a.txt", ""])
def test_beam_and_local_files_plan_the_same_splits(corpus, glob):
    local = plan_splits([f"{corpus}/{glob}"], files=LocalFiles(), split_bytes=8)
    beam = plan_splits([f"{corpus}/{glob}"], files=BeamFiles(), split_bytes=8)
    assert beam == local and local.splits


def test_beam_files_read_byte_ranges_and_compressed_files_like_local_files(corpus):
    plan = plan_splits([f"{corpus}/**"], files=BeamFiles(), split_bytes=5)
    assert [r.describe()["reason"] for r in plan.rejected_files] == ["not_regular_file"]
    beam = [tuple(r) for s in plan.splits for r in read_split(s, files=BeamFiles())]
    local = [tuple(r) for s in plan_splits([f"{corpus}/**"]).splits for r in read_split(s)]
    assert beam == local
    assert ("a.txt:5", "two wrapped\nline", None) in beam and ("sub/deeper/c.txt.gz:0", "packed", None) in beam
    assert ("sub/d.parquet:1", "row one", None) in beam
