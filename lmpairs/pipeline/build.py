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
from lmpairs.objectives import get_spec
from lmpairs.pipeline import deadline
from lmpairs.pipeline.api import files_access
from lmpairs.pipeline.commit import NOTHING, CommitBuild, read_output_manifest, tmp_root
from lmpairs.pipeline.counters import log_warnings, report_metrics
from lmpairs.pipeline.errors import BuildError, OutOfSpace, is_interrupt, is_out_of_space
from lmpairs.pipeline.lock import LockLost, OutputLock
from lmpairs.pipeline.options import check_staging_files, is_dry_run, pipeline_options, runner_name
from lmpairs.pipeline.output import (
    check_output,
    check_output_path,
    check_temp_dir,
    discard_temp,
    finish_interrupted_commit,
    prepare_output,
)
from lmpairs.pipeline.ownership import build_prefix, live_prefixes
from lmpairs.pipeline.paths import apply_storage_options, check_s3_buckets, is_remote, join, storage_options
from lmpairs.pipeline.preflight import Plan, preflight
from lmpairs.pipeline.progress import ProgressMonitor, SplitProgress
from lmpairs.pipeline.resume import drop_unfinished, record_split, reusable_results
from lmpairs.pipeline.splitjob import SplitJob, process_split
from lmpairs.reading.splits import absolute
from lmpairs.schemas import Manifest
from lmpairs.tokenizers import Tokenizer
from lmpairs.version import __version__

logger = logging.getLogger(__name__)

RUN_ONLY_FIELDS = ("output", "overwrite", "restart", "io_deadline_s")
"""BuildConfig fields that say where and how to write, not what: kept out of the manifest, so two
builds of the same data into different directories have identical manifests."""
PLAN_SHOWN = 20
"""Input splits a dry run lists one by one (the rest are counted)."""
_TOKENIZERS: dict[str, Tokenizer] = {}
"""Tokenizers parsed in this worker process, by model sha256 (Dask runs ``setup()`` per partition)."""


def manifest_base(config: BuildConfig, tokenizer: Tokenizer, splits: list[Any]) -> dict[str, Any]:
    """The manifest fields every objective shares; ``inputs`` is the split list, in split order."""
    settings = {k: list(v) if k == "objectives" else v for k, v in config.to_dict().items()
                if k not in RUN_ONLY_FIELDS and (k == "objectives" or not isinstance(v, dict))}
    return {"configs": {name: config.objective_config(name).to_dict() for name in config.objectives},
            "seed": config.seed, "tokenizer": tokenizer.describe(), "lmpairs_version": __version__,
            "build": settings, "inputs": [dict(split.describe(), index=i) for i, split in enumerate(splits)]}


def build_key(config: BuildConfig, base: dict[str, Any]) -> str:
    """A digest of what a build makes (not where): a rerun finishing an interrupted commit compares it."""
    data = {"base": base, "objectives": list(config.objectives)}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def split_job(config: BuildConfig, tokenizer: Tokenizer, key: str = "", prefix: str | None = None) -> SplitJob:
    """What each split's worker needs; on object stores shards go in place, to ``OUT/<objective>/<prefix>/``
    (renaming an object is a copy; ``prefix`` defaults to :func:`build_prefix` of ``key``), elsewhere to
    the temp dir (renamed into place at the commit)."""
    return SplitJob(shard_root=posixpath.join(config.output, "{objective}", prefix or build_prefix(key))
                    if key and is_remote(config.output) else None,
                    objectives=tuple((n, config.objective_config(n)) for n in config.objectives),
                    specs=tuple(get_spec(n) for n in config.objectives),
                    vocab=tokenizer.vocab, seed=config.seed, validation_fraction=config.validation_fraction,
                    documents=config.documents, text_field=config.text_field,
                    max_document_bytes=config.max_document_bytes, tmp_root=tmp_root(config.output),
                    row_group_mb=config.row_group_mb, shard_mb=config.shard_size_mb)


def cached_tokenizer(model_bytes: bytes, name: str) -> Tokenizer:
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest not in _TOKENIZERS:
        _TOKENIZERS[digest] = Tokenizer.from_bytes(model_bytes, name=name)
    return _TOKENIZERS[digest]


def in_place_paths(result: dict, job: SplitJob) -> dict:
    """Shard paths relative to ``OUT/<objective>``: shards written in place carry their build prefix."""
    if job.shard_root is None:
        return result
    prefix = posixpath.basename(job.shard_root)
    for entry in result["objectives"].values():
        entry["shards"] = [dataclasses.replace(s, path=posixpath.join(prefix, s.path)) for s in entry["shards"]]
    return result


