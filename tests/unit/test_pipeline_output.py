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


def dataset(root, objective, *shards):
    """An objective directory whose manifest names ``shards`` (what the ownership checks read)."""
    put(root, *(f"{objective}/{s}" for s in shards))
    splits = {"train": [{"path": s} for s in shards]}
    put(root, f"{objective}/manifest.json", text=json.dumps({"objective": objective, "splits": splits}))


def test_empty_or_missing_output_gets_the_marker(tmp_path):
    out = tmp_path / "new" / "out"
    prepare_output(str(out), ("clm",), overwrite=False)
    assert files(out) == [f"{TMP_NAME}/{MARKER}"]
    assert json.loads((out / TMP_NAME / MARKER).read_text()) == {"made_by": "lmpairs", "objectives": ["clm"]}


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
    dataset(tmp_path, "clm", "train/part-0.parquet")
    dataset(tmp_path, "mlm")
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
    put(tmp_path, f"{TMP_NAME}/clm/train/part-00000-0000.parquet")
    put(tmp_path, f"{TMP_NAME}/{MARKER}", text='{"objectives": ["clm"]}')  # an earlier lmpairs' marker
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


@pytest.mark.parametrize("stray", ["clm/README.md", "clm/eval_results.json", "clm/checkpoints/step1000.pt",
                                   "clm/train/part-00009-0000.parquet"])
def test_overwrite_refuses_a_file_the_old_manifest_does_not_name(tmp_path, stray):
    dataset(tmp_path, "clm", "train/part-00000-0000.parquet")
    put(tmp_path, stray, text="keep")
    with pytest.raises(BuildError, match=rf"clm/ holds files its manifest does not name: {stray}; "):
        prepare_output(str(tmp_path), ("clm",), overwrite=True)
    assert (tmp_path / stray).read_text() == "keep"
    assert not (tmp_path / TMP_NAME).exists()


def test_overwrite_refuses_a_symlink_inside_a_dataset(tmp_path):
    dataset(tmp_path, "clm", "train/part-00000-0000.parquet")
    put(tmp_path.parent, "elsewhere/x", text="keep")
    (tmp_path / "clm" / "link").symlink_to(tmp_path.parent / "elsewhere")
    with pytest.raises(BuildError, match="clm/link"):
        prepare_output(str(tmp_path), ("clm",), overwrite=True)
    assert (tmp_path.parent / "elsewhere" / "x").read_text() == "keep"


def test_a_dataset_not_being_built_is_left_alone(tmp_path):
    dataset(tmp_path, "mlm", "train/part-00000-0000.parquet")
    put(tmp_path, "mlm/notes.md", text="keep")
    prepare_output(str(tmp_path), ("clm",), overwrite=True)
    assert (tmp_path / "mlm" / "notes.md").read_text() == "keep"


