"""Expand input globs into input splits: whole files, or byte ranges of large uncompressed text/JSONL.

The split list is a pure function of the matched files (paths and sizes) and the config: a file is
cut at multiples of ``split_bytes``; record boundaries are found at read time, by the classic
splittable-text rule (:mod:`lmpairs.reading.lines`), so planning never opens a file. Compressed
files, Parquet files and ``documents="file"`` text are one split each. Splits are sorted by key
prefix (the path under the glob's root) and start offset, so moving a corpus keeps its order.

A document's key is ``f"{key_prefix}:{position}"``; ``key_prefix`` is unique per file (two files
with one prefix are refused), so keys are unique across the build.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from lmpairs.reading.errors import InputError
from lmpairs.reading.files import WILDCARDS, FileAccess, FileMatch, LocalFiles, has_wildcards

logger = logging.getLogger(__name__)

DEFAULT_SPLIT_BYTES = 16 * 2**20
FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
"""Formats detected by suffix (after any compression suffix) when the format is ``auto``; else text."""
COMPRESSION_BY_SUFFIX = {".bz2": "bzip2", ".deflate": "deflate", ".gz": "gzip", ".zst": "zstd", ".zstd": "zstd",
                         ".xz": "lzma", ".lzma": "lzma"}
"""Compressions by suffix, named as Beam's ``CompressionTypes`` name them (the manifest records these)."""
UNCOMPRESSED = "uncompressed"
INPUT_FORMATS = ("auto", "text", "jsonl", "parquet")
DOCUMENTS = ("paragraph", "line", "file")
NOT_REGULAR_FILE = "not_regular_file"
"""A matched path that is a FIFO, socket or device: left out unopened (opening a FIFO blocks)."""
UNREADABLE_FILE = "unreadable_file"
"""An input split that could not be read to its end (see :class:`~lmpairs.reading.UnreadableInput`)."""


@dataclass(frozen=True, slots=True)
class InputSplit:
    """One unit of reading: the records of ``path`` whose start offset lies in ``[start, end)``.

    A whole file is ``start=0, end=file_bytes``; for a compressed file the offsets are of the
    compressed bytes and the split always reads the whole stream.
    """

    path: str
    key_prefix: str
    format: str
    compression: str
    start: int
    end: int
    file_bytes: int

    @property
    def whole_file(self) -> bool:
        return self.start == 0 and self.end == self.file_bytes

    @property
    def name(self) -> str:
        """Stable, human-readable id: the key prefix, plus ``@start-end`` for a byte range."""
        return self.key_prefix if self.whole_file else f"{self.key_prefix}@{self.start}-{self.end}"

    def describe(self) -> dict:
        """The split's entry in a manifest; ``bytes`` are the bytes it covers (its range, or the whole
        file), so they sum to the corpus size over all splits; ``file_bytes`` is the file's size."""
        return {"path": self.path, "key_prefix": self.key_prefix, "format": self.format,
                "compression": self.compression, "start": self.start, "end": self.end,
                "bytes": self.end - self.start, "file_bytes": self.file_bytes}


class FileRejection(NamedTuple):
    """A file or split left out as a whole: ``reason`` is a name, ``detail`` says what went wrong."""

    path: str
    reason: str
    detail: str

    def describe(self) -> dict:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}


class SplitPlan(NamedTuple):
    """Every split to read, sorted, and the matched files left out before reading (non-regular)."""

    splits: tuple[InputSplit, ...]
    rejected_files: tuple[FileRejection, ...]


def input_root(glob: str) -> str:
    """The directory part of ``glob`` before its first wildcard (a plain path: its directory)."""
    cut = min((glob.index(c) for c in WILDCARDS if c in glob), default=len(glob))
    return glob[:cut].rsplit("/", 1)[0]


def detect_compression(path: str, input_format: str) -> str:
    """Compression by suffix (case-insensitive); Parquet compresses itself and is never decoded here."""
    if input_format == "parquet":
        return UNCOMPRESSED
    lower = path.lower()
    return next((c for suffix, c in COMPRESSION_BY_SUFFIX.items() if lower.endswith(suffix)), UNCOMPRESSED)


def detect_format(path: str, requested: str) -> str:
    """``requested`` unless it is ``auto``: then by suffix, ignoring a compression suffix."""
    if requested != "auto":
        return requested
    name = path.rsplit("/", 1)[-1].lower()
    if detect_compression(name, "text") != UNCOMPRESSED:
        name = name.rsplit(".", 1)[0]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return FORMAT_BY_SUFFIX.get(suffix, "text")


def absolute(path: str) -> str:
    """A local path (glob or not) made absolute, so workers in another directory agree; URLs as is."""
    return path if "://" in path else os.path.abspath(os.path.expanduser(path))


