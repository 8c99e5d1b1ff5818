"""The last pipeline step: move every shard into place, write each manifest last, drop the temp dir.

It runs inside the pipeline, after every shard of every objective is written (its inputs are side
inputs), so a job killed earlier leaves no manifest and no shard in ``OUT/<objective>/``. Each step
is idempotent: a retried commit skips shards already moved and rewrites the same manifest.
"""
from __future__ import annotations

import logging
import posixpath
from datetime import datetime, timezone
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.counters import manifest_counters
from lmpairs.pipeline.paths import delete_tree, ensure_dir
from lmpairs.schemas import Manifest, ShardInfo, write_manifest

logger = logging.getLogger(__name__)

TMP_NAME = "_lmpairs_tmp"
"""The temporary directory under OUT that holds shards until the commit (readers skip ``_`` names)."""


def move_shards(shards: list[ShardInfo], tmp_dir: str, final_dir: str) -> None:
    """Move each shard from ``tmp_dir`` to ``final_dir``; one already moved (a retry) is skipped."""
    for split in sorted({posixpath.dirname(s.path) for s in shards}):
        ensure_dir(posixpath.join(final_dir, split))
    for shard in shards:
        src, dst = posixpath.join(tmp_dir, shard.path), posixpath.join(final_dir, shard.path)
        if FileSystems.exists(src):
            FileSystems.rename([src], [dst])
        elif not FileSystems.exists(dst):
            raise FileNotFoundError(f"{src}: shard missing before commit and not at {dst}; rerun the build.")


def build_manifest(objective: str, shards: list[ShardInfo], counters: dict[str, Any],
                   base: dict[str, Any]) -> Manifest:
    """The manifest of one objective; ``base`` holds the fields shared by every objective."""
    splits: dict[str, list[ShardInfo]] = {}
    for shard in sorted(shards, key=lambda s: s.path):
        splits.setdefault(posixpath.dirname(shard.path), []).append(shard)
    return Manifest(objective=objective, config=base["configs"][objective], seed=base["seed"],
                    tokenizer=base["tokenizer"], inputs=base["inputs"], counters=counters, splits=splits,
                    lmpairs_version=base["lmpairs_version"], extra={"build": base["build"]},
                    created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


class CommitBuildFn(beam.DoFn):
    """Runs once (on a single trigger element) when every objective's shards and counts are final."""

    def __init__(self, *, output: str, splits: tuple[str, ...], base: dict[str, Any]) -> None:
        self._output, self._splits, self._base = output, splits, base

    def process(self, _, objectives: dict, documents: dict, inputs: list, files_rejected: list) -> Iterator[str]:
        tmp_root = posixpath.join(self._output, TMP_NAME)
        base = dict(self._base, inputs=sorted(inputs, key=lambda f: f["path"]))
        rejected = sorted(files_rejected, key=lambda f: f["path"])
        for objective in sorted(objectives):
            shards, counts = objectives[objective]
            final_dir = posixpath.join(self._output, objective)
            move_shards(shards, posixpath.join(tmp_root, objective), final_dir)
            counters = manifest_counters(objective, documents, counts, self._splits, rejected)
            path = write_manifest(build_manifest(objective, shards, counters, base), final_dir)
            logger.info("%s: committed %d shards, manifest %s", objective, len(shards), path)
            yield path
        delete_tree(tmp_root)


class CommitBuild(beam.PTransform):
    """Side inputs in, manifest paths out; see :class:`CommitBuildFn`."""

    def __init__(self, *, output: str, splits: tuple[str, ...], base: dict[str, Any]) -> None:
        super().__init__()
        self._fn = CommitBuildFn(output=output, splits=splits, base=base)

    def expand(self, inputs):
        objectives, documents, files, files_rejected = inputs
        return (objectives.pipeline
                | "Trigger" >> beam.Create([None])
                | "Commit" >> beam.ParDo(self._fn, beam.pvalue.AsDict(objectives), beam.pvalue.AsSingleton(documents),
                                         beam.pvalue.AsSingleton(files), beam.pvalue.AsSingleton(files_rejected)))
