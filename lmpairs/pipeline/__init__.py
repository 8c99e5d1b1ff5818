"""The Beam side of lmpairs: plan input splits, build each one on a worker, commit every objective.

Beam is imported only under this package. ``run_build`` is the whole job as a function;
``BuildObjectives`` is the same job as one composite PTransform for larger pipelines. Both are
imported lazily, so ``lmpairs.pipeline.errors`` and friends load without the whole job.
"""
from __future__ import annotations

from lmpairs.pipeline.errors import BuildError

__all__ = ["BuildError", "BuildObjectives", "run_build"]


def __getattr__(name: str):
    if name in ("BuildObjectives", "run_build"):
        from lmpairs.pipeline import build

        return getattr(build, name)
    raise AttributeError(f"module 'lmpairs.pipeline' has no attribute {name!r}")
