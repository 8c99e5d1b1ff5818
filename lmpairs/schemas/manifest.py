"""The manifest: one JSON file per objective, written after every shard, naming what a build holds.

Its presence is the commit marker: a directory without ``manifest.json`` is an unfinished build.
Everything but ``created_at`` is a pure function of inputs, config and seed, so two builds of the
same inputs have manifests that differ only there.
"""
from __future__ import annotations

import json
import posixpath
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow.fs as pafs

from lmpairs.errors import UserError, one_line
from lmpairs.schemas.rows import FORMAT_VERSION, WHY_REBUILD, list_columns
from lmpairs.schemas.storage import FileSystemArg, check_shard_path, file_info, is_url, resolve, unreachable

MANIFEST_NAME = "manifest.json"
SIDES = ("train", "validation")
"""The sides of a build (a row's train/validation hash), the keys of the manifest's ``splits`` object."""
SPLITS = SIDES  # the earlier name, kept one release


_SHA256 = re.compile(r"[0-9a-f]{64}")
REBUILD = "rebuild with `lmpairs build --overwrite`"


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
    """What one objective directory holds: its build settings, tokenizer, inputs, counters and shards
    per side (``splits``: the JSON key, kept as the format has it)."""

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
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """Build warnings (:mod:`lmpairs.schemas.checks`): ``{"code", "message", ...}``; absent in older manifests."""

    def num_rows(self, side: str) -> int:
        return sum(s.num_rows for s in self.splits.get(side, []))

    def to_json(self) -> str:
        data = asdict(self)
        data["splits"] = {k: [asdict(s) for s in v] for k, v in self.splits.items()}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            raise ManifestError(f"{where}: not valid JSON ({one_line(err)[:200]}); the file is damaged or the "
                                f"build that wrote it did not finish cleanly: {REBUILD}.") from err
        return validate_manifest(data, where)


def validate_manifest(data: Any, where: str) -> Manifest:
    """Check a parsed manifest's shape and version; raise :class:`ManifestError` naming ``where``."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(data).__name__}; rebuild the output.")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        older = isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION
        what = "an older lmpairs" if older else "another lmpairs"
        if older and version in WHY_REBUILD:
            what += f"; {WHY_REBUILD[version]}"
        raise ManifestError(f"{where}: format version {version!r} (written by {what}), this lmpairs reads "
                            f"{FORMAT_VERSION}; rebuild the dataset with this lmpairs (`lmpairs build "
                            "--overwrite ...`), or read it with the lmpairs version that wrote it.")
    required = ("objective", "config", "seed", "tokenizer", "inputs", "counters", "splits", "lmpairs_version")
    missing = [k for k in required if k not in data]
    if missing:
        raise ManifestError(f"{where}: missing fields {missing}; the file is damaged: rebuild with --overwrite.")
    try:
        list_columns(data["objective"])
    except ValueError as err:
        raise ManifestError(f"{where}: {err}") from err
    if not isinstance(data["splits"], dict):
        raise ManifestError(f"{where}: 'splits' is {type(data['splits']).__name__}, expected an object; {REBUILD}.")
    unknown = sorted(set(data["splits"]) - set(SIDES))
    if unknown:
        raise ManifestError(f"{where}: unknown sides {unknown} in 'splits'; expected {list(SIDES)}.")
    splits = {name: [shard_info(s, where) for s in _list(shards, f"splits.{name}", where)]
              for name, shards in data["splits"].items()}
    seen: dict[str, str] = {}
    for name, shards in splits.items():
        for shard in shards:
            if shard.path in seen:
                raise ManifestError(f"{where}: shard {shard.path!r} is listed twice (in {seen[shard.path]} and "
                                    f"{name}); each shard is read once per epoch: {REBUILD}.")
            seen[shard.path] = name
    check_tokenizer_entry(data["tokenizer"], where)
    warnings = _list(data.get("warnings", []), "warnings", where)
    if not all(isinstance(w, dict) and isinstance(w.get("code"), str) and isinstance(w.get("message"), str)
               for w in warnings):
        raise ManifestError(f"{where}: 'warnings' must be a list of {{\"code\", \"message\"}} objects; {REBUILD}.")
    known = {k: data[k] for k in required if k != "splits"}
    return Manifest(splits=splits, format_version=version, created_at=data.get("created_at", ""),
                    extra=data.get("extra", {}), warnings=warnings, **known)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _list(value: Any, name: str, where: str) -> list:
    if not isinstance(value, list):
        raise ManifestError(f"{where}: {name} is {type(value).__name__}, expected a list; {REBUILD}.")
    return value


def shard_info(data: Any, where: str) -> ShardInfo:
    """One manifest shard entry, every field checked: a confined path, counts that add up, a sha256."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: a shard entry is {type(data).__name__}, expected an object; {REBUILD}.")
    names = {f.name for f in fields(ShardInfo)}
    missing = sorted(names - set(data))
    if missing:
        raise ManifestError(f"{where}: shard entry {str(data.get('path'))[:80]!r} lacks {missing}; {REBUILD}.")
    path = check_shard_path(data["path"], where)
    counts = {k: data[k] for k in ("num_rows", "num_bytes", "num_row_groups")}
    bad = {k: v for k, v in counts.items() if not _integer(v) or v < 0}
    groups = data["row_group_rows"]
    if bad or not isinstance(groups, list) or not all(_integer(g) and g >= 0 for g in groups):
        raise ManifestError(f"{where}: shard {path!r} has invalid counts {bad or {'row_group_rows': str(groups)[:60]}} "
                            f"(expected non-negative integers); {REBUILD}.")
    if len(groups) != counts["num_row_groups"] or sum(groups) != counts["num_rows"]:
        raise ManifestError(f"{where}: shard {path} lists row groups {groups[:8]} ({len(groups)} groups, "
                            f"{sum(groups)} rows) but num_row_groups={counts['num_row_groups']}, "
                            f"num_rows={counts['num_rows']}; the manifest is damaged: {REBUILD}.")
    sha = data["sha256"]
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ManifestError(f"{where}: shard {path!r} has sha256 {str(sha)[:70]!r}, expected 64 lowercase hex "
                            f"digits; {REBUILD}.")
    return ShardInfo(path=path, row_group_rows=list(groups), sha256=sha, **counts)


