"""The declaration of an objective (:class:`ObjectiveSpec`): plain data every part of lmpairs keys on.

An objective module declares its spec once with :func:`lmpairs.transforms.objective.declare`;
the registry (:mod:`lmpairs.objectives`) collects the built-in modules and the entry-point group
``lmpairs.objectives``. This module imports nothing, so the spec's users (schemas, loader,
inspection) and the objective modules never import each other through it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["decoder", "encoder", "encoder-decoder", "prefix-decoder"]
FAMILIES: tuple[str, ...] = ("decoder", "encoder", "encoder-decoder", "prefix-decoder")
"""The batch layouts (``lmpairs.loader.formats.BatchFormat``): a decoder-only row with pre-shifted
targets, an encoder with labels, an encoder-decoder pair, and a decoder-only row whose prefix
attends bidirectionally and carries no loss (T5's / UL2's prefix-LM on one stack)."""

IGNORE_INDEX = -100
"""Label of positions that carry no loss: the cross-entropy's ``ignore_index`` everywhere."""

RatioSpec = tuple[str, str, str, "str | None"]
"""``(label, numerator, denominator, config field it should match)`` over measured counts."""

TARGET_KEYS: dict[str, str] = {"decoder": "target_ids", "encoder": "labels", "encoder-decoder": "labels",
                               "prefix-decoder": "target_ids"}
"""Family -> the batch key holding the targets (decoders' are pre-shifted, so never called ``labels``)."""


@dataclass(frozen=True, kw_only=True)
class ObjectiveSpec:
    """The one declaration of an objective.

    ``columns``: stored ``list<int32>`` columns after ``example_key``, in schema order; ``family``
    picks the batch format (collation, loss, model); ``rates``: the applied rates the manifest
    reports; ``transform``: the :class:`lmpairs.transforms.objective.Objective` subclass (or
    ``"module:Class"``); ``decoder_start``: encoder-decoder only, the id that starts
    ``decoder_input_ids`` (``"pad"`` for T5, ``"eos"`` for BART); ``view``: how ``lmpairs inspect``
    shows an example; ``randomized``: False for objectives that draw nothing (no dynamic
    corruption); ``needs_sentence_ends``: the build computes sentence ends only for objectives
    that ask; ``named_specials``: special pieces the objective needs beyond the tokenizer's usual
    ones (``[NLU]``, ``<fim_prefix>``): the tokenizer's own ids where it has them, else appended;
    ``needs_text``: the build hands the objective's ``prepare(docs, texts, encode, seed=)`` each
    batch of documents with their texts before packing (FIM cuts text, not tokens).
    """

    name: str
    objective_id: int
    config: type
    columns: tuple[str, ...]
    family: Family
    transform: str | type
    rates: tuple[RatioSpec, ...] = ()
    decoder_start: Literal["pad", "eos"] | None = None
    view: str = "plain"
    randomized: bool = True
    needs_sentence_ends: bool = False
    named_specials: tuple[str, ...] = ()
    needs_text: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"objective {self.name!r}: family={self.family!r}, expected one of {FAMILIES}.")
        if not self.columns or self.columns[0] != "input_ids":
            raise ValueError(f"objective {self.name!r}: columns must start with 'input_ids', got {self.columns}.")
        if (self.family == "encoder-decoder") != (self.decoder_start is not None):
            raise ValueError(f"objective {self.name!r}: decoder_start is set exactly for encoder-decoder objectives.")

    @property
    def target_key(self) -> str:
        return TARGET_KEYS[self.family]

    @property
    def rate_names(self) -> tuple[str, ...]:
        """Keys of the manifest's applied rates: ``{numerator}_per_{denominator}``."""
        return tuple(f"{n}_per_{d}" for _, n, d, _ in self.rates)
