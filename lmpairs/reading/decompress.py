"""Decompress an input stream incrementally and strictly: a stream that ends early is an error.

Beam's ``CompressedFile`` (and ``zstandard``'s stream readers) return whatever they decoded before a
truncated stream ends, silently; these decoders report a missing end-of-stream marker instead.
Output comes in bounded chunks (``max_length`` for zlib/bz2/lzma; small input slices for zstd,
whose decoder has no output limit), so a compression bomb cannot fill memory in one call.
Multi-member gzip, multi-stream bz2/xz and multi-frame zstd files are read to their end.
An empty (0-byte) file decodes to nothing for every compression: zero records, not an error.
"""
from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator

import zstandard

READ_BYTES = 1 << 20
OUT_BYTES = 1 << 20
ZSTD_SLICE = 2 << 10  # a zstd block of <= 128 KiB can cost 4 bytes: <= 64 MiB out per slice


class DamagedStream(Exception):
    """The compressed stream is truncated or corrupt; the message says how."""


class _Decoder:
    """One decompressor object behind ``feed(data)``, which yields its output in bounded pieces."""

    def __init__(self, decompressor) -> None:
        self._d = decompressor

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data


class _Zlib(_Decoder):
    def __init__(self, wbits: int) -> None:
        super().__init__(zlib.decompressobj(wbits))

    def feed(self, data: bytes) -> Iterator[bytes]:
        d = self._d
        while True:
            out = d.decompress(data, OUT_BYTES)
            if out:
                yield out
            data = d.unconsumed_tail
            if d.eof or (not data and len(out) < OUT_BYTES):
                return


class _Buffered(_Decoder):
    """bz2 / lzma decompressors: they buffer input themselves and report ``needs_input``."""

    def __init__(self, make: Callable) -> None:
        super().__init__(make())

    def feed(self, data: bytes) -> Iterator[bytes]:
        d = self._d
        out = d.decompress(data, OUT_BYTES)
        while True:
            if out:
                yield out
            if d.eof or d.needs_input:
                return
            out = d.decompress(b"", OUT_BYTES)


class _Zstd(_Decoder):
    """zstd has no output limit per call: it is fed ``ZSTD_SLICE`` bytes at a time instead."""

    def __init__(self) -> None:
        super().__init__(zstandard.ZstdDecompressor().decompressobj())
        self._rest = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        for i in range(0, len(view), ZSTD_SLICE):
            out = self._d.decompress(view[i:i + ZSTD_SLICE])
            if out:
                yield out
            if self._d.eof:
                self._rest = self._d.unused_data + bytes(view[i + ZSTD_SLICE:])
                return

    @property
    def unused_data(self) -> bytes:
        return self._rest


DECODERS: dict[str, tuple[Callable[[], object], bool]] = {
    "gzip": (lambda: _Zlib(16 + zlib.MAX_WBITS), True),
    "deflate": (lambda: _Zlib(zlib.MAX_WBITS), False),
    "bzip2": (lambda: _Buffered(bz2.BZ2Decompressor), True),
    "lzma": (lambda: _Buffered(lzma.LZMADecompressor), True),
    "zstd": (_Zstd, True),
}
"""Compression -> (new decoder, whether members/streams/frames may follow one another)."""
ERRORS = (zlib.error, lzma.LZMAError, zstandard.ZstdError, EOFError, ValueError)


def iter_decompressed(read: Callable[[int], bytes], compression: str) -> Iterator[bytes]:
    """Decoded chunks of the stream that ``read(n)`` returns; :class:`DamagedStream` if it is cut
    short or corrupt. I/O errors from ``read`` pass through as they are."""
    if compression == "uncompressed":
        while chunk := read(READ_BYTES):
            yield chunk
        return
    if compression not in DECODERS:
        raise DamagedStream(f"compression {compression!r} is not supported; use .gz, .bz2, .zst, .xz or .deflate")
    make, chained = DECODERS[compression]
    decoder = None
    try:
        while data := read(READ_BYTES):
            while data:
                if decoder is None:
                    decoder = make()
                yield from _coalesce(decoder.feed(data))
                data = b""
                if decoder.eof and chained:
                    data, decoder = decoder.unused_data, None
        if decoder is not None and not decoder.eof:
            raise DamagedStream(f"damaged {compression} stream: it ended before the end-of-stream marker "
                                "(a truncated file?)")
    except ERRORS as err:
        raise DamagedStream(f"damaged {compression} stream: {err}") from err


def _coalesce(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Join small decoded pieces into chunks of about ``OUT_BYTES`` (fewer, larger scans downstream)."""
    held, size = [], 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= OUT_BYTES:
            yield b"".join(held)
            held, size = [], 0
    if held:
        yield b"".join(held)
