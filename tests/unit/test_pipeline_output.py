"""The output directory before a build: empty, resumable, replaced on request, or refused; the build lock."""
import json
import os
import socket

import pytest

from lmpairs.pipeline.commit import TMP_NAME
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.output import (
    LOCK_NAME,
    MARKER,
    STALE_SECONDS,
    OutputLock,
    check_output_path,
    discard_temp,
    prepare_output,
)


def files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def put(root, *names, text="x"):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_empty_or_missing_output_gets_the_marker(tmp_path):
    out = tmp_path / "new" / "out"
    prepare_output(str(out), ("clm",), overwrite=False)
    assert files(out) == [f"{TMP_NAME}/{MARKER}"]
    assert json.loads((out / TMP_NAME / MARKER).read_text()) == {"objectives": ["clm"]}


def test_a_finished_build_is_refused_without_overwrite(tmp_path):
    put(tmp_path, "clm/manifest.json")
    with pytest.raises(BuildError, match=r"not empty \(1 entries: clm\); pass --overwrite"):
        prepare_output(str(tmp_path), ("clm",), overwrite=False)


def test_an_objective_dir_that_is_a_symlink_is_not_empty_and_never_overwritten(tmp_path):
    dataset = tmp_path / "elsewhere" / "clm"
    put(dataset.parent, "clm/manifest.json", "clm/train/part-0.parquet")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clm").symlink_to(dataset)
    with pytest.raises(BuildError, match="not empty"):
        prepare_output(str(out), ("clm",), overwrite=False)
    with pytest.raises(BuildError, match=r"clm \(a symlink\); --overwrite only replaces lmpairs datasets"):
        prepare_output(str(out), ("clm",), overwrite=True)
    assert files(dataset) == ["manifest.json", "train/part-0.parquet"]


def test_overwrite_keeps_the_previous_dataset_until_the_commit(tmp_path):
    put(tmp_path, "clm/manifest.json", "clm/train/part-0.parquet", "mlm/manifest.json")
    prepare_output(str(tmp_path), ("clm",), overwrite=True)
    assert files(tmp_path) == [f"{TMP_NAME}/{MARKER}", "clm/manifest.json", "clm/train/part-0.parquet",
                               "mlm/manifest.json"]


@pytest.mark.parametrize("foreign", ["notes.txt", "t5/src/model.py", "clm/train/part-0.parquet"])
def test_overwrite_refuses_anything_lmpairs_did_not_write(tmp_path, foreign):
    put(tmp_path, foreign, text="keep")
    with pytest.raises(BuildError, match="holds entries lmpairs did not write"):
        prepare_output(str(tmp_path), ("t5", "clm"), overwrite=True)
    assert (tmp_path / foreign).read_text() == "keep"


def test_root_and_home_are_refused(tmp_path, monkeypatch):
    with pytest.raises(BuildError, match=r"--output /: is /; .*choose a dedicated --output"):
        check_output_path("/")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(BuildError, match="your home directory"):
        check_output_path(str(tmp_path))
    check_output_path(str(tmp_path / "out"))


def test_an_interrupted_build_is_cleaned_and_resumed(tmp_path):
    put(tmp_path, f"{TMP_NAME}/{MARKER}", f"{TMP_NAME}/clm/train/part-0.parquet")
    prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert files(tmp_path) == [f"{TMP_NAME}/{MARKER}"]


def test_a_temp_dir_next_to_foreign_files_is_not_resumable(tmp_path):
    put(tmp_path, f"{TMP_NAME}/{MARKER}")
    put(tmp_path, "mine.txt", text="keep")
    with pytest.raises(BuildError, match="not empty"):
        prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_unwritable_output_fails_before_work_naming_the_fix(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(BuildError, match=r"--output .*a_file/out: cannot write there .*choose a writable --output"):
        OutputLock(str(blocker / "out")).acquire()
    with pytest.raises(BuildError, match="is a file, expected a directory"):
        check_output_path(str(blocker))


def test_a_second_build_is_refused_while_the_first_holds_the_lock(tmp_path):
    first = OutputLock(str(tmp_path)).acquire()
    with pytest.raises(BuildError, match=rf"another lmpairs build is writing there \(pid {os.getpid()} on "):
        OutputLock(str(tmp_path)).acquire()
    first.release()
    assert not (tmp_path / LOCK_NAME).exists()
    OutputLock(str(tmp_path)).acquire().release()


def test_a_stale_lock_is_taken_over(tmp_path):
    dead = {"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "then", "token": "x"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(dead))
    lock = OutputLock(str(tmp_path)).acquire()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    other_host = dict(dead, host="elsewhere", pid=1)
    (tmp_path / LOCK_NAME).write_text(json.dumps(other_host))
    with pytest.raises(BuildError, match="on elsewhere"):
        OutputLock(str(tmp_path)).acquire()
    old = os.path.getmtime(tmp_path / LOCK_NAME) - STALE_SECONDS - 1
    os.utime(tmp_path / LOCK_NAME, (old, old))
    OutputLock(str(tmp_path)).acquire().release()


def test_release_leaves_a_lock_that_another_build_took(tmp_path):
    lock = OutputLock(str(tmp_path)).acquire()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "h", "token": "other"}))
    lock.release()
    assert (tmp_path / LOCK_NAME).exists()


def test_discard_temp_keeps_a_decided_commit(tmp_path):
    put(tmp_path, f"{TMP_NAME}/COMMIT.json", f"{TMP_NAME}/clm/manifest.json")
    discard_temp(str(tmp_path))
    assert (tmp_path / TMP_NAME / "COMMIT.json").exists()
    (tmp_path / TMP_NAME / "COMMIT.json").unlink()
    discard_temp(str(tmp_path))
    assert not (tmp_path / TMP_NAME).exists()
