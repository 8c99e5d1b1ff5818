"""Checks before the first read: manifest, objective, tokenizer fingerprint, shard files and footers.

Every failure names the file and the fix. Shard paths are confined to the dataset directory and
resolved once (:func:`lmpairs.schemas.storage.shard_paths`): the path checked here is the path read later.
File sizes come from one ``get_file_info`` call over all shards (skipped with ``verify="none"``);
footers (schema, row groups) are read in a small thread pool since on object stores each is a
round trip; pass ``verify_footers=False`` to leave those checks to the first read of each shard.
Content hashes are checked lazily by the reader (:mod:`lmpairs.loader.shard_reader`).
"""
from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lmpairs.errors import one_line
from lmpairs.loader.shard_reader import REBUILD, ShardError, check_row_groups
from lmpairs.schemas import (
    Manifest,
    ManifestError,
    SchemaError,
    ShardInfo,
    check_schema,
    manifest_path,
    read_manifest,
    resolve,
)
from lmpairs.schemas.storage import FileSystemArg, is_url, shard_paths

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, eq=False)
class Side:
    """A validated side (train/validation) of a build: its manifest, the objective directory as pyarrow
    sees it, its shards."""

    manifest: Manifest
    root: str
    shards: list[ShardInfo]
    paths: list[str]
    where: str
    identity: str


def tokenizer_sha256(expected: str, filesystem: FileSystemArg = None) -> str:
    """``expected`` itself when it is a sha256 hex digest, else the sha256 of the file it names."""
    if _SHA256.fullmatch(expected):
        return expected.lower()
    fs, path = resolve(expected, filesystem if is_url(expected) else None)
    try:
        with fs.open_input_stream(path) as src:
            return hashlib.sha256(src.read()).hexdigest()
    except (FileNotFoundError, OSError) as err:
        raise ManifestError(f"expected_tokenizer={expected!r}: neither a sha256 digest (64 hex digits) nor a "
                            f"readable tokenizer file ({err}); pass the .model path or its sha256.") from err


def check_expected_tokenizer(manifest: Manifest, expected: str | None, where: str,
                             filesystem: FileSystemArg = None) -> None:
    """Refuse shards written with another tokenizer than the caller's."""
    if expected is None:
        return
    got = str(manifest.tokenizer.get("sha256", ""))
    want = tokenizer_sha256(expected, filesystem)
    if got.lower() != want:
        raise ManifestError(f"{where}: written with tokenizer {got[:12] or '(none recorded)'}, but this run uses "
                            f"{want[:12]} ({expected}); pass the tokenizer the shards were built with, or "
                            "rebuild the shards with this one.")


def special_id(manifest: Manifest, name: str, where: str) -> int:
    """A special id (``pad``, ``eos``) from the manifest's tokenizer entry."""
    value = (manifest.tokenizer.get("special_ids") or {}).get(name)
    if not isinstance(value, int):
        raise ManifestError(f"{where}: tokenizer.special_ids.{name} is {value!r}, expected an id; the manifest "
                            "was not written by `lmpairs build`: rebuild the shards.")
    return value


def check_files(fs: pafs.FileSystem, paths: list[str], shards: list[ShardInfo]) -> None:
    """Every shard exists with the byte size the manifest recorded (a short file is a cut copy)."""
    for shard, path, info in zip(shards, paths, fs.get_file_info(paths)):
        if info.type != pafs.FileType.File:
            raise ShardError(f"{path}: shard listed in the manifest is missing; {REBUILD}.")
        if info.size != shard.num_bytes:
            kind = "truncated" if info.size < shard.num_bytes else "larger than recorded"
            raise ShardError(f"{path}: {info.size} bytes, the manifest records {shard.num_bytes}: the file is "
                             f"{kind} (an interrupted copy?); {REBUILD}.")


def check_footer(fs: pafs.FileSystem, path: str, shard: ShardInfo, objective: str) -> None:
    try:
        with fs.open_input_file(path) as src:
            parquet = pq.ParquetFile(src)
            check_schema(parquet.schema_arrow, objective, path)
            check_row_groups(parquet, shard, path)
    except (ShardError, SchemaError):
        raise
    except (OSError, ValueError) as err:
        raise ShardError(f"{path}: not a readable Parquet file ({one_line(err)[:200]}); it is truncated or "
                         f"damaged: {REBUILD}.") from err


def open_side(path: str, side: str, *, objective: str | None, expected_tokenizer: str | None,
              verify_footers: bool = True, verify: str = "sha256", filesystem: FileSystemArg = None) -> Side:
    """Validate ``path`` (an ``OUT/<objective>`` directory or URL) and return its ``side``."""
    manifest = read_manifest(path, objective=objective, filesystem=filesystem)
    fs, root = resolve(path, filesystem)
    where = manifest_path(path if is_url(path) else root)
    check_expected_tokenizer(manifest, expected_tokenizer, where, filesystem)
    shards = manifest.splits.get(side, [])
    if manifest.num_rows(side) == 0:
        have = {name: manifest.num_rows(name) for name in manifest.splits}
        raise ManifestError(f"{where}: side {side!r} has no rows (rows per side: {have}); pick the other "
                            "side or rebuild with more input.")
    paths = shard_paths(fs, root, [s.path for s in shards], where)
    if verify != "none":
        check_files(fs, paths, shards)
    if verify_footers:
        with ThreadPoolExecutor(max_workers=min(8, len(shards))) as pool:
            list(pool.map(lambda a: check_footer(fs, a[0], a[1], manifest.objective), zip(paths, shards)))
    return Side(manifest, root, shards, paths, where, dataset_identity(manifest, side))


def dataset_identity(manifest: Manifest, side: str) -> str:
    """sha256 of what a side's batches are made of: objective, seed, tokenizer and each shard's
    path, rows and sha256. A loader state is bound to it, so it never resumes another dataset."""
    shards = [[s.path, s.num_rows, s.row_group_rows, s.sha256] for s in manifest.splits.get(side, [])]
    facts = [manifest.format_version, manifest.objective, manifest.seed, str(manifest.tokenizer.get("sha256")),
             side, shards]
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
