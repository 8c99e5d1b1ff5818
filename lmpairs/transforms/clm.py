"""Causal LM rows: documents framed ``[bos] ids [eos]``, concatenated and cut into ``seq_len + 1`` tokens
(or, with ``packing='best_fit'``, whole documents packed by best-fit decreasing: ``bestfit.py``).

No corruption: the loader shifts a row into ``seq_len`` inputs and ``seq_len`` next-token targets,
and ``doc_lengths`` (the row's segments) lets a trainer reset positions or mask attention at
document boundaries.
"""
from __future__ import annotations

from lmpairs.config import ClmConfig
from lmpairs.transforms.batch import ExampleBatch, RowBatch
from lmpairs.transforms.bestfit import BestFitPacker
from lmpairs.transforms.objective import Objective
from lmpairs.transforms.packing import ConcatPacker


class ClmObjective(Objective):
    name = "clm"
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
