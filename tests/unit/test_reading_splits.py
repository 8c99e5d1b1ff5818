"""plan_splits: globs to deterministic input splits, key prefixes, exclusions, clear errors."""
import os
import re

import pytest

from lmpairs.errors import UserError
from lmpairs.reading import InputError, InputSplit, LocalFiles, plan_splits
from lmpairs.reading.files import glob_to_regex
from lmpairs.reading.splits import detect_compression, detect_format, input_root


def write(root, files: dict) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.parametrize("glob, root", [("/d/a/*.txt", "/d/a"), ("/d/a/x*.txt", "/d/a"), ("/d/**/b?.txt", "/d"),
                                        ("/d/a/file.txt", "/d/a"), ("gs://bucket/c/[ab].jsonl", "gs://bucket/c")])
def test_input_root_is_the_directory_before_the_first_wildcard(glob, root):
    assert input_root(glob) == root


@pytest.mark.parametrize("path, fmt, compression", [
    ("a.txt", "text", "uncompressed"), ("a.txt.gz", "text", "gzip"), ("a.JSONL.zst", "jsonl", "zstd"),
    ("a.ndjson.bz2", "jsonl", "bzip2"), ("a.parquet", "parquet", "uncompressed"), ("README", "text", "uncompressed"),
    ("a.txt.xz", "text", "lzma"), ("a.json.deflate", "jsonl", "deflate"), ("dir.v2/notes", "text", "uncompressed"),
])
def test_format_and_compression_by_suffix(path, fmt, compression):
    assert detect_format(path, "auto") == fmt
    assert detect_compression(path, fmt) == compression
    assert detect_format(path, "jsonl") == "jsonl"


def test_large_uncompressed_text_and_jsonl_are_cut_into_byte_ranges_the_rest_stay_whole(tmp_path):
    write(tmp_path, {"a.txt": b"x" * 25, "b.jsonl": b"y" * 10, "c.txt.gz": b"z" * 50, "d.parquet": b"p" * 50,
                     "e.txt": b"small"})
    splits = plan_splits([f"{tmp_path}/*"], split_bytes=10).splits
    assert [(s.key_prefix, s.start, s.end, s.file_bytes, s.whole_file) for s in splits] == [
        ("a.txt", 0, 10, 25, False), ("a.txt", 10, 20, 25, False), ("a.txt", 20, 25, 25, False),
        ("b.jsonl", 0, 10, 10, True), ("c.txt.gz", 0, 50, 50, True), ("d.parquet", 0, 50, 50, True),
        ("e.txt", 0, 5, 5, True)]
    assert [s.name for s in splits[:4]] == ["a.txt@0-10", "a.txt@10-20", "a.txt@20-25", "b.jsonl"]
    assert splits[0].describe() == {"path": str(tmp_path / "a.txt"), "key_prefix": "a.txt", "format": "text",
                                    "compression": "uncompressed", "start": 0, "end": 10, "bytes": 10,
                                    "file_bytes": 25}


def test_documents_file_keeps_text_whole_but_still_cuts_jsonl(tmp_path):
    write(tmp_path, {"a.txt": b"x" * 25, "b.jsonl": b"y" * 25})
    splits = plan_splits([f"{tmp_path}/*"], split_bytes=10, documents="file").splits
    assert [(s.key_prefix, s.start, s.end) for s in splits] == [
        ("a.txt", 0, 25), ("b.jsonl", 0, 10), ("b.jsonl", 10, 20), ("b.jsonl", 20, 25)]


def test_the_plan_is_sorted_by_key_prefix_deduplicated_and_independent_of_glob_order(tmp_path):
    write(tmp_path, {"en/b.txt": b"b", "en/a.jsonl.gz": b"a", "top.txt": b"t"})
    one = plan_splits([f"{tmp_path}/**", f"{tmp_path}/en/*.txt"])
    two = plan_splits([f"{tmp_path}/en/*.txt", f"{tmp_path}/**"])
    assert one == two
    assert [(s.key_prefix, s.format, s.compression) for s in one.splits] == [
        ("en/a.jsonl.gz", "jsonl", "gzip"), ("en/b.txt", "text", "uncompressed"), ("top.txt", "text", "uncompressed")]
    assert isinstance(one.splits[0], InputSplit) and one.rejected_files == ()


def test_globs_follow_beams_syntax(tmp_path):
    write(tmp_path, {"a.txt": b"a", "sub/b.txt": b"b", "sub/deeper/c.txt": b"c", ".hidden.txt": b"h"})
    prefixes = lambda glob: [s.key_prefix for s in plan_splits([f"{tmp_path}/{glob}"]).splits]  # noqa: E731
    assert prefixes("*.txt") == [".hidden.txt", "a.txt"]  # * stays in one directory, matches dot files (as Beam)
    assert prefixes("**/*.txt") == ["sub/b.txt", "sub/deeper/c.txt"]
    assert prefixes("**.txt") == [".hidden.txt", "a.txt", "sub/b.txt", "sub/deeper/c.txt"]
    assert prefixes("s?b/*.txt") == ["sub/b.txt"]
    assert prefixes("[as]*") == ["a.txt"]


