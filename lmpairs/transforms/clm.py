"""Causal LM rows: documents framed ``[bos] ids [eos]``, packed into ``seq_len + 1`` tokens.

No corruption: the loader shifts a row into ``seq_len`` inputs and ``seq_len`` next-token targets,
and ``doc_lengths`` lets a trainer reset positions or mask attention at document boundaries.
"""
from __future__ import annotations

import numpy as np

from lmpairs.config import ClmConfig
from lmpairs.transforms.objective import Columns, Objective, Row


class ClmObjective(Objective):
    name = "clm"
    columns = ("input_ids", "doc_lengths")
    randomized = False
    config: ClmConfig

    @property
    def row_length(self) -> int:
        return self.config.row_length

    def frame_document(self, ids: np.ndarray, sentence_ends: np.ndarray) -> np.ndarray:
        parts = [np.asarray(ids, dtype=np.int32)]
        if self.config.add_bos and self.vocab.bos_id is not None:
            parts.insert(0, np.array([self.vocab.bos_id], dtype=np.int32))
        if self.config.add_eos:
            parts.append(np.array([self.vocab.eos_id], dtype=np.int32))
        return np.concatenate(parts)

    def corrupt(self, row: Row, *, rng: np.random.Generator | None) -> Columns:
        return {"input_ids": np.asarray(row.ids, dtype=np.int32),
                "doc_lengths": np.asarray(row.segment_lengths, dtype=np.int32)}

    def clean_ids(self, columns: Columns) -> np.ndarray:
        return np.asarray(columns["input_ids"], dtype=np.int32)
