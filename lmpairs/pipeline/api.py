"""The reading and objective APIs the build job calls, imported in one place (see TEAM.md "Interfaces")."""
from __future__ import annotations

from typing import Any

from lmpairs.transforms import make_objective
from lmpairs.vocab import Vocab

try:
    from lmpairs.reading import InputSplit, UnreadableInput, plan_splits, read_split
except ImportError:  # TEMPORARY: until lmpairs.reading lands
    from lmpairs.pipeline._v1_shim import InputSplit, UnreadableInput, plan_splits, read_split  # noqa: F401

try:
    from lmpairs.pipeline.filesystems import BeamFiles
except ImportError:  # TEMPORARY: until pipeline/filesystems.py lands
    BeamFiles = None  # type: ignore[assignment,misc]


def files_access():
    """The FileAccess the job reads inputs through (Beam's FileSystems: local paths and URLs)."""
    return BeamFiles() if BeamFiles is not None else None


def build_objective(name: str, config: Any, vocab: Vocab):
    """The v2 objective (``packer()``, ``corrupt(rows, seed=, copy=)``, ``measure``, ``full_row_length``)."""
    return make_objective(name, config, vocab)
