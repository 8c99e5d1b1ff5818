"""The last pipeline step: turn every split's result into manifests and publish all objectives at once.

Everything is staged under ``OUT/_lmpairs_tmp`` first: each objective's shards (written by the
split workers) and its ``manifest.json`` (written here). Then a journal ``COMMIT.json`` is written
atomically: from that moment the build is decided, and :func:`apply_commit` moves each staged
objective directory into place with one rename (a previous dataset of that objective moves aside
first and is deleted at the end). A commit killed half-way is finished by the next ``lmpairs build``
into the same output before anything else happens, so a visible manifest always sits next to all
of its shards, no ``manifest.json.tmp`` is ever left outside the temp dir, and a plain rerun
completes. Object stores have no directory rename (a rename is a copy and a delete): there each
split writes its shards once, in place, under ``OUT/<objective>/b-<fingerprint>/``, and the commit
writes the manifest (the one write that makes the new dataset visible; readers of the old one keep
reading until then), then deletes the in-place shards the new manifest does not name.
Every file goes through Beam's ``FileSystems`` (see :mod:`lmpairs.pipeline.paths`).
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.counters import file_counts, kept_files, manifest_counters
from lmpairs.pipeline.lock import check_holder
from lmpairs.pipeline.ownership import (  # noqa: F401  (TMP_NAME, JOURNAL, NOTHING: the temp dir's names)
    JOURNAL,
    NOTHING,
    REPLACED,
    SHARD,
    TMP_NAME,
    foreign_in_dataset,
    list_tree,
    manifest_files,
    orphan_shards,
)
from lmpairs.pipeline.paths import (
    apply_storage_options,
    delete_tree,
    ensure_dir,
    is_remote,
    read_bytes,
    storage_options,
    write_bytes,
)
from lmpairs.schemas import MANIFEST_NAME, Manifest, ManifestError, ShardInfo
from lmpairs.schemas.checks import build_warnings

logger = logging.getLogger(__name__)



def tmp_root(output: str) -> str:
    return posixpath.join(output, TMP_NAME)


def build_manifest(objective: str, shards: list[ShardInfo], counters: dict[str, Any], base: dict[str, Any],
                   sides: tuple[str, ...], warnings: list[dict[str, Any]] | None = None) -> Manifest:
    """The manifest of one objective; ``base`` holds the fields shared by every objective."""
    splits: dict[str, list[ShardInfo]] = {side: [] for side in sides}
    for shard in sorted(shards, key=lambda s: s.path):
        splits.setdefault(posixpath.basename(posixpath.dirname(shard.path)), []).append(shard)  # [b-…/]side/part
    return Manifest(objective=objective, config=base["configs"][objective], seed=base["seed"],
                    tokenizer=base["tokenizer"], inputs=base["inputs"], counters=counters, splits=splits,
                    lmpairs_version=base["lmpairs_version"], extra={"build": base["build"]}, warnings=warnings or [],
                    created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def document_counts(results: list[dict], plan_rejected: list[dict]) -> tuple[dict[str, int], list[dict]]:
    """Summed document counters and the sorted rejected files (planning's and the splits')."""
    total: Counter = Counter()
    rejected = {f["path"]: f for f in plan_rejected}
    for result in results:
        total.update(result["counts"])
        if result["rejected"]:
            rejected.setdefault(result["rejected"]["path"], result["rejected"])
    read = {r["split"]["path"] for r in results} - set(rejected)
    total["files_read"] = len(read)
    total["files_rejected"] = len(rejected)
    return dict(total), [rejected[p] for p in sorted(rejected)]


def write_json(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` atomically where the filesystem allows (temp file + rename)."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def write_staged_manifest(manifest: Manifest, staged: str) -> None:
    """``staged/manifest.json`` through Beam's FileSystems (the same bytes as ``schemas.write_manifest``)."""
    write_bytes(posixpath.join(staged, MANIFEST_NAME), manifest.to_json().encode("utf-8"))


def read_output_manifest(objective_dir: str, objective: str) -> Manifest:
    """Read and validate ``objective_dir/manifest.json`` through Beam's FileSystems (storage options honored)."""
    path = posixpath.join(objective_dir, MANIFEST_NAME)
    manifest = Manifest.from_json(read_bytes(path).decode("utf-8"), path)
    if manifest.objective != objective:
        raise ManifestError(f"{path}: holds {manifest.objective} examples, but {objective} was expected; "
                            "rebuild with `lmpairs build --overwrite`.")
    return manifest


def stage_build(output: str, objectives: tuple[str, ...], sides: tuple[str, ...], base: dict[str, Any],
                results: Iterable[dict], plan_rejected: list[dict], build_key: str) -> list[str]:
    """Write each objective's manifest into the temp dir, then the journal; return the objectives staged.

    When no objective got a row, write :data:`NOTHING` with the reasons instead and stage nothing.
    """
    root = tmp_root(output)
    ordered = sorted(results, key=lambda r: r["index"])
    documents, rejected = document_counts(ordered, plan_rejected)
    per_objective = {name: ([], Counter()) for name in objectives}
    for result in ordered:
        for name, entry in result["objectives"].items():
            per_objective[name][0].extend(entry["shards"])
            per_objective[name][1].update(entry["counts"])
    if not any(counts.get("rows", 0) for _, counts in per_objective.values()):
        write_json(posixpath.join(root, NOTHING), {"documents": documents, "files_rejected": rejected})
        logger.warning("nothing survived: no objective got a single row")
        return []
    files = file_counts(ordered)
    for name in objectives:
        shards, counts = per_objective[name]
        counters = manifest_counters(name, documents, dict(counts), sides, rejected, files)
        warnings = build_warnings(name, base["build"], counters)  # over every file; the manifest keeps some
        counters["files"], counters["files_omitted"] = kept_files(files)
        staged = posixpath.join(root, name)
        ensure_dir(staged)
        write_staged_manifest(build_manifest(name, shards, counters, base, sides, warnings), staged)
    write_json(posixpath.join(root, JOURNAL), {"objectives": list(objectives), "build_key": build_key})
    return list(objectives)


