"""The ``lmpairs`` command: one small ``add_<command>`` function per subcommand.

Each ``add_*`` function registers its argparse subparser and the function that runs it; adding a
subcommand (inspect, train, demo) is one more such function listed in :data:`COMMANDS`. Defaults
are read from the configs and functions they feed, so none is declared twice. Expected failures
(bad config, tokenizer, input or output) print one message and exit with status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import logging
import sys
from typing import Any, Callable

from lmpairs.config import OBJECTIVE_CONFIGS, OBJECTIVES, BuildConfig, ConfigError

logger = logging.getLogger(__name__)

EXIT_USAGE = 2


def _default(cls: type, name: str) -> Any:
    """A dataclass field's default (for help texts)."""
    f = cls.__dataclass_fields__[name]
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _help(text: str, cls: type, name: str) -> str:
    default = _default(cls, name)
    return f"{text} (default: {','.join(default) if isinstance(default, tuple) else default})"


def add_build(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs build``: corpora in, sharded Parquet per objective out (Beam options pass through)."""
    p = subparsers.add_parser(
        "build", allow_abbrev=False, help="tokenize corpora and write training examples as sharded Parquet",
        description="Build training examples with Apache Beam. Arguments this command does not know are "
        "Beam pipeline options, e.g. --runner=DataflowRunner --project=... --temp_location=gs://... "
        "--setup_file ./setup.py, or --direct_num_workers=2 --direct_running_mode=multi_processing. "
        "Without --runner the job runs in this process (DirectRunner).")
    B = BuildConfig
    p.add_argument("--input", dest="inputs", nargs="+", action="extend", required=True, metavar="GLOB",
                   help="input files or globs (local, gs://, s3://); .gz/.bz2/.zst/.xz are decompressed")
    p.add_argument("--output", required=True, metavar="DIR", help="output directory; gets OUT/<objective>/")
    p.add_argument("--tokenizer", required=True, metavar="MODEL", help="SentencePiece .model file")
    p.add_argument("--objectives", metavar="LIST",
                   help=_help("comma-separated objectives out of " + ",".join(OBJECTIVES), B, "objectives"))
    p.add_argument("--seq-len", type=int, metavar="N",
                   help="sequence length for every objective (T5: encoder input length); default per objective")
    p.add_argument("--seed", type=int, help=_help("seed of every random choice", B, "seed"))
    p.add_argument("--validation-fraction", type=float, metavar="F",
                   help=_help("fraction of documents (by key hash) in the validation split", B, "validation_fraction"))
    shards = p.add_mutually_exclusive_group()
    shards.add_argument("--num-shards", type=int, metavar="N", help=_help("shards per split", B, "num_shards"))
    shards.add_argument("--shard-size-mb", type=float, metavar="M",
                        help="instead of --num-shards: about M MB of (uncompressed) rows per shard")
    p.add_argument("--format", dest="input_format", choices=("auto", "text", "jsonl", "parquet"),
                   help=_help("input format; auto picks by extension (.jsonl, .parquet, else text)", B, "input_format"))
    p.add_argument("--text-field", help=_help("JSONL field / Parquet column holding the text", B, "text_field"))
    p.add_argument("--documents", choices=("line", "paragraph", "file"),
                   help=_help("what one document is in a text file: a line, a blank-line-separated paragraph, "
                              "or the whole file", B, "documents"))
    p.add_argument("--max-document-bytes", type=int, metavar="N",
                   help=_help("longer documents are rejected as too_long", B, "max_document_bytes"))
    p.add_argument("--pack-buckets", type=int, metavar="N",
                   help=_help("hash buckets that document remainders are packed in", B, "pack_buckets"))
    p.add_argument("--row-group-mb", type=float, metavar="M",
                   help=_help("Parquet row group size in MB of rows", B, "row_group_mb"))
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="OBJECTIVE.FIELD=VALUE",
                   help="set any objective config field, e.g. --set mlm.whole_word=true --set clm.final_row=drop "
                   "(repeatable; values are JSON or plain strings)")
    p.add_argument("--overwrite", action="store_true", help="replace these objectives in a non-empty --output")
    p.set_defaults(run=run_build_command, beam_args_allowed=True)


def parse_setting(setting: str) -> tuple[str, str, Any]:
    """``"mlm.mask_prob=0.2"`` -> ``("mlm", "mask_prob", 0.2)``; JSON values, else the plain string."""
    target, sep, raw = setting.partition("=")
    objective, dot, field = target.partition(".")
    if not sep or not dot or objective not in OBJECTIVE_CONFIGS:
        raise ConfigError(f"--set {setting!r}: expected OBJECTIVE.FIELD=VALUE with OBJECTIVE one of "
                          f"{','.join(OBJECTIVES)}, e.g. --set mlm.mask_prob=0.2.")
    fields = [f.name for f in dataclasses.fields(OBJECTIVE_CONFIGS[objective])]
    if field not in fields:
        raise ConfigError(f"--set {setting!r}: {objective} has no field {field!r}; choose from {', '.join(fields)}.")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return objective, field, value


def build_config(args: argparse.Namespace) -> BuildConfig:
    """The BuildConfig of ``lmpairs build`` arguments; unset flags keep the config's defaults."""
    names = ("inputs", "output", "tokenizer", "objectives", "seed", "validation_fraction", "num_shards",
             "shard_size_mb", "input_format", "text_field", "documents", "max_document_bytes", "pack_buckets",
             "row_group_mb")
    given = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    given["inputs"] = tuple(given["inputs"])
    config = BuildConfig(overwrite=args.overwrite, **given)
    if args.seq_len is not None:
        config = config.with_seq_len(args.seq_len)
    for setting in args.settings:
        objective, field, value = parse_setting(setting)
        sub = dataclasses.replace(config.objective_config(objective), **{field: value})
        config = dataclasses.replace(config, **{objective: sub})
    return config


def run_build_command(args: argparse.Namespace, beam_args: list[str]) -> int:
    from lmpairs.pipeline import run_build
    from lmpairs.pipeline.counters import summarize

    config = build_config(args)
    manifests = run_build(config, beam_args)
    if manifests:
        print(summarize(manifests))
        print(f"wrote {', '.join(f'{config.output}/{name}' for name in manifests)}")
    return 0


def add_train_tokenizer(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs train-tokenizer``: a SentencePiece model with pad, mask and sentinel pieces."""
    from lmpairs.tokenizer import MODEL_TYPES, train_tokenizer

    defaults = {k: v.default for k, v in inspect.signature(train_tokenizer).parameters.items()}
    p = subparsers.add_parser(
        "train-tokenizer", allow_abbrev=False, help="train a SentencePiece model for lmpairs",
        description="Train a SentencePiece model with pad 0, unk 1, bos 2, eos 3, <mask> and 100 "
        "<extra_id_N> sentinels, from text/JSONL files, directories or globs.")
    p.add_argument("--input", dest="inputs", nargs="+", action="extend", required=True, metavar="PATH",
                   help="training text: files, directories or globs (.jsonl gives --text-field)")
    p.add_argument("--output", required=True, metavar="MODEL", help="where to write the .model file")
    p.add_argument("--vocab-size", type=int, required=True, metavar="N", help="number of pieces, e.g. 8000")
    p.add_argument("--model-type", choices=MODEL_TYPES, default=defaults["model_type"],
                   help=f"SentencePiece algorithm (default: {defaults['model_type']})")
    p.add_argument("--character-coverage", type=float, default=defaults["character_coverage"], metavar="F",
                   help=f"share of characters covered; 0.9995 for English, 1.0 for CJK "
                   f"(default: {defaults['character_coverage']})")
    p.add_argument("--input-sentence-size", type=int, default=defaults["input_sentence_size"], metavar="N",
                   help=f"sentences sampled for training (default: {defaults['input_sentence_size']})")
    p.add_argument("--byte-fallback", action="store_true", help="encode unknown characters as bytes")
    p.add_argument("--text-field", default=defaults["text_field"],
                   help=f"JSONL field holding the text (default: {defaults['text_field']})")
    p.add_argument("--seed", type=int, default=defaults["seed"], help=f"sampling seed (default: {defaults['seed']})")
    p.add_argument("--num-threads", type=int, default=defaults["num_threads"], metavar="N",
                   help=f"training threads; fixed so the model bytes are reproducible (default: {defaults['num_threads']})")
    p.set_defaults(run=run_train_tokenizer_command)


def run_train_tokenizer_command(args: argparse.Namespace, extra: list[str]) -> int:
    from lmpairs.tokenizer import train_tokenizer

    options = {k: getattr(args, k) for k in ("model_type", "character_coverage", "input_sentence_size",
                                             "byte_fallback", "text_field", "seed", "num_threads")}
    tokenizer = train_tokenizer(args.inputs, args.output, args.vocab_size, **options)
    print(f"wrote {args.output}: {tokenizer!r}")
    return 0


def _delegate(subparsers: argparse._SubParsersAction, name: str, summary: str, description: str,
              add_arguments: Callable[[argparse.ArgumentParser], Any], run: Callable[[argparse.Namespace], int]) -> None:
    """Register a subcommand whose options and runner live in its own module (no Beam options)."""
    p = subparsers.add_parser(name, help=summary, description=description)
    add_arguments(p)
    p.set_defaults(run=lambda args, extra: run(args))


def add_inspect(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs inspect``: manifest summary and decoded examples, input and target side by side."""
    from lmpairs.inspection.cli import add_inspect_arguments, run_inspect

    _delegate(subparsers, "inspect", "summarize a build and show decoded examples side by side",
              "Show each objective's manifest summary (counts, rejections, applied rates, shards) and decoded "
              "examples with masks, sentinels and noise marked.", add_inspect_arguments, run_inspect)


def add_train(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs train``: the reference trainer on one objective's shards."""
    from lmpairs.trainer.cli import add_train_arguments, run_train

    _delegate(subparsers, "train", "train a small reference model on OUT/<objective>",
              "Stream OUT/<objective> through PairStream into a small torch.nn model and apply the objective's "
              "loss, normalized by the global number of target tokens.", add_train_arguments, run_train)


def add_demo(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs demo``: the whole job on the embedded corpus."""
    from lmpairs.demo import add_demo_arguments, run_demo

    _delegate(subparsers, "demo", "run everything on the embedded corpus (CPython's reference docs)",
              "Train a tokenizer on the embedded corpus, build all four objectives with Beam, show decoded "
              "examples and train each objective briefly.", add_demo_arguments, run_demo)


COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_build, add_train_tokenizer, add_inspect, add_train, add_demo)
"""Every subcommand's ``add_*`` function, in the order ``lmpairs --help`` lists them."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmpairs", allow_abbrev=False,
                                     description="Materialize CLM/MLM/T5/BART training pairs and stream them.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log Beam's own progress too")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def expected_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message already names the problem and the fix: no traceback for these."""
    from lmpairs.pipeline.errors import BuildError
    from lmpairs.schemas import ManifestError
    from lmpairs.text import CorpusError
    from lmpairs.tokenizer import TokenizerError

    return ConfigError, TokenizerError, CorpusError, BuildError, ManifestError


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "beam_args_allowed", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        return args.run(args, extra)
    except expected_errors() as err:
        print(f"lmpairs {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
