"""The token-id facts every transform needs (special ids, sentinels, word starts), as plain numpy.

Built by :mod:`lmpairs.tokenizers` from a SentencePiece model or a tokenizer.json; transforms take it
as an argument so they never import a tokenizer library.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False, kw_only=True)
class Vocab:
    """Special ids and per-id flags of an effective vocabulary of ``size`` ids.

    ``sentinel_ids[i]`` is the id of ``<extra_id_i>``. ``special`` marks ids that masking never
    selects and random replacement never draws (control pieces, unk, mask, sentinels, pad and any
    id appended past the model). ``word_start`` marks pieces that begin a word (``▁`` prefix, or
    ``Ġ`` for byte-level BPE). ``unk_id`` is None for a model without one (byte-level BPE).
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
    named: tuple[tuple[str, int], ...] = ()
    """Extra named specials an objective asked for (``[NLU]``, ``<fim_prefix>``): ``(piece, id)``."""
    ordinary_ids: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        special = np.asarray(self.special, dtype=bool)
        word_start = np.asarray(self.word_start, dtype=bool)
        if special.shape != (self.size,) or word_start.shape != (self.size,):
            raise ValueError(f"Vocab: special and word_start must have shape ({self.size},), "
                             f"got {special.shape} and {word_start.shape}.")
        special = special.copy()
        for i in (self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id, *self.sentinel_ids,
                  *(i for _, i in self.named)):
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

    def with_named(self, pieces: dict[str, int | None]) -> Vocab:
        """This vocabulary plus named specials: ``{piece: id}``, None meaning the next id past the end."""
        named, size = dict(self.named), self.size
        for piece, i in pieces.items():
            if piece not in named:
                named[piece] = size if i is None else int(i)
                size = max(size, named[piece] + 1)
        grow = size - self.size
        return dataclasses.replace(self, size=size, named=tuple(named.items()),
                                   special=np.concatenate([self.special, np.ones(grow, bool)]),
                                   word_start=np.concatenate([self.word_start, np.zeros(grow, bool)]))

    def named_id(self, piece: str) -> int:
        """The id of an extra named special; a clear error when the build did not add it."""
        for name, i in self.named:
            if name == piece:
                return i
        raise ValueError(f"the vocabulary has no named special {piece!r} (it has {[n for n, _ in self.named]}); "
                         "the objective that needs it declares it in named_specials, and the build adds it.")

    def special_ids(self) -> dict[str, int | None]:
        """Named special ids, as the manifest records them."""
        return {
            "pad": self.pad_id, "bos": self.bos_id, "eos": self.eos_id, "unk": self.unk_id,
            "mask": self.mask_id, "extra_id_0": self.sentinel_ids[0] if self.sentinel_ids else None,
            "num_sentinels": len(self.sentinel_ids), **dict(self.named),
        }