def read_journal(output: str) -> dict | None:
    path = posixpath.join(tmp_root(output), JOURNAL)
    if not FileSystems.exists(path):
        return None
    return json.loads(read_bytes(path).decode("utf-8"))


def apply_commit(output: str) -> list[str]:
    """Move every objective the journal names into place, then delete the temp dir (idempotent).

    Returns the manifest paths; nothing to do (no journal) returns [].
    """
    journal = read_journal(output)
    if journal is None:
        return []
    root = tmp_root(output)
    paths = []
    for name in journal["objectives"]:
        if is_remote(output):
            _publish_in_place(posixpath.join(root, name), posixpath.join(output, name))
        else:
            _publish_dir(posixpath.join(root, name), posixpath.join(output, name),
                         posixpath.join(root, REPLACED, name))
        paths.append(posixpath.join(output, name, MANIFEST_NAME))
        if not is_remote(output):
            _restore_strays(posixpath.join(root, REPLACED, name), posixpath.join(output, name))
    delete_tree(root)
    return paths


def _restore_strays(replaced: str, final: str) -> None:
    """Move back into ``final`` what appeared in the old objective directory during the build and its
    manifest does not name (a user's ``eval_results.json``): only the old manifest's files are deleted."""
    manifest = os.path.join(replaced, MANIFEST_NAME)
    if not os.path.isfile(manifest) or manifest_files(read_bytes(manifest)) is None:
        return  # no readable manifest: refused before the build, or restored by an earlier attempt
    for stray in foreign_in_dataset(replaced):
        source, target = os.path.join(replaced, stray), os.path.join(final, stray)
        if os.path.lexists(target):
            target = os.path.join(final + ".kept", stray)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)
        logger.warning("%s: not written by lmpairs; kept as %s", stray, target)


def _publish_dir(staged: str, final: str, replaced: str) -> None:
    """``staged`` becomes ``final`` by one rename; an older ``final`` moves to ``replaced`` first."""
    if not os.path.isdir(staged):
        return  # moved by an earlier, interrupted attempt
    if os.path.lexists(final):
        os.makedirs(os.path.dirname(replaced), exist_ok=True)
        if os.path.lexists(replaced):
            delete_tree(replaced)
        os.rename(final, replaced)
    os.rename(staged, final)


def _publish_in_place(staged: str, final: str) -> None:
    """Object stores: the shards are already in place; write the manifest (the commit), then delete the
    in-place shards it does not name (the replaced dataset's, an interrupted build's). No copies.

    Readers of the replaced dataset keep reading until the new manifest lands. Idempotent: a rerun
    after a kill anywhere in here writes the same manifest and deletes what is left to delete.
    """
    manifest = posixpath.join(staged, MANIFEST_NAME)
    if not FileSystems.exists(manifest):
        return  # published by an earlier, interrupted attempt
    write_bytes(posixpath.join(final, MANIFEST_NAME), read_bytes(manifest))
    old_plain = _plain_shards_of_old(final)
    orphans = orphan_shards(final) + old_plain
    if orphans:
        FileSystems.delete(orphans)
    FileSystems.delete([manifest])


def _plain_shards_of_old(final: str) -> list[str]:
    """Shards at ``side/part-…`` (written by an lmpairs before in-place shards) the new manifest does not name."""
    files, _ = list_tree(final)
    named = manifest_files(read_bytes(posixpath.join(final, MANIFEST_NAME))) or set()
    plain = re.compile(SHARD)
    return [posixpath.join(final, f) for f in files if plain.fullmatch(f) and f not in named]


class CommitBuildFn(beam.DoFn):
    """(None, [split results]) -> the manifest paths, once every split is done."""

    def __init__(self, *, output: str, objectives: tuple[str, ...], sides: tuple[str, ...], base: dict[str, Any],
                 plan_rejected: list[dict], build_key: str, lock_token: str | None = None) -> None:
        self._args = (output, objectives, sides, base)
        self._plan_rejected, self._build_key, self._lock_token = plan_rejected, build_key, lock_token
        self.storage: dict | None = None
        """Pipeline options for Beam's FileSystems on workers whose runner does not set them (set by CommitBuild)."""

    def setup(self) -> None:
        apply_storage_options(self.storage, force=False)

    def process(self, element) -> Iterator[str]:
        _, results = element
        output = self._args[0]
        check_holder(output, self._lock_token)  # a build that lost its lock decides nothing
        if stage_build(*self._args, list(results), self._plan_rejected, self._build_key):
            for path in apply_commit(output):
                logger.info("committed %s", path)
                yield path


class CommitBuild(beam.PTransform):
    """Split results -> manifest paths: gathered under one key (a GroupByKey of small records, no side
    inputs, so every runner, Dask's included, runs it), then :class:`CommitBuildFn`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self._fn = CommitBuildFn(**kwargs)

    def expand(self, results):
        self._fn.storage = storage_options(results.pipeline.options)
        return (results
                | "OneKey" >> beam.Map(lambda r: (None, r))
                | "Gather" >> beam.GroupByKey()
                | "Publish" >> beam.ParDo(self._fn))
