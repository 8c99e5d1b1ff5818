"""``lmpairs report OUT[/OBJECTIVE] [--output report.html]``: arguments and entry point (wired into ``lmpairs.cli``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmpairs.errors import UserError
from lmpairs.inspection.cli import add_side_argument, parse_storage_options, standalone
from lmpairs.report.figures import MAX_ROWS, FigureOptions, build_figures
from lmpairs.report.html import render_page


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``report``'s arguments to ``parser``."""
    parser.add_argument("path", metavar="OUT[/OBJECTIVE]", nargs="?", default=None,
                        help="a build's --output directory (every objective in it) or one OUT/<objective>; local "
                             "path or URL (gs://, s3://); may be left out when --data names the sources")
    parser.add_argument("--output", "-o", default="report.html", metavar="FILE",
                        help="the HTML file to write (default: %(default)s); open it in any browser, it needs "
                             "no network")
    parser.add_argument("--data", action="append", default=[], metavar="PATH:WEIGHT",
                        help="a PairMixture source (OUT/<objective>:weight), repeatable: adds each source's "
                             "planned and realised share, and reports the sources too")
    parser.add_argument("--mix-mode", choices=("proportion", "count"), default="proportion",
                        help="PairMixture mode of the --data weights (default: %(default)s)")
    parser.add_argument("--mix-num-examples", type=int, default=None, metavar="N",
                        help="PairMixture num_examples (examples per epoch; default: the sources' rows together)")
    add_side_argument(parser, "train", "the examples (and --data's mixture) are drawn from")
    parser.add_argument("--num-examples", "-n", type=int, default=3, metavar="N",
                        help="coloured examples per objective (default: %(default)s)")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS, metavar="N",
                        help="rows per side read back for the recount and the histograms; 0 reads all "
                             "(default: %(default)s)")
    parser.add_argument("--tokenizer", metavar="MODEL", default=None,
                        help="tokenizer file the build used (default: the manifest's file name, looked up next to OUT)")
    parser.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                        help="option of the pyarrow filesystem for s3:// or gs:// URLs, repeatable (as for inspect)")
    return parser


def make_report(args: argparse.Namespace) -> str:
    """The page's HTML for parsed arguments (raises :class:`UserError` with the fix)."""
    if args.num_examples < 0 or args.max_rows < 0:
        raise UserError("--num-examples and --max-rows must be >= 0.")
    if args.path is None and not args.data:
        raise UserError("nothing to report: pass OUT (a build's --output) or --data PATH:WEIGHT sources.")
    storage = parse_storage_options(args.storage_option)
    options = FigureOptions(tokenizer=args.tokenizer, max_rows=args.max_rows, num_examples=args.num_examples,
                            side=args.side, storage_options=storage)
    paths = [args.path] if args.path is not None else []
    if args.data:
        from lmpairs.loader.mixture import parse_source

        paths += [p for p, _ in map(parse_source, args.data) if p != args.path]
    figures = {"path": " + ".join(paths), "objectives": []}
    for path in paths:
        figures["objectives"] += build_figures(path, options, with_rows=True)["objectives"]
    mixture = None
    if args.data:
        from lmpairs.report.mixture import mixture_figures

        mixture = mixture_figures(args.data, mode=args.mix_mode, num_examples=args.mix_num_examples, side=args.side,
                                  storage_options=storage)
    return render_page(figures, mixture=mixture)


def run_report(args: argparse.Namespace) -> int:
    """Write the page; errors go to stderr as one line that names the fix (exit 2)."""
    try:
        page = make_report(args)
        target = Path(args.output)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except (UserError, ValueError, FileNotFoundError) as err:
        print(f"lmpairs report: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"lmpairs report: error: {args.output}: cannot write ({err.strerror or err}); pass --output with a "
              "writable path.", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({len(page) / 1024:.0f} KB); open it in a browser: file://{Path(args.output).resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return standalone(add_report_arguments, run_report, "lmpairs report", "Write one self-contained HTML page of a "
                      "build: plots and coloured examples.", argv)


if __name__ == "__main__":
    sys.exit(main())