class BuildSplitFn(beam.DoFn):
    """(index, InputSplit) -> the split's small result dict (see :func:`process_split`)."""

    def __init__(self, job: SplitJob, model_bytes: bytes, tokenizer_name: str, key: str | None = None) -> None:
        self._job, self._model_bytes, self._name, self._key = job, model_bytes, tokenizer_name, key
        self._tokenizer: Tokenizer | None = None
        self.storage: dict | None = None
        """Pipeline options for Beam's FileSystems on workers whose runner does not set them (Dask's)."""
        self.io_deadline_s: float | None = None

    def setup(self) -> None:
        apply_storage_options(self.storage, force=False)
        deadline.install(self.io_deadline_s)
        if self._tokenizer is None:
            self._tokenizer = cached_tokenizer(self._model_bytes, self._name)

    def process(self, element) -> Iterator[dict]:
        index, split = element
        progress = SplitProgress(self._job.tmp_root, index, split.end - split.start)
        result = in_place_paths(process_split(index, split, self._job, self._tokenizer, files=files_access(),
                                              progress=progress.update), self._job)
        if self._key is not None:
            record_split(self._job.tmp_root, self._key, index, split, result)  # a rerun reuses this split
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

    def __init__(self, config: BuildConfig, *, plan: Plan, key: str | None = None,
                 lock_token: str | None = None, reused: dict[int, dict] | None = None,
                 prefix: str | None = None) -> None:
        super().__init__()
        self._prefix = prefix
        """Object stores: the in-place shard directory (see :func:`lmpairs.pipeline.ownership.build_prefix`)."""
        self._config, self._plan, self._lock_token = config, plan, lock_token
        self._reused = reused or {}
        """Results of splits an interrupted run of this build finished (see :mod:`lmpairs.pipeline.resume`)."""
        self._base = manifest_base(config, plan.tokenizer, plan.splits)
        self._key = key or build_key(config, self._base)

    def expand(self, pbegin):
        c, plan = self._config, self._plan
        job = split_job(c, plan.tokenizer, self._key, self._prefix)
        build_fn = BuildSplitFn(job, plan.model_bytes, c.tokenizer, self._key)
        build_fn.storage = storage_options(pbegin.pipeline.options)
        build_fn.io_deadline_s = c.io_deadline_s
        pending = [(i, split) for i, split in enumerate(plan.splits) if i not in self._reused]
        results = (pbegin
                   | "Splits" >> beam.Create(pending)
                   | "Redistribute" >> beam.Reshuffle()
                   | "BuildSplits" >> beam.ParDo(build_fn))
        if self._reused:
            reused = pbegin | "ReusedSplits" >> beam.Create([self._reused[i] for i in sorted(self._reused)])
            results = (results, reused) | "WithReused" >> beam.Flatten()
        return (results
                | "Commit" >> CommitBuild(output=c.output, objectives=c.objectives, sides=job.sides, base=self._base,
                                          plan_rejected=plan.rejected, build_key=self._key,
                                          lock_token=self._lock_token))


def nothing_survived(documents: dict[str, Any], files_rejected: list[dict[str, Any]]) -> BuildError:
    """The error of a build where no objective got a row, with every reason counted."""
    reasons = {k.split(".", 1)[1]: v for k, v in documents.items() if k.startswith("documents_rejected.") and v}
    files = "; ".join(f"{f['path']}: {f['reason']} ({f.get('detail', '')})" for f in files_rejected[:5])
    return BuildError(
        f"nothing survived: {documents.get('documents_read', 0)} documents read, "
        f"{documents.get('documents_used', 0)} used ({documents.get('tokens', 0)} tokens, too few for one row), "
        f"rejected: {', '.join(f'{k} {v}' for k, v in sorted(reasons.items())) or 'none'}; "
        f"{len(files_rejected)} files rejected" + (f" ({files})" if files else "")
        + "; check --input, --format, --text-field and --documents.")


def run_build(config: BuildConfig, beam_args: list[str] | tuple[str, ...] = ()) -> dict[str, Manifest]:
    """Check, run and commit a build; return each objective's manifest ({} for a dry run).

    ``beam_args`` are Beam pipeline options (``--runner``, ``--direct_num_workers``…); without
    ``--runner`` the DirectRunner runs in this process.
    """
    options = pipeline_options(beam_args)
    deadline.install(config.io_deadline_s)  # a dead object store: one line after S seconds, not Beam's minutes
    deadline.reset()
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
        return plan_only(config, plan, options)
    lock = OutputLock(config.output).acquire()
    try:
        key = build_key(config, manifest_base(config, plan.tokenizer, plan.splits))
        check_temp_dir(config.output)  # before finishing or clearing it: nothing lmpairs did not write is deleted
        journal = finish_interrupted_commit(config.output)
        if journal is not None and journal.get("build_key") == key:
            logger.info("%s: the same build was interrupted while committing; its commit is now complete",
                        config.output)
            return read_manifests(config)
        if not plan.splits:
            raise nothing_survived({}, plan.rejected)
        # never the live dataset's in-place names: a failed split deletes what it wrote
        prefix = build_prefix(key, live_prefixes(config.output, config.objectives)) if is_remote(config.output) \
            else None
        resumed = prepare_output(config.output, config.objectives, overwrite=config.overwrite, key=key,
                                 restart=config.restart)
        return execute(config, plan, options, key, lock, reuse(config, plan, key) if resumed else {}, prefix)
    finally:
        lock.release()


