"""Pure, seeded, batched numpy transforms for every objective; the registry is :mod:`lmpairs.objectives`.

Nothing here imports Beam, pyarrow or torch: the pipeline and the loader call the same code.
``lmpairs.objectives.make_objective(name, config, vocab)`` builds the :class:`Objective` its
declaration names.
"""
from __future__ import annotations

from lmpairs.transforms.batch import DocumentBatch, ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, Packer
from lmpairs.transforms.seeding import copy_key, copy_keys, stable_hash64, stream_keys
from lmpairs.transforms.spec import ObjectiveSpec
from lmpairs.vocab import Vocab

__all__ = ["DocumentBatch", "ExampleBatch", "Objective", "ObjectiveSpec", "Packer", "Ragged", "RowBatch", "Vocab",
           "copy_key", "copy_keys", "stable_hash64", "stream_keys"]
