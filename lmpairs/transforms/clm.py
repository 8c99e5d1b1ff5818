"""Causal LM rows: documents framed ``[bos] ids [eos]``, concatenated and cut into ``seq_len + 1`` tokens.

No corruption: the loader shifts a row into ``seq_len`` inputs and ``seq_len`` next-token targets,
and ``doc_lengths`` (the row's segments) lets a trainer reset positions or mask attention at
document boundaries.
"""
from __future__ import annotations

from lmpairs.config import ClmConfig
from lmpairs.transforms.batch import ExampleBatch, RowBatch
from lmpairs.transforms.objective import Objective
from lmpairs.transforms.packing import ConcatPacker


class ClmObjective(Objective):
    name = "clm"
    config: ClmConfig

    @property
    def full_row_length(self) -> int:
        return self.config.row_length

    def packer(self) -> ConcatPacker:
        c = self.config
        return ConcatPacker(objective_id=self.objective_id, row_length=c.row_length,
                            prefix=self.vocab.bos_id if c.add_bos else None,
                            suffix=self.vocab.eos_id if c.add_eos else None,
                            keep_final=c.final_row == "pad")

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        """Nothing to draw: the row is the example (arrays shared, never written)."""
        return {"input_ids": rows.ids, "doc_lengths": rows.segments}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        return RowBatch(examples.keys, examples.columns["input_ids"], examples.columns["doc_lengths"])
