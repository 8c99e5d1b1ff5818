"""Checks that run on the driver before the job starts, so bad setups fail in seconds, not hours.

In order: the tokenizer loads (its vocabulary shapes the job), every objective accepts its config
with that vocabulary (e.g. T5 needs a sentinel per span), and the inputs expand into input splits
(files that cannot be read at all are counted as rejected here). With ``--dry_run`` (building a
job graph, e.g. for Dataflow, without credentials) remote inputs are not listed; the tokenizer is
always read. The output directory is prepared afterwards, under the build lock (see ``output``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from lmpairs.config import BuildConfig
from lmpairs.objectives import get_spec, make_objective
from lmpairs.pipeline.api import files_access, plan_splits
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.paths import is_remote
from lmpairs.tokenizers import MAX_TOKENIZER_BYTES, Tokenizer
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)

MB = 1 << 20


@dataclass(frozen=True, eq=False)
class Plan:
    """What the checks found: the tokenizer, its model bytes (shipped to workers), the input splits in
    their fixed order, and the files rejected while planning (``{path, reason, detail}``)."""

    tokenizer: Tokenizer
    model_bytes: bytes
    splits: list[Any]
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def num_bytes(self) -> int:
        return sum(s.end - s.start for s in self.splits)


def load_tokenizer(path: str) -> tuple[Tokenizer, bytes]:
    """The tokenizer and its model bytes; local files get Tokenizer's own messages (missing, not a model)."""
    if not is_remote(path):
        tokenizer = Tokenizer.load(path)  # bounded: regular files (or a model directory's) up to 1 GiB
        return tokenizer, tokenizer.file_bytes
    try:
        with FileSystems.open(path) as f:
            data = f.read(MAX_TOKENIZER_BYTES + 1)
    except OSError as err:
        raise BuildError(f"--tokenizer {path}: cannot read it ({err}); check the path and your access.") from err
    if len(data) > MAX_TOKENIZER_BYTES:
        raise BuildError(f"--tokenizer {path}: over the {MAX_TOKENIZER_BYTES} bytes a tokenizer file may have; "
                         "pass the tokenizer file itself.")
    return Tokenizer.from_bytes(data, name=path), data


def named_specials(config: BuildConfig) -> list[str]:
    """The extra named specials the chosen objectives declare, in objective order (ids follow it)."""
    names: list[str] = []
    for name in config.objectives:
        names += [p for p in get_spec(name).named_specials if p not in names]
    return names


def check_objectives(config: BuildConfig, vocab: Vocab) -> None:
    """Build each objective once: its constructor raises ConfigError for a config the vocab cannot serve."""
    for name in config.objectives:
        make_objective(name, config.objective_config(name), vocab)


def split_bytes(config: BuildConfig) -> int:
    """Bytes per byte-range split of large uncompressed text/JSONL files (``--split-mb``)."""
    return max(1, round(config.split_mb * MB))


def describe_rejection(rejected: Any) -> dict[str, Any]:
    if hasattr(rejected, "describe"):
        return dict(rejected.describe())
    if isinstance(rejected, dict):
        return dict(rejected)
    path, reason, *detail = rejected
    return {"path": path, "reason": reason, "detail": detail[0] if detail else ""}


def plan_inputs(config: BuildConfig, *, dry_run: bool) -> tuple[list[Any], list[dict[str, Any]]]:
    """Expand every glob into input splits (errors name a glob without files); remote globs are skipped
    in a dry run."""
    globs = [g for g in config.inputs if not (dry_run and is_remote(g))]
    if len(globs) < len(config.inputs):
        logger.info("dry run: not listing remote inputs %s", [g for g in config.inputs if g not in globs])
    if not globs:
        return [], []
    plan = plan_splits(globs, input_format=config.input_format, split_bytes=split_bytes(config),
                       files=files_access(), exclude=(config.output,), documents=config.documents)
    rejected = sorted((describe_rejection(r) for r in plan.rejected_files), key=lambda r: r["path"])
    return list(plan.splits), rejected


def preflight(config: BuildConfig, *, dry_run: bool) -> Plan:
    """Run every check in order; raise TokenizerError, ConfigError or BuildError naming the fix."""
    tokenizer, model_bytes = load_tokenizer(config.tokenizer)
    tokenizer.add_named_specials(named_specials(config))
    check_objectives(config, tokenizer.vocab)
    splits, rejected = plan_inputs(config, dry_run=dry_run)
    plan = Plan(tokenizer=tokenizer, model_bytes=model_bytes, splits=splits, rejected=rejected)
    logger.info("checks passed: %d input splits (%.1f MB), %d files rejected, tokenizer %r", len(splits),
                plan.num_bytes / MB, len(rejected), tokenizer)
    return plan
