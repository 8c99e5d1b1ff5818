"""Whole-file decompression that refuses truncated streams (Beam's own reader returns a short read)."""
import bz2
import gzip
import lzma
import zlib

import pytest
import zstandard

from lmpairs.pipeline.compression import UnreadableFileError, decompress, read_file_bytes

DATA = b"".join(b"line %d of some text\n" % i for i in range(5000))
ENCODERS = {"gzip": gzip.compress, "bzip2": bz2.compress, "lzma": lzma.compress, "deflate": zlib.compress,
            "zstd": zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_round_trip_and_truncation_is_an_error(kind):
    packed = ENCODERS[kind](DATA)
    assert decompress(packed, kind) == DATA
    with pytest.raises(UnreadableFileError, match=f"damaged {kind} stream"):
        decompress(packed[: len(packed) // 2], kind)


def test_multi_member_gzip_and_multi_frame_zstd_are_read_to_the_end():
    assert decompress(gzip.compress(DATA[:100]) + gzip.compress(DATA[100:]), "gzip") == DATA
    z = zstandard.ZstdCompressor()
    assert decompress(z.compress(DATA[:100]) + z.compress(DATA[100:]), "zstd") == DATA
    with pytest.raises(UnreadableFileError):
        decompress(z.compress(DATA[:100]) + z.compress(DATA[100:])[:-5], "zstd")


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableFileError, match="cannot read"):
        read_file_bytes(str(tmp_path / "gone.txt"), "uncompressed")


def test_unknown_compression_names_the_supported_ones():
    with pytest.raises(UnreadableFileError, match=r"use \.gz, \.bz2, \.zst or \.xz"):
        decompress(b"x", "snappy")
