"""Dynamic corruption: redraw each row's noise every epoch (RoBERTa's dynamic masking, and T5/BART).

A window of stored examples is turned back into clean rows with the objective's own ``clean`` and
corrupted again, as one batch, by the same ``lmpairs.transforms`` code the pipeline ran, with
``copy = epoch``: the keyed hash of ``(build seed, objective, example key, epoch)``. Epoch 0
therefore gives back exactly the stored examples of a build with one copy, and epoch ``e`` what a
static build's copy ``e`` holds (its content; stored keys are kept). Any split of rows into
windows or batches gives the same examples.

Limits: rows whose clean length exceeds what the objective builds (``full_row_length``) are passed
through unchanged and counted. BART rows store their documents' lengths and sentence ends, so a
dynamic BART row is re-noised document by document, sentence permutation included.
Cost: a handful of vectorized numpy passes per window, inside DataLoader workers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lmpairs.loader.shard_reader import WindowRows
from lmpairs.objectives import get_spec, make_objective
from lmpairs.ragged import Ragged
from lmpairs.transforms import ExampleBatch, Objective, RowBatch
from lmpairs.vocab import Vocab


class DynamicCorruption:
    """Re-corrupts windows of stored rows; picklable (the objective is rebuilt in each process)."""

    def __init__(self, *, objective: str, config: dict[str, Any], vocab: Vocab, seed: int) -> None:
        spec = get_spec(objective)
        if not spec.randomized:
            raise ValueError(f"dynamic=True: {objective} rows have no noise to redraw; drop dynamic=True.")
        self.name = objective
        self.config = spec.config.from_dict(config)
        self.vocab = vocab
        self.seed = int(seed)
        self._objective: Objective | None = None

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _objective=None)

    @property
    def objective(self) -> Objective:
        if self._objective is None:
            self._objective = make_objective(self.name, self.config, self.vocab)
        return self._objective

    def corrupt(self, keys: np.ndarray, columns: dict[str, Ragged], *, epoch: int) -> tuple[dict[str, Ragged], int]:
        """Fresh columns for ``epoch`` (stored ones for rows too long to rebuild) and how many passed through."""
        obj = self.objective
        names = list(obj.columns)
        stored = ExampleBatch(np.asarray(keys, np.uint64), {n: columns[n] for n in names})
        clean = obj.clean(stored)
        fits = clean.ids.lengths <= obj.full_row_length
        passed = int((~fits).sum())
        if passed:
            index = np.flatnonzero(fits)
            clean = RowBatch(clean.keys[index], clean.ids.take(index), clean.segments.take(index))
        fresh = obj.corrupt(clean, seed=self.seed, copy=epoch).columns
        out = {n: merge(columns[n], fresh[n], fits) if passed else fresh[n] for n in names}
        return {**columns, **out}, passed

    def apply(self, rows: WindowRows, *, epoch: int) -> tuple[WindowRows, int]:
        """``rows`` re-corrupted for ``epoch`` and the number passed through unchanged."""
        columns, passed = self.corrupt(rows.keys, rows.columns, epoch=epoch)
        return WindowRows(rows.keys, columns), passed


def merge(stored: Ragged, fresh: Ragged, fits: np.ndarray) -> Ragged:
    """Rows of ``fresh`` where ``fits`` (in order), of ``stored`` elsewhere, as one ragged column."""
    lengths = np.diff(stored.offsets).copy()
    fresh_lengths = np.diff(fresh.offsets)
    lengths[fits] = fresh_lengths
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    source = np.concatenate([stored.values, fresh.values]).astype(np.int32, copy=False)
    starts = stored.offsets[:-1].copy()
    starts[fits] = fresh.offsets[:-1] + stored.values.shape[0]
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    return Ragged(source[index], offsets)
