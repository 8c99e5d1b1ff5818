"""Causal LM rows: documents framed ``[bos] ids [eos]``, concatenated and cut into ``seq_len + 1`` tokens
(or, with ``packing='best_fit'``, whole documents packed by best-fit decreasing: ``bestfit.py``).

No corruption: the loader shifts a row into ``seq_len`` inputs and ``seq_len`` next-token targets,
and ``doc_lengths`` (the row's segments) lets a trainer reset positions or mask attention at
document boundaries.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lmpairs.config_base import FramedDocumentsConfig, seq_len_setting
from lmpairs.fields import setting
from lmpairs.transforms.batch import ExampleBatch, RowBatch
from lmpairs.transforms.bestfit import BestFitPacker
from lmpairs.transforms.objective import Objective, declare
from lmpairs.transforms.packing import ConcatPacker


@dataclass(frozen=True, kw_only=True)
class ClmConfig(FramedDocumentsConfig):
    """Causal LM: documents framed ``[bos] ids [eos]``, packed into rows of ``seq_len + 1`` tokens."""

    owner: ClassVar[str] = "clm"
    seq_len: int = seq_len_setting(1024, 2, "tokens of model input per row (a row stores seq_len + 1 tokens)")
    packing: Literal["concat", "best_fit"] = setting(
        "concat", "how documents fill rows: 'concat' cuts the document stream at row ends; 'best_fit' puts "
        "whole documents into rows by best-fit decreasing within each input split (rows padded, counted)")
    long_documents: Literal["fragment", "truncate"] = setting(
        "fragment", "best_fit only: a document longer than a row is cut into full rows plus a packed rest "
        "('fragment') or cut to one row ('truncate', the rest dropped and counted)")

    @property
    def row_length(self) -> int:
        """Tokens per stored row: seq_len inputs plus one more for the last next-token target."""
        return self.seq_len + 1


@declare(name="clm", objective_id=1, config=ClmConfig, columns=("input_ids", "doc_lengths"), family="decoder",
         view="next-token", randomized=False)
class ClmObjective(Objective):
    config: ClmConfig

    @property
    def full_row_length(self) -> int:
        return self.config.row_length

    def packer(self) -> ConcatPacker | BestFitPacker:
        """Concat-and-chunk (default) or best-fit decreasing of whole documents (``packing='best_fit'``)."""
        c = self.config
        prefix = self.vocab.bos_id if c.add_bos else None
        suffix = self.vocab.eos_id if c.add_eos else None
        if getattr(c, "packing", "concat") == "best_fit":
            return BestFitPacker(objective_id=self.objective_id, row_length=c.row_length, prefix=prefix,
                                 suffix=suffix, long_documents=c.long_documents)
        return ConcatPacker(objective_id=self.objective_id, row_length=c.row_length, prefix=prefix, suffix=suffix,
                            keep_final=c.final_row == "pad")

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        """Nothing to draw: the row is the example (arrays shared, never written)."""
        return {"input_ids": rows.ids, "doc_lengths": rows.segments}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        return RowBatch(examples.keys, examples.columns["input_ids"], examples.columns["doc_lengths"])