def test_a_directory_reads_every_file_below_it_except_hidden_ones(tmp_path):
    write(tmp_path, {"corpus/a.txt": b"a", "corpus/x/b.txt": b"b", "corpus/.git/HEAD": b"h", "corpus/.c.txt": b"c"})
    for given in (tmp_path / "corpus", f"{tmp_path}/corpus/"):
        assert [s.key_prefix for s in plan_splits([given]).splits] == ["a.txt", "x/b.txt"]


def test_relative_paths_are_made_absolute(tmp_path, monkeypatch):
    write(tmp_path, {"a.txt": b"a"})
    monkeypatch.chdir(tmp_path)
    [split] = plan_splits(["a.txt"]).splits
    assert split.path == str(tmp_path / "a.txt") and split.key_prefix == "a.txt"


def test_a_glob_that_matches_nothing_is_a_user_error_naming_it(tmp_path):
    glob = f"{tmp_path}/nothing/*.txt"
    with pytest.raises(InputError, match=re.escape(glob) + ": matches no files") as caught:
        plan_splits([glob])
    assert isinstance(caught.value, UserError) and "[" not in str(caught.value)
    with pytest.raises(InputError, match="no inputs given"):
        plan_splits([])


def test_brackets_in_a_glob_that_matches_nothing_get_a_hint(tmp_path):
    write(tmp_path, {"draft[1].txt": b"x"})
    with pytest.raises(InputError, match=r"draft\[1\]\.txt: matches no files; '\[' and '\]' are wildcards .*'\[\[\]'"):
        plan_splits([f"{tmp_path}/draft[1].txt"])
    [split] = plan_splits([f"{tmp_path}/draft[[]1].txt"]).splits
    assert split.key_prefix == "draft[1].txt"


def test_files_with_one_key_prefix_under_two_roots_are_refused(tmp_path):
    write(tmp_path, {"a/x.txt": b"1", "b/x.txt": b"2"})
    with pytest.raises(InputError, match="both get document keys 'x.txt:N'"):
        plan_splits([f"{tmp_path}/a/*.txt", f"{tmp_path}/b/*.txt"])


def test_the_output_directory_is_never_an_input(tmp_path):
    write(tmp_path, {"a.txt": b"a", "out/clm/train/part-0.txt": b"o", "out.txt": b"x"})
    plan = plan_splits([f"{tmp_path}/**"], exclude=[str(tmp_path / "out")])
    assert [s.key_prefix for s in plan.splits] == ["a.txt", "out.txt"]
    os.symlink(tmp_path / "out", tmp_path / "link")  # the same directory by another name
    plan = plan_splits([f"{tmp_path}/link/**"], exclude=[str(tmp_path / "other")])
    assert len(plan.splits) == 1
    with pytest.raises(InputError, match="matches only files inside the output directory"):
        plan_splits([f"{tmp_path}/link/**"], exclude=[str(tmp_path / "out")])


def test_a_fifo_is_listed_as_rejected_and_never_opened(tmp_path, monkeypatch):
    write(tmp_path, {"a.txt": b"a"})
    os.mkfifo(tmp_path / "pipe.txt")
    opened = []
    monkeypatch.setattr(LocalFiles, "open", lambda self, path: opened.append(path))
    plan = plan_splits([f"{tmp_path}/*.txt"])
    assert [s.key_prefix for s in plan.splits] == ["a.txt"]
    assert [r.describe() for r in plan.rejected_files] == [
        {"path": str(tmp_path / "pipe.txt"), "reason": "not_regular_file",
         "detail": "not a regular file (a FIFO, socket or device): left out unread"}]
    assert opened == []


def test_a_listing_error_names_the_glob(tmp_path):
    class Refusing(LocalFiles):
        def match(self, glob):
            raise PermissionError(13, "Permission denied")
    with pytest.raises(InputError, match=r"input .*\*\.txt: cannot list it \(.*Permission denied"):
        plan_splits([f"{tmp_path}/*.txt"], files=Refusing())


@pytest.mark.parametrize("kwargs, message", [(dict(split_bytes=0), "split_bytes=0"),
                                             (dict(documents="sentence"), "documents='sentence'"),
                                             (dict(input_format="csv"), "input format 'csv'")])
def test_bad_settings_are_user_errors(tmp_path, kwargs, message):
    write(tmp_path, {"a.txt": b"a"})
    with pytest.raises(InputError, match=re.escape(message)):
        plan_splits([str(tmp_path / "a.txt")], **kwargs)


@pytest.mark.parametrize("glob, path, matches", [
    ("/d/*.txt", "/d/a.txt", True), ("/d/*.txt", "/d/x/a.txt", False), ("/d/**.txt", "/d/x/a.txt", True),
    ("/d/[!a]*", "/d/b", True), ("/d/[!a]*", "/d/a", False), ("/d/[]]", "/d/]", True), ("/d/x[", "/d/x[", True),
    ("/d/[[]1]", "/d/[1]", True), ("/d/?", "/d/a", True),
])
def test_glob_to_regex_matches_beams_translation(glob, path, matches):
    assert bool(glob_to_regex(glob).match(path)) is matches


def test_reading_imports_neither_beam_nor_torch():
    import ast
    from pathlib import Path

    import lmpairs.reading
    imported = set()
    for path in Path(lmpairs.reading.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module if node.module.startswith("lmpairs") else node.module.split(".")[0])
    assert not imported & {"apache_beam", "torch"}
    assert not {m for m in imported if m.startswith(("lmpairs.pipeline", "lmpairs.loader", "lmpairs.trainer"))}
