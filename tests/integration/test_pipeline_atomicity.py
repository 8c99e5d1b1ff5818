"""A build killed mid-run or mid-commit leaves nothing half-visible, and a plain rerun completes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from lmpairs.pipeline import commit
from lmpairs.pipeline.commit import JOURNAL, TMP_NAME
from lmpairs.pipeline.output import LOCK_NAME
from lmpairs.schemas import read_manifest

pytestmark = pytest.mark.slow
OBJECTIVES = ("clm", "mlm", "t5", "bart")


def command(corpus, out, tokenizer) -> list[str]:
    return [sys.executable, "-m", "lmpairs.cli", "build", "--input", str(corpus), "--output", str(out),
            "--tokenizer", tokenizer, "--seq-len", "32", "--row-group-mb", "0.001"]


def kill_once_shards_are_written(proc: subprocess.Popen, tmp_dir) -> None:
    """SIGKILL the build's process group as soon as a shard exists in the temp dir (polling the process)."""
    while not any(tmp_dir.rglob("*.parquet")):
        try:
            proc.wait(timeout=0.02)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"the build finished (status {proc.returncode}) before it could be killed; "
                    f"stderr: {proc.stderr.read().decode()[-2000:]}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def visible(out):
    return [p for p in out.rglob("*") if p.is_file() and p.relative_to(out).parts[0] not in (TMP_NAME, LOCK_NAME)]


def test_killed_build_leaves_nothing_in_place_and_a_rerun_completes(english_corpus, trained_tokenizer, tmp_path,
                                                                    repo_root):
    out = tmp_path / "out"
    proc = subprocess.Popen(command(english_corpus, out, trained_tokenizer.name), cwd=repo_root,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_once_shards_are_written(proc, out / TMP_NAME)
    assert proc.returncode == -signal.SIGKILL
    assert visible(out) == []
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == proc.pid  # left behind by the killed build

    rerun = subprocess.run(command(english_corpus, out, trained_tokenizer.name), cwd=repo_root, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "stale lock" in rerun.stderr and "interrupted build" in rerun.stderr
    for name in OBJECTIVES:
        manifest = read_manifest(str(out / name), objective=name)
        assert all((out / name / s.path).is_file() for shards in manifest.splits.values() for s in shards)
    assert sorted(p.name for p in out.iterdir()) == sorted(OBJECTIVES)


def test_a_commit_killed_between_objectives_is_finished_by_a_plain_rerun(build, corpus_slices, trained_tokenizer,
                                                                        tmp_path, monkeypatch):
    inputs = [str(corpus_slices / "en" / "shakespeare.txt")]
    clean = build(inputs, tmp_path / "clean", trained_tokenizer.name, seq_len=32)
    out = tmp_path / "out"
    real, calls = commit._publish_dir, []

    def dies_after_one(*args):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("killed in the middle of the commit")
        real(*args)

    monkeypatch.setattr(commit, "_publish_dir", dies_after_one)
    with pytest.raises(Exception, match="killed in the middle of the commit"):
        build(inputs, out, trained_tokenizer.name, seq_len=32)
    # What a reader sees now: one complete objective (every shard present), the rest not at all.
    [published] = [p.name for p in out.iterdir() if p.name in OBJECTIVES]
    manifest = read_manifest(str(out / published), objective=published)
    assert all((out / published / s.path).is_file() for shards in manifest.splits.values() for s in shards)
    assert (out / TMP_NAME / JOURNAL).is_file() and not [p for p in out.rglob("*.tmp")]

    monkeypatch.setattr(commit, "_publish_dir", real)
    rerun = build(inputs, out, trained_tokenizer.name, seq_len=32)
    assert sorted(p.name for p in out.iterdir()) == sorted(OBJECTIVES)
    for name in OBJECTIVES:
        strip = lambda m: {k: v for k, v in json.loads(m.to_json()).items() if k != "created_at"}  # noqa: E731
        assert strip(rerun[name]) == strip(clean[name])
        for shards in rerun[name].splits.values():
            for s in shards:
                assert (out / name / s.path).read_bytes() == (tmp_path / "clean" / name / s.path).read_bytes()
