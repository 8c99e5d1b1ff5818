"""Same inputs, config and seed on four runners -> byte-identical shards and manifests (but created_at).

Runners: the DirectRunner in-process, the DirectRunner with two worker processes, the PortableRunner
on an embedded job server, and Beam's DaskRunner on a ``dask.distributed.LocalCluster`` of two
worker processes that the test starts and stops on 127.0.0.1. The corpus is cut into a few dozen
byte-range splits (so the Dask partitions spread over both workers), shards roll over at a tiny
size, and a truncated ``.gz`` makes ``files_rejected`` non-empty, so those paths are covered too.
"""
from __future__ import annotations

import gzip
import json
import logging

import pytest
from build_fingerprints import fingerprint
from textgen import english_paragraphs

pytestmark = pytest.mark.slow

RUNNERS = {
    "in_process": (),
    "two_workers": ("--direct_num_workers=2", "--direct_running_mode=multi_processing"),
    "portable": ("--runner=PortableRunner", "--job_endpoint=embed"),
    "dask": ("--runner=DaskRunner",),
}
SPLIT_BYTES = 2048


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    (root / "novel.txt").write_text("\n\n".join(english_paragraphs(100, seed=5)) + "\n", encoding="utf-8")
    (root / "short.txt.gz").write_bytes(gzip.compress("\n\n".join(english_paragraphs(20, seed=6)).encode(), mtime=0))
    (root / "papers.jsonl").write_text("".join(json.dumps({"text": p}) + "\n" for p in english_paragraphs(10, seed=7))
                                       + "not json\n", encoding="utf-8")
    packed = gzip.compress(b"".join(b"lost line %d\n" % i for i in range(500)))
    (root / "broken.txt.gz").write_bytes(packed[: len(packed) // 2])
    return [str(root / "*")]


def dask_cluster():
    distributed = pytest.importorskip("dask.distributed")
    return distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                    dashboard_address=None)


@pytest.fixture(scope="module")
def builds(build, inputs, trained_tokenizer, tmp_path_factory):
    results, logs = {}, {}
    handler = _Lines()
    level = logging.getLogger("lmpairs").level
    logging.getLogger("lmpairs").addHandler(handler)
    logging.getLogger("lmpairs").setLevel(logging.INFO)
    try:
        for runner, args in RUNNERS.items():
            out = tmp_path_factory.mktemp(runner) / "out"
            cluster = dask_cluster() if runner == "dask" else None
            if cluster is not None:
                args = (*args, f"--dask_client_address={cluster.scheduler_address}")
            handler.lines.clear()
            try:
                manifests = build(inputs, out, trained_tokenizer.name, beam_args=args, seq_len=32,
                                  split_mb=SPLIT_BYTES / 2**20, shard_size_mb=0.003, row_group_mb=0.001,
                                  validation_fraction=0.2, documents="paragraph")
            finally:
                if cluster is not None:
                    cluster.close()
            results[runner] = fingerprint(out, manifests)
            logs[runner] = list(handler.lines)
    finally:
        logging.getLogger("lmpairs").removeHandler(handler)
        logging.getLogger("lmpairs").setLevel(level)  # INFO left on would leak into later tests' output
    return results, logs


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_setup_exercises_many_splits_shards_sides_and_a_rejected_file(builds):
    clm = builds[0]["in_process"]["clm"]["manifest"]
    assert len(clm["inputs"]) > 20 and clm["splits"]["validation"]
    assert any(s["path"].endswith("-0001.parquet") for s in clm["splits"]["train"])  # a shard rolled over
    assert [f["reason"] for f in clm["counters"]["files_rejected"]] == ["unreadable_file"]
    assert clm["counters"]["documents_rejected"]["invalid_json"] == 1
    assert set(builds[0]["in_process"]) == {"clm", "mlm", "t5", "bart"}


@pytest.mark.parametrize("runner", ["two_workers", "portable", "dask"])
def test_runner_gives_byte_identical_shards_and_manifests(builds, runner):
    for name, expected in builds[0]["in_process"].items():
        assert builds[0][runner][name]["files"] == expected["files"], name
        assert builds[0][runner][name]["manifest"] == expected["manifest"], name


def test_dask_spreads_the_splits_over_both_workers(builds):
    [line] = [line for line in builds[1]["dask"] if line.startswith("finished")]
    assert "on 2 worker processes" in line, line
