"""The output directory before a build: empty, resumable, overwritten on request, or refused."""
import json

import pytest

from lmpairs.pipeline.commit import TMP_NAME
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.output import MARKER, prepare_output


def files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_empty_or_missing_output_gets_the_marker(tmp_path):
    out = tmp_path / "new" / "out"
    prepare_output(str(out), ("clm",), overwrite=False)
    assert files(out) == [f"{TMP_NAME}/{MARKER}"]
    assert json.loads((out / TMP_NAME / MARKER).read_text()) == {"objectives": ["clm"]}


def test_a_finished_build_is_refused_without_overwrite(tmp_path):
    (tmp_path / "clm").mkdir()
    (tmp_path / "clm" / "manifest.json").write_text("{}")
    with pytest.raises(BuildError, match=r"not empty \(1 files: clm/manifest.json\); pass --overwrite"):
        prepare_output(str(tmp_path), ("clm",), overwrite=False)


def test_overwrite_removes_only_the_requested_objectives(tmp_path):
    for name in ("clm/manifest.json", "clm/train/part-0.parquet", "mlm/manifest.json", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    prepare_output(str(tmp_path), ("clm",), overwrite=True)
    assert files(tmp_path) == [f"{TMP_NAME}/{MARKER}", "mlm/manifest.json", "notes.txt"]


def test_an_interrupted_build_is_cleaned_and_resumed(tmp_path):
    for name in (f"{TMP_NAME}/{MARKER}", f"{TMP_NAME}/clm/train/part-0.parquet", "clm/train/part-1.parquet"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert files(tmp_path) == [f"{TMP_NAME}/{MARKER}"]


def test_a_temp_dir_next_to_foreign_files_is_not_resumable(tmp_path):
    (tmp_path / TMP_NAME).mkdir()
    (tmp_path / TMP_NAME / MARKER).write_text("{}")
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(BuildError, match="not empty"):
        prepare_output(str(tmp_path), ("clm",), overwrite=False)
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_unwritable_output_fails_before_work_naming_the_fix(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(BuildError, match=r"--output .*a_file/out: cannot write there .*choose a writable --output"):
        prepare_output(str(blocker / "out"), ("clm",), overwrite=False)
    with pytest.raises(BuildError, match="is a file, expected a directory"):
        prepare_output(str(blocker), ("clm",), overwrite=False)