def plan_splits(globs: Iterable[str | os.PathLike] | str | os.PathLike, *, input_format: str = "auto",
                split_bytes: int = DEFAULT_SPLIT_BYTES, files: FileAccess | None = None, exclude: Iterable[str] = (),
                documents: str = "paragraph") -> SplitPlan:
    """Expand ``globs`` into sorted :class:`InputSplit` s.

    A wildcard-free path that names a directory reads every file below it (hidden names skipped).
    Paths under ``exclude`` (the build's output directory) are never inputs. A glob that matches
    nothing, a listing that fails, or two files with one key prefix raise :class:`InputError`.
    Non-regular files (FIFOs, devices) are listed in ``rejected_files``, never opened.
    """
    files = files if files is not None else LocalFiles()
    if input_format not in INPUT_FORMATS:
        raise InputError(f"input format {input_format!r}: choose {', '.join(INPUT_FORMATS)}.")
    if documents not in DOCUMENTS:
        raise InputError(f"documents={documents!r}: choose paragraph, line or file.")
    if not isinstance(split_bytes, int) or isinstance(split_bytes, bool) or split_bytes < 1:
        raise InputError(f"split_bytes={split_bytes!r}: must be a positive whole number of bytes.")
    excluded = tuple(_comparable(absolute(path)) for path in exclude)
    by_path: dict[str, tuple[str, FileMatch]] = {}
    if isinstance(globs, (str, os.PathLike)):
        globs = [globs]
    globs = [absolute(os.fspath(glob)) for glob in globs]
    if not globs:
        raise InputError("no inputs given; pass files, directories or globs.")
    for glob in globs:
        for key_prefix, found in _expand(glob, files, excluded):
            # A file matched by several globs takes its path under the shallowest root: the
            # same key prefix whatever the order of the globs.
            other = by_path.get(found.path)
            if other is None or (len(key_prefix), key_prefix) > (len(other[0]), other[0]):
                by_path[found.path] = (key_prefix, found)
    _check_unique_prefixes(by_path)
    splits, rejected = [], []
    for key_prefix, found in by_path.values():
        if not found.is_regular:
            rejected.append(FileRejection(found.path, NOT_REGULAR_FILE,
                                          "not a regular file (a FIFO, socket or device): left out unread"))
            continue
        splits.extend(_split_file(found, key_prefix, input_format, documents, split_bytes))
    splits.sort(key=lambda s: (s.key_prefix, s.start))
    rejected.sort()
    for r in rejected:
        logger.warning("%s: %s", r.path, r.detail)
    return SplitPlan(tuple(splits), tuple(rejected))


def _split_file(found: FileMatch, key_prefix: str, input_format: str, documents: str,
                split_bytes: int) -> list[InputSplit]:
    fmt = detect_format(found.path, input_format)
    compression = detect_compression(found.path, fmt)
    size = found.size
    cuttable = (fmt == "jsonl" or (fmt == "text" and documents != "file")) and compression == UNCOMPRESSED
    bounds = range(0, size, split_bytes) if cuttable and size > split_bytes else [0]
    return [InputSplit(found.path, key_prefix, fmt, compression, start, min(start + split_bytes, size)
                       if len(bounds) > 1 else size, size) for start in bounds]


def _expand(glob: str, files: FileAccess, excluded: tuple[str, ...]) -> list[tuple[str, FileMatch]]:
    """``(key_prefix, match)`` for every file ``glob`` names, outside ``excluded``."""
    root = input_root(glob)
    matched = _match(files, glob)
    if not matched and not has_wildcards(glob):  # a directory: everything below it
        root = glob.rstrip("/")
        matched = [m for m in _match(files, root + "/**")
                   if not any(part.startswith(".") for part in m.path[len(root):].split("/"))]
    kept = [m for m in matched if not _is_excluded(m.path, excluded)]
    if not kept:
        raise InputError(_no_match_message(glob, num_excluded=len(matched)))
    return [(m.path[len(root):].lstrip("/"), m) for m in kept]


def _match(files: FileAccess, glob: str) -> list[FileMatch]:
    try:
        return list(files.match(glob))
    except OSError as err:  # Beam's BeamIOError is an OSError too
        raise InputError(f"input {glob}: cannot list it ({err}); check the path and your access to it.") from err


def _no_match_message(glob: str, *, num_excluded: int) -> str:
    if num_excluded:
        return (f"input {glob}: matches only files inside the output directory ({num_excluded}), and a build "
                "never reads its own output; point the input or --output elsewhere.")
    hint = ""
    if "[" in glob or "]" in glob:
        hint = (" '[' and ']' are wildcards (a character class): to match a literal '[' write '[[]', "
                "for ']' write '[]]';")
    return (f"input {glob}: matches no files;{hint} check the path, or quote the glob so the shell does not "
            "expand it.")


def _comparable(path: str) -> str:
    return path.rstrip("/") if "://" in path else os.path.realpath(path)


def _is_excluded(path: str, excluded: tuple[str, ...]) -> bool:
    if not excluded:
        return False
    path = _comparable(path)
    return any(path == ex or path.startswith(ex.rstrip("/") + "/") for ex in excluded)


def _check_unique_prefixes(by_path: dict[str, tuple[str, FileMatch]]) -> None:
    """Keys must be unique for packing and validation splitting to be deterministic, so ``a/x.txt``
    and ``b/x.txt`` matched by globs rooted at ``a/`` and ``b/`` are refused."""
    owner: dict[str, str] = {}
    for path in sorted(by_path):
        key_prefix = by_path[path][0]
        other = owner.setdefault(key_prefix, path)
        if other != path:
            raise InputError(f"inputs {other} and {path} both get document keys '{key_prefix}:N' (their path "
                             "under their glob's directory); document keys must be unique: pass one glob rooted "
                             "at their common directory (e.g. 'corpus/**/*.txt').")
