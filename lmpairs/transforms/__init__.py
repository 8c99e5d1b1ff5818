"""Pure, seeded numpy transforms for every objective, found by name through ``OBJECTIVE_TABLE``.

Nothing here imports Beam, pyarrow or torch: the pipeline and the loader call the same code.
"""
from __future__ import annotations

import importlib

from lmpairs.transforms.objective import Columns, Objective, Row
from lmpairs.transforms.seeding import OBJECTIVE_IDS, copy_key, example_rng, stable_hash64
from lmpairs.vocab import Vocab

OBJECTIVE_TABLE: dict[str, str] = {
    "clm": "lmpairs.transforms.clm:ClmObjective",
    "mlm": "lmpairs.transforms.mlm:MlmObjective",
    "t5": "lmpairs.transforms.t5:T5Objective",
    "bart": "lmpairs.transforms.bart:BartObjective",
}
"""Objective name -> implementing class; a new objective is one module and one line here."""


def objective_class(name: str) -> type[Objective]:
    """The :class:`Objective` subclass registered under ``name``."""
    try:
        module_name, class_name = OBJECTIVE_TABLE[name].split(":")
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVE_TABLE)}.") from None
    return getattr(importlib.import_module(module_name), class_name)


def make_objective(name: str, config, vocab: Vocab) -> Objective:
    """Instantiate objective ``name`` with its config and vocabulary."""
    return objective_class(name)(config, vocab)


__all__ = ["OBJECTIVE_TABLE", "OBJECTIVE_IDS", "Columns", "Objective", "Row", "Vocab", "copy_key",
           "example_rng", "make_objective", "objective_class", "stable_hash64"]
