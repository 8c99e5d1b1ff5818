"""Glob expansion: key prefixes relative to the glob's directory, formats, compression, clear errors."""
import pytest

from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.records import InputFile
from lmpairs.pipeline.sources import detect_compression, detect_format, expand_inputs, input_root, unique_files


@pytest.mark.parametrize("glob, root", [("/d/a/*.txt", "/d/a"), ("/d/a/x*.txt", "/d/a"), ("/d/**/b?.txt", "/d"),
                                        ("/d/a/file.txt", "/d/a"), ("gs://bucket/c/[ab].jsonl", "gs://bucket/c")])
def test_input_root_is_the_directory_before_the_first_wildcard(glob, root):
    assert input_root(glob) == root


@pytest.mark.parametrize("path, fmt, compression", [
    ("a.txt", "text", "uncompressed"), ("a.txt.gz", "text", "gzip"), ("a.JSONL.zst", "jsonl", "zstd"),
    ("a.ndjson.bz2", "jsonl", "bzip2"), ("a.parquet", "parquet", "uncompressed"), ("README", "text", "uncompressed"),
    ("dir.v2/notes", "text", "uncompressed"),
])
def test_format_and_compression_by_extension(path, fmt, compression):
    assert detect_format(path, "auto") == fmt
    assert detect_compression(path, fmt) == compression
    assert detect_format(path, "jsonl") == "jsonl"


def test_expand_inputs_sorts_dedupes_and_keys_by_relative_path(tmp_path):
    (tmp_path / "en").mkdir()
    for name in ("en/b.txt", "en/a.jsonl.gz", "top.txt"):
        (tmp_path / name).write_bytes(b"x")
    files = expand_inputs([f"{tmp_path}/**", f"{tmp_path}/en/*.txt"], input_format="auto")
    assert [(f.key_prefix, f.format, f.compression, f.num_bytes) for f in files] == [
        ("en/a.jsonl.gz", "jsonl", "gzip", 1), ("en/b.txt", "text", "uncompressed", 1),
        ("top.txt", "text", "uncompressed", 1)]


def test_a_glob_without_files_is_an_error_naming_it(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(BuildError, match=r"--input .*/\*\.jsonl: matches no files"):
        expand_inputs([f"{tmp_path}/*.txt", f"{tmp_path}/*.jsonl"], input_format="auto")
    with pytest.raises(BuildError, match="it is a directory: add a pattern"):
        expand_inputs([str(tmp_path)], input_format="auto")


def test_two_files_with_one_key_prefix_are_refused():
    files = [InputFile("/x/a/t.txt", "t.txt", "text", "uncompressed", 1),
             InputFile("/x/b/t.txt", "t.txt", "text", "uncompressed", 1)]
    with pytest.raises(BuildError, match="/x/a/t.txt and /x/b/t.txt both get document keys 't.txt:N'"):
        unique_files(files)
