"""``lmpairs inspect OUT[/objective]``: arguments and entry point (wired into ``lmpairs.cli``)."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from lmpairs.deprecation import DeprecatedFlag
from lmpairs.errors import UserError
from lmpairs.inspection.report import InspectOptions, default_width, inspect_build

SIDES = ("train", "validation")


def add_side_argument(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    """``--side train|validation`` (``what`` it picks) and ``--split``, its hidden old name (one release:
    "split" now means an input byte range)."""
    parser.add_argument("--side", default=default, choices=SIDES,
                        help=f"train or validation: the side {what} (default: %(default)s)")
    parser.add_argument("--split", dest="side", choices=SIDES, action=DeprecatedFlag,
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_inspect_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``inspect``'s arguments to ``parser`` (a subcommand parser or a standalone one)."""
    defaults = InspectOptions()
    parser.add_argument("path", metavar="OUT[/OBJECTIVE]",
                        help="a build's --output directory (shows every objective found in it) or one "
                             "OUT/<objective> directory; local path or URL (gs://, s3://)")
    add_side_argument(parser, defaults.side, "the examples are drawn from")
    parser.add_argument("--num-examples", "-n", type=int, default=defaults.num_examples, metavar="N",
                        help="decoded examples to show per objective; 0 shows only the manifest summary "
                             "(default: %(default)s)")
    parser.add_argument("--tokenizer", metavar="MODEL", default=None,
                        help="tokenizer file to decode with (local path or URL); by default the manifest's "
                             "tokenizer file name is looked up next to OUT. Its sha256 must match the manifest.")
    parser.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                        help="option of the pyarrow filesystem for s3:// or gs:// URLs, repeatable; for an "
                             "S3-compatible server: endpoint_override=HOST:PORT scheme=http access_key=... "
                             "secret_key=... region=... (default: the AWS_*/GOOGLE_* environment)")
    parser.add_argument("--width", type=int, default=None, metavar="COLUMNS",
                        help="output width for the side-by-side columns (default: the terminal's, 60..160)")
    parser.add_argument("--max-tokens", type=int, default=defaults.max_tokens, metavar="N",
                        help="show at most N tokens of each input and target; 0 shows whole rows "
                             "(default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures of `lmpairs report` as JSON instead (counters, warnings, inputs per "
                             "file, applied rates with their recount from the shards, histograms)")
    parser.add_argument("--max-rows", type=int, default=20_000, metavar="N",
                        help="with --json: rows per side read back for the recount; 0 reads all "
                             "(default: %(default)s)")
    return parser


def parse_storage_options(pairs: list[str]) -> dict[str, Any] | None:
    """``["k=v", ...]`` as a dict: true/false become booleans, ``*timeout`` values seconds; rest strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--storage-option {pair!r}: expected KEY=VALUE, e.g. endpoint_override=127.0.0.1:9000.")
        if value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
        elif key.endswith("timeout"):
            try:
                out[key] = float(value)
            except ValueError:
                raise ValueError(f"--storage-option {pair!r}: {key} takes seconds, e.g. {key}=5.") from None
        else:
            out[key] = value
    return out or None


def run_inspect(args: argparse.Namespace) -> int:
    """Print the summary and examples; errors go to stderr as one line that names the fix (exit 2)."""
    try:
        text = inspect_text(args)
    except (UserError, FileNotFoundError) as err:
        print(f"lmpairs inspect: error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def inspect_text(args: argparse.Namespace) -> str:
    """What ``lmpairs inspect`` prints for parsed arguments (raises :class:`UserError` with the fix)."""
    if args.num_examples < 0 or args.max_tokens < 0:
        raise UserError("--num-examples and --max-tokens must be >= 0.")
    try:
        storage = parse_storage_options(args.storage_option)
    except ValueError as err:
        raise UserError(str(err)) from None
    if args.json:
        return figures_json(args, storage)
    options = InspectOptions(side=args.side, num_examples=args.num_examples, tokenizer=args.tokenizer,
                             width=args.width or default_width(), max_tokens=args.max_tokens,
                             storage_options=storage)
    return inspect_build(args.path, options)


def figures_json(args: argparse.Namespace, storage: dict[str, Any] | None) -> str:
    """``inspect --json``: the report's figures (:func:`lmpairs.report.figures.build_figures`) as JSON."""
    from lmpairs.report.figures import FigureOptions, build_figures

    if args.max_rows < 0:
        raise UserError("--max-rows must be >= 0.")
    options = FigureOptions(tokenizer=args.tokenizer, max_rows=args.max_rows, num_examples=0, side=args.side,
                            storage_options=storage)
    return json.dumps(build_figures(args.path, options), indent=1, sort_keys=True) + "\n"


def standalone(add_arguments: Callable[[argparse.ArgumentParser], Any], run: Callable[[argparse.Namespace], int],
               prog: str, description: str, argv: list[str] | None) -> int:
    """Parse ``argv`` with a parser of its own (``python -m …``, tests) and run the command."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    return standalone(add_inspect_arguments, run_inspect, "lmpairs inspect", "Summarize a build's manifests and "
                      "show decoded examples: input beside target, masks, sentinels, noise and document boundaries "
                      "visible.", argv)


if __name__ == "__main__":
    sys.exit(main())
