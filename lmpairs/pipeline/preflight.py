"""Checks that run on the driver before the job starts, so bad setups fail in seconds, not hours.

In order: the tokenizer loads (its vocabulary shapes the job), every objective accepts its config
with that vocabulary (e.g. T5 needs a sentinel per span), every input glob matches files with
unique document keys, and the output directory is empty (or resumable, or ``--overwrite``) and
writable. With ``--dry_run`` (building a job graph, e.g. for Dataflow, without credentials) checks
that would touch remote paths are skipped and logged; the tokenizer is always read.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from lmpairs.config import BuildConfig
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.output import prepare_output
from lmpairs.pipeline.paths import is_remote
from lmpairs.pipeline.records import InputFile
from lmpairs.pipeline.sources import expand_inputs
from lmpairs.tokenizer import Tokenizer
from lmpairs.transforms import make_objective
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Plan:
    """What the checks found: the tokenizer, its model bytes (shipped to workers) and the input files."""

    tokenizer: Tokenizer
    model_bytes: bytes
    files: list[InputFile]


def load_tokenizer(path: str) -> tuple[Tokenizer, bytes]:
    """The tokenizer and its model bytes; local files get Tokenizer's own messages (missing, not a model)."""
    if not is_remote(path):
        tokenizer = Tokenizer.load(path)
        return tokenizer, Path(path).read_bytes()
    try:
        with FileSystems.open(path) as f:
            data = f.read()
    except OSError as err:
        raise BuildError(f"--tokenizer {path}: cannot read it ({err}); check the path and your access.") from err
    return Tokenizer.from_bytes(data, name=path), data


def check_objectives(config: BuildConfig, vocab: Vocab) -> None:
    """Build each objective once: its constructor raises ConfigError for a config the vocab cannot serve."""
    for name in config.objectives:
        make_objective(name, config.objective_config(name), vocab)


def check_inputs(config: BuildConfig, *, dry_run: bool) -> list[InputFile]:
    """Expand every glob (errors name a glob without files); remote globs are skipped in a dry run."""
    globs = [g for g in config.inputs if not (dry_run and is_remote(g))]
    if len(globs) < len(config.inputs):
        logger.info("dry run: not listing remote inputs %s", [g for g in config.inputs if g not in globs])
    return expand_inputs(globs, input_format=config.input_format) if globs else []


def preflight(config: BuildConfig, *, dry_run: bool) -> Plan:
    """Run every check in order; raise TokenizerError, ConfigError or BuildError naming the fix."""
    tokenizer, model_bytes = load_tokenizer(config.tokenizer)
    check_objectives(config, tokenizer.vocab)
    files = check_inputs(config, dry_run=dry_run)
    if dry_run:
        logger.info("dry run: not preparing --output %s", config.output)
    else:
        prepare_output(config.output, config.objectives, overwrite=config.overwrite)
    logger.info("checks passed: %d input files (%.1f MB), tokenizer %r", len(files),
                sum(f.num_bytes for f in files) / 2**20, tokenizer)
    return Plan(tokenizer=tokenizer, model_bytes=model_bytes, files=files)
