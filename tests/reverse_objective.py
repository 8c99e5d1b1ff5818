"""A test-only objective, declared in one place, that the tests register to show the declaration is all
an objective needs: ``test-reverse``, an encoder-decoder whose input is the row reversed."""
from __future__ import annotations

import numpy as np

from lmpairs.config import ClmConfig
from lmpairs.objectives import ObjectiveSpec
from lmpairs.transforms import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective
from lmpairs.transforms.packing import ConcatPacker


class ReverseObjective(Objective):
    """Test-only: rows of ``seq_len`` tokens; the input is the row reversed, the labels the row."""

    name = "test-reverse"

    @property
    def full_row_length(self) -> int:
        return self.config.seq_len

    def packer(self) -> ConcatPacker:
        return ConcatPacker(objective_id=self.objective_id, row_length=self.config.seq_len, suffix=self.vocab.eos_id)

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        lengths = rows.ids.lengths
        rows_of = np.repeat(np.arange(rows.num_rows), lengths)
        flipped = rows.ids.offsets[1:][rows_of] - 1 - (np.arange(rows.ids.values.shape[0]) - rows.ids.offsets[rows_of])
        return {"input_ids": Ragged(rows.ids.values[flipped], rows.ids.offsets),
                "labels": Ragged(rows.ids.values.copy(), rows.ids.offsets)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        labels = examples.columns["labels"]
        return RowBatch(examples.keys, labels, Ragged(labels.lengths.astype(np.int32),
                                                      np.arange(labels.num_rows + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        tokens = int(examples.columns["input_ids"].values.shape[0])
        return {"tokens": tokens, "reversed": tokens}


SPEC = ObjectiveSpec(name="test-reverse", objective_id=99, config=ClmConfig, columns=("input_ids", "labels"),
                     family="encoder-decoder", decoder_start="eos", transform=ReverseObjective,
                     rates=(("reversed / tokens", "reversed", "tokens", None),))
