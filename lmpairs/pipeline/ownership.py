"""What under ``--output`` lmpairs wrote, file by file: only those files may ever be deleted.

An objective directory is lmpairs' when it holds a ``manifest.json``, and then exactly the files
that manifest names are: a ``README.md``, ``eval_results.json`` or ``checkpoints/`` a user put
beside the shards is not, and makes ``--overwrite`` refuse before the build starts. The temp dir
``OUT/_lmpairs_tmp`` is lmpairs' only when it carries the marker ``BUILDING.json`` with
``"made_by": "lmpairs"`` (or an earlier lmpairs' ``{"objectives": [...]}``), and then only the
names lmpairs gives its temp files are (:data:`TEMP_PATTERNS`, plus a replaced dataset's files
its own manifest names). Symlinks are never lmpairs' (it writes none).
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Iterable

from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.paths import is_remote, read_bytes
from lmpairs.pipeline.progress import PROGRESS_DIR
from lmpairs.pipeline.resume import DONE_DIR
from lmpairs.schemas import MANIFEST_NAME

TMP_NAME = "_lmpairs_tmp"
"""The temporary directory under OUT that holds everything until the commit (readers skip ``_`` names)."""
JOURNAL = "COMMIT.json"
NOTHING = "NOTHING_SURVIVED.json"
"""Written instead of the journal when no objective got a single row; the driver reports it."""
REPLACED = "replaced"
MARKER = "BUILDING.json"
MADE_BY = "lmpairs"
SHARD = r"(train|validation)/part-\d{5}-\d{4}\.parquet"
TEMP_PATTERNS = tuple(re.compile(p + r"(\.part)?") for p in (
    re.escape(MARKER), re.escape(JOURNAL), re.escape(NOTHING), re.escape(PROGRESS_DIR) + r"/\d+\.json",
    re.escape(DONE_DIR) + r"/\d+\.json",
    r"[a-z0-9_]+/" + re.escape(MANIFEST_NAME), r"[a-z0-9_]+/" + SHARD))
"""Every name lmpairs writes in its temp dir (``.part``: a local atomic write cut short)."""
PREFIXED_SHARD = re.compile(r"b-[0-9a-f]{12}/" + SHARD)
"""A shard an object-store build wrote in place (``OUT/<objective>/b-<fingerprint>/…``): lmpairs' own,
named by a manifest or left by a build that did not commit (then no reader ever sees it)."""


def build_prefix(key: str, live: Iterable[str] = ()) -> str:
    """The directory under ``OUT/<objective>/`` where an object-store build writes its shards in place: a
    function of the build's fingerprint and of the prefixes the live datasets there use (``live``).

    Usually ``b-<fingerprint[:12]>``; but a same-config ``--overwrite`` would then write (and, if a split
    failed, delete) the very objects the live manifest names, breaking its readers. So a prefix a live
    manifest uses is never taken: the next one is hashed from the fingerprint and the live prefixes, the
    same on a rerun (the live manifest stays until the commit), so a resumed build finds its own shards.
    """
    live = set(live)
    prefix = "b-" + key[:12]
    while prefix in live:
        prefix = "b-" + hashlib.sha256(f"{prefix}|{key}|{','.join(sorted(live))}".encode()).hexdigest()[:12]
    return prefix


def live_prefixes(output: str, objectives: Iterable[str]) -> set[str]:
    """The in-place prefixes (``b-…``) that the manifests of ``objectives`` under ``output`` name."""
    found: set[str] = set()
    for name in objectives:
        manifest = _read(posixpath.join(output, name, MANIFEST_NAME))
        for path in (manifest_files(manifest) if manifest is not None else None) or ():
            if PREFIXED_SHARD.fullmatch(path):
                found.add(path.split("/", 1)[0])
    return found


def orphan_shards(objective_dir: str) -> list[str]:
    """In-place shards (full paths) that the objective directory's manifest does not name: a replaced
    dataset's or an uncommitted build's; lmpairs may delete them."""
    files, _ = list_tree(objective_dir)
    manifest = _read(posixpath.join(objective_dir, MANIFEST_NAME)) if MANIFEST_NAME in files else None
    named = (manifest_files(manifest) if manifest is not None else None) or set()
    return [posixpath.join(objective_dir, f) for f in files if PREFIXED_SHARD.fullmatch(f) and f not in named]


def is_partial(objective_dir: str) -> bool:
    """An objective directory without a manifest holding only in-place shards (a build that did not commit)."""
    files, links = list_tree(objective_dir)
    return bool(files) and not links and all(PREFIXED_SHARD.fullmatch(f) for f in files)


def list_tree(root: str) -> tuple[list[str], list[str]]:
    """(files, symlinks) under ``root``, sorted, relative to it; never follows a link; nothing there: ([], [])."""
    if is_remote(root):
        prefix = root.rstrip("/") + "/"
        matched = FileSystems.match([prefix + "**"])[0].metadata_list
        return sorted(m.path[len(prefix):] for m in matched if m.path.startswith(prefix)), []
    files, links = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            relative = name if rel == "." else posixpath.join(rel.replace(os.sep, "/"), name)
            if os.path.islink(path):
                links.append(relative)
            elif name in filenames:
                files.append(relative)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return sorted(files), sorted(links)


def manifest_files(manifest: bytes) -> set[str] | None:
    """The shard paths a manifest's bytes name (plus ``manifest.json``), or None if they are no manifest."""
    try:
        data = json.loads(manifest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("splits"), dict) or "objective" not in data:
        return None
    names = {MANIFEST_NAME}
    for shards in data["splits"].values():
        for shard in shards if isinstance(shards, list) else []:
            path = shard.get("path") if isinstance(shard, dict) else None
            if isinstance(path, str) and posixpath.normpath(path) == path and not path.startswith(("/", "..")):
                names.add(path)
    return names


