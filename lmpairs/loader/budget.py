"""Token-budget batches inside one shuffle window (fairseq's ``max_tokens``), as a pure function.

Rows are sorted by length (stable, so ties keep the window's shuffled order) and cut greedily so
that ``rows × longest row`` (after rounding up to ``pad_to_multiple_of``) stays within
``max_tokens``; sorting first keeps padding low. The batches are then put in a random order drawn
from the window's own generator, so an epoch does not run from short to long. A row longer than
the budget becomes a batch of its own. The loop runs once per batch, not per row.
"""
from __future__ import annotations

import numpy as np


def token_batches(lengths: np.ndarray, order: np.ndarray, *, max_tokens: int, max_rows: int | None = None,
                  multiple: int | None = None, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Batches (arrays of window rows) of ``order``'s rows within a padded-token budget.

    ``lengths[i]`` is row ``i``'s padded cost in tokens; ``order`` is the window's row order;
    ``rng=None`` keeps batches in ascending length (evaluation), else their order is shuffled.
    """
    ordered = order[np.argsort(lengths[order], kind="stable")]
    cost = np.maximum(lengths[ordered].astype(np.int64), 1)
    if multiple and multiple > 1:
        cost = -(-cost // multiple) * multiple
    batches, i, n = [], 0, ordered.shape[0]
    while i < n:
        cap = max(1, max_tokens // int(cost[i]))
        if max_rows is not None:
            cap = min(cap, max_rows)
        stop = min(n, i + cap)
        padded = np.arange(1, stop - i + 1, dtype=np.int64) * cost[i:stop]  # non-decreasing: cost is sorted
        count = max(1, int(np.searchsorted(padded, max_tokens, side="right")))
        batches.append(ordered[i:i + count])
        i += count
    if rng is not None:
        batches = [batches[k] for k in rng.permutation(len(batches))]
    return batches
