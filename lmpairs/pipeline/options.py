"""Beam pipeline options for ``lmpairs build``: pass-through flags with two local defaults.

- No ``--runner``: the DirectRunner (Beam's own default may pick Prism, which downloads a binary).
- ``--runner=PortableRunner --job_endpoint=embed`` without ``--environment_type``: LOOPBACK, so
  the embedded job server runs the SDK workers in this process instead of Docker containers.
"""
from __future__ import annotations

import logging

import os

from apache_beam.options.pipeline_options import (PipelineOptions, PortableOptions, SetupOptions, StandardOptions,
                                                  TestOptions)

from lmpairs.pipeline.errors import BuildError

logger = logging.getLogger(__name__)


def pipeline_options(beam_args: list[str] | tuple[str, ...]) -> PipelineOptions:
    """Options from ``beam_args`` (unknown flags are Beam's to judge) with the defaults above."""
    args = list(beam_args)
    given = PipelineOptions(args)
    if given.view_as(StandardOptions).runner is None:
        args.append("--runner=DirectRunner")
    portable = given.view_as(PortableOptions)
    if portable.job_endpoint == "embed" and portable.environment_type is None:
        logger.info("embedded job server: running SDK workers in-process (--environment_type=LOOPBACK)")
        args.append("--environment_type=LOOPBACK")
    return PipelineOptions(args)


def is_dry_run(options: PipelineOptions) -> bool:
    """Beam's own reading of ``--dry_run``: any non-empty value builds the job without running it."""
    return bool(options.view_as(TestOptions).dry_run)


def runner_name(options: PipelineOptions) -> str:
    runner = options.view_as(StandardOptions).runner
    return runner if isinstance(runner, str) else type(runner).__name__


def check_staging_files(options: PipelineOptions) -> None:
    """Files Beam stages for remote workers (``--setup_file``, ``--requirements_file``) must exist here."""
    setup = options.view_as(SetupOptions)
    for flag, path in (("--setup_file", setup.setup_file), ("--requirements_file", setup.requirements_file)):
        if path and not os.path.isfile(path):
            raise BuildError(f"{flag} {path}: no such file (relative to {os.getcwd()}); run from the repository "
                             "root, where setup.py is, or pass an absolute path.")
