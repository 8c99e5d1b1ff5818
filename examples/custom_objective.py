"""A worked example: a new lmpairs objective in one module (docs/objectives.md, "Writing an objective").

``token_deletion`` is BART's token-deletion noise as its own encoder-decoder objective: a packed
row with ``deletion_rate`` of its tokens deleted is the input, the row itself the label. It is the
three parts every objective is made of:

- a **packer** (here lmpairs' ``ConcatPacker``: documents framed ``ids </s>``, cut into rows);
- **noise** over a batch of rows from the keyed hash (``below(words, p)``: one word per position,
  keyed by seed, objective id, row key, copy and stream, so a row's noise never depends on its batch);
- a **formatter**: the stored columns (``input_ids``, ``labels``).

``@declare`` is the declaration: name, a numeric id no other objective uses, the config class, the
stored columns, the batch format (``family``), the decoder start id and the applied rates the
manifest reports. To use it, either ``register(TokenDeletionObjective)`` in your process (enough
for the in-process runner) or, so Beam workers in fresh processes find it too, name it in your
package's entry points::

    [project.entry-points."lmpairs.objectives"]
    token_deletion = "my_package.token_deletion:TokenDeletionObjective"

Run this file to see it turn two documents into examples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lmpairs.config_base import FRACTION, Config, seq_len_setting
from lmpairs.fields import setting
from lmpairs.transforms import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.packing import ConcatPacker
from lmpairs.transforms.rowops import offsets_of, row_of
from lmpairs.transforms.seeding import below, words_at

DELETE = 0
"""Hash stream of the deletion draws (one word per position)."""


@dataclass(frozen=True, kw_only=True)
class TokenDeletionConfig(Config):
    owner: ClassVar[str] = "token_deletion"  # the prefix of --set token_deletion.FIELD=...
    seq_len: int = seq_len_setting(512, 2, "tokens per row")
    deletion_rate: float = setting(0.15, "share of tokens deleted from the input", limits=FRACTION)


@declare(name="token_deletion", objective_id=1000, config=TokenDeletionConfig, columns=("input_ids", "labels"),
         family="encoder-decoder", decoder_start="eos",
         rates=(("deleted / tokens", "deleted", "tokens", "deletion_rate"),))
class TokenDeletionObjective(Objective):
    config: TokenDeletionConfig

    @property
    def full_row_length(self) -> int:
        return self.config.seq_len

    def packer(self) -> ConcatPacker:
        return ConcatPacker(objective_id=self.objective_id, row_length=self.config.seq_len, suffix=self.vocab.eos_id)

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        check_ids(rows.ids.values, self.vocab, self.name)
        rows_of = row_of(rows.ids.offsets)
        positions = np.arange(rows.ids.values.shape[0]) - rows.ids.offsets[rows_of]
        keys = self.keys_for(rows, seed, copy, DELETE)[rows_of]  # each token's row key
        keep = ~below(words_at(keys, positions), self.config.deletion_rate)
        kept = np.bincount(rows_of[keep], minlength=rows.num_rows)
        return {"input_ids": Ragged(rows.ids.values[keep], offsets_of(kept)),
                "labels": Ragged(rows.ids.values.copy(), rows.ids.offsets)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        labels = examples.columns["labels"]
        return RowBatch(examples.keys, labels, Ragged(labels.lengths.astype(np.int32),
                                                      np.arange(labels.num_rows + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        tokens = int(examples.columns["labels"].values.shape[0])
        return {"tokens": tokens, "deleted": tokens - int(examples.columns["input_ids"].values.shape[0])}


def main() -> None:
    from lmpairs.objectives import make_objective, register, unregister
    from lmpairs.transforms.testing import rows_in_memory
    from lmpairs.vocab import Vocab

    size = 200  # a stand-in vocabulary: pad 0, unk 1, bos 2, eos 3, mask 4, ordinary ids from 5
    vocab = Vocab(size=size, pad_id=0, unk_id=1, bos_id=2, eos_id=3, mask_id=4, sentinel_ids=(),
                  special=np.arange(size) < 5, word_start=np.ones(size, bool))
    register(TokenDeletionObjective)
    try:
        objective = make_objective("token_deletion", TokenDeletionConfig(seq_len=12), vocab)
        documents = [("doc-a", np.arange(10, 25), np.zeros(0, np.int32)), ("doc-b", np.arange(50, 58),
                                                                            np.zeros(0, np.int32))]
        examples = objective.corrupt(rows_in_memory(objective, documents), seed=0)
        for i in range(examples.num_examples):
            print("input ", examples.columns["input_ids"].row(i).tolist())
            print("labels", examples.columns["labels"].row(i).tolist())
        print(objective.measure(examples))
    finally:
        unregister("token_deletion")


if __name__ == "__main__":
    main()
