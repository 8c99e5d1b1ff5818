"""``lmpairs build`` as a function and as one composite PTransform: input splits in, committed shards out.

Graph (format version 2; no token data crosses a shuffle, no multi-output ParDo, no side input)::

    Splits (Create) -> Redistribute (Reshuffle) -> BuildSplits (one streaming DoFn per input split:
    read, tokenize, pack, corrupt, write that split's shards) -> Commit (gather the small results
    under one key, write the manifests, publish every objective at once)
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import posixpath
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.runners.runner import PipelineState

from lmpairs.config import BuildConfig
from lmpairs.pipeline.api import files_access
from lmpairs.pipeline.commit import NOTHING, CommitBuild, read_output_manifest, tmp_root
from lmpairs.pipeline.counters import report_metrics
from lmpairs.pipeline.errors import BuildError, OutOfSpace
from lmpairs.pipeline.options import check_staging_files, is_dry_run, pipeline_options, runner_name
from lmpairs.pipeline.output import (
    OutputLock,
    check_output_path,
    discard_temp,
    finish_interrupted_commit,
    prepare_output,
)
from lmpairs.pipeline.paths import apply_storage_options, check_s3_buckets, join, storage_options
from lmpairs.pipeline.preflight import Plan, preflight
from lmpairs.pipeline.progress import ProgressMonitor, SplitProgress
from lmpairs.pipeline.splitjob import SplitJob, process_split
from lmpairs.reading.splits import absolute
from lmpairs.schemas import Manifest
from lmpairs.tokenizers import Tokenizer
from lmpairs.version import __version__

logger = logging.getLogger(__name__)

RUN_ONLY_FIELDS = ("output", "overwrite")
"""BuildConfig fields that say where and how to write, not what: kept out of the manifest, so two
builds of the same data into different directories have identical manifests."""
_TOKENIZERS: dict[str, Tokenizer] = {}
"""Tokenizers parsed in this worker process, by model sha256 (Dask runs ``setup()`` per partition)."""


def manifest_base(config: BuildConfig, tokenizer: Tokenizer, splits: list[Any]) -> dict[str, Any]:
    """The manifest fields every objective shares; ``inputs`` is the split list, in split order."""
    settings = {k: v for k, v in config.to_dict().items() if k not in (*RUN_ONLY_FIELDS, *config.objectives)
                and not isinstance(v, dict)}
    return {"configs": {name: config.objective_config(name).to_dict() for name in config.objectives},
            "seed": config.seed, "tokenizer": tokenizer.describe(), "lmpairs_version": __version__,
            "build": settings, "inputs": [dict(split.describe(), index=i) for i, split in enumerate(splits)]}


def build_key(config: BuildConfig, base: dict[str, Any]) -> str:
    """A digest of what a build makes (not where): a rerun finishing an interrupted commit compares it."""
    data = {"base": base, "objectives": list(config.objectives)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def split_job(config: BuildConfig, tokenizer: Tokenizer) -> SplitJob:
    return SplitJob(objectives=tuple((n, config.objective_config(n)) for n in config.objectives),
                    vocab=tokenizer.vocab, seed=config.seed, validation_fraction=config.validation_fraction,
                    documents=config.documents, text_field=config.text_field,
                    max_document_bytes=config.max_document_bytes, tmp_root=tmp_root(config.output),
                    row_group_mb=config.row_group_mb, shard_mb=config.shard_size_mb)


def cached_tokenizer(model_bytes: bytes, name: str) -> Tokenizer:
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest not in _TOKENIZERS:
        _TOKENIZERS[digest] = Tokenizer.from_bytes(model_bytes, name=name)
    return _TOKENIZERS[digest]


class BuildSplitFn(beam.DoFn):
    """(index, InputSplit) -> the split's small result dict (see :func:`process_split`)."""

    def __init__(self, job: SplitJob, model_bytes: bytes, tokenizer_name: str) -> None:
        self._job, self._model_bytes, self._name = job, model_bytes, tokenizer_name
        self._tokenizer: Tokenizer | None = None
        self.storage: dict | None = None
        """Pipeline options for Beam's FileSystems on workers whose runner does not set them (Dask's)."""

    def setup(self) -> None:
        apply_storage_options(self.storage, force=False)
        if self._tokenizer is None:
            self._tokenizer = cached_tokenizer(self._model_bytes, self._name)

    def process(self, element) -> Iterator[dict]:
        index, split = element
        progress = SplitProgress(self._job.tmp_root, index, split.end - split.start)
        result = process_split(index, split, self._job, self._tokenizer, files=files_access(),
                               progress=progress.update)
        progress.done(Counter(result["counts"]))
        report_metrics(result["counts"])
        for name, entry in result["objectives"].items():
            report_metrics(entry["counts"], prefix=name + ".")
        yield result


class BuildObjectives(beam.PTransform):
    """PBegin -> manifest paths: every input split built on one worker, then one commit.

    For use inside a larger pipeline: run :func:`lmpairs.pipeline.preflight.preflight` first (it
    loads the tokenizer and plans the splits) and prepare ``config.output`` (see :func:`run_build`),
    with absolute paths in ``config``.
    """

    def __init__(self, config: BuildConfig, *, plan: Plan, key: str | None = None) -> None:
        super().__init__()
        self._config, self._plan = config, plan
        self._base = manifest_base(config, plan.tokenizer, plan.splits)
        self._key = key or build_key(config, self._base)

    def expand(self, pbegin):
        c, plan = self._config, self._plan
        job = split_job(c, plan.tokenizer)
        build_fn = BuildSplitFn(job, plan.model_bytes, c.tokenizer)
        build_fn.storage = storage_options(pbegin.pipeline.options)
        return (pbegin
                | "Splits" >> beam.Create(list(enumerate(plan.splits)))
                | "Redistribute" >> beam.Reshuffle()
                | "BuildSplits" >> beam.ParDo(build_fn)
                | "Commit" >> CommitBuild(output=c.output, objectives=c.objectives, sides=job.sides, base=self._base,
                                          plan_rejected=plan.rejected, build_key=self._key))