def _read(path: str) -> bytes | None:
    """The file's bytes, or None where there is none (asked first: GCS's client raises its own NotFound)."""
    try:
        return read_bytes(path) if FileSystems.exists(path) else None
    except (OSError, ValueError):
        return None


def foreign_in_dataset(objective_dir: str) -> list[str]:
    """Paths under an objective directory its manifest does not name (all of them when it has no manifest)."""
    files, links = list_tree(objective_dir)
    manifest = _read(posixpath.join(objective_dir, MANIFEST_NAME)) if MANIFEST_NAME in files else None
    named = manifest_files(manifest) if manifest is not None else None
    if named is None:
        return sorted(files + links) or ["."]
    return sorted([f for f in files if f not in named and not PREFIXED_SHARD.fullmatch(f)] + links)


def is_marked(tmp_dir: str) -> bool:
    """Whether the temp dir carries lmpairs' marker (see the module docstring)."""
    data = _read(posixpath.join(tmp_dir, MARKER))
    try:
        marker = json.loads(data.decode("utf-8")) if data is not None else None
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(marker, dict) and (marker.get("made_by") == MADE_BY or isinstance(marker.get("objectives"), list))


def foreign_in_temp(tmp_dir: str) -> list[str]:
    """Paths in the temp dir lmpairs would not have written there; all of them when it is unmarked."""
    files, links = list_tree(tmp_dir)
    if not files and not links:
        return []
    if not is_marked(tmp_dir):
        return sorted(files + links)
    foreign = list(links)
    replaced: dict[str, set[str] | None] = {}
    for path in files:
        if any(p.fullmatch(path) for p in TEMP_PATTERNS):
            continue
        parts = path.split("/", 2)
        if parts[0] == REPLACED and len(parts) == 3:
            key = parts[1]
            if key not in replaced:
                manifest = _read(posixpath.join(tmp_dir, REPLACED, key, MANIFEST_NAME))
                replaced[key] = manifest_files(manifest) if manifest is not None else None
            if replaced[key] is not None and parts[2] in replaced[key]:
                continue
        foreign.append(path)
    return sorted(foreign)
