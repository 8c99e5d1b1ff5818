"""Stable 64-bit keys and per-example random generators, independent of process, worker and order."""
from __future__ import annotations

import hashlib

import numpy as np

OBJECTIVE_IDS: dict[str, int] = {"clm": 1, "mlm": 2, "t5": 3, "bart": 4}


def stable_hash64(*parts: str | int | bytes) -> int:
    """blake2b of the parts as an unsigned 64-bit int (Python's ``hash()`` is salted per process)."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, bytes):
            data = b"b" + part
        elif isinstance(part, int):
            data = b"i" + str(part).encode()
        else:
            data = b"s" + str(part).encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return int.from_bytes(h.digest(), "little")


def example_rng(seed: int, objective: str, example_key: int, copy_index: int = 0) -> np.random.Generator:
    """The generator for one example: ``SeedSequence([seed, objective_id, example_key, copy_index])``.

    Dynamic corruption in the loader passes the epoch as ``copy_index``, so epoch ``e`` of a
    dynamic run draws exactly what static copy ``e`` would have drawn.
    """
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([int(seed), OBJECTIVE_IDS[objective], int(example_key), int(copy_index)])))


def copy_key(example_key: int, copy_index: int) -> int:
    """The stored key of static copy ``copy_index`` of a row (copy 0 keeps the row's own key)."""
    return example_key if copy_index == 0 else stable_hash64("copy", example_key, copy_index)
