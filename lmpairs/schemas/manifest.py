"""The manifest: one JSON file per objective, written after every shard, naming what a build holds.

Its presence is the commit marker: a directory without ``manifest.json`` is an unfinished build.
Everything but ``created_at`` is a pure function of inputs, config and seed, so two builds of the
same inputs have manifests that differ only there.
"""
from __future__ import annotations

import json
import os
import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow.fs as pafs

from lmpairs.errors import UserError
from lmpairs.schemas.rows import FORMAT_VERSION, list_columns

MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "validation")


class ManifestError(UserError):
    """A manifest is missing, unreadable or describes something other than what the caller expects."""


@dataclass(frozen=True, kw_only=True)
class ShardInfo:
    """One Parquet shard, by path relative to the objective directory."""

    path: str
    num_rows: int
    num_bytes: int
    num_row_groups: int
    row_group_rows: list[int]
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What one objective directory holds; see DESIGN.md "On disk"."""

    objective: str
    config: dict[str, Any]
    seed: int
    tokenizer: dict[str, Any]
    inputs: list[dict[str, Any]]
    counters: dict[str, Any]
    splits: dict[str, list[ShardInfo]]
    lmpairs_version: str
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def num_rows(self, split: str) -> int:
        return sum(s.num_rows for s in self.splits.get(split, []))

    def to_json(self) -> str:
        data = asdict(self)
        data["splits"] = {k: [asdict(s) for s in v] for k, v in self.splits.items()}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> "Manifest":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{where}: not valid JSON ({err}); the build that wrote it did not finish "
                                "cleanly: rebuild with --overwrite.") from err
        return validate_manifest(data, where)


def validate_manifest(data: Any, where: str) -> Manifest:
    """Check a parsed manifest's shape and version; raise :class:`ManifestError` naming ``where``."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(data).__name__}; rebuild the output.")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestError(f"{where}: format version {version!r}, this lmpairs reads {FORMAT_VERSION}; "
                            "rebuild the shards with this lmpairs version (or install the version that wrote them).")
    required = ("objective", "config", "seed", "tokenizer", "inputs", "counters", "splits", "lmpairs_version")
    missing = [k for k in required if k not in data]
    if missing:
        raise ManifestError(f"{where}: missing fields {missing}; the file is damaged: rebuild with --overwrite.")
    try:
        list_columns(data["objective"])
    except ValueError as err:
        raise ManifestError(f"{where}: {err}") from err
    try:
        splits = {name: [ShardInfo(**s) for s in shards] for name, shards in data["splits"].items()}
    except (TypeError, AttributeError) as err:
        raise ManifestError(f"{where}: malformed 'splits' ({err}); rebuild with --overwrite.") from err
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ManifestError(f"{where}: unknown splits {unknown}; expected {list(SPLITS)}.")
    known = {k: data[k] for k in required if k != "splits"}
    return Manifest(splits=splits, format_version=version, created_at=data.get("created_at", ""),
                    extra=data.get("extra", {}), **known)


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and path for a local path or a URL (``s3://``, ``gs://``, ``file://``)."""
    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), os.path.abspath(path)


def manifest_path(objective_dir: str) -> str:
    return posixpath.join(objective_dir.rstrip("/"), MANIFEST_NAME)


def write_manifest(manifest: Manifest, objective_dir: str) -> str:
    """Write ``manifest.json`` into ``objective_dir`` (after every shard: it marks the build complete)."""
    fs, root = resolve(objective_dir)
    target = manifest_path(root)
    tmp = target + ".tmp"
    with fs.open_output_stream(tmp) as out:
        out.write(manifest.to_json().encode("utf-8"))
    fs.move(tmp, target)
    return target


def read_manifest(objective_dir: str, *, objective: str | None = None) -> Manifest:
    """Read and validate ``objective_dir/manifest.json``; check the objective if one is expected."""
    fs, root = resolve(objective_dir)
    target = manifest_path(root)
    info = fs.get_file_info(target)
    if info.type != pafs.FileType.File:
        raise ManifestError(f"{target}: no manifest, so this is not a finished lmpairs build (it may still be "
                            "running, or it was interrupted); run `lmpairs build` to completion, or point at "
                            "OUT/<objective>.")
    with fs.open_input_stream(target) as src:
        manifest = Manifest.from_json(src.read().decode("utf-8"), target)
    if objective is not None and manifest.objective != objective:
        raise ManifestError(f"{target}: holds {manifest.objective} examples, but {objective} was expected; "
                            f"point at OUT/{objective} or expect {manifest.objective}.")
    return manifest
