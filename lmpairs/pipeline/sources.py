"""Expand input globs into the files a build reads, each with the key prefix its documents carry.

A document's key is ``f"{key_prefix}:{record_index}"``, where ``key_prefix`` is the file's path
relative to its glob's non-wildcard directory (``data/**/*.txt`` -> ``en/a.txt``), so keys survive
moving the corpus. Globs go through Beam's ``FileSystems``: local paths, ``gs://``, ``s3://``.
"""
from __future__ import annotations

import os

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.paths import absolute, is_remote
from lmpairs.pipeline.records import InputFile

WILDCARDS = "*?["
FORMAT_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
"""Auto-detected formats by file suffix (after any compression suffix); anything else is text."""


def input_root(glob: str) -> str:
    """The directory part of ``glob`` before its first wildcard (a plain path: its directory)."""
    cut = min((glob.index(c) for c in WILDCARDS if c in glob), default=len(glob))
    return glob[:cut].rsplit("/", 1)[0]


def detect_compression(path: str, input_format: str) -> str:
    """Beam's compression type by extension (``.gz``, ``.bz2``, ``.zst``…); Parquet compresses itself."""
    if input_format == "parquet":
        return CompressionTypes.UNCOMPRESSED
    return CompressionTypes.detect_compression_type(path)


def detect_format(path: str, requested: str) -> str:
    """``requested`` unless it is ``auto``: then by suffix, ignoring a compression suffix."""
    if requested != "auto":
        return requested
    name = path.rsplit("/", 1)[-1].lower()
    if CompressionTypes.detect_compression_type(name) != CompressionTypes.UNCOMPRESSED:
        name = name.rsplit(".", 1)[0]
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return FORMAT_BY_SUFFIX.get(suffix, "text")


def expand_glob(glob: str, *, input_format: str) -> list[InputFile]:
    """The files ``glob`` matches, sorted by path; :class:`BuildError` if it matches none."""
    try:
        matched = FileSystems.match([glob])[0].metadata_list
    except OSError as err:  # BeamIOError: the filesystem refused the listing
        raise BuildError(f"--input {glob}: cannot list it ({err}); check the path and your access to it.") from err
    root = input_root(glob)
    files = []
    for meta in sorted(matched, key=lambda m: m.path):
        if not is_remote(meta.path) and os.path.isdir(meta.path):
            continue
        fmt = detect_format(meta.path, input_format)
        files.append(InputFile(meta.path, meta.path[len(root):].lstrip("/"), fmt,
                               detect_compression(meta.path, fmt), int(meta.size_in_bytes)))
    if not files:
        hint = " (it is a directory: add a pattern such as /*.txt or /**)" if os.path.isdir(glob) else ""
        raise BuildError(f"--input {glob}: matches no files{hint}; check the path or quote the glob so the "
                         "shell does not expand it.")
    return files


def unique_files(files: list[InputFile]) -> list[InputFile]:
    """Files sorted by path, one entry per path; two different files with one key prefix is an error.

    Keys must be unique for packing and splitting to be deterministic, so ``a/x.txt`` and
    ``b/x.txt`` matched by two globs rooted at ``a/`` and ``b/`` are refused.
    """
    by_path: dict[str, InputFile] = {}
    for f in files:
        by_path.setdefault(f.path, f)
    by_prefix: dict[str, str] = {}
    for f in sorted(by_path.values()):
        other = by_prefix.setdefault(f.key_prefix, f.path)
        if other != f.path:
            raise BuildError(f"inputs {other} and {f.path} both get document keys '{f.key_prefix}:N' (their path "
                             "under their glob's directory); document keys must be unique: pass one glob rooted "
                             "at their common directory (e.g. 'corpus/**/*.txt').")
    return sorted(by_path.values())


def expand_inputs(globs: tuple[str, ...] | list[str], *, input_format: str) -> list[InputFile]:
    """Every input file, sorted by path; errors name a glob that matches nothing or clashing keys."""
    return unique_files([f for glob in globs for f in expand_glob(absolute(glob), input_format=input_format)])


class ExpandInputs(beam.PTransform):
    """PBegin -> InputFile per file, listed on a worker (so a dry run needs no access to the inputs)."""

    def __init__(self, globs: tuple[str, ...], *, input_format: str) -> None:
        super().__init__()
        self._globs = tuple(absolute(g) for g in globs)
        self._input_format = input_format

    def expand(self, pbegin):
        return (pbegin
                | "Globs" >> beam.Create([self._globs])
                | "Match" >> beam.FlatMap(expand_inputs, input_format=self._input_format))
