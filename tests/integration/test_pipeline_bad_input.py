"""Bad input: a clear error before work starts, or a counted reason in the manifest; nothing lost silently.

One build reads a directory holding one bad case per file (plus good records around them); each
test checks its case's count, and that ``documents_read == documents_used + sum(rejected)``.
Reading itself is unit-tested in ``tests/unit/test_reading_*``; this checks that a whole build
(lmpairs.reading inside the Beam job) counts every case and never stops on one.
"""
from __future__ import annotations

import gzip
import json
import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmpairs.config import BuildConfig, ConfigError
from lmpairs.errors import UserError
from lmpairs.pipeline import BuildError, run_build
from lmpairs.schemas import list_to_numpy, read_manifest
from lmpairs.tokenizers import TokenizerError

pytestmark = pytest.mark.slow
LIMIT = 40_000  # JSONL lines up to 6 x LIMIT + 64 KiB are parsed: the 200,000-deep line fits
FILES = {
    "good.txt": b"The first good line.\nThe second good line.\n",
    "utf8.txt": b"a fine line\nbroken \xff\xfe bytes\n",
    "nul.txt": b"clean line here\nnul\x00inside\n",
    "blank.txt": b"\n   \n\t\nlast words\n",
    "empty.txt": b"",
    "long.txt": b"word " * (LIMIT // 5 + 1) + b"\nshort line after a long one\n",
    "records.jsonl": b"\n".join([json.dumps({"text": "json text survives"}).encode(), b"{not json",
                                 json.dumps({"title": "no text field"}).encode(), json.dumps({"text": 7}).encode(),
                                 json.dumps({"text": ""}).encode(), b'{"text": "lone \\udc00 surrogate"}',
                                 b"[" * 200_000]) + b"\n",
    **{f"zero.txt.{suffix}": b"" for suffix in ("gz", "bz2", "xz", "zst")},
}
# good 2, utf8 1, nul 1, blank 1, long 1, jsonl 1, dictionary parquet 2, string_view parquet 1
USED = 10


@pytest.fixture(scope="module")
def bad_build(build, trained_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    packed = gzip.compress(b"".join(b"truncated archive line %d\n" % i for i in range(2000)))
    (root / "truncated.txt.gz").write_bytes(packed[: len(packed) // 2])
    pq.write_table(pa.table({"body": ["no text column here"]}), root / "columns.parquet")
    pq.write_table(pa.table({"text": pa.array(["dictionary text", "dictionary text", None]).dictionary_encode()}),
                   root / "dictionary.parquet")
    pq.write_table(pa.table({"text": pa.array(["string view text"], pa.string_view())}), root / "view.parquet")
    os.mkfifo(root / "pipe.txt")
    out = tmp_path_factory.mktemp("bad_out") / "out"
    manifests = build([f"{root}/*"], out, trained_tokenizer.name, objectives=("clm",), seq_len=16,
                      max_document_bytes=LIMIT, validation_fraction=0.0, documents="line")
    return out, manifests["clm"], root


def decoded(out, manifest, tokenizer) -> str:
    texts = []
    for shard in manifest.splits["train"]:
        table = pq.read_table(out / "clm" / shard.path)
        values, offsets = list_to_numpy(table.column("input_ids"))
        texts += [tokenizer.decode(values[offsets[i]:offsets[i + 1]]) for i in range(table.num_rows)]
    return " ".join(texts)


def rejected(manifest, reason: str) -> int:
    return manifest.counters["documents_rejected"][reason]


def test_every_document_read_is_used_or_rejected(bad_build):
    _, manifest, _ = bad_build
    c = manifest.counters
    assert c["documents_read"] == c["documents_used"] + sum(c["documents_rejected"].values())
    assert c["documents_used"] == USED
    assert c["files_read"] == len(FILES) + 2  # + the two good Parquet files; 0-byte files are read (zero documents)


def test_invalid_utf8_is_counted_and_its_neighbours_kept(bad_build, trained_tokenizer):
    out, manifest, _ = bad_build
    assert rejected(manifest, "invalid_utf8") == 1
    assert "a fine line" in decoded(out, manifest, trained_tokenizer)


def test_nul_bytes_are_counted(bad_build):
    assert rejected(bad_build[1], "nul_bytes") == 1


def test_empty_documents_are_counted(bad_build):
    # blank.txt: 3 blank lines; records.jsonl: one empty text; a 0-byte file holds no document at all
    assert rejected(bad_build[1], "empty") == 4


def test_too_long_document_is_counted(bad_build, trained_tokenizer):
    out, manifest, _ = bad_build
    assert rejected(manifest, "too_long") == 1
    assert "short line after a long one" in decoded(out, manifest, trained_tokenizer)


def test_jsonl_lines_that_are_not_json_too_deep_or_lack_the_field(bad_build):
    _, manifest, _ = bad_build
    assert rejected(manifest, "invalid_json") == 2  # "{not json" and 200,000 nested brackets
    assert rejected(manifest, "missing_field") == 3  # no field, a number, a null Parquet value


def test_a_lone_surrogate_is_counted_and_never_reaches_the_tokenizer(bad_build, trained_tokenizer):
    out, manifest, _ = bad_build
    assert rejected(manifest, "invalid_unicode") == 1
    assert "surrogate" not in decoded(out, manifest, trained_tokenizer)


def test_dictionary_and_string_view_parquet_columns_are_read(bad_build, trained_tokenizer):
    text = decoded(*bad_build[:2], trained_tokenizer)
    assert text.count("dictionary text") == 2 and "string view text" in text


def test_unreadable_and_non_regular_files_are_rejected_whole_with_paths(bad_build, trained_tokenizer):
    out, manifest, root = bad_build
    files = {f["path"]: f for f in manifest.counters["files_rejected"]}
    assert set(files) == {str(root / "truncated.txt.gz"), str(root / "columns.parquet"), str(root / "pipe.txt")}
    assert files[str(root / "pipe.txt")]["reason"] == "not_regular_file"
    assert files[str(root / "truncated.txt.gz")]["reason"] == files[str(root / "columns.parquet")]["reason"] == (
        "unreadable_file")
    assert "damaged gzip stream" in files[str(root / "truncated.txt.gz")]["detail"]
    assert "no column 'text'" in files[str(root / "columns.parquet")]["detail"]
    assert "truncated archive" not in decoded(out, manifest, trained_tokenizer)  # not half of it either


def test_a_real_50_mb_single_line_document_is_rejected_quickly(build, trained_tokenizer, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "huge.txt").write_bytes(b"lorem ipsum " * (50 * 2**20 // 12 + 1) + b"\nafter it\n")
    start = time.perf_counter()
    manifests = build([str(tmp_path / "in" / "huge.txt")], tmp_path / "out", trained_tokenizer.name,
                      objectives=("clm",), seq_len=16, documents="line")
    assert time.perf_counter() - start < 30
    c = manifests["clm"].counters
    assert c["documents_rejected"]["too_long"] == 1 and c["documents_used"] == 1
    assert c["documents_read"] == 2


def test_paragraphs_are_the_default_documents(build, trained_tokenizer, tmp_path):
    (tmp_path / "book.txt").write_bytes(b"A hard-wrapped\r\nfirst paragraph.\r\n\r\n  \r\nThe second\nparagraph.\n")
    manifests = build([str(tmp_path / "book.txt")], tmp_path / "out", trained_tokenizer.name, objectives=("clm",),
                      seq_len=16, validation_fraction=0.0)
    c = manifests["clm"].counters
    assert c["documents_read"] == c["documents_used"] == 2


def test_the_output_inside_the_input_glob_is_never_read(build, trained_tokenizer, tmp_path):
    (tmp_path / "a.txt").write_text("Some text to build from.\n")
    first = build([f"{tmp_path}/**"], tmp_path / "out", trained_tokenizer.name, objectives=("clm",), seq_len=16)
    second = build([f"{tmp_path}/**"], tmp_path / "out", trained_tokenizer.name, objectives=("clm",), seq_len=16,
                   overwrite=True)
    assert [i["key_prefix"] for i in second["clm"].inputs] == ["a.txt"]
    assert second["clm"].counters == first["clm"].counters


def test_a_build_where_nothing_survives_fails_with_the_reasons(build, trained_tokenizer, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.txt").write_bytes(b"\xff\xfe\n")
    with pytest.raises(UserError, match="invalid_utf8"):
        build([str(tmp_path / "in" / "bad.txt")], tmp_path / "out", trained_tokenizer.name, objectives=("clm",),
              seq_len=16, documents="line")


def config(tmp_path, **changes) -> BuildConfig:
    fields = dict(inputs=(str(tmp_path / "in.txt"),), output=str(tmp_path / "out"),
                  tokenizer=str(tmp_path / "tok.model"), objectives=("clm",))
    return BuildConfig(**(fields | changes))


@pytest.fixture
def ready(tmp_path, trained_tokenizer):
    (tmp_path / "in.txt").write_text("some text\n")
    (tmp_path / "draft[1].txt").write_text("bracketed name\n")
    (tmp_path / "tok.model").write_bytes(open(trained_tokenizer.name, "rb").read())
    return tmp_path


@pytest.mark.parametrize("changes, error, message", [
    (dict(inputs=("{tmp}/nothing/*.txt",)), UserError, r"input .*nothing/\*\.txt: matches no files"),
    (dict(inputs=("{tmp}/draft[1].txt",)), UserError, r"draft\[1\]\.txt: matches no files; '\[' and '\]' are"),
    (dict(tokenizer="{tmp}/in.txt"), TokenizerError, r"in\.txt: not a SentencePiece model"),
    (dict(output="{tmp}/in.txt/out"), BuildError, r"in\.txt/out: cannot write there"),
])
def test_setup_errors_stop_before_any_work(ready, changes, error, message):
    changes = {k: tuple(x.format(tmp=ready) for x in v) if isinstance(v, tuple) else v.format(tmp=ready)
               for k, v in changes.items()}
    with pytest.raises(error, match=message):
        run_build(config(ready, **changes))
    assert not (ready / "out").exists()


def test_t5_with_more_spans_than_sentinels_fails_before_work(ready):
    with pytest.raises(ConfigError, match="only 100 sentinel ids"):
        run_build(config(ready, objectives=("t5",)).with_seq_len(8192))
    assert not (ready / "out").exists()


def test_the_output_of_a_finished_build_is_not_overwritten_by_accident(ready):
    run_build(config(ready))
    before = read_manifest(str(ready / "out" / "clm"))
    with pytest.raises(BuildError, match="not empty .* pass --overwrite"):
        run_build(config(ready))
    assert read_manifest(str(ready / "out" / "clm")) == before
    assert run_build(config(ready, overwrite=True))["clm"].counters == before.counters
