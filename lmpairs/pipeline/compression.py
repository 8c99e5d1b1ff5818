"""Read a whole input file and decompress it, refusing streams that end early.

Beam's ``CompressedFile`` returns whatever it decoded before a truncated ``.gz``/``.bz2``/``.zst``
ends, silently, so the compression type comes from Beam (by extension) but decoding is done here
with decoders that report a missing end-of-stream marker. Multi-member/multi-frame files are read
to their end.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import zlib

import zstandard
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from lmpairs.errors import UserError


class UnreadableFileError(UserError, OSError):
    """A file could not be read to its end; the message says why."""


def read_file_bytes(path: str, compression: str) -> bytes:
    """The file's bytes, decompressed; :class:`UnreadableFileError` for I/O errors and damaged streams."""
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            data = f.read()
    except OSError as err:
        raise UnreadableFileError(f"cannot read: {err}") from err
    return decompress(data, compression)


def decompress(data: bytes, compression: str) -> bytes:
    """Decode ``data`` of Beam compression type ``compression`` completely, or raise."""
    decoders = {
        CompressionTypes.UNCOMPRESSED: lambda d: d,
        CompressionTypes.GZIP: gzip.decompress,
        CompressionTypes.BZIP2: bz2.decompress,
        CompressionTypes.LZMA: lzma.decompress,
        CompressionTypes.DEFLATE: _inflate,
        CompressionTypes.ZSTD: _unzstd,
    }
    if compression not in decoders:
        raise UnreadableFileError(f"compression {compression!r} is not supported; use .gz, .bz2, .zst or .xz")
    try:
        return decoders[compression](data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as err:
        raise UnreadableFileError(f"damaged {compression} stream: {err}") from err


def _inflate(data: bytes) -> bytes:
    decoder = zlib.decompressobj()
    out = decoder.decompress(data)
    if not decoder.eof:
        raise EOFError("Compressed data ended before the end-of-stream marker was reached")
    return out


def _unzstd(data: bytes) -> bytes:
    """Every frame of a zstd stream; a frame without its end is an error (not a short read)."""
    parts = []
    while data:
        decoder = zstandard.ZstdDecompressor().decompressobj()
        parts.append(decoder.decompress(data))
        if not decoder.eof:
            raise EOFError("Compressed data ended before the end-of-frame marker was reached")
        data = decoder.unused_data
    return b"".join(parts)
