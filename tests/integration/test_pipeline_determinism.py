"""Same inputs, config and seed on three runners -> byte-identical shards and manifests (but created_at).

Runners: the DirectRunner in-process, the DirectRunner with two worker processes, and the
PortableRunner on an embedded job server. The shard count comes from ``--shard-size-mb`` (a side
input computed in the pipeline), and a truncated ``.gz`` makes ``files_rejected`` non-empty, so
those paths are covered too.
"""
from __future__ import annotations

import gzip
import hashlib
import json

import pytest

pytestmark = pytest.mark.slow

RUNNERS = {
    "in_process": (),
    "two_workers": ("--direct_num_workers=2", "--direct_running_mode=multi_processing"),
    "portable": ("--runner=PortableRunner", "--job_endpoint=embed"),
}


def fingerprint(out, manifests) -> dict:
    """Each objective's manifest without created_at, and the sha256 of every file under it."""
    result = {}
    for name, manifest in manifests.items():
        data = json.loads(manifest.to_json())
        data.pop("created_at")
        files = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted((out / name).rglob("*.parquet"))}
        result[name] = {"manifest": data, "files": files}
    return result


@pytest.fixture(scope="module")
def inputs(corpus_slices, tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    (root / "shakespeare.txt").write_bytes((corpus_slices / "en/shakespeare.txt").read_bytes()[:12_000])
    (root / "botchan.txt.gz").write_bytes((corpus_slices / "en/botchan.txt.gz").read_bytes())
    paper = json.loads((corpus_slices / "arxiv.jsonl").read_text().splitlines()[0])["text"]
    (root / "arxiv.jsonl").write_text(json.dumps({"text": paper[:20_000]}) + "\n" + "not json\n")
    packed = gzip.compress(b"".join(b"lost line %d\n" % i for i in range(500)))
    (root / "broken.txt.gz").write_bytes(packed[: len(packed) // 2])
    return [str(root / "*")]


@pytest.fixture(scope="module")
def builds(build, inputs, trained_tokenizer, tmp_path_factory):
    results = {}
    for runner, args in RUNNERS.items():
        out = tmp_path_factory.mktemp(runner) / "out"
        manifests = build(inputs, out, trained_tokenizer.name, beam_args=args, seq_len=32, shard_size_mb=0.01,
                          validation_fraction=0.2, pack_buckets=4)
        results[runner] = fingerprint(out, manifests)
    return results


def test_setup_exercises_several_shards_splits_and_a_rejected_file(builds):
    clm = builds["in_process"]["clm"]
    assert len(clm["manifest"]["splits"]["train"]) > 1 and clm["manifest"]["splits"]["validation"]
    assert [f["reason"] for f in clm["manifest"]["counters"]["files_rejected"]] == ["unreadable_file"]
    assert set(builds["in_process"]) == {"clm", "mlm", "t5", "bart"}


@pytest.mark.parametrize("runner", ["two_workers", "portable"])
def test_runner_gives_byte_identical_shards_and_manifests(builds, runner):
    for name, expected in builds["in_process"].items():
        assert builds[runner][name]["files"] == expected["files"], name
        assert builds[runner][name]["manifest"] == expected["manifest"], name
