"""The commit: manifests staged in the temp dir, a journal, one rename per objective; finishing a killed commit."""
import json

import pytest

from lmpairs.pipeline import commit
from lmpairs.pipeline.commit import JOURNAL, NOTHING, TMP_NAME, apply_commit, stage_build
from lmpairs.schemas import ShardInfo, read_manifest

BASE = {"configs": {"clm": {"seq_len": 8}, "mlm": {"seq_len": 8}}, "seed": 0,
        "tokenizer": {"file": "t.model", "vocab_size": 100, "special_ids": {}},
        "lmpairs_version": "0", "build": {}, "inputs": [{"path": "/c/a.txt", "index": 0}]}


def shard(path, rows=2):
    return ShardInfo(path=path, num_rows=rows, num_bytes=10, num_row_groups=1, row_group_rows=[rows], sha256="0" * 64)


def result(index, path, *, rows=2, rejected=None):
    objectives = {} if rejected else {
        name: {"shards": [shard(f"train/part-{index:05d}-0000.parquet", rows)] if rows else [],
               "counts": {"rows": rows, "examples.train": rows}} for name in ("clm", "mlm")}
    counts = {"files_rejected": 1} if rejected else {"documents_read": 3, "documents_used": 2, "tokens": 20,
                                                      "documents_rejected.empty": 1}
    return {"index": index, "split": {"path": path}, "rejected": rejected, "counts": counts, "objectives": objectives}


def staged_tree(out, results):
    for r in results:
        for name, entry in r["objectives"].items():
            for s in entry["shards"]:
                (out / TMP_NAME / name / s.path).parent.mkdir(parents=True, exist_ok=True)
                (out / TMP_NAME / name / s.path).write_bytes(b"PAR1")
    return stage_build(str(out), ("clm", "mlm"), ("train", "validation"), BASE, results, [], "key")


def test_commit_publishes_every_objective_with_summed_counters(tmp_path):
    bad = {"path": "/c/bad.gz", "reason": "unreadable_file", "detail": "truncated"}
    results = [result(1, "/c/b.txt"), result(0, "/c/a.txt"), result(2, "/c/bad.gz", rejected=bad)]
    assert staged_tree(tmp_path, results) == ["clm", "mlm"]
    assert json.loads((tmp_path / TMP_NAME / JOURNAL).read_text()) == {"objectives": ["clm", "mlm"], "build_key": "key"}
    assert not (tmp_path / "clm").exists()
    apply_commit(str(tmp_path))
    assert not (tmp_path / TMP_NAME).exists()
    m = read_manifest(str(tmp_path / "clm"), objective="clm")
    assert [s.path for s in m.splits["train"]] == ["train/part-00000-0000.parquet", "train/part-00001-0000.parquet"]
    assert m.splits["validation"] == []
    c = m.counters
    assert (c["files_read"], c["documents_read"], c["tokens"], c["rows"]) == (2, 6, 40, 4)
    assert c["files_rejected"] == [bad] and c["documents_rejected"]["empty"] == 2
    assert all((tmp_path / "mlm" / s.path).is_file() for s in m.splits["train"])


def test_a_commit_killed_between_objectives_is_finished_by_apply_commit(tmp_path, monkeypatch):
    (tmp_path / "clm" / "train").mkdir(parents=True)
    (tmp_path / "clm" / "manifest.json").write_text("old")
    staged_tree(tmp_path, [result(0, "/c/a.txt")])
    real = commit._publish_dir
    calls = []

    def die_on_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        real(*args)

    monkeypatch.setattr(commit, "_publish_dir", die_on_second)
    with pytest.raises(KeyboardInterrupt):
        apply_commit(str(tmp_path))
    assert read_manifest(str(tmp_path / "clm")).counters["rows"] == 2  # the new one, with its shards
    assert not (tmp_path / "mlm").exists() and (tmp_path / TMP_NAME / JOURNAL).exists()
    monkeypatch.setattr(commit, "_publish_dir", real)
    apply_commit(str(tmp_path))
    assert read_manifest(str(tmp_path / "mlm")).counters["rows"] == 2
    assert not (tmp_path / TMP_NAME).exists() and not list(tmp_path.rglob("*.tmp"))


def test_a_commit_killed_between_the_two_renames_of_one_objective_completes(tmp_path):
    (tmp_path / "clm").mkdir()
    (tmp_path / "clm" / "manifest.json").write_text("old")
    staged_tree(tmp_path, [result(0, "/c/a.txt")])
    (tmp_path / TMP_NAME / "replaced").mkdir()
    (tmp_path / "clm").rename(tmp_path / TMP_NAME / "replaced" / "clm")  # the first rename happened
    apply_commit(str(tmp_path))
    assert read_manifest(str(tmp_path / "clm")).counters["rows"] == 2


def test_nothing_survived_stages_nothing_and_says_why(tmp_path):
    assert staged_tree(tmp_path, [result(0, "/c/a.txt", rows=0)]) == []
    report = json.loads((tmp_path / TMP_NAME / NOTHING).read_text())
    assert report["documents"]["documents_read"] == 3 and not (tmp_path / TMP_NAME / JOURNAL).exists()
    assert apply_commit(str(tmp_path)) == []