@pytest.mark.parametrize("marker", [None, "not json", '["objectives"]'])
def test_an_unmarked_temp_dir_is_never_emptied(tmp_path, marker):
    put(tmp_path, f"{TMP_NAME}/mine.txt", text="keep")
    if marker is not None:
        put(tmp_path, f"{TMP_NAME}/{MARKER}", text=marker)
    with pytest.raises(BuildError, match=rf"{TMP_NAME} holds files lmpairs did not write there: .*mine.txt"):
        prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert (tmp_path / TMP_NAME / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize("stray", ["notes.txt", "clm/train/extra.parquet", "progress/x.json", "replaced/clm/a.txt"])
def test_a_marked_temp_dir_with_a_foreign_file_is_refused(tmp_path, stray):
    put(tmp_path, f"{TMP_NAME}/{MARKER}", text='{"made_by": "lmpairs", "objectives": ["clm"]}')
    put(tmp_path, f"{TMP_NAME}/clm/train/part-00000-0000.parquet", f"{TMP_NAME}/progress/3.json")
    dataset(tmp_path / TMP_NAME / "replaced", "clm", "train/part-00001-0000.parquet")
    put(tmp_path, f"{TMP_NAME}/{stray}", text="keep")
    with pytest.raises(BuildError, match=stray):
        prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert (tmp_path / TMP_NAME / stray).read_text() == "keep"


def test_a_marked_temp_dir_of_lmpairs_files_is_cleared(tmp_path):
    put(tmp_path, f"{TMP_NAME}/{MARKER}", text='{"made_by": "lmpairs", "objectives": ["clm"]}')
    put(tmp_path, f"{TMP_NAME}/clm/train/part-00000-0000.parquet", f"{TMP_NAME}/progress/3.json.part",
        f"{TMP_NAME}/clm/manifest.json")
    dataset(tmp_path / TMP_NAME / "replaced", "clm", "train/part-00001-0000.parquet")
    prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert files(tmp_path) == [f"{TMP_NAME}/{MARKER}"]


@pytest.mark.parametrize("content", ["[1,2]", '{"pid": 99999999999999999999999, "host": "%s"}',
                                     '{"pid": -1, "host": "%s"}', '"text"', "", "\x00\xff"])
def test_a_malformed_lock_is_one_error_or_taken_over(tmp_path, content):
    (tmp_path / LOCK_NAME).write_text(content.replace("%s", socket.gethostname()))
    try:
        lock = OutputLock(str(tmp_path)).acquire()
    except BuildError as err:
        assert "another lmpairs build is writing there (pid ?" in str(err)
    else:
        assert json.loads((tmp_path / LOCK_NAME).read_text())["token"] == lock.token
        lock.release()


def test_a_stuck_takeover_names_both_files(tmp_path):
    dead = {"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "then", "token": "abc"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(dead))
    stuck = tmp_path / f"{LOCK_NAME}.takeover-abc"
    stuck.write_text("")
    old = os.path.getmtime(stuck) - STALE_SECONDS - 1
    os.utime(stuck, (old, old))
    with pytest.raises(BuildError, match="was interrupted; .*delete .*takeover-abc"):
        OutputLock(str(tmp_path)).acquire()


def test_holds_turns_false_when_another_build_took_the_lock(tmp_path):
    from lmpairs.pipeline.lock import LockLost, check_holder

    lock = OutputLock(str(tmp_path)).acquire()
    assert lock.holds()
    check_holder(str(tmp_path), lock.token)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 7, "host": "h", "token": "other", "started": "s"}))
    assert not lock.holds()
    with pytest.raises(LockLost, match=r"lost the build lock \(now pid 7 on h, started s\)"):
        check_holder(str(tmp_path), lock.token)
    lock.release()


def test_in_place_shards_no_manifest_names_are_lmpairs_leftovers(tmp_path):
    from lmpairs.pipeline.ownership import is_partial, orphan_shards

    named = "b-0123456789ab/train/part-00000-0000.parquet"
    stale = "b-ba9876543210/train/part-00003-0001.parquet"
    dataset(tmp_path, "clm", named)
    put(tmp_path, f"clm/{stale}")
    assert orphan_shards(str(tmp_path / "clm")) == [str(tmp_path / "clm" / stale)]
    prepare_output(str(tmp_path), ("clm",), overwrite=True)  # an uncommitted build's shard is not a user file
    put(tmp_path, "mlm/b-0123456789ab/validation/part-00000-0000.parquet")
    assert is_partial(str(tmp_path / "mlm")) and not is_partial(str(tmp_path / "clm"))
    put(tmp_path, "mlm/b-0123456789ab/notes.txt")
    assert not is_partial(str(tmp_path / "mlm"))


def test_a_file_added_to_a_replaced_dataset_during_the_build_is_kept(tmp_path):
    from lmpairs.pipeline.commit import JOURNAL, apply_commit

    dataset(tmp_path, "clm", "train/part-00000-0000.parquet", "train/part-00001-0000.parquet")
    prepare_output(str(tmp_path), ("clm",), overwrite=True)
    put(tmp_path, "clm/eval_results.json", "clm/checkpoints/step1000.pt", text="keep")  # while the build runs
    dataset(tmp_path / TMP_NAME, "clm", "train/part-00000-0000.parquet")
    put(tmp_path, f"{TMP_NAME}/{JOURNAL}", text='{"objectives": ["clm"], "build_key": "k"}')
    apply_commit(str(tmp_path))
    assert files(tmp_path) == ["clm/checkpoints/step1000.pt", "clm/eval_results.json", "clm/manifest.json",
                               "clm/train/part-00000-0000.parquet"]
    assert (tmp_path / "clm" / "eval_results.json").read_text() == "keep"
