"""The ``lmpairs`` command: one small ``add_<command>`` function per subcommand, and the one :func:`main`.

Each ``add_*`` function registers its argparse subparser and the function that runs it; adding a
subcommand is one more such function listed in :data:`COMMANDS`. ``build`` has one flag per
:class:`~lmpairs.config.BuildConfig` field, generated from the field's declaration (help, limits,
default), so a field added there is a flag here with no other line. Arguments ``build`` does not
know go to Beam, after two checks: one that looks like an lmpairs flag (``--seq_len``, ``--num-shard``)
is refused with "did you mean", and the rest must be options Beam's own parser accepts. Every
:class:`~lmpairs.errors.UserError` (bad config, tokenizer, input, output, command line) prints one
line, ``lmpairs <command>: error: <message>``, and exits with status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import inspect
import json
import logging
import sys
import textwrap
import typing
from collections.abc import Callable
from typing import Any, NoReturn

from lmpairs.config import BuildConfig, ConfigError
from lmpairs.errors import UsageError, UserError, one_line
from lmpairs.fields import describe_field, field_type
from lmpairs.objectives import OBJECTIVE_CONFIGS, objective_names

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT, what shells report for a command stopped by Ctrl-C."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are :class:`UsageError` (one line from :func:`main`), not an exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, prog=self.prog)


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--kebab-case`` flag per field of the config dataclass ``cls`` (nested configs excepted).

    Flags default to "not given" so the dataclass's own default applies; the help text, limits and
    default come from the field (:func:`lmpairs.fields.describe_field`). A field's metadata may set
    ``flag``, ``metavar``, ``nargs`` and ``group`` (flags of one group exclude each other).
    """
    groups: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        base, _ = field_type(cls, f.name)
        if dataclasses.is_dataclass(base):
            continue  # objective configs: --seq-len and --set
        meta = f.metadata
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": describe_field(cls, f)}
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kwargs["required"] = True
        metavar = meta.get("metavar") or {int: "N", float: "X"}.get(base, "VALUE")
        if base is bool:
            kwargs["action"] = "store_true" if f.default is False else argparse.BooleanOptionalAction
        elif typing.get_origin(base) is typing.Literal:
            kwargs["choices"] = typing.get_args(base)
        elif meta.get("names"):
            kwargs.update(type=_comma_list, metavar=metavar)
        elif typing.get_origin(base) is tuple and "nargs" in meta:
            kwargs.update(nargs=meta["nargs"], action="extend", metavar=metavar)
        else:
            kwargs.update(type=_comma_list if typing.get_origin(base) is tuple else base, metavar=metavar)
        target = parser
        if "group" in meta:
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        target.add_argument(meta.get("flag", "--" + f.name.replace("_", "-")), **kwargs)


def objective_settings_help(width: int = 100) -> str:
    """The ``--set`` fields of every objective, with their help, limits and defaults (``build --help``)."""
    lines = ["objective settings (--set OBJECTIVE.FIELD=VALUE; --seq-len sets every seq_len):"]
    for name in objective_names():
        cls = OBJECTIVE_CONFIGS[name]
        for f in dataclasses.fields(cls):
            lines += textwrap.wrap(describe_field(cls, f), width, initial_indent=f"  {name}.{f.name}: ",
                                   subsequent_indent="      ")
    return "\n".join(lines)


