"""Document keys and the train/validation assignment for a whole block of documents at once.

A document's identity is ``(key_prefix, position)``: its file's path relative to the input root and
the record's byte offset (text, JSONL) or row index (Parquet). The prefix is hashed once per split
(blake2b, :func:`~lmpairs.transforms.seeding.stable_hash64`) and every position is mixed in with
SplitMix64 over a numpy array, so keying 300k documents costs one vector operation, not 600k
blake2b calls. Keys and the validation draw use different prefix hashes, so the split does not
depend on (or leak) the example keys' low bits.
"""
from __future__ import annotations

import numpy as np

from lmpairs.transforms.seeding import below, mix, stable_hash64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _keyed(prefix_hash: int, positions) -> np.ndarray:
    z = np.asarray(positions, dtype=np.uint64) ^ np.uint64(prefix_hash)
    z += _GOLDEN  # uint64 arithmetic wraps, as SplitMix64's does
    return mix(z)


def document_keys(key_prefix: str, positions) -> np.ndarray:
    """uint64 keys of the documents at ``positions`` of the file keyed ``key_prefix``."""
    return _keyed(stable_hash64("doc", key_prefix), positions)


def validation_mask(key_prefix: str, positions, fraction: float) -> np.ndarray:
    """Which documents go to validation: their own hash word below ``fraction`` (same for every
    objective and seed, so all objectives of one build agree)."""
    positions = np.asarray(positions, dtype=np.uint64)
    if fraction <= 0:
        return np.zeros(positions.shape, dtype=bool)
    return below(_keyed(stable_hash64("split", key_prefix), positions), fraction)


def split_key(key: str) -> tuple[str, int]:
    """``"prefix:position"`` (a :class:`~lmpairs.reading.Record` key) as ``(prefix, position)``."""
    prefix, _, position = key.rpartition(":")
    return prefix, int(position)


def document_key(key: str) -> int:
    """The uint64 key of one document from its string key (tests, small callers)."""
    prefix, position = split_key(key)
    return int(document_keys(prefix, [position])[0])


def is_validation(key: str, fraction: float) -> bool:
    """Whether one document (by string key) goes to validation; see :func:`validation_mask`."""
    prefix, position = split_key(key)
    return bool(validation_mask(prefix, [position], fraction)[0])
