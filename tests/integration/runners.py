"""Beam arguments for a test's runner; for Beam's DaskRunner, a two-process ``LocalCluster`` to run on."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def runner_args(runner: str, args: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """``args`` as given; for ``"dask"`` plus ``--dask_client_address`` of a cluster of two worker
    processes on 127.0.0.1 that lives as long as the ``with`` block (skipped without dask.distributed)."""
    if runner != "dask":
        yield args
        return
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                       dashboard_address=None)
    try:
        yield (*args, f"--dask_client_address={cluster.scheduler_address}")
    finally:
        cluster.close()