def add_build(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs build``: corpora in, sharded Parquet per objective out (Beam options pass through)."""
    description = textwrap.fill(
        "Build training examples with Apache Beam. Arguments this command does not know are Beam pipeline "
        "options, checked by Beam's parser before the job starts, e.g. --runner=DataflowRunner --project=... "
        "--temp_location=gs://... --setup_file ./setup.py, or --direct_num_workers=2 "
        "--direct_running_mode=multi_processing, or --runner=DaskRunner --dask_client_address=HOST:8786 (a Dask "
        "cluster's scheduler; pip install 'lmpairs[dask]'; without the address Dask starts a local cluster). "
        "Without --runner the job runs in this process (DirectRunner).",
        100)
    p = subparsers.add_parser("build", allow_abbrev=False, help="tokenize corpora and write training examples as "
                              "sharded Parquet", description=description, epilog=objective_settings_help(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p, BuildConfig)
    p.add_argument("--seq-len", type=int, metavar="N",
                   help="sequence length of every chosen objective (T5: encoder input length); default per "
                   "objective, at most 1,048,576")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="OBJECTIVE.FIELD=VALUE",
                   help="set any objective config field, e.g. --set mlm.whole_word=true --set clm.final_row=drop "
                   "(repeatable; values are JSON or plain strings; the fields are listed below)")
    p.set_defaults(run=run_build_command, beam_args_allowed=True,
                   own_flags=tuple(o for a in p._actions for o in a.option_strings if o.startswith("--")))


def parse_setting(setting: str) -> tuple[str, str, Any]:
    """``"mlm.mask_prob=0.2"`` -> ``("mlm", "mask_prob", 0.2)``; JSON values, else the plain string."""
    target, sep, raw = setting.partition("=")
    objective, dot, field = target.partition(".")
    if not sep or not dot or objective not in OBJECTIVE_CONFIGS:
        raise ConfigError(f"--set {setting!r}: expected OBJECTIVE.FIELD=VALUE with OBJECTIVE one of "
                          f"{','.join(objective_names())}, e.g. --set mlm.mask_prob=0.2.")
    fields = [f.name for f in dataclasses.fields(OBJECTIVE_CONFIGS[objective])]
    if field not in fields:
        raise ConfigError(f"--set {setting!r}: {objective} has no field {field!r}; choose from {', '.join(fields)}.")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return objective, field, value


def build_config(args: argparse.Namespace) -> BuildConfig:
    """The BuildConfig of ``lmpairs build`` arguments; flags not given keep the config's defaults."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(BuildConfig) if hasattr(args, f.name)}
    config = BuildConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})
    if args.seq_len is not None:
        config = config.with_seq_len(args.seq_len)
    for setting in args.settings:
        objective, field, value = parse_setting(setting)
        try:
            config = config.with_objective(objective, **{field: value})
        except ConfigError as err:
            raise ConfigError(f"--set {setting!r}: {err}") from None
    return config


def lmpairs_flag_like(option: str, own_flags: typing.Sequence[str]) -> str | None:
    """The lmpairs flag ``option`` misspells (``--seq_len``, ``--num-shard``, ``--Seq-Len``), or None."""
    spelled = "--" + option.lstrip("-").replace("_", "-").lower()
    if spelled in own_flags:
        return spelled
    close = difflib.get_close_matches(spelled, own_flags, n=1, cutoff=0.8)
    return close[0] if close else None


def check_extra_arguments(args: argparse.Namespace, extra: list[str]) -> None:
    """Refuse what ``build`` would hand Beam but is a misspelled lmpairs flag or not a Beam option."""
    from lmpairs.pipeline.beam_args import beam_flags, beam_parser, check_beam_args

    beam_known = beam_flags(beam_parser(extra))
    misspelled = {option: lmpairs_flag_like(option, args.own_flags)
                  for option in (e.split("=", 1)[0] for e in extra if e.startswith("-")) if option not in beam_known}
    guesses = [f"{option} (did you mean {flag}?)" for option, flag in misspelled.items() if flag is not None]
    if guesses:
        raise UsageError(f"unrecognized argument{'s' if len(guesses) > 1 else ''} {', '.join(guesses)}; lmpairs "
                         "flags are spelled with dashes, Beam's options (which get the arguments build does not "
                         "know) with underscores", prog="lmpairs build")
    check_beam_args(extra)


def run_build_command(args: argparse.Namespace, beam_args: list[str]) -> int:
    if beam_args:
        check_extra_arguments(args, beam_args)
    config = build_config(args)
    from lmpairs.pipeline import run_build
    from lmpairs.pipeline.counters import build_summary

    manifests = run_build(config, beam_args)
    if manifests:
        print(build_summary(manifests))
        print(f"wrote {', '.join(f'{config.output}/{name}' for name in manifests)}")
    return 0


