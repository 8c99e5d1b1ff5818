"""The token-id facts every transform needs (special ids, sentinels, word starts), as plain numpy.

Built by :mod:`lmpairs.tokenizers` from any tokenizer kind; transforms take it
as an argument so they never import a tokenizer library.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False, kw_only=True)
class Vocab:
    """Special ids and per-id flags of an effective vocabulary of ``size`` ids.

    ``sentinel_ids[i]`` is the id of ``<extra_id_i>``. ``special`` marks ids that masking never
    selects and random replacement never draws (control pieces, unk, mask, sentinels, pad and any
    id appended past the model). ``word_start`` marks pieces that begin a word (``▁`` prefix, or
    ``Ġ`` for byte-level BPE). ``unk_id`` is None for a model without one (byte-level BPE).
    ``extra_ids`` are ``(piece, id)`` pairs of the extra specials objectives asked for (``[NLU]``,
    ``<fim_prefix>``), special like the rest.
    """

    size: int
    pad_id: int
    bos_id: int | None
    eos_id: int
    unk_id: int | None
    mask_id: int
    sentinel_ids: tuple[int, ...]
    special: np.ndarray
    word_start: np.ndarray
    extra_ids: tuple[tuple[str, int], ...] = ()
    ordinary_ids: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        special = np.asarray(self.special, dtype=bool)
        word_start = np.asarray(self.word_start, dtype=bool)
        if special.shape != (self.size,) or word_start.shape != (self.size,):
            raise ValueError(f"Vocab: special and word_start must have shape ({self.size},), "
                             f"got {special.shape} and {word_start.shape}.")
        special = special.copy()
        for i in (self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id, *self.sentinel_ids,
                  *(i for _, i in self.extra_ids)):
            if i is not None:
                special[i] = True
        special.setflags(write=False)
        word_start = word_start.copy()
        word_start.setflags(write=False)
        ordinary = np.flatnonzero(~special).astype(np.int32)
        if ordinary.size == 0:
            raise ValueError("Vocab: no ordinary ids left for random replacement.")
        ordinary.setflags(write=False)
        object.__setattr__(self, "special", special)
        object.__setattr__(self, "word_start", word_start)
        object.__setattr__(self, "ordinary_ids", ordinary)

    def sentinel(self, index: int) -> int:
        """The id of ``<extra_id_{index}>``."""
        return self.sentinel_ids[index]

    def extra_id(self, piece: str) -> int:
        """The id of extra special ``piece``; a KeyError names the ones there are."""
        found = dict(self.extra_ids)
        if piece not in found:
            raise KeyError(f"no extra special {piece!r} in this vocabulary (has: {sorted(found)}); load the "
                           "tokenizer with extra_specials=[...] naming it.")
        return found[piece]

    def special_ids(self) -> dict[str, int | None | dict[str, int]]:
        """Named special ids, as the manifest records them (``extra`` only when some were asked for)."""
        ids: dict[str, int | None | dict[str, int]] = {
            "pad": self.pad_id, "bos": self.bos_id, "eos": self.eos_id, "unk": self.unk_id,
            "mask": self.mask_id, "extra_id_0": self.sentinel_ids[0] if self.sentinel_ids else None,
            "num_sentinels": len(self.sentinel_ids),
        }
        if self.extra_ids:
            ids["extra"] = dict(self.extra_ids)
        return ids
