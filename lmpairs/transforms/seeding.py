"""Stable keys and the keyed counter-based hash behind every random word of every example, batch-wise.

A random word is ``u(seed, objective_id, example_key, copy, stream, position)``: the stream key
``k`` chains the SplitMix64 finalizer ``mix`` over ``seed, objective_id, example_key, copy,
stream`` from ``h = 0`` (``h = mix((h ^ x) + GOLDEN)``), and word ``position`` is SplitMix64's
output number ``position + 1`` from state ``k``: ``mix(k + (position + 1) * GOLDEN)``. All
arithmetic is modulo 2**64 on numpy ``uint64`` arrays, so a whole batch of rows is a handful of
array passes and an example's words never depend on the batch it sits in.

Words become numbers without modulo bias shortcuts: integers in ``[0, n)`` by multiply-shift on
the top 32 bits (``n <= 2**32``), probabilities by an integer threshold (``word < p * 2**64``),
floats from the top 53 bits. ``stable_hash64`` (blake2b) names documents; Python's ``hash()`` is
salted per process and never used.
"""
from __future__ import annotations

import hashlib
import threading

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""SplitMix64's increment (the golden ratio in 64-bit fixed point)."""
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32, _S11 = (np.uint64(s) for s in (30, 27, 31, 32, 11))
_MASK64 = (1 << 64) - 1
_TWO64 = float(2**64)


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


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer on a ``uint64`` array, **in place** (pass an array you own); returns it.

    One scratch buffer serves the three shifts (fresh temporaries of a large batch cost page faults).
    """
    if z.ndim == 0:
        z = z.reshape(1)
        return mix(z).reshape(())
    tmp = _scratch(z.size).reshape(z.shape)
    np.right_shift(z, _S30, out=tmp)
    z ^= tmp
    z *= _M1
    np.right_shift(z, _S27, out=tmp)
    z ^= tmp
    z *= _M2
    np.right_shift(z, _S31, out=tmp)
    z ^= tmp
    return z


_LOCAL = threading.local()


def _scratch(size: int, slot: str = "mix") -> np.ndarray:
    """A per-thread uint64 work buffer of at least ``size`` (reused: fresh pages cost page faults)."""
    buf = getattr(_LOCAL, slot, None)
    if buf is None or buf.shape[0] < size:
        buf = np.empty(max(size, 1 << 12), dtype=np.uint64)
        setattr(_LOCAL, slot, buf)
    return buf[:size]


def mix_int(z: int) -> int:
    """:func:`mix` of one Python int (exact, modulo 2**64)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


_GOLDEN_INT = 0x9E3779B97F4A7C15


def _u64(x) -> np.ndarray:
    """``x`` (int, or int array) as a fresh uint64 array, reduced modulo 2**64."""
    if isinstance(x, np.ndarray):
        return x.astype(np.uint64, copy=True)
    return np.array(int(x) & _MASK64, dtype=np.uint64)


def chain(*parts) -> np.ndarray:
    """``h = 0; for x in parts: h = mix((h ^ x) + GOLDEN)``; parts are ints or broadcastable uint64 arrays."""
    h = np.zeros((), dtype=np.uint64)
    for part in parts:
        x = _u64(part)
        h = h ^ x
        h += GOLDEN
        h = mix(np.array(h, dtype=np.uint64))  # own the buffer (h ^ x may be 0-d)
    return h


def stream_keys(seed: int, objective_id: int, example_keys: np.ndarray, copy: int, stream: int) -> np.ndarray:
    """The stream key ``k`` of each example (``uint64``, the shape of ``example_keys``)."""
    return stream_keys_many(seed, objective_id, example_keys, copy, (stream,))[0]


def stream_keys_many(seed: int, objective_id: int, example_keys: np.ndarray, copy: int,
                     streams: tuple[int, ...]) -> list[np.ndarray]:
    """:func:`stream_keys` for several streams, sharing the chain up to ``copy`` (scalars in Python ints)."""
    h = mix_int((mix_int((0 ^ (int(seed) & _MASK64)) + _GOLDEN_INT) ^ (int(objective_id) & _MASK64)) + _GOLDEN_INT)
    with np.errstate(over="ignore"):
        z = np.bitwise_xor(np.asarray(example_keys, dtype=np.uint64), np.uint64(h))
        z += GOLDEN
        z = mix(z)
        z ^= np.uint64(int(copy) & _MASK64)
        z += GOLDEN
        z = mix(z)
        tags = np.array([int(s) & _MASK64 for s in streams], dtype=np.uint64).reshape((-1,) + (1,) * z.ndim)
        k = np.bitwise_xor(z[None], tags)  # every stream in one array: one mix for all
        k += GOLDEN
        return list(mix(k))


