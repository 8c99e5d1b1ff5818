"""``lmpairs build`` as a function and as one composite PTransform: files in, committed shards out.

Graph (one tokenization pass feeds every objective)::

    ExpandInputs -> ReadFiles -> Tokenize -+-> Examples[clm] -> Write[clm] -+
                                           +-> Examples[t5]  -> Write[t5]  -+-> Commit (moves, manifests)
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import apache_beam as beam
from apache_beam.runners.runner import PipelineState

from lmpairs.config import BuildConfig
from lmpairs.pipeline.commit import TMP_NAME, CommitBuild
from lmpairs.pipeline.counters import COUNTS, SumCountsFn
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.examples import TRAIN, VALIDATION, BuildExamples
from lmpairs.pipeline.options import check_staging_files, is_dry_run, pipeline_options, runner_name
from lmpairs.pipeline.paths import absolute, join
from lmpairs.pipeline.preflight import preflight
from lmpairs.pipeline.read import FILES_REJECTED, ReadFiles
from lmpairs.pipeline.sources import ExpandInputs
from lmpairs.pipeline.tokenize import TokenizeDocuments
from lmpairs.pipeline.write import WriteShards
from lmpairs.schemas import Manifest, read_manifest
from lmpairs.tokenizer import Tokenizer
from lmpairs.version import __version__
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)

RUN_ONLY_FIELDS = ("output", "overwrite")
"""BuildConfig fields that say where and how to write, not what: kept out of the manifest, so two
builds of the same data into different directories have identical manifests."""


def build_splits(config: BuildConfig) -> tuple[str, ...]:
    return (TRAIN, VALIDATION) if config.validation_fraction > 0 else (TRAIN,)


def manifest_base(config: BuildConfig, tokenizer: Tokenizer) -> dict[str, Any]:
    """The manifest fields every objective shares (inputs are filled in by the commit)."""
    settings = {k: v for k, v in config.to_dict().items() if k not in (*RUN_ONLY_FIELDS, *config.objectives)
                and not isinstance(v, dict)}
    return {"configs": {name: config.objective_config(name).to_dict() for name in config.objectives},
            "seed": config.seed, "tokenizer": tokenizer.describe(), "lmpairs_version": __version__,
            "build": settings}


class BuildObjectives(beam.PTransform):
    """PBegin -> manifest paths: read, tokenize once, build and write every objective, commit.

    For use inside a larger pipeline: run :func:`lmpairs.pipeline.preflight.preflight` first (it
    loads the tokenizer and prepares ``config.output``), with absolute local paths in ``config``.
    """

    def __init__(self, config: BuildConfig, *, tokenizer: Tokenizer, model_bytes: bytes) -> None:
        super().__init__()
        self._config, self._tokenizer, self._model_bytes = config, tokenizer, model_bytes

    def expand(self, pbegin):
        c = self._config
        files = pbegin | "ExpandInputs" >> ExpandInputs(c.inputs, input_format=c.input_format)
        read = files | "ReadFiles" >> ReadFiles(documents=c.documents, text_field=c.text_field,
                                                max_document_bytes=c.max_document_bytes)
        tokenized = read.documents | "Tokenize" >> TokenizeDocuments(self._model_bytes, name=c.tokenizer)
        documents = ((read[COUNTS], tokenized[COUNTS])
                     | "DocumentCounts" >> beam.Flatten()
                     | "SumDocumentCounts" >> beam.CombineGlobally(SumCountsFn()))
        objectives = [tokenized.documents | f"Objective[{name}]" >> self._objective(name) for name in c.objectives]
        inputs = files | "DescribeInputs" >> beam.Map(lambda f: f.describe()) | "Inputs" >> beam.combiners.ToList()
        rejected = (read[FILES_REJECTED] | "DescribeRejected" >> beam.Map(lambda f: f.describe())
                    | "FilesRejected" >> beam.combiners.ToList())
        return ((objectives | "AllObjectives" >> beam.Flatten(), documents, inputs, rejected)
                | "Commit" >> CommitBuild(output=c.output, splits=build_splits(c),
                                          base=manifest_base(c, self._tokenizer)))

    def _objective(self, name: str) -> "ObjectiveShards":
        c = self._config
        return ObjectiveShards(name, c.objective_config(name), self._tokenizer.vocab, c, build_splits(c))


class ObjectiveShards(beam.PTransform):
    """Batches of TokenizedDocument -> one ``(objective, (shards, counts))`` once its shards are written."""

    def __init__(self, name: str, objective_config: Any, vocab: Vocab, config: BuildConfig,
                 splits: tuple[str, ...]) -> None:
        super().__init__()
        self._name, self._splits, self._config = name, splits, config
        self._examples = BuildExamples(name, objective_config, vocab, seed=config.seed,
                                       validation_fraction=config.validation_fraction, pack_buckets=config.pack_buckets)

    def expand(self, documents):
        c, name = self._config, self._name
        built = documents | "Examples" >> self._examples
        shards = built["examples"] | "Write" >> WriteShards(
            name, self._splits, tmp_dir=join(c.output, TMP_NAME, name), num_shards=c.num_shards,
            shard_size_mb=c.shard_size_mb, row_group_mb=c.row_group_mb)
        counts = built["counts"] | "SumCounts" >> beam.CombineGlobally(SumCountsFn())
        return (shards
                | "Shards" >> beam.combiners.ToList()
                | "Entry" >> beam.Map(lambda s, n: (name, (s, n)), beam.pvalue.AsSingleton(counts)))


def run_build(config: BuildConfig, beam_args: list[str] | tuple[str, ...] = ()) -> dict[str, Manifest]:
    """Check, run and commit a build; return each objective's manifest ({} for a dry run).

    ``beam_args`` are Beam pipeline options (``--runner``, ``--direct_num_workers``…); without
    ``--runner`` the DirectRunner runs in this process.
    """
    options = pipeline_options(beam_args)
    check_staging_files(options)
    dry_run = is_dry_run(options)
    config = dataclasses.replace(config, output=absolute(config.output),
                                 inputs=tuple(absolute(g) for g in config.inputs))
    plan = preflight(config, dry_run=dry_run)
    logger.info("building %s on %s", ",".join(config.objectives), runner_name(options))
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | "Build" >> BuildObjectives(config, tokenizer=plan.tokenizer, model_bytes=plan.model_bytes)
    start = time.perf_counter()
    state = pipeline.run().wait_until_finish()
    seconds = time.perf_counter() - start
    if dry_run:
        logger.info("dry run: the %s job was built, not run", runner_name(options))
        return {}
    if state != PipelineState.DONE:
        raise BuildError(f"the {runner_name(options)} job ended in state {state}; see the runner's log. "
                         f"Rerunning with the same --output resumes from a clean start.")
    manifests = {name: read_manifest(join(config.output, name), objective=name) for name in config.objectives}
    tokens = manifests[config.objectives[0]].counters["tokens"]
    logger.info("finished %s in %.1f s: %d tokens, %.0f tokens/s",
                ",".join(config.objectives), seconds, tokens, tokens / max(seconds, 1e-9))
    return manifests
