"""CorpusSentences: train-tokenizer's feed reads inputs exactly as a build does, sentence by sentence."""
import gzip
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmpairs.reading import InputError
from lmpairs.reading.training_sentences import CorpusSentences


def test_files_directories_and_globs_in_a_stable_order(tmp_path):
    for name in ["b.txt", "a.txt", "sub/c.txt", ".hidden/d.txt", "sub/.e.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"From {name}.\n")
    assert list(CorpusSentences(tmp_path)) == ["From a.txt.", "From b.txt.", "From sub/c.txt."]
    assert list(CorpusSentences([str(tmp_path / "*.txt"), tmp_path / "a.txt"])) == ["From a.txt.", "From b.txt."]


def test_a_glob_that_matches_nothing_fails_before_reading(tmp_path):
    pattern = str(tmp_path / "*.nothing")
    with pytest.raises(InputError, match=re.escape(pattern) + ": matches no files"):
        CorpusSentences([pattern])


def test_every_format_and_compression_a_build_reads(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfOne. Two!\r\nThree\r\n\r\nFour.")
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(
        (json.dumps({"text": "Five.", "meta": 1}) + "\n" + json.dumps({"text": "猫である。"}) + "\n").encode()))
    pq.write_table(pa.table({"text": ["Six. Seven."]}), tmp_path / "c.parquet")
    feed = CorpusSentences(tmp_path)
    assert list(feed) == ["One.", "Two!", "Three", "Four.", "Five.", "猫である。", "Six.", "Seven."]
    assert feed.count == 8 and feed.num_files == 3 and feed.error is None


def test_bad_records_and_files_are_left_out_and_logged(tmp_path, caplog):
    (tmp_path / "a.txt").write_bytes(b"Fine line.\n\nbroken \xff\xfe bytes\n")
    (tmp_path / "b.jsonl").write_bytes(b'{"body": "no text"}\n{"text": "Kept."}\n')
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"cut short\n" * 100)[:30])
    feed = CorpusSentences(tmp_path)
    assert list(feed) == ["Fine line.", "Kept."] and feed.rejected == {"invalid_utf8": 1, "missing_field": 1}
    assert "left out 2 records (invalid_utf8: 1, missing_field: 1)" in caplog.text
    assert re.search(r"c\.txt\.gz: left out as a whole \(damaged gzip stream", caplog.text)


def test_nothing_usable_is_an_error_naming_an_example_and_the_fix(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me.\n".encode("latin-1"))
    feed = CorpusSentences([path])
    with pytest.raises(InputError, match=re.escape(str(path)) + r" \(record latin1.txt:0\): not UTF-8 text"):
        list(feed)
    assert feed.count == 0 and isinstance(feed.error, InputError)
    (tmp_path / "only.txt.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(InputError, match=r"1 input file\(s\) could not be read, e\.g\. .*only\.txt\.gz"):
        list(CorpusSentences([tmp_path / "only.txt.gz"]))


def test_blank_input_gives_no_sentences_and_no_error(tmp_path):
    (tmp_path / "blank.txt").write_text("\n\n  \n")
    feed = CorpusSentences([tmp_path / "blank.txt"])
    assert list(feed) == [] and feed.error is None
