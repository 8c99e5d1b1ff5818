"""A real full disk: a 2 MB tmpfs as ``--output`` (mounted here; we run as root locally and in CI).

The build that fills it must end with one line and exit status 2, leave nothing half-written visible
(no new manifest, no temp dir, no lock) and leave the dataset already there byte for byte. Skips, with
the reason, where mounting is not permitted.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmpairs.embedded_corpus import corpus_documents

pytestmark = pytest.mark.slow

DISK_SIZE = "2m"


@pytest.fixture
def tiny_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(disk)],
                                 capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot run mount ({err}): a full-disk test needs a small tmpfs")
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({mounted.stderr.strip()}): a full-disk test needs one")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def big_corpus(path: Path, words: int = 500_000) -> Path:
    """About 3 MB of text in random word order (barely compressible): its pairs do not fit in 2 MB."""
    vocab = sorted({w for d in corpus_documents() for w in re.findall(r"[A-Za-z]+", d.text)})
    rng = np.random.default_rng(0)
    picked = np.asarray(vocab)[rng.integers(0, len(vocab), words)]
    lines = [" ".join(picked[i:i + 60]) for i in range(0, words, 60)]
    path.write_text("\n\n".join(lines) + "\n")
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_full_disk_is_one_line_and_leaves_the_previous_dataset_whole(tiny_disk, corpus_slices, trained_tokenizer,
                                                                       tmp_path, repo_root, build):
    out = tiny_disk / "out"
    build([str(corpus_slices / "ja.txt")], out, trained_tokenizer.name, objectives="clm,t5")
    before = tree(out)
    corpus = big_corpus(tmp_path / "big.txt")
    for output, extra in ((out, ["--overwrite"]), (tiny_disk / "fresh", [])):
        done = subprocess.run([sys.executable, "-m", "lmpairs", "build", "--input", str(corpus), "--output",
                               str(output), "--tokenizer", trained_tokenizer.name, "--objectives", "clm,mlm,t5,bart",
                               "--seq-len", "64", *extra], cwd=repo_root, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr[-3000:]
        lines = done.stderr.strip().splitlines()
        assert lines[-1] == (f"lmpairs build: error: --output {output}: out of disk space; the temporary files were "
                             "removed: free some space or choose another --output."), done.stderr[-3000:]
        assert "Traceback" not in done.stderr and sum("error" in line.lower() for line in lines) == 1, done.stderr
    assert tree(out) == before  # the previous dataset, byte for byte; no temp dir, no lock, no new manifest
    assert [p.name for p in tiny_disk.iterdir()] == ["out"] or tree(tiny_disk / "fresh") == {}