def plan_only(config: BuildConfig, plan: Plan, options) -> dict[str, Manifest]:
    """``--dry_run``: the checks, the split list and the job graph; nothing is written under the output.

    Only Dataflow's runner honors Beam's ``--dry_run`` (it builds the job file without submitting it);
    the local runners would run the whole job, so for them the graph is built and translated only.
    A local output is checked read-only, so the dry run says whether the real build would refuse it.
    """
    if not is_remote(config.output):
        check_output(config.output, config.objectives, overwrite=config.overwrite)
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | "Build" >> BuildObjectives(config, plan=plan)
    runner = runner_name(options)
    if runner == "DataflowRunner":
        pipeline.run()
    else:
        pipeline.to_runner_api()
    for index, split in enumerate(plan.splits[:PLAN_SHOWN]):
        logger.info("dry run: split %d: %s bytes %d-%d", index, split.path, split.start, split.end)
    logger.info("dry run: %d input splits (%.1f MB), %d files rejected; the %s job was built, not run; nothing "
                "was written to %s", len(plan.splits), plan.num_bytes / (1 << 20), len(plan.rejected), runner,
                config.output)
    return {}


def reuse(config: BuildConfig, plan: Plan, key: str) -> dict[int, dict]:
    """The finished splits of an interrupted run of this build; the other splits' partial files are deleted."""
    root = tmp_root(config.output)
    roots = {name: join(config.output, name) if is_remote(config.output) else join(root, name)
             for name in config.objectives}
    reused = reusable_results(root, key, plan.splits, roots)
    drop_unfinished(root, config.objectives, set(reused))
    logger.info("%s: resuming an interrupted build: %d splits reused, %d to build (--restart starts again from "
                "nothing)", config.output, len(reused), len(plan.splits) - len(reused))
    return reused


def read_manifests(config: BuildConfig) -> dict[str, Manifest]:
    return {name: read_output_manifest(join(config.output, name), name) for name in config.objectives}


def execute(config: BuildConfig, plan: Plan, options, key: str, lock: OutputLock | None = None,
            reused: dict[int, dict] | None = None, prefix: str | None = None) -> dict[str, Manifest]:
    """Run the job on a prepared output; on failure remove the temp files and raise a one-line error."""
    runner = runner_name(options)
    logger.info("building %s from %d input splits on %s", ",".join(config.objectives), len(plan.splits), runner)
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | "Build" >> BuildObjectives(config, plan=plan, key=key, lock_token=lock.token if lock else None,
                                                reused=reused, prefix=prefix)
    monitor = ProgressMonitor(tmp_root(config.output), len(plan.splits), plan.num_bytes).start()
    start = time.perf_counter()
    result = None
    try:
        result = pipeline.run()
        state = result.wait_until_finish()
    except BaseException as err:
        if deadline.gave_up() and not is_interrupt(err):
            raise deadline.storage_gave_up(config.output, config.io_deadline_s, err) from None
        if lock is not None and not lock.holds():
            raise LockLost(f"--output {config.output}: this build lost the build lock to another build while it "
                           "ran, so it published nothing; run one build at a time into one output.") from None
        discard_temp(config.output, config.objectives)
        if is_interrupt(err):
            raise KeyboardInterrupt from None  # the CLI's one line and status 130, not Beam's wrapped traceback
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
        discard_temp(config.output, config.objectives)
        raise BuildError(f"the {runner} job ended in state {state}; see the runner's log. Rerunning with the "
                         "same --output starts again from a clean temp dir.")
    nothing = posixpath.join(tmp_root(config.output), NOTHING)
    if beam.io.filesystems.FileSystems.exists(nothing):
        with beam.io.filesystems.FileSystems.open(nothing) as f:
            report = json.loads(f.read().decode("utf-8"))
        discard_temp(config.output, config.objectives)
        raise nothing_survived(report["documents"], report["files_rejected"])
    manifests = read_manifests(config)
    log_warnings(manifests)
    tokens = manifests[next(iter(config.objectives))].counters["tokens"]
    logger.info("finished %s in %.1f s: %d tokens, %.0f tokens/s (%d input splits on %s)", ",".join(config.objectives),
                seconds, tokens, tokens / max(seconds, 1e-9), len(plan.splits),
                f"{len(monitor.workers)} worker processes" if monitor.workers else "workers not observed")
    return manifests
