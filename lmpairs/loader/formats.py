"""One :class:`BatchFormat` per model-side layout: how stored rows become a batch, and its loss.

Like seqio's ``FeatureConverter``: decoder-only (CLM's pre-shifted ``target_ids``), encoder-only
(MLM's ``labels``), encoder-decoder (``decoder_input_ids`` from the labels) and the prefix-LM
decoder (prefix + target on one stack, bidirectional over the prefix, loss on the target). An
objective names its default format as its spec's ``family``; a reader may pick another format
whose columns the rows have (``PairStream(..., batch_format="encoder-decoder")`` reads prefix-LM
rows as T5-style pairs). Nothing here knows an objective's name.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from lmpairs.loader.collate import (
    Collate,
    CollateSpec,
    collate_clm,
    collate_mlm,
    collate_prefix_decoder,
    collate_seq2seq,
)
from lmpairs.loader.losses import LOSSES
from lmpairs.loader.ragged import Ragged
from lmpairs.objectives import ObjectiveSpec, SpecTable, get_spec


@dataclass(frozen=True, kw_only=True)
class BatchFormat:
    """A model-side layout: ``columns`` it reads, its collate function, loss and target key.

    ``document_columns`` are read only when the batch carries per-document attention inputs
    (``position_ids``, ``cu_seqlens``, ``block_mask``), which only formats with
    ``document_attention`` support; ``pair_lengths``: a row's padded cost is ``max(input, labels)``
    (two stacks) rather than the sum (one stack) or the input alone.
    """

    name: str
    columns: tuple[str, ...]
    collate: Callable[..., dict[str, np.ndarray]]
    loss: Callable
    target_key: str
    document_columns: tuple[str, ...] = ()
    document_attention: bool = False
    cost: str = "inputs"

    def collator(self, objective: ObjectiveSpec) -> Collate:
        """The collate function for ``objective``'s rows (encoder-decoder: its ``decoder_start``)."""
        if self.name == "encoder-decoder":
            return partial(self.collate, start=objective.decoder_start or "pad")
        return self.collate

    def needed_columns(self, objective: ObjectiveSpec, spec: CollateSpec) -> tuple[str, ...]:
        """Stored columns a batch needs: a decoder's documents only for document-attention inputs; other
        formats read every stored column (dynamic corruption re-noises from them)."""
        if not self.document_attention:
            return objective.columns
        documents = spec.position_ids or spec.document_attention is not None
        extra = tuple(c for c in self.document_columns if c in objective.columns) if documents else ()
        return self.columns + extra

    def example_lengths(self, columns: dict[str, Ragged]) -> np.ndarray:
        """Padded cost of each row for token budgets (fairseq counts ``max(input, labels)`` for pairs)."""
        lengths = columns["input_ids"].lengths
        if self.cost == "max":
            return np.maximum(lengths, columns["labels"].lengths)
        if self.cost == "sum":
            return lengths + columns["labels"].lengths
        return lengths

    def check(self, objective: ObjectiveSpec, spec: CollateSpec, where: str) -> None:
        """A readable error when these rows cannot make this format's batches."""
        missing = [c for c in self.columns if c not in objective.columns]
        if missing:
            raise ValueError(f"{where}: batch_format={self.name!r} reads columns {list(self.columns)}, but "
                             f"{objective.name} rows have {list(objective.columns)}; pick a format they fit.")
        documents = spec.position_ids or spec.document_attention is not None
        if documents and not (self.document_attention and set(self.document_columns) <= set(objective.columns)):
            raise ValueError(f"position_ids / document_attention: only rows that record documents in a "
                             f"decoder-only format have them; {where} holds {objective.name} "
                             f"({self.name}); leave them unset.")


FORMATS: dict[str, BatchFormat] = {f.name: f for f in (
    BatchFormat(name="decoder", columns=("input_ids",), collate=collate_clm, loss=LOSSES["decoder"],
                target_key="target_ids", document_columns=("doc_lengths",), document_attention=True),
    BatchFormat(name="encoder", columns=("input_ids", "labels"), collate=collate_mlm, loss=LOSSES["encoder"],
                target_key="labels"),
    BatchFormat(name="encoder-decoder", columns=("input_ids", "labels"), collate=collate_seq2seq,
                loss=LOSSES["encoder-decoder"], target_key="labels", cost="max"),
    BatchFormat(name="prefix-decoder", columns=("input_ids", "labels"), collate=collate_prefix_decoder,
                loss=LOSSES["prefix-decoder"], target_key="target_ids", cost="sum"),
)}
"""Format name (an objective's ``family``) -> its :class:`BatchFormat`."""


def format_for(objective: str | ObjectiveSpec, override: str | None = None) -> BatchFormat:
    """The batch format of ``objective`` (its declared family), or ``override`` by name."""
    spec = objective if isinstance(objective, ObjectiveSpec) else get_spec(objective)
    name = override or spec.family
    if name not in FORMATS:
        raise ValueError(f"batch_format={name!r}: choose one of {', '.join(FORMATS)}.")
    return FORMATS[name]


def loss_for(objective: str) -> Callable:
    """The loss function of ``objective``, by its batch format."""
    try:
        return format_for(objective).loss
    except ValueError as err:
        raise ValueError(f"no loss for objective {objective!r}: {err}") from None


COLLATORS: SpecTable = SpecTable(lambda spec: format_for(spec).collator(spec))
"""Objective name -> collate function of its declared format; no per-objective line."""
TARGET_KEYS: SpecTable = SpecTable(lambda spec: format_for(spec).target_key)
"""Objective name -> the batch key its targets come from."""


def needed_columns(objective: str, spec: CollateSpec) -> tuple[str, ...]:
    declared = get_spec(objective)
    return format_for(declared).needed_columns(declared, spec)


def example_lengths(objective: str, columns: dict[str, Ragged]) -> np.ndarray:
    return format_for(objective).example_lengths(columns)
