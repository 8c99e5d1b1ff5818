"""read_split on Parquet and compressed inputs: every string column type, strict decompression,
0-byte files, whole-split failures as UnreadableInput with the path and what went wrong."""
import bz2
import gzip
import lzma
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import lmpairs.reading.decompress as decompress
from lmpairs.reading import UnreadableInput, plan_splits, read_split

TEXT = b"".join(b"line %d of the corpus\n\n" % i for i in range(3000))
COMPRESSORS = {
    "gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zst": zstandard.ZstdCompressor().compress,
    "deflate": zlib.compress,
}
CHAINED = {  # several members / streams / frames in one file
    "gz": lambda d: gzip.compress(d[:100]) + gzip.compress(d[100:]),
    "bz2": lambda d: bz2.compress(d[:100]) + bz2.compress(d[100:]),
    "xz": lambda d: lzma.compress(d[:100]) + lzma.compress(d[100:]),
    "zst": lambda d: zstandard.ZstdCompressor().compress(d[:100]) + zstandard.ZstdCompressor().compress(d[100:]),
}


def read_one(path, **options):
    [split] = plan_splits([str(path)]).splits
    return list(read_split(split, **options))


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_each_compression_reads_the_same_records_as_the_plain_file(tmp_path, suffix):
    (tmp_path / "plain.txt").write_bytes(TEXT)
    (tmp_path / f"packed.txt.{suffix}").write_bytes(COMPRESSORS[suffix](TEXT))
    plain = [(k.split(":")[1], t) for k, t, _ in read_one(tmp_path / "plain.txt")]
    packed = [(k.split(":")[1], t) for k, t, _ in read_one(tmp_path / f"packed.txt.{suffix}")]
    assert packed == plain and len(plain) == 3000


@pytest.mark.parametrize("suffix", sorted(CHAINED))
def test_multi_member_files_are_read_to_their_end(tmp_path, suffix, monkeypatch):
    monkeypatch.setattr(decompress, "READ_BYTES", 64)
    (tmp_path / f"a.txt.{suffix}").write_bytes(CHAINED[suffix](TEXT))
    assert len(read_one(tmp_path / f"a.txt.{suffix}")) == 3000


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_truncated_archive_is_unreadable_not_silently_short(tmp_path, suffix):
    packed = COMPRESSORS[suffix](TEXT)
    path = tmp_path / f"cut.txt.{suffix}"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(UnreadableInput, match=r"cut\.txt\.\w+: damaged \w+ stream") as caught:
        read_one(path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_corrupt_bytes_and_trailing_garbage_are_unreadable(tmp_path, suffix):
    packed = bytearray(COMPRESSORS[suffix](TEXT))
    packed[len(packed) // 2] ^= 0xFF
    (tmp_path / f"flip.txt.{suffix}").write_bytes(bytes(packed[:20]) + b"\x00garbage" * 4)
    with pytest.raises(UnreadableInput, match="damaged"):
        read_one(tmp_path / f"flip.txt.{suffix}")


@pytest.mark.parametrize("suffix", ["txt", *(f"txt.{s}" for s in sorted(COMPRESSORS)), "jsonl.gz"])
def test_a_zero_byte_file_is_zero_documents_whatever_its_compression(tmp_path, suffix):
    (tmp_path / f"empty.{suffix}").write_bytes(b"")
    assert read_one(tmp_path / f"empty.{suffix}") == []


def test_compressed_jsonl_and_documents_modes(tmp_path):
    (tmp_path / "a.jsonl.zst").write_bytes(COMPRESSORS["zst"](b'{"text": "one"}\n{"text": "two"}\n'))
    assert [r.text for r in read_one(tmp_path / "a.jsonl.zst")] == ["one", "two"]
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"\xef\xbb\xbfa\r\nb\r\n\r\nc\r\n"))
    assert read_one(tmp_path / "b.txt.gz", documents="line") == [
        ("b.txt.gz:3", "a", None), ("b.txt.gz:6", "b", None), ("b.txt.gz:9", None, "empty"), ("b.txt.gz:11", "c", None)]
    assert read_one(tmp_path / "b.txt.gz", documents="file") == [("b.txt.gz:3", "a\nb\n\nc\n", None)]


