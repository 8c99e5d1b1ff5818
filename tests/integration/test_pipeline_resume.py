"""A build killed after some input splits finished resumes where it stopped (issue 20, "Scale").

The rerun reports how many splits it reused and builds the rest; its shards and manifests equal a
clean build's byte for byte (``created_at`` aside). ``--restart`` and a changed config start over.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lmpairs.pipeline.commit import TMP_NAME
from lmpairs.pipeline.resume import DONE_DIR

pytestmark = pytest.mark.slow


def command(corpus, out, tokenizer, *extra):
    return [sys.executable, "-m", "lmpairs.cli", "build", "--input", str(corpus), "--output", str(out),
            "--tokenizer", tokenizer, "--seq-len", "32", "--split-mb", "0.1", "--objectives", "clm,bart", *extra]


def snapshot(root):
    """Every file's digest; manifests without ``created_at``."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = json.loads(data)
                manifest.pop("created_at")
                data = json.dumps(manifest, sort_keys=True).encode()
            found[str(path.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return found


def kill_after_splits(cmd, out, cwd, at_least):
    proc = subprocess.Popen(cmd, cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    done = out / TMP_NAME / DONE_DIR
    while len(list(done.glob("*.json"))) < at_least:
        if proc.poll() is not None:
            pytest.fail(f"the build ended (status {proc.returncode}) before it was killed: "
                        f"{proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(list(done.glob("*.json")))


def test_a_killed_build_resumes_and_equals_a_clean_build(english_corpus, trained_tokenizer, tmp_path, repo_root):
    clean = tmp_path / "clean"
    subprocess.run(command(english_corpus, clean, trained_tokenizer.name), cwd=repo_root, check=True,
                   capture_output=True, timeout=600)
    want = snapshot(clean)
    out = tmp_path / "out"
    killed_at = kill_after_splits(command(english_corpus, out, trained_tokenizer.name), out, repo_root,
                                  random.Random(os.getpid()).randint(2, 6))
    rerun = subprocess.run(command(english_corpus, out, trained_tokenizer.name), cwd=repo_root, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    reused = int(rerun.stderr.split(" splits reused")[0].rsplit(" ", 1)[-1])
    assert reused >= min(killed_at, 2), rerun.stderr[-2000:]
    assert snapshot(out) == want


def test_restart_and_a_changed_config_start_over(english_corpus, trained_tokenizer, tmp_path, repo_root):
    out = tmp_path / "out"
    kill_after_splits(command(english_corpus, out, trained_tokenizer.name), out, repo_root, 2)
    restarted = subprocess.run(command(english_corpus, out, trained_tokenizer.name, "--restart"), cwd=repo_root,
                               capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0 and "splits reused" not in restarted.stderr
    assert "(--restart)" in restarted.stderr
    other = tmp_path / "other"
    kill_after_splits(command(english_corpus, other, trained_tokenizer.name), other, repo_root, 2)
    reseeded = subprocess.run(command(english_corpus, other, trained_tokenizer.name, "--seed", "7"), cwd=repo_root,
                              capture_output=True, text=True, timeout=600)
    assert reseeded.returncode == 0 and "splits reused" not in reseeded.stderr
    assert json.loads((other / "clm" / "manifest.json").read_text())["seed"] == 7
