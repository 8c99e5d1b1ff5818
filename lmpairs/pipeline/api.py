"""The reading and objective functions the build job calls, imported in one place so the job's modules
share one seam to them (internal: the public build API is :func:`lmpairs.build`)."""
from __future__ import annotations

from typing import Any

from lmpairs.objectives import make_objective
from lmpairs.pipeline.filesystems import BeamFiles
from lmpairs.reading import (
    READ_REJECTION_REASONS,
    UNREADABLE_FILE,
    InputSplit,
    UnreadableInput,
    plan_splits,
    read_split,
    read_split_columns,
)
from lmpairs.vocab import Vocab

__all__ = ["READ_REJECTION_REASONS", "UNREADABLE_FILE", "InputSplit", "UnreadableInput", "build_objective",
           "files_access", "plan_splits", "read_split", "read_split_columns"]


def files_access() -> BeamFiles:
    """The FileAccess the job reads inputs through (Beam's FileSystems: local paths and URLs)."""
    return BeamFiles()


def build_objective(name: Any, config: Any, vocab: Vocab):
    """The v2 objective (``packer()``, ``corrupt(rows, seed=, copy=)``, ``measure``, ``full_row_length``) of a
    name or of the ``ObjectiveSpec`` carried in the job."""
    return make_objective(name, config, vocab)
