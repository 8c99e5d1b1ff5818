"""Beam pipeline options checked by Beam's own parser before a build starts.

``PipelineOptions`` only logs a warning for an option it does not know and then runs with its
defaults, so a misspelled ``--direct_num_workers`` silently builds with one worker. Here the same
parser Beam uses (every ``PipelineOptions`` subclass, the chosen runner's module imported first so
its own options count) parses the arguments: bad values and unknown options are errors that name
close matches. Portable runners (Flink, Spark, Prism…) also take options their job server defines,
which only it can check; for them unknown options pass with a warning.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import logging
from collections.abc import Sequence
from typing import NoReturn

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, _BeamArgumentParser

from lmpairs.errors import UsageError

logger = logging.getLogger(__name__)

COMMON_OPTIONS = ("--runner", "--direct_num_workers", "--direct_running_mode", "--setup_file",
                  "--requirements_file", "--project", "--region", "--temp_location", "--job_endpoint",
                  "--environment_type")
"""Shown when an unknown option resembles none of Beam's."""

DOCS = "https://beam.apache.org/releases/pydoc/current/apache_beam.options.pipeline_options.html"


def runner_class(beam_args: Sequence[str]) -> type | None:
    """The class ``--runner`` names (importing its module registers its options), or None."""
    from apache_beam.runners.runner import _RUNNER_MAP

    from lmpairs.pipeline.options import DASK_RUNNER, is_dask

    name = PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
    if not isinstance(name, str):
        return None
    if is_dask(name):  # --runner=DaskRunner: Beam's runner map has no short name for it
        name = DASK_RUNNER
    path = _RUNNER_MAP.get(name.lower(), _RUNNER_MAP.get(name.lower() + "runner", name))
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr) if module else None
    except (ImportError, AttributeError):
        return None  # Beam itself reports an unknown runner when the job is built


class _RaisingParser(_BeamArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"Beam option: {message}", prog="lmpairs build")


def beam_parser(beam_args: Sequence[str]) -> argparse.ArgumentParser:
    """Beam's option parser as ``PipelineOptions.get_all_options`` builds it, raising instead of exiting."""
    runner_class(beam_args)
    parser = _RaisingParser(allow_abbrev=False, add_help=False)
    classes: dict[str, type] = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    return parser


def beam_flags(parser: argparse.ArgumentParser) -> frozenset[str]:
    return frozenset(option for action in parser._actions for option in action.option_strings)


def check_runner(beam_args: Sequence[str]) -> None:
    """Refuse a ``--runner`` short name Beam does not know (``DirectRuner``), suggesting the closest one."""
    from apache_beam.runners.runner import _RUNNER_MAP

    from lmpairs.pipeline.options import is_dask

    name = PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
    if not isinstance(name, str) or "." in name or is_dask(name):
        return
    if name.lower() in _RUNNER_MAP or name.lower() + "runner" in _RUNNER_MAP:
        return
    known = sorted({path.rsplit(".", 1)[-1] for path in _RUNNER_MAP.values()} | {"DaskRunner"})
    close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1, cutoff=0.6)
    guess = next((k for k in known if close and k.lower() == close[0]), None)
    raise UsageError(f"--runner={name}: no such Beam runner{f' (did you mean --runner={guess}?)' if guess else ''}; "
                     f"Beam's runners: {', '.join(known)}.", prog="lmpairs build")


def check_beam_args(beam_args: Sequence[str]) -> None:
    """Raise :class:`UsageError` for an unknown runner, a value Beam's parser refuses or an option no Beam
    class defines."""
    check_runner(beam_args)
    parser = beam_parser(beam_args)
    _, unknown = parser.parse_known_args(list(beam_args))
    options = [u.split("=", 1)[0] for u in unknown if u.startswith("-")]
    if not unknown:
        return
    if not options:
        raise UsageError(f"unexpected argument{'s' if len(unknown) > 1 else ''} {' '.join(unknown)}: lmpairs "
                         "build takes no positional arguments (inputs go after --input).", prog="lmpairs build")
    from apache_beam.runners.portability.portable_runner import PortableRunner

    cls = runner_class(beam_args)
    if isinstance(cls, type) and issubclass(cls, PortableRunner):
        logger.warning("options %s are unknown to Beam's SDK; passing them to the %s job server, which "
                       "checks its own options", " ".join(options), cls.__name__)
        return
    known = sorted(beam_flags(parser))
    hints = []
    for option in options:
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.7)
        hints.append(f"{option} (did you mean {close[0]}?)" if close else option)
    raise UsageError(f"unknown option{'s' if len(options) > 1 else ''} {', '.join(hints)}: neither lmpairs build "
                     f"nor Beam defines {'them' if len(options) > 1 else 'it'}. lmpairs build's own flags are in "
                     f"--help; Beam's include {', '.join(COMMON_OPTIONS)} (all: {DOCS}).", prog="lmpairs build")
