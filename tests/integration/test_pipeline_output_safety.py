"""The output directory never loses a user's data (issue 14.1, 14.2): home, /, symlinks, failed overwrites,
concurrent builds, and builds where nothing survives."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.output import LOCK_NAME
from lmpairs.schemas import read_manifest

pytestmark = pytest.mark.slow


@pytest.fixture
def small(corpus_slices):
    return [str(corpus_slices / "ja.txt")]


def test_overwrite_into_home_or_root_is_refused_and_deletes_nothing(build, small, trained_tokenizer, tmp_path,
                                                                    monkeypatch):
    home = tmp_path / "home"
    (home / "t5" / "src").mkdir(parents=True)
    (home / "t5" / "src" / "model.py").write_text("keep")
    monkeypatch.setenv("HOME", str(home))
    for output in ("~", "/"):
        with pytest.raises(BuildError, match="choose a dedicated --output"):
            build(small, output, trained_tokenizer.name, objectives="t5,clm", overwrite=True)
    assert (home / "t5" / "src" / "model.py").read_text() == "keep"
    assert sorted(p.name for p in home.iterdir()) == ["t5"]


def test_a_symlinked_objective_dir_is_never_replaced(build, small, trained_tokenizer, tmp_path):
    finished = tmp_path / "finished"
    build(small, finished, trained_tokenizer.name, objectives="clm")
    before = sorted((p.name, p.stat().st_size) for p in (finished / "clm").rglob("*"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "clm").symlink_to(finished / "clm")
    with pytest.raises(BuildError, match="not empty"):
        build(small, out, trained_tokenizer.name, objectives="clm")
    with pytest.raises(BuildError, match="a symlink"):
        build(small, out, trained_tokenizer.name, objectives="clm", overwrite=True)
    assert sorted((p.name, p.stat().st_size) for p in (finished / "clm").rglob("*")) == before
    assert sorted(p.name for p in out.iterdir()) == ["clm"]


def test_a_failed_overwrite_keeps_the_previous_dataset(build, small, trained_tokenizer, tmp_path):
    out = tmp_path / "out"
    first = build(small, out, trained_tokenizer.name, objectives="clm,mlm")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n\n")
    with pytest.raises(BuildError, match=r"nothing survived: 4 documents read, 0 used .*rejected: empty 4;"):
        build([str(blank)], out, trained_tokenizer.name, objectives="clm,mlm", overwrite=True, documents="line")
    for name in ("clm", "mlm"):
        assert read_manifest(str(out / name)).to_json() == first[name].to_json()
    assert sorted(p.name for p in out.iterdir()) == ["clm", "mlm"]
    second = build([str(blank), *small], out, trained_tokenizer.name, objectives="clm", overwrite=True,
                   documents="line")
    assert second["clm"].counters["documents_rejected"]["empty"] == 4
    assert read_manifest(str(out / "mlm")).to_json() == first["mlm"].to_json()  # not rebuilt, left alone


def test_nothing_surviving_is_a_one_line_error_with_exit_2(trained_tokenizer, tmp_path, repo_root):
    blank = tmp_path / "blank.jsonl"
    blank.write_text('{"other": 1}\n{"text": ""}\n')
    run = subprocess.run([sys.executable, "-m", "lmpairs.cli", "build", "--input", str(blank), "--output",
                          str(tmp_path / "out"), "--tokenizer", trained_tokenizer.name], cwd=repo_root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    [error] = [line for line in run.stderr.splitlines() if "error" in line]
    assert "nothing survived: 2 documents read" in error and "missing_field 1" in error
    assert not (tmp_path / "out" / "clm").exists() and not (tmp_path / "out" / LOCK_NAME).exists()


def test_a_second_build_into_the_same_output_is_refused_while_the_first_runs(build, english_corpus, small,
                                                                            trained_tokenizer, tmp_path, repo_root):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "lmpairs.cli", "build", "--input", str(english_corpus),
                              "--output", str(out), "--tokenizer", trained_tokenizer.name, "--objectives", "clm"],
                             cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / LOCK_NAME).exists():
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()[-2000:]
        time.sleep(0.05)
    with pytest.raises(BuildError, match=rf"another lmpairs build is writing there \(pid {first.pid} on "):
        build(small, out, trained_tokenizer.name, objectives="clm", overwrite=True)
    assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    assert read_manifest(str(out / "clm")).counters["documents_used"] > 1000


def test_a_full_disk_is_one_line_and_leaves_no_temp_files(build, small, trained_tokenizer, tmp_path, monkeypatch):
    import errno

    from lmpairs.pipeline import shards
    from lmpairs.pipeline.errors import OutOfSpace

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shards.ShardWriter, "_write_group", full)
    out = tmp_path / "out"
    with pytest.raises(OutOfSpace) as caught:
        build(small, out, trained_tokenizer.name, objectives="clm")
    assert str(caught.value) == (f"--output {out}: out of disk space; the temporary files were removed: free some "
                                 "space or choose another --output.")
    assert list(out.iterdir()) == []