def test_decoded_output_comes_in_bounded_chunks(monkeypatch):
    monkeypatch.setattr(decompress, "OUT_BYTES", 1 << 16)
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB from about 64 KiB
    reads = iter([bomb, b""])
    sizes = [len(chunk) for chunk in decompress.iter_decompressed(lambda n: next(reads), "gzip")]
    assert sum(sizes) == 64 << 20 and max(sizes) <= 2 << 16


def write_parquet(path, column, **kwargs):
    pq.write_table(pa.table({"id": pa.array(range(len(column))), "text": column}), path, **kwargs)


@pytest.mark.parametrize("column", [
    pa.array(["first doc", None, "", "third\r\ndoc"]),
    pa.array(["first doc", None, "", "third\r\ndoc"], pa.large_string()),
    pa.array(["first doc", None, "", "third\r\ndoc"], pa.string_view()),
    pa.array(["first doc", None, "", "third\r\ndoc"]).dictionary_encode(),
    pa.array([b"first doc", None, b"", b"third\r\ndoc"], pa.binary()),
    pa.array([b"first doc", None, b"", b"third\r\ndoc"], pa.large_binary()),
], ids=["string", "large_string", "string_view", "dictionary", "binary", "large_binary"])
def test_parquet_text_columns_of_every_string_type_read_alike(tmp_path, column):
    write_parquet(tmp_path / "a.parquet", column)
    assert read_one(tmp_path / "a.parquet") == [
        ("a.parquet:0", "first doc", None), ("a.parquet:1", None, "missing_field"), ("a.parquet:2", None, "empty"),
        ("a.parquet:3", "third\ndoc", None)]


def test_parquet_rows_are_keyed_by_index_across_row_groups_and_checked(tmp_path):
    texts = [f"row {i}" for i in range(2500)]
    texts[7] = "x" * 50
    texts[8] = "nul\x00"
    pq.write_table(pa.table({"body": pa.array([t.encode() for t in texts[:9]] + [b"bad \xff"] +
                                              [t.encode() for t in texts[10:]])}),
                   tmp_path / "b.parquet", row_group_size=1000)
    records = read_one(tmp_path / "b.parquet", text_field="body", max_document_bytes=20)
    assert len(records) == 2500 and records[2499] == ("b.parquet:2499", "row 2499", None)
    assert [r.reason for r in records[7:10]] == ["too_long", "nul_bytes", "invalid_utf8"]


def test_parquet_without_a_usable_text_column_is_unreadable_with_the_fix(tmp_path):
    pq.write_table(pa.table({"body": ["no text column"]}), tmp_path / "a.parquet")
    with pytest.raises(UnreadableInput, match=r"a\.parquet: no column 'text' \(columns: body\); pass --text-field"):
        read_one(tmp_path / "a.parquet")
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "b.parquet")
    with pytest.raises(UnreadableInput, match=r"column 'text' is int64, expected string or binary"):
        read_one(tmp_path / "b.parquet")
    (tmp_path / "c.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UnreadableInput, match=r"c\.parquet: not a readable Parquet file"):
        read_one(tmp_path / "c.parquet")
    (tmp_path / "d.parquet").write_bytes(b"")
    with pytest.raises(UnreadableInput, match=r"d\.parquet: not a readable Parquet file"):
        read_one(tmp_path / "d.parquet")


def test_an_io_error_while_reading_is_unreadable_input(tmp_path):
    class Failing:
        def match(self, glob):
            return []

        def open(self, path):
            raise PermissionError(13, "Permission denied", path)
    (tmp_path / "a.txt").write_bytes(b"x\n")
    [split] = plan_splits([str(tmp_path / "a.txt")]).splits
    with pytest.raises(UnreadableInput, match=r"a\.txt: cannot read it \(.*Permission denied"):
        list(read_split(split, files=Failing()))
