"""Pure, seeded, batched numpy transforms for every objective, found through ``lmpairs.objectives``.

Nothing here imports Beam, pyarrow or torch: the pipeline and the loader call the same code.
``make_objective(name, config, vocab)`` builds the :class:`Objective` its declaration names.
"""
from __future__ import annotations

import importlib

from lmpairs.objectives import ObjectiveSpec, get_spec
from lmpairs.transforms.batch import DocumentBatch, ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, Packer
from lmpairs.transforms.seeding import copy_key, copy_keys, stable_hash64, stream_keys
from lmpairs.vocab import Vocab


def objective_class(name: str) -> type[Objective]:
    """The :class:`Objective` subclass that objective ``name``'s declaration names."""
    transform = get_spec(name).transform
    if not isinstance(transform, str):
        return transform
    module_name, class_name = transform.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_objective(name: str, config, vocab: Vocab) -> Objective:
    """Instantiate objective ``name`` with its config and vocabulary."""
    return objective_class(name)(config, vocab)


__all__ = ["DocumentBatch", "ExampleBatch", "Objective", "ObjectiveSpec", "Packer", "Ragged", "RowBatch", "Vocab",
           "copy_key", "copy_keys", "make_objective", "objective_class", "stable_hash64", "stream_keys"]
