"""The effective vocabulary of a backend model: its own specials plus what lmpairs appends in T5's layout.

Appended past the model's ``n`` ids: the 100 sentinels (``<extra_id_i>`` = n + 99 - i), ``<mask>``,
``<pad>`` and ``</s>`` where the model lacks them (named specials objectives ask for come later:
``Tokenizer.add_named_specials``). A model that has a piece keeps its own id for it.
"""
from __future__ import annotations

import numpy as np

from lmpairs.tokenizers.errors import NUM_SENTINELS, TokenizerError, sentinel_piece
from lmpairs.vocab import Vocab

MASK_PIECES = ("<mask>", "[MASK]")


def build_vocab(model, name: str) -> tuple[Vocab, dict[int, str]]:
    """The effective vocabulary and the pieces appended past the model (id -> piece).

    ``model`` declares its own pad/bos/eos/unk ids (None when absent), ``find(piece)`` (None when
    missing, never unk), ``special`` and ``word_start`` flags for its ``size`` ids.
    """
    n = model.size
    found = [model.find(sentinel_piece(i)) for i in range(NUM_SENTINELS)]
    appended: dict[int, str] = {}
    if all(i is not None for i in found):
        sentinel_ids = tuple(found)
    elif all(i is None for i in found):
        sentinel_ids = tuple(n + NUM_SENTINELS - 1 - i for i in range(NUM_SENTINELS))
        appended.update((sid, sentinel_piece(i)) for i, sid in enumerate(sentinel_ids))
    else:
        missing = [sentinel_piece(i) for i, f in enumerate(found) if f is None]
        raise TokenizerError(
            f"{name}: has some <extra_id_N> pieces but lacks {len(missing)} (first: {missing[0]}); "
            f"lmpairs needs all {NUM_SENTINELS} or none. Retrain with `lmpairs train-tokenizer`.")

    def _id_or_append(existing: int | None, piece: str) -> int:
        if existing is not None:
            return existing
        new_id = n + len(appended)
        appended[new_id] = piece
        return new_id

    mask_id = _id_or_append(next((i for i in map(model.find, MASK_PIECES) if i is not None), None), "<mask>")
    pad_id = _id_or_append(model.pad_id, "<pad>")
    eos_id = _id_or_append(model.eos_id, "</s>")
    size = n + len(appended)
    special = np.ones(size, dtype=bool)
    special[:n] = model.special
    if special.all():
        raise TokenizerError(f"{name}: every one of its {n} ids is a special token, so nothing is left to "
                             "encode text with; pass a trained tokenizer.")
    word_start = np.zeros(size, dtype=bool)
    word_start[:n] = model.word_start
    vocab = Vocab(size=size, pad_id=pad_id, bos_id=model.bos_id, eos_id=eos_id, unk_id=model.unk_id,
                  mask_id=mask_id, sentinel_ids=sentinel_ids, special=special, word_start=word_start)
    return vocab, appended
