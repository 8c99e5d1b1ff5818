"""Issue 20's severe cases on real builds: a dry run writes nothing, --overwrite deletes only what
lmpairs wrote, and two builds racing for one output's stale lock never both run."""
from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import threading

import pytest

from lmpairs.pipeline.commit import TMP_NAME
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.lock import LOCK_NAME
from lmpairs.schemas import read_manifest

pytestmark = pytest.mark.slow


@pytest.fixture
def small(corpus_slices):
    return [str(corpus_slices / "ja.txt")]


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_local_dry_run_plans_only_and_writes_nothing(build, small, corpus_slices, trained_tokenizer, tmp_path,
                                                       caplog):
    out = tmp_path / "out"
    build(small, out, trained_tokenizer.name, objectives="clm", seed=0)
    before = snapshot(out)
    with caplog.at_level("INFO", logger="lmpairs"):
        got = build([str(corpus_slices / "en" / "*")], out, trained_tokenizer.name, objectives="clm", seed=1,
                    overwrite=True, beam_args=("--dry_run=True",))
    assert got == {}
    assert snapshot(out) == before  # the dataset untouched, no lock, no temp dir
    assert "dry run:" in caplog.text and "built, not run; nothing was written" in caplog.text
    with pytest.raises(BuildError, match="not empty"):  # what the real build would say, said by the plan
        build(small, out, trained_tokenizer.name, objectives="clm", beam_args=("--dry_run=True",))
    fresh = tmp_path / "fresh"
    build(small, fresh, trained_tokenizer.name, objectives="clm", beam_args=("--dry_run=True",))
    assert not fresh.exists()


@pytest.mark.parametrize("stray", ["clm/README.md", "clm/checkpoints/step1000.pt", f"{TMP_NAME}/notes.txt"])
def test_overwrite_refuses_user_files_inside_the_output(build, small, trained_tokenizer, tmp_path, stray):
    out = tmp_path / "out"
    build(small, out, trained_tokenizer.name, objectives="clm")
    (out / stray).parent.mkdir(parents=True, exist_ok=True)
    (out / stray).write_text("keep")
    before = snapshot(out)
    with pytest.raises(BuildError, match=stray):
        build(small, out, trained_tokenizer.name, objectives="clm", overwrite=True, seed=3)
    assert snapshot(out) == before


def test_overwrite_deletes_exactly_the_old_manifests_files(build, small, corpus_slices, trained_tokenizer, tmp_path):
    out = tmp_path / "out"
    build([str(corpus_slices / "en" / "*")], out, trained_tokenizer.name, objectives="clm")
    second = build(small, out, trained_tokenizer.name, objectives="clm", overwrite=True)
    named = {"clm/manifest.json"} | {f"clm/{s.path}" for shards in second["clm"].splits.values() for s in shards}
    assert set(snapshot(out)) == named


def race(command, out, trials_dir):
    """Start two builds of one output at the same instant (a barrier of threads around Popen)."""
    barrier, procs = threading.Barrier(2), [None, None]

    def start(i, seed):
        barrier.wait()
        procs[i] = subprocess.Popen(command(out, seed), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    threads = [threading.Thread(target=start, args=(i, i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [(p.wait(timeout=600), p.stderr.read(), p.pid) for p in procs]


def test_two_builds_racing_for_a_stale_lock_never_both_run(small, trained_tokenizer, tmp_path, repo_root):
    def command(out, seed):
        return [sys.executable, "-m", "lmpairs.cli", "build", "--input", *small, "--output", str(out), "--tokenizer",
                trained_tokenizer.name, "--seq-len", "32", "--objectives", "clm", "--seed", str(seed)]

    dead = {"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "then", "token": "dead"}
    for trial in range(3):
        out = tmp_path / str(trial)
        out.mkdir()
        (out / LOCK_NAME).write_text(json.dumps(dead))
        results = race(command, out, tmp_path)
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], [(c, e[-1500:]) for c, e, _ in results]
        (_, winner_err, winner_pid), (_, loser_err, _) = sorted(results, key=lambda r: r[0])
        last = loser_err.strip().splitlines()[-1]
        assert last.startswith("lmpairs build: error: --output"), loser_err[-1500:]
        assert f"(pid {winner_pid} on" in last or "not empty" in last, last
        manifest = read_manifest(str(out / "clm"), objective="clm")
        shards = {s.path for v in manifest.splits.values() for s in v}
        assert shards and all((out / "clm" / p).is_file() for p in shards)
        assert {p.relative_to(out / "clm").as_posix() for p in (out / "clm").rglob("*.parquet")} == shards
        assert sorted(p.name for p in out.iterdir()) == ["clm"]


def test_ctrl_c_is_one_line_exit_130_and_leaves_nothing(english_corpus, trained_tokenizer, tmp_path, repo_root):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lmpairs.cli", "build", "--input", str(english_corpus), "--output", str(out),
               "--tokenizer", trained_tokenizer.name, "--seq-len", "32", "--row-group-mb", "0.001"]
    proc = subprocess.Popen(command, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not any((out / TMP_NAME).rglob("*.parquet")):
        if proc.poll() is not None:
            pytest.fail(f"the build ended (status {proc.returncode}) before Ctrl-C: {proc.stderr.read()[-2000:]}")
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("lmpairs build: interrupted;")
    assert list(out.iterdir()) == []  # no lock, no temp dir, nothing published
