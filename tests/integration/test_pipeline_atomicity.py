"""A build killed mid-run leaves no manifest and no shard in place; rerunning into the same OUT completes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from lmpairs.pipeline.commit import TMP_NAME
from lmpairs.schemas import read_manifest

pytestmark = pytest.mark.slow
OBJECTIVES = ("clm", "mlm", "t5", "bart")


def command(corpus, out, tokenizer) -> list[str]:
    return [sys.executable, "-m", "lmpairs.cli", "build", "--input", str(corpus), "--output", str(out),
            "--tokenizer", tokenizer, "--seq-len", "32", "--num-shards", "4"]


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


def test_killed_build_leaves_nothing_in_place_and_a_rerun_completes(corpus_slices, trained_tokenizer, tmp_path,
                                                                    repo_root):
    out = tmp_path / "out"
    corpus = corpus_slices / "en" / "shakespeare.txt"
    proc = subprocess.Popen(command(corpus, out, trained_tokenizer.name), cwd=repo_root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_once_shards_are_written(proc, out / TMP_NAME)
    assert proc.returncode == -signal.SIGKILL
    assert not list(out.rglob("manifest.json"))
    placed = [p for p in out.rglob("*.parquet") if p.relative_to(out).parts[0] != TMP_NAME]
    assert placed == []

    rerun = subprocess.run(command(corpus, out, trained_tokenizer.name), cwd=repo_root, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "interrupted build" in rerun.stderr
    for name in OBJECTIVES:
        manifest = read_manifest(str(out / name), objective=name)
        assert all((out / name / s.path).is_file() for shards in manifest.splits.values() for s in shards)
    assert not (out / TMP_NAME).exists()
