"""Resumable builds: each finished split leaves a small record in the temp dir; a rerun reuses them.

A split's worker, once its shards are closed, writes ``OUT/_lmpairs_tmp/done/<index>.json``: the
build's fingerprint (:func:`lmpairs.pipeline.build.build_key`: inputs, config, tokenizer, seed,
lmpairs version), the split, its input file's size and modification time, and the split's whole
result (shard infos and counters). A rerun of the same build (the temp dir's marker holds the same
fingerprint; ``--restart`` says otherwise) reads the records, keeps those whose split, input file
and shard files (present, with the recorded sizes) are unchanged, deletes the other splits' partial
shards, and runs only the rest. The commit gets the reused results beside the new ones, in split
order, so the output is byte-identical to an uninterrupted build (``created_at`` aside).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import posixpath
import re
from typing import Any

from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.paths import read_bytes, write_bytes
from lmpairs.schemas import ShardInfo

logger = logging.getLogger(__name__)

DONE_DIR = "done"
_PART = re.compile(r"part-(\d{5})-\d{4}\.parquet")


def input_stamp(path: str) -> list[float]:
    """``[size, mtime]`` of an input file (as its filesystem lists it), ``[]`` if it cannot be listed."""
    try:
        found = [m for m in FileSystems.match([path])[0].metadata_list if m.path == path]
    except OSError:
        return []
    if not found:
        return []
    return [int(found[0].size_in_bytes), float(found[0].last_updated_in_seconds or 0)]


def record_path(tmp_root: str, index: int) -> str:
    return posixpath.join(tmp_root, DONE_DIR, f"{index}.json")


def to_json(result: dict) -> dict:
    """A split result with its ShardInfos as plain dicts."""
    objectives = {name: dict(entry, shards=[dataclasses.asdict(s) for s in entry["shards"]])
                  for name, entry in result["objectives"].items()}
    return dict(result, objectives=objectives)


def from_json(result: dict) -> dict:
    objectives = {name: dict(entry, shards=[ShardInfo(**s) for s in entry["shards"]])
                  for name, entry in result["objectives"].items()}
    return dict(result, objectives=objectives)


def record_split(tmp_root: str, key: str, index: int, split: Any, result: dict) -> None:
    """Write split ``index``'s record (after its shards are closed; the write is atomic)."""
    data = {"build_key": key, "split": split.describe(), "input": input_stamp(split.path),
            "result": to_json(result)}
    write_bytes(record_path(tmp_root, index), json.dumps(data, sort_keys=True).encode("utf-8"))


def _sizes(tmp_root: str) -> dict[str, int]:
    """Every file under the temp dir -> its size (one listing)."""
    try:
        matched = FileSystems.match([tmp_root.rstrip("/") + "/**"])[0].metadata_list
    except OSError:
        return {}
    return {m.path: int(m.size_in_bytes) for m in matched}


def reusable_results(tmp_root: str, key: str, splits: list[Any], roots: dict[str, str]) -> dict[int, dict]:
    """The results of the finished splits a rerun can keep, by split index (see the module docstring);
    ``roots`` maps each objective to the directory its shard paths are relative to."""
    sizes = _sizes(tmp_root)
    for root in set(roots.values()):
        if not root.startswith(tmp_root.rstrip("/") + "/"):
            sizes.update(_sizes(root))
    stamps: dict[str, list[float]] = {}
    reused = {}
    for index, split in enumerate(splits):
        path = record_path(tmp_root, index)
        if path not in sizes:
            continue
        try:
            data = json.loads(read_bytes(path).decode("utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("build_key") != key or data.get("split") != split.describe():
            continue
        if split.path not in stamps:
            stamps[split.path] = input_stamp(split.path)
        if not data.get("input") or data["input"] != stamps[split.path]:
            continue
        result = from_json(data["result"])
        shards = [(posixpath.join(roots[name], s.path), s.num_bytes)
                  for name, entry in result["objectives"].items() for s in entry["shards"]]
        if all(sizes.get(p) == n for p, n in shards):
            reused[index] = result
    return reused


def drop_unfinished(tmp_root: str, objectives: tuple[str, ...], keep: set[int]) -> None:
    """Delete the shards and records of every split not in ``keep`` (an interrupted attempt's partial files)."""
    doomed = []
    root = tmp_root.rstrip("/") + "/"
    for path in _sizes(tmp_root):
        if not path.startswith(root) or path[len(root):].split("/", 1)[0] not in (*objectives, DONE_DIR):
            continue  # the marker, progress files, and anything else stay as they are
        name = posixpath.basename(path)
        part = _PART.fullmatch(name)
        if part is not None and int(part.group(1)) not in keep:
            doomed.append(path)
        elif posixpath.basename(posixpath.dirname(path)) == DONE_DIR and name.split(".")[0].isdigit() \
                and int(name.split(".")[0]) not in keep:
            doomed.append(path)
    if doomed:
        FileSystems.delete(doomed)
