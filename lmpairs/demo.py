"""``lmpairs demo``: the whole job on the embedded corpus, in a few minutes on a laptop CPU.

Stages: write CPython's reference documentation as JSONL (:mod:`lmpairs.embedded_corpus`), train a
SentencePiece tokenizer on it, build all seven built-in objectives with the Beam pipeline (DirectRunner in
this process), print each manifest's summary and a decoded example (:mod:`lmpairs.inspection`),
then stream each objective through ``PairStream`` into the reference trainer for a short run and
report its first and last loss. Every stage logs its start and its time; training shows a
progress bar on a terminal. Outputs stay in ``--output`` for ``lmpairs inspect`` and ``lmpairs train``:
the corpus and tokenizer at its top, the datasets in ``pairs/`` (a build's output holds only datasets).
Run it as ``lmpairs demo`` (or ``python -m lmpairs demo``); :mod:`lmpairs.cli` wires these arguments.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lmpairs.config import BUILT_IN_NAMES, BuildConfig, ConfigError
from lmpairs.embedded_corpus import describe_corpus, write_corpus
from lmpairs.inspection import InspectOptions, inspect_build
from lmpairs.inspection.report import default_width
from lmpairs.tokenizers import Tokenizer, TokenizerError, train_tokenizer

logger = logging.getLogger(__name__)

PAIRS_NAME = "pairs"
MODEL_NAME = "lmpairs-demo.model"
_VOCAB_LIMIT = re.compile(r"value <= (\d+)")


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """Settings of one demo run; the defaults finish in a few minutes on 2 CPU cores."""

    output: str = "demo-out"
    steps: int = 40
    seq_len: int = 128
    max_documents: int | None = None
    vocab_size: int = 4000
    batch_size: int = 8
    num_examples: int = 1
    device: str = "auto"
    seed: int = 0
    model: dict[str, Any] = field(default_factory=lambda: {"d_model": 128, "num_layers": 2, "num_heads": 4,
                                                           "d_ff": 512})

    def __post_init__(self) -> None:
        for name in ("steps", "seq_len", "vocab_size", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"demo.{name}={value!r}: must be an integer >= 1; pass e.g. "
                                  f"--{name.replace('_', '-')} {getattr(DemoConfig, name, 1)}.")
        if self.max_documents is not None and self.max_documents < 1:
            raise ConfigError(f"demo.max_documents={self.max_documents}: must be >= 1 (or leave it out for all).")


@dataclass(kw_only=True)
class DemoResult:
    """Where the outputs are, how long each stage took, and each objective's first and last loss."""

    output: Path
    corpus: list[Path]
    tokenizer: Path
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)
    losses: dict[str, tuple[float, float]] = field(default_factory=dict)


def timed(result: DemoResult, stage: str, out: TextIO, run: Callable[[], Any]) -> Any:
    """Run one stage, announcing it and recording its wall and CPU time (all threads of this process)."""
    print(f"\n[{len(result.timings) + 1}] {stage} ...", file=out, flush=True)
    start, start_cpu = time.perf_counter(), time.process_time()
    value = run()
    result.timings[stage] = time.perf_counter() - start
    result.cpu_timings[stage] = time.process_time() - start_cpu
    print(f"    {stage}: done in {result.timings[stage]:.1f}s (cpu {result.cpu_timings[stage]:.1f}s)",
          file=out, flush=True)
    return value


def count_lines(paths: list[Path]) -> int:
    return sum(p.read_bytes().count(b"\n") for p in paths)


def fit_tokenizer(corpus: list[Path], model: Path, vocab_size: int, *, seed: int) -> Tokenizer:
    """Train with ``vocab_size`` pieces, or with the most a small corpus slice allows."""
    try:
        return train_tokenizer(corpus, model, vocab_size, seed=seed, num_threads=2)
    except TokenizerError as err:
        limit = _VOCAB_LIMIT.search(str(err))
        if limit is None or int(limit.group(1)) >= vocab_size:
            raise
        logger.warning("the corpus slice fits only %s pieces, not %d; training with %s", limit.group(1),
                       vocab_size, limit.group(1))
        return train_tokenizer(corpus, model, int(limit.group(1)), seed=seed, num_threads=2)


def pairs_dir(config: DemoConfig) -> Path:
    """Where the build writes its datasets: a directory of their own beside the corpus and tokenizer."""
    return Path(config.output) / PAIRS_NAME


def build_all(config: DemoConfig, corpus: list[Path], model: Path) -> dict:
    """Every built-in objective with the Beam pipeline on the in-process DirectRunner."""
    from lmpairs.pipeline import run_build  # Beam is heavy: import it when the stage starts

    build = BuildConfig(inputs=tuple(str(p) for p in corpus), output=str(pairs_dir(config)), tokenizer=str(model),
                        objectives=BUILT_IN_NAMES, seed=config.seed, overwrite=True)
    return run_build(build.with_seq_len(config.seq_len), [])


