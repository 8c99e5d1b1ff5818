"""Test-only plug-in objective ``reverse_plugin``: encoder-decoder, the input is the row reversed.

Installed with ``pip install --no-deps --target``; lmpairs finds it through the ``lmpairs.objectives``
entry point in every process, Beam's worker processes included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lmpairs.config_base import Config, seq_len_setting
from lmpairs.transforms import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, declare
from lmpairs.transforms.packing import ConcatPacker


@dataclass(frozen=True, kw_only=True)
class ReversePluginConfig(Config):
    owner: ClassVar[str] = "reverse_plugin"
    seq_len: int = seq_len_setting(16, 2, "tokens per row")


@declare(name="reverse_plugin", objective_id=1001, config=ReversePluginConfig, columns=("input_ids", "labels"),
         family="encoder-decoder", decoder_start="eos", rates=(("reversed / tokens", "reversed", "tokens", None),))
class ReversePluginObjective(Objective):
    @property
    def full_row_length(self) -> int:
        return self.config.seq_len

    def packer(self) -> ConcatPacker:
        return ConcatPacker(objective_id=self.objective_id, row_length=self.config.seq_len, suffix=self.vocab.eos_id)

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        rows_of = np.repeat(np.arange(rows.num_rows), rows.ids.lengths)
        at = np.arange(rows.ids.values.shape[0]) - rows.ids.offsets[rows_of]
        flipped = rows.ids.offsets[1:][rows_of] - 1 - at
        return {"input_ids": Ragged(rows.ids.values[flipped], rows.ids.offsets),
                "labels": Ragged(rows.ids.values.copy(), rows.ids.offsets)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        labels = examples.columns["labels"]
        return RowBatch(examples.keys, labels, Ragged(labels.lengths.astype(np.int32),
                                                      np.arange(labels.num_rows + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        tokens = int(examples.columns["input_ids"].values.shape[0])
        return {"tokens": tokens, "reversed": tokens}
