"""The Beam side of lmpairs: read corpora, tokenize once, build every objective, write and commit shards.

Beam is imported only under this package. ``run_build`` is the whole job as a function;
``BuildObjectives`` is the same job as one composite PTransform for larger pipelines.
"""
from lmpairs.pipeline.build import BuildObjectives, run_build
from lmpairs.pipeline.errors import BuildError

__all__ = ["BuildError", "BuildObjectives", "run_build"]