def train_objective(config: DemoConfig, objective: str) -> Any:
    """A short reference-trainer run on ``OUT/<objective>``, streamed through ``PairStream``."""
    from lmpairs.trainer import train  # torch: imported when the stage starts

    return train(pairs_dir(config) / objective, steps=config.steps, batch_size=config.batch_size,
                 warmup_steps=max(1, min(10, config.steps // 4)), lr=2e-3, device=config.device,
                 seed=config.seed, log_every=max(1, config.steps // 4), **config.model)


def report_training(result: DemoResult, objective: str, run: Any, out: TextIO) -> None:
    first, last = run.losses[0], run.losses[-1]
    result.losses[objective] = (first, last)
    trend = "falls" if last < first else "does NOT fall"
    print(f"    {objective}: loss {first:.3f} -> {last:.3f} over {len(run.losses)} steps ({trend}); "
          f"{run.num_parameters:,} parameters on {run.device}, {run.tokens_per_s:,.0f} tokens/s, "
          f"data wait {100 * run.data_wait_fraction:.1f}%", file=out, flush=True)


def demo(config: DemoConfig, *, out: TextIO = sys.stdout) -> DemoResult:
    """Run every stage; print progress and results to ``out``; return paths, timings and losses."""
    output = Path(config.output)
    print(f"lmpairs demo: {describe_corpus()} -> {output}/", file=out)
    result = DemoResult(output=output, corpus=[], tokenizer=output / MODEL_NAME)
    started, started_cpu = time.perf_counter(), time.process_time()
    result.corpus = timed(result, "corpus", out, lambda: write_corpus(
        output / "corpus", max_documents=config.max_documents))
    print(f"    {', '.join(map(str, result.corpus))}: {count_lines(result.corpus):,} documents, "
          f"{sum(p.stat().st_size for p in result.corpus) / 1024:,.0f} KB", file=out)
    tokenizer = timed(result, "tokenizer", out, lambda: fit_tokenizer(
        result.corpus, result.tokenizer, config.vocab_size, seed=config.seed))
    print(f"    {result.tokenizer}: {tokenizer.vocab.size:,} pieces", file=out)
    timed(result, "build", out, lambda: build_all(config, result.corpus, result.tokenizer))
    options = InspectOptions(num_examples=config.num_examples, width=default_width(), max_tokens=160)
    out.write(timed(result, "inspect", out, lambda: inspect_build(str(pairs_dir(config)), options)))
    for objective in BUILT_IN_NAMES:
        run = timed(result, f"train {objective}", out, lambda name=objective: train_objective(config, name))
        report_training(result, objective, run, out)
    result.timings["total"] = time.perf_counter() - started
    result.cpu_timings["total"] = time.process_time() - started_cpu
    print_outputs(result, out)
    return result


def lmpairs_command() -> str:
    """How to run ``lmpairs`` from here, as a hint can print it: ``lmpairs`` when that name on PATH is
    this installation, else this environment's script by a path (``.venv/bin/lmpairs`` after ``make``,
    which does not put the venv on PATH), else ``python -m lmpairs`` with this interpreter."""
    script = Path(sys.prefix) / "bin" / "lmpairs"
    on_path = shutil.which("lmpairs")
    if script.is_file():
        if on_path and Path(on_path).resolve() == script.resolve():
            return "lmpairs"
        try:
            shown = os.path.relpath(script)
        except ValueError:  # another drive (Windows)
            shown = str(script)
        return shlex.quote(shown if not shown.startswith("..") else str(script))
    return f"{shlex.quote(sys.executable)} -m lmpairs"


def print_outputs(result: DemoResult, out: TextIO) -> None:
    timings = ", ".join(f"{stage} {seconds:.1f}s (cpu {result.cpu_timings[stage]:.1f}s)"
                        for stage, seconds in result.timings.items())
    losses = "; ".join(f"{name} {a:.2f} -> {b:.2f}" for name, (a, b) in result.losses.items())
    o, run = result.output, lmpairs_command()
    print(f"\nlosses: {losses}\ntimings: {timings}\n\noutputs in {o}/:\n"
          f"  {o}/corpus/                    the embedded corpus as JSONL\n"
          f"  {o}/{MODEL_NAME}         the SentencePiece tokenizer\n"
          f"  {o}/{PAIRS_NAME}/{{{','.join(BUILT_IN_NAMES)}}}/   manifest.json + train/ and validation/ "
          "Parquet shards\n"
          f"next: {run} inspect {o}/{PAIRS_NAME}/mlm -n 3    |    {run} train {o}/{PAIRS_NAME}/t5 --steps 200    |    "
          f"{run} report {o}/{PAIRS_NAME} --output {o}/report.html",
          file=out, flush=True)


FLAGS: tuple[tuple[str, str, str], ...] = (
    ("output", "DIR", "where the corpus, tokenizer and shards go; a rerun replaces the previous demo's objectives "
                      "there"),
    ("steps", "N", "training steps per objective"),
    ("seq_len", "N", "sequence length of every objective (T5: encoder input length)"),
    ("max_documents", "N", "use only the first N documents of the embedded corpus (default: all, about 320)"),
    ("vocab_size", "N", "tokenizer pieces; lowered automatically to what a small --max-documents slice allows"),
    ("batch_size", "N", "rows per training step"),
    ("num_examples", "N", "decoded examples shown per objective"),
    ("device", "DEVICE", "training device: auto (CUDA when present), cpu or cuda"),
    ("seed", "N", "seed of tokenizer sampling, corruption and training"),
)
"""``demo``'s flags: (DemoConfig field, metavar, help); defaults and types are DemoConfig's (N: an int)."""


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``demo``'s arguments to ``parser`` (a subcommand parser or a standalone one)."""
    d = DemoConfig()
    for name, metavar, text in FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), type=int if metavar == "N" else str,
                            default=getattr(d, name), metavar=metavar,
                            help=text if "(default:" in text else text + " (default: %(default)s)")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo from parsed arguments (errors propagate to the CLI, which prints them)."""
    # One line per written shard drowns the demo's own report; the shard list is in the summaries.
    logging.getLogger("lmpairs.pipeline.write").setLevel(logging.WARNING)
    config = DemoConfig(**{name: getattr(args, name) for name, _, _ in FLAGS})
    demo(config)
    return 0
