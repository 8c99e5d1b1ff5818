"""Beam pipeline options for ``lmpairs build``: pass-through flags with two local defaults.

- No ``--runner`` (or ``--runner=DirectRunner``): Beam's FnApiRunner, the engine the DirectRunner
  uses for batch jobs, named directly: Beam 2.77's DirectRunner first tries Prism, which downloads a
  binary where there is network (and fails over after a delay where there is none), so the local
  engine would depend on the machine. ``--direct_num_workers``/``--direct_running_mode`` apply.
- ``--runner=PortableRunner --job_endpoint=embed`` without ``--environment_type``: LOOPBACK, so
  the embedded job server runs the SDK workers in this process instead of Docker containers.
- ``--runner=DaskRunner`` is short for Beam's ``apache_beam.runners.dask.dask_runner.DaskRunner``
  (``pip install 'lmpairs[dask]'``); point it at a cluster with ``--dask_client_address=HOST:8786``
  (without it Dask starts a LocalCluster on this machine). Unless ``--dask_npartitions`` or
  ``--dask_partition_size`` is given, each input split is its own Dask partition, so the splits
  spread over the workers (Beam's default puts 128 splits in one partition, on one worker).
"""
from __future__ import annotations

import logging
import os

from apache_beam.options.pipeline_options import (
    PipelineOptions,
    PortableOptions,
    SetupOptions,
    StandardOptions,
    TestOptions,
)

from lmpairs.pipeline.errors import BuildError

logger = logging.getLogger(__name__)


LOCAL_RUNNER = "FnApiRunner"
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
DASK_NAMES = ("daskrunner", "dask", DASK_RUNNER.lower())


def is_dask(runner: object) -> bool:
    return isinstance(runner, str) and runner.lower() in DASK_NAMES


def pipeline_options(beam_args: list[str] | tuple[str, ...]) -> PipelineOptions:
    """Options from ``beam_args`` (unknown flags are Beam's to judge) with the defaults above."""
    args = list(beam_args)
    given = PipelineOptions(args)
    runner = given.view_as(StandardOptions).runner
    if runner is None or (isinstance(runner, str) and runner.lower() == "directrunner"):
        args.append(f"--runner={LOCAL_RUNNER}")
    elif is_dask(runner):
        args += dask_args(args)
    portable = given.view_as(PortableOptions)
    if portable.job_endpoint == "embed" and portable.environment_type is None:
        logger.info("embedded job server: running SDK workers in-process (--environment_type=LOOPBACK)")
        args.append("--environment_type=LOOPBACK")
    return PipelineOptions(args)


def dask_args(args: list[str]) -> list[str]:
    """The full DaskRunner name, and one Dask partition per split unless the user chose a partitioning."""
    try:
        import dask.distributed  # noqa: F401
        from apache_beam.runners.dask import dask_runner  # noqa: F401  (registers --dask_* options)
    except ImportError as err:
        raise BuildError(f"--runner=DaskRunner: Dask is not installed ({err}); pip install 'lmpairs[dask]'.") from err
    extra = [f"--runner={DASK_RUNNER}"]
    if not any(a.startswith(("--dask_npartitions", "--dask_partition_size")) for a in args):
        extra.append("--dask_partition_size=1")
    return extra


def is_dry_run(options: PipelineOptions) -> bool:
    """Beam's own reading of ``--dry_run``: any non-empty value builds the job without running it."""
    return bool(options.view_as(TestOptions).dry_run)


def runner_name(options: PipelineOptions) -> str:
    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) else type(runner).__name__
    name = name.rsplit(".", 1)[-1]
    return "DirectRunner (FnApiRunner)" if name == LOCAL_RUNNER else name


def check_staging_files(options: PipelineOptions) -> None:
    """Files Beam stages for remote workers (``--setup_file``, ``--requirements_file``) must exist here."""
    setup = options.view_as(SetupOptions)
    for flag, path in (("--setup_file", setup.setup_file), ("--requirements_file", setup.requirements_file)):
        if path and not os.path.isfile(path):
            raise BuildError(f"{flag} {path}: no such file (relative to {os.getcwd()}); run from the repository "
                             "root, where setup.py is, or pass an absolute path.")