def nothing_survived(documents: dict[str, Any], files_rejected: list[dict[str, Any]]) -> BuildError:
    """The error of a build where no objective got a row, with every reason counted."""
    reasons = {k.split(".", 1)[1]: v for k, v in documents.items() if k.startswith("documents_rejected.") and v}
    files = "; ".join(f"{f['path']}: {f['reason']} ({f.get('detail', '')})" for f in files_rejected[:5])
    return BuildError(
        f"nothing survived: {documents.get('documents_read', 0)} documents read, "
        f"{documents.get('documents_used', 0)} used ({documents.get('tokens', 0)} tokens, too few for one row), "
        f"rejected: {', '.join(f'{k} {v}' for k, v in sorted(reasons.items())) or 'none'}; "
        f"{len(files_rejected)} files rejected" + (f" ({files})" if files else "")
        + "; check --input, --input-format, --text-field and --documents.")


def run_build(config: BuildConfig, beam_args: list[str] | tuple[str, ...] = ()) -> dict[str, Manifest]:
    """Check, run and commit a build; return each objective's manifest ({} for a dry run).

    ``beam_args`` are Beam pipeline options (``--runner``, ``--direct_num_workers``…); without
    ``--runner`` the DirectRunner runs in this process.
    """
    options = pipeline_options(beam_args)
    apply_storage_options(options)  # before anything below touches a URL (--s3_endpoint_url and friends)
    check_staging_files(options)
    dry_run = is_dry_run(options)
    config = dataclasses.replace(config, output=absolute(config.output),
                                 inputs=tuple(absolute(g) for g in config.inputs))
    check_s3_buckets([("--tokenizer", config.tokenizer)] if dry_run else  # seconds, not Beam's minutes of retries
                     [("--tokenizer", config.tokenizer), *(("--input", g) for g in config.inputs),
                      ("--output", config.output)])
    if not dry_run:
        check_output_path(config.output)  # before anything lists inputs: --output / is refused at once
    plan = preflight(config, dry_run=dry_run)
    if dry_run:
        pipeline = beam.Pipeline(options=options)
        _ = pipeline | "Build" >> BuildObjectives(config, plan=plan)
        pipeline.run()
        logger.info("dry run: the %s job was built, not run", runner_name(options))
        return {}
    lock = OutputLock(config.output).acquire()
    try:
        key = build_key(config, manifest_base(config, plan.tokenizer, plan.splits))
        journal = finish_interrupted_commit(config.output)
        if journal is not None and journal.get("build_key") == key:
            logger.info("%s: the same build was interrupted while committing; its commit is now complete",
                        config.output)
            return read_manifests(config)
        if not plan.splits:
            raise nothing_survived({}, plan.rejected)
        prepare_output(config.output, config.objectives, overwrite=config.overwrite)
        return execute(config, plan, options, key)
    finally:
        lock.release()


def read_manifests(config: BuildConfig) -> dict[str, Manifest]:
    return {name: read_output_manifest(join(config.output, name), name) for name in config.objectives}


def execute(config: BuildConfig, plan: Plan, options, key: str) -> dict[str, Manifest]:
    """Run the job on a prepared output; on failure remove the temp files and raise a one-line error."""
    runner = runner_name(options)
    logger.info("building %s from %d input splits on %s", ",".join(config.objectives), len(plan.splits), runner)
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | "Build" >> BuildObjectives(config, plan=plan, key=key)
    monitor = ProgressMonitor(tmp_root(config.output), len(plan.splits), plan.num_bytes).start()
    start = time.perf_counter()
    result = None
    try:
        result = pipeline.run()
        state = result.wait_until_finish()
    except BaseException as err:
        discard_temp(config.output)
        if is_out_of_space(err):
            raise OutOfSpace(f"--output {config.output}: out of disk space; the temporary files were removed: "
                             "free some space or choose another --output.") from None
        raise
    finally:
        monitor.stop()
        client = getattr(result, "client", None)  # DaskRunner: close the client it opened
        if client is not None:
            client.close()
    seconds = time.perf_counter() - start
    if state != PipelineState.DONE:
        discard_temp(config.output)
        raise BuildError(f"the {runner} job ended in state {state}; see the runner's log. Rerunning with the "
                         "same --output starts again from a clean temp dir.")
    nothing = posixpath.join(tmp_root(config.output), NOTHING)
    if beam.io.filesystems.FileSystems.exists(nothing):
        with beam.io.filesystems.FileSystems.open(nothing) as f:
            report = json.loads(f.read().decode("utf-8"))
        discard_temp(config.output)
        raise nothing_survived(report["documents"], report["files_rejected"])
    manifests = read_manifests(config)
    tokens = manifests[config.objectives[0]].counters["tokens"]
    logger.info("finished %s in %.1f s: %d tokens, %.0f tokens/s (%d input splits on %s)", ",".join(config.objectives),
                seconds, tokens, tokens / max(seconds, 1e-9), len(plan.splits),
                f"{len(monitor.workers)} worker processes" if monitor.workers else "workers not observed")
    return manifests


def is_out_of_space(err: BaseException) -> bool:
    """Whether ``err`` (or what it wraps; runners re-raise workers' errors as text) is a full disk."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, OutOfSpace) or getattr(err, "errno", None) == 28:
            return True
        text = str(err)
        if "No space left on device" in text or "out of disk space" in text:
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False
