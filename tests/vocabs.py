"""A synthetic vocabulary for transform, loader and property tests that need no trained tokenizer."""
from __future__ import annotations

import numpy as np

from lmpairs.vocab import Vocab


def toy_vocab(num_ordinary: int = 1000, *, word_start_every: int = 3) -> Vocab:
    """pad 0, unk 1, bos 2, eos 3, mask 4, 100 sentinels 104..5 in T5's descending layout
    (``<extra_id_i>`` = 104 - i), then ``num_ordinary`` ordinary ids from 105, a word start every
    ``word_start_every`` ids."""
    first_ordinary = 105
    size = first_ordinary + num_ordinary
    special = np.zeros(size, dtype=bool)
    special[:first_ordinary] = True
    word_start = np.zeros(size, dtype=bool)
    word_start[first_ordinary::word_start_every] = True
    return Vocab(
        size=size, pad_id=0, unk_id=1, bos_id=2, eos_id=3, mask_id=4,
        sentinel_ids=tuple(range(104, 4, -1)), special=special, word_start=word_start,
    )