def add_train_tokenizer(subparsers: argparse._SubParsersAction) -> None:
    """``lmpairs train-tokenizer``: a SentencePiece model (or a byte-level BPE tokenizer.json) with lmpairs'
    specials."""
    from lmpairs.tokenizers import MODEL_TYPES, train_tokenizer

    defaults = {k: v.default for k, v in inspect.signature(train_tokenizer).parameters.items()}
    p = subparsers.add_parser(
        "train-tokenizer", allow_abbrev=False,
        help="train a SentencePiece model (or a byte-level BPE tokenizer.json) for lmpairs",
        description="Train a SentencePiece model with pad 0, unk 1, bos 2, eos 3, <mask> and 100 "
        "<extra_id_N> sentinels, from text/JSONL files, directories or globs. --model-type bpe-bytelevel writes a "
        "GPT-2-style byte-level BPE tokenizer.json instead (needs the hf extra).")
    p.add_argument("--input", dest="inputs", nargs="+", action="extend", required=True, metavar="PATH",
                   help="training text: files, directories or globs (.jsonl gives --text-field)")
    p.add_argument("--output", required=True, metavar="MODEL",
                   help="where to write the .model file (tokenizer.json for bpe-bytelevel)")
    p.add_argument("--vocab-size", type=int, required=True, metavar="N", help="number of pieces, e.g. 8000")
    p.add_argument("--model-type", choices=MODEL_TYPES, default=defaults["model_type"],
                   help=f"tokenizer algorithm (default: {defaults['model_type']})")
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
                   help="training threads; fixed so the model bytes are reproducible "
                   f"(default: {defaults['num_threads']})")
    p.set_defaults(run=run_train_tokenizer_command)


def run_train_tokenizer_command(args: argparse.Namespace, extra: list[str]) -> int:
    from lmpairs.tokenizers import train_tokenizer

    options = {k: getattr(args, k) for k in ("model_type", "character_coverage", "input_sentence_size",
                                             "byte_fallback", "text_field", "seed", "num_threads")}
    tokenizer = train_tokenizer(args.inputs, args.output, args.vocab_size, **options)
    print(f"wrote {args.output}: {tokenizer!r}")
    return 0


def delegated(name: str, module: str, summary: str, description: str) -> Callable[[argparse._SubParsersAction], None]:
    """The ``add_<name>`` function of a subcommand whose options and runner live in ``module`` as
    ``add_<name>_arguments(parser)`` and ``run_<name>(args)`` (no Beam options). The module is
    imported when the parser is built, so ``lmpairs build`` never loads torch or the report."""

    def add(subparsers: argparse._SubParsersAction) -> None:
        parts = importlib.import_module(module)
        p = subparsers.add_parser(name, allow_abbrev=False, help=summary, description=description)
        getattr(parts, f"add_{name}_arguments")(p)
        run = getattr(parts, f"run_{name}")
        p.set_defaults(run=lambda args, extra: run(args))

    add.__name__ = add.__qualname__ = f"add_{name}"
    add.__doc__ = f"``lmpairs {name}``: {summary}."
    return add


add_inspect = delegated(
    "inspect", "lmpairs.inspection.cli", "summarize a build and show decoded examples side by side",
    "Show each objective's manifest summary (counts, rejections, applied rates, shards) and decoded examples with "
    "masks, sentinels and noise marked.")
add_report = delegated(
    "report", "lmpairs.report.cli", "write a self-contained HTML page of a build's plots and coloured examples",
    "Write one HTML file (inline SVG plots, no network) with each objective's rows, tokens, padding, length and fill "
    "histograms, applied corruption against the config, inputs per file, warnings and coloured decoded examples; "
    "--data PATH:WEIGHT adds a PairMixture's planned and realised shares.")
add_train = delegated(
    "train", "lmpairs.trainer.cli", "train a small reference model on OUT/<objective>",
    "Stream OUT/<objective> through PairStream into a small torch.nn model and apply the objective's loss, "
    "normalized by the global number of target tokens.")
add_demo = delegated(
    "demo", "lmpairs.demo", "run everything on the embedded corpus (CPython's reference docs)",
    "Train a tokenizer on the embedded corpus, build all four objectives with Beam, show decoded examples and "
    "train each objective briefly.")


COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_build, add_train_tokenizer, add_inspect, add_report, add_train, add_demo)
"""Every subcommand's ``add_*`` function, in the order ``lmpairs --help`` lists them."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
"""The levels ``--log-level`` takes (lmpairs' own loggers; other libraries stay at WARNING)."""

VERBOSE_HELP = {
    "build": "log more: lmpairs' debug lines and Beam's own progress (Beam stays at WARNING otherwise)",
}
"""``-v`` help per command where it means more than lmpairs' debug lines."""


def add_logging_flags(parser: argparse.ArgumentParser, command: str | None) -> None:
    """``-q``/``-v``/``--log-level`` on ``parser``; after the command they default to "not given"."""
    default = {} if command is None else {"default": argparse.SUPPRESS}
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", **default,
                       help="log warnings and errors only")
    group.add_argument("-v", "--verbose", action="store_true", **default,
                       help=VERBOSE_HELP.get(command or "", "log lmpairs' debug lines too"))
    group.add_argument("--log-level", choices=LOG_LEVELS, type=str.upper, **default,
                       help="level of lmpairs' own log lines (default: INFO)")


def configure_logging(args: argparse.Namespace) -> None:
    """lmpairs' loggers at the chosen level; the root logger (where Beam's ``Finished listing …``
    lines go) and every other library at WARNING unless ``-v`` asks for a build's Beam progress."""
    level = args.log_level or ("WARNING" if args.quiet else "DEBUG" if args.verbose else "INFO")
    chatty = args.verbose and getattr(args, "beam_args_allowed", False)
    logging.basicConfig(level=logging.INFO if chatty else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if chatty else logging.WARNING)
    logging.getLogger("lmpairs").setLevel(level)
    logging.getLogger("apache_beam").setLevel(logging.INFO if chatty else logging.WARNING)
    relay = logging.getLogger(BEAM_WORKER_RELAY)
    relay.removeFilter(drop_worker_noise)
    if not chatty:
        relay.addFilter(drop_worker_noise)


BEAM_WORKER_RELAY = "apache_beam.runners.portability.local_job_service"
"""The logger through which the multi-process DirectRunner relays its SDK workers' log records."""
_WORKER_NOISE = ("No semi_persistent_directory found",)


def drop_worker_noise(record: logging.LogRecord) -> bool:
    """Whether to keep a relayed worker record: not the warning every local SDK worker process prints at
    start (it has no staging directory to read, and nothing is wrong), twice per build on 2 workers."""
    return not any(noise in record.getMessage() for noise in _WORKER_NOISE)


def make_parser() -> Parser:
    from lmpairs.version import __version__

    parser = Parser(prog="lmpairs", allow_abbrev=False,
                    description="Materialize CLM/MLM/T5/BART training pairs and stream them.")
    parser.add_argument("--version", action="version", version=f"lmpairs {__version__}",
                        help="print the version and exit")
    add_logging_flags(parser, None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    for name, sub in subparsers.choices.items():  # after the command too: `lmpairs build ... -v`
        add_logging_flags(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command; a :class:`UserError` is one line on stderr and exit status 2."""
    command = "lmpairs"
    try:
        args, extra = make_parser().parse_known_args(argv)
        command = f"lmpairs {args.command}"
        if extra and not getattr(args, "beam_args_allowed", False):
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}", prog=command)
        configure_logging(args)
        # A DoFn's failure is logged there with its traceback and then re-raised to the driver, which reports
        # it (a full disk, Ctrl-C: one line); -v shows the traceback.
        logging.getLogger("apache_beam.runners.common").setLevel(logging.INFO if args.verbose else logging.CRITICAL)
        return args.run(args, extra)
    except UsageError as err:
        see = "" if "--help" in str(err) else f" (see {err.prog} --help)"
        print(f"{err.prog}: error: {one_line(str(err))}{see}", file=sys.stderr)
    except UserError as err:
        print(f"{command}: error: {one_line(str(err))}", file=sys.stderr)
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # Beam's threads log their own interruption on the way down
        print(f"{command}: interrupted; nothing half-written is visible (a build's temporary files were removed, "
              "its previous output is unchanged)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
