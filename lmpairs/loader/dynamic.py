"""Dynamic corruption: redraw each row's noise every epoch (RoBERTa's dynamic masking, and T5/BART).

The stored example is turned back into its clean row with the objective's own ``clean_ids`` and
corrupted again by the same ``lmpairs.transforms`` code the pipeline ran, with
``example_rng(build seed, objective, example_key, copy_index=epoch)``. Epoch 0 therefore gives back
exactly the stored examples, and epoch ``e`` what a static build's copy ``e`` would hold.

Limits: rows whose clean length exceeds what the objective builds (T5's raw length, ``seq_len``)
are passed through unchanged and counted. BART shards do not store sentence boundaries, so a
dynamic BART row is one segment and sentence permutation has nothing to permute.
Cost: one Python call per example into vectorized numpy, inside DataLoader workers.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lmpairs.config import OBJECTIVE_CONFIGS
from lmpairs.loader.ragged import Ragged
from lmpairs.loader.read import WindowRows
from lmpairs.transforms import Objective, Row, example_rng, make_objective
from lmpairs.vocab import Vocab

FIT_LENGTH: dict[str, Callable[[Any], int]] = {
    "mlm": lambda config: config.seq_len,
    "t5": lambda config: config.raw_length,
    "bart": lambda config: config.seq_len,
}
"""Objective -> the longest clean row it builds; dynamic corruption exists for these objectives."""


class DynamicCorruption:
    """Re-corrupts windows of stored rows; picklable (the objective is rebuilt in each process)."""

    def __init__(self, *, objective: str, config: dict[str, Any], vocab: Vocab, seed: int) -> None:
        if objective not in FIT_LENGTH:
            raise ValueError(f"dynamic=True: {objective} rows have no noise to redraw; dynamic corruption "
                             f"exists for {', '.join(FIT_LENGTH)}. Drop dynamic=True.")
        self.name = objective
        self.config = OBJECTIVE_CONFIGS[objective].from_dict(config)
        self.vocab = vocab
        self.seed = int(seed)
        self.max_length = FIT_LENGTH[objective](self.config)
        self._objective: Objective | None = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _objective=None)

    @property
    def objective(self) -> Objective:
        if self._objective is None:
            self._objective = make_objective(self.name, self.config, self.vocab)
        return self._objective

    def corrupt_row(self, key: int, stored: dict[str, np.ndarray], *, epoch: int) -> dict[str, np.ndarray] | None:
        """The example's columns for ``epoch``, or None when its clean row does not fit."""
        clean = self.objective.clean_ids(stored)
        if clean.shape[0] > self.max_length:
            return None
        row = Row(key, clean, np.array([clean.shape[0]], dtype=np.int32))
        return self.objective.corrupt(row, rng=example_rng(self.seed, self.name, key, epoch))

    def apply(self, rows: WindowRows, *, epoch: int) -> tuple[WindowRows, int]:
        """``rows`` re-corrupted for ``epoch`` and the number passed through unchanged."""
        names = list(rows.columns)
        out: dict[str, list[np.ndarray]] = {name: [] for name in names}
        passed = 0
        for i, key in enumerate(rows.keys.tolist()):
            stored = {name: rows.columns[name].row(i) for name in names}
            fresh = self.corrupt_row(key, stored, epoch=epoch)
            if fresh is None:
                passed += 1
                fresh = stored
            for name in names:
                out[name].append(fresh[name])
        return WindowRows(rows.keys, {name: Ragged.from_rows(out[name]) for name in names}), passed