def check_tokenizer_entry(tokenizer: Any, where: str) -> None:
    """``vocab_size`` is a positive integer and every special id lies inside it."""
    if not isinstance(tokenizer, dict):
        raise ManifestError(f"{where}: 'tokenizer' is {type(tokenizer).__name__}, expected an object; {REBUILD}.")
    size = tokenizer.get("vocab_size")
    if not _integer(size) or not 0 < size < 2**31:
        raise ManifestError(f"{where}: tokenizer.vocab_size is {size!r}, expected a positive integer below 2**31; "
                            f"{REBUILD}.")
    special = tokenizer.get("special_ids", {})
    if not isinstance(special, dict):
        raise ManifestError(f"{where}: tokenizer.special_ids is {type(special).__name__}, expected an object; "
                            f"{REBUILD}.")
    for name, value in special.items():
        if str(name).startswith("num_"):
            ok = _integer(value) and 0 <= value < size
        else:
            ok = value is None or (_integer(value) and 0 <= value < size)
        if not ok:
            raise ManifestError(f"{where}: tokenizer.special_ids.{name} is {value!r}, outside the vocabulary "
                                f"[0, {size}); the manifest is damaged or was edited: {REBUILD}.")


def manifest_path(objective_dir: str) -> str:
    return posixpath.join(objective_dir.rstrip("/"), MANIFEST_NAME)


def write_manifest(manifest: Manifest, objective_dir: str, *, filesystem: FileSystemArg = None) -> str:
    """Write ``manifest.json`` into ``objective_dir`` (after every shard: it marks the build complete)."""
    fs, root = resolve(objective_dir, filesystem)
    target = manifest_path(root)
    tmp = target + ".tmp"
    with fs.open_output_stream(tmp) as out:
        out.write(manifest.to_json().encode("utf-8"))
    fs.move(tmp, target)
    return target


UNFINISHED_NAMES = ("_lmpairs_tmp", "_lmpairs_lock.json")
"""What a running or interrupted build leaves in its --output directory (``lmpairs.pipeline`` writes them)."""


def no_manifest(fs: pafs.FileSystem, root: str, objective_dir: str) -> str:
    """Why ``objective_dir`` has no manifest, from what is there: nothing at all, a build's --output
    directory (point at one objective), an unfinished build, or a directory lmpairs did not write."""
    where = objective_dir.rstrip("/") or objective_dir
    hint = "a built objective directory is OUT/<objective>, holding manifest.json"
    kind = fs.get_file_info(root).type
    parent = posixpath.dirname(root.rstrip("/"))
    if kind == pafs.FileType.NotFound:
        unfinished = [n for n in UNFINISHED_NAMES if fs.get_file_info(posixpath.join(parent, n)).type
                      != pafs.FileType.NotFound] if parent else []
        if unfinished:
            return (f"{where}: does not exist yet, and its parent holds {unfinished[0]}: a build into it is running "
                    "or was interrupted; wait for it, or rerun the same `lmpairs build` to finish it.")
        return f"{where}: no such directory; check the path ({hint})."
    if kind != pafs.FileType.Directory:
        return f"{where}: not a directory; {hint}."
    children = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    built = sorted(posixpath.basename(c.path) for c in children if c.type == pafs.FileType.Directory
                   and fs.get_file_info(manifest_path(c.path)).type == pafs.FileType.File)
    if built:
        return (f"{where}: a build's --output directory, not one objective; point at one of "
                f"{', '.join(posixpath.join(where, name) for name in built)}.")
    if any(posixpath.basename(c.path) in UNFINISHED_NAMES for c in children):
        return (f"{where}: holds an unfinished build (no manifest.json yet): it is running or was interrupted; "
                "wait for it, or rerun the same `lmpairs build` to finish it.")
    return f"{where}: holds no manifest.json, so it is not an lmpairs build; {hint}."


def read_manifest(objective_dir: str, *, objective: str | None = None, filesystem: FileSystemArg = None) -> Manifest:
    """Read and validate ``objective_dir/manifest.json``; check the objective if one is expected."""
    fs, root = resolve(objective_dir, filesystem)
    target = manifest_path(root)
    shown = manifest_path(objective_dir) if is_url(objective_dir) else target
    info = file_info(fs, target, shown)
    if info.type != pafs.FileType.File:
        raise ManifestError(no_manifest(fs, root, objective_dir))
    try:
        with fs.open_input_stream(target) as src:
            data = src.read()
    except OSError as err:
        raise unreachable(shown, err) from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError(f"{shown}: not UTF-8 text (byte {err.start} is {data[err.start:err.start + 1]!r}); "
                            f"the manifest is damaged: {REBUILD}.") from None
    manifest = Manifest.from_json(text, shown)
    if objective is not None and manifest.objective != objective:
        raise ManifestError(f"{shown}: holds {manifest.objective} examples, but {objective} was expected; "
                            f"point at OUT/{objective} or expect {manifest.objective}.")
    return manifest