def words_at(keys: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``mix(k + (position + 1) * GOLDEN)`` elementwise (broadcasting ``keys`` against ``positions``)."""
    with np.errstate(over="ignore"):
        z = np.asarray(positions).astype(np.uint64)
        z += np.uint64(1)
        z *= GOLDEN
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.shape == z.shape:
            z += keys
        else:
            z = np.add(z, keys)
        return mix(z)


_STEPS: dict[int, np.ndarray] = {}


def steps(length: int) -> np.ndarray:
    """``(position + 1) * GOLDEN`` for positions ``0 .. length-1`` (cached per length, read-only)."""
    out = _STEPS.get(length)
    if out is None:
        with np.errstate(over="ignore"):
            out = (np.arange(length, dtype=np.uint64) + np.uint64(1)) * GOLDEN
        out.setflags(write=False)
        if len(_STEPS) < 64:
            _STEPS[length] = out
    return out


def word_grid(keys: np.ndarray, length: int, *, scratch: bool = False) -> np.ndarray:
    """Words at positions ``0 .. length-1`` of every key: a ``(len(keys), length)`` uint64 array.

    ``scratch=True`` writes into this thread's second work buffer: for callers that use the words
    only until their next call (saves fresh pages of a large batch).
    """
    keys = np.asarray(keys, dtype=np.uint64)
    out = _scratch(keys.shape[0] * length, slot="words").reshape(keys.shape[0], length) if scratch else None
    z = np.add(keys[:, None], steps(length)[None, :], out=out)
    return mix(z)


def threshold(p: float) -> int:
    """The integer threshold of probability ``p``: ``word < threshold(p)`` has probability ``p``."""
    return min(max(int(p * _TWO64), 0), 2**64)


def below(words: np.ndarray, p: float) -> np.ndarray:
    """``True`` with probability ``p`` per word (integer threshold; ``p >= 1`` is always ``True``)."""
    t = threshold(p)
    if t >= 2**64:
        return np.ones(np.shape(words), dtype=bool)
    return words < np.uint64(t)


def uniform_ints(words: np.ndarray, n) -> np.ndarray:
    """Integers in ``[0, n)`` (``n`` scalar or array, ``1 <= n <= 2**32``) by multiply-shift: int64."""
    hi = words >> _S32
    hi *= np.asarray(n, dtype=np.uint64)
    hi >>= _S32
    return hi.astype(np.int64)


def unit_floats(words: np.ndarray) -> np.ndarray:
    """Floats in ``[0, 1)`` from the top 53 bits of each word."""
    return (words >> _S11).astype(np.float64) * (1.0 / 2**53)


def copy_keys(keys: np.ndarray, copy: int) -> np.ndarray:
    """Stored keys of static copy ``copy`` of rows (copy 0 keeps the rows' own keys)."""
    keys = np.asarray(keys, dtype=np.uint64)
    if copy == 0:
        return keys.copy()
    with np.errstate(over="ignore"):
        return np.broadcast_to(chain(0xC0, keys, copy), keys.shape).astype(np.uint64)


def row_keys(objective_id: int, doc_keys: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A row's key from where it starts: the key of its first document and the token offset there."""
    doc_keys = np.asarray(doc_keys, dtype=np.uint64)
    with np.errstate(over="ignore"):
        out = chain(objective_id, doc_keys, np.asarray(offsets, dtype=np.int64).astype(np.uint64))
    return np.broadcast_to(out, doc_keys.shape).astype(np.uint64)


def copy_key(example_key: int, copy_index: int) -> int:
    """Scalar :func:`copy_keys` (tests and small callers)."""
    return int(copy_keys(np.array([example_key], dtype=np.uint64), copy_index)[0])
