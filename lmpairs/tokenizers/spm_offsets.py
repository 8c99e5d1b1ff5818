"""Token start offsets of a SentencePiece encoding from its ids alone, when the model allows it.

SentencePiece's ``offset_mapping`` output costs about as much again as the encode itself (a dict
and a list of pairs per text). For a model without a normalization table and without whitespace
collapsing (LLaMA, Mistral and Gemma style), the pieces of an encoding spell the text exactly
(spaces as ``▁``, a dummy ``▁`` in front, byte-fallback pieces one byte each), so each token's
byte start is a running sum of its piece's byte length: one table lookup and one ``cumsum`` per
batch. A batch where that cannot be trusted (an unknown piece, whose surface length is unknown, or
any text whose piece bytes do not add up to its own, as a literal ``▁`` in the text would) falls
back to the tokenizer's own offsets, so the result is always the tokenizer's.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WORD_START = "\u2581"

# sentencepiece_model.proto field numbers (ModelProto.normalizer_spec = 3, inside it:
# precompiled_charsmap = 2, add_dummy_prefix = 3, remove_extra_whitespaces = 4; both bools default
# true; ModelProto.trainer_spec = 2, inside it treat_whitespace_as_suffix = 24).
_NORMALIZER, _TRAINER = 3, 2
_CHARSMAP, _DUMMY_PREFIX, _REMOVE_SPACES = 2, 3, 4
_SPACE_AS_SUFFIX = 24


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """``(field number, value)`` of one protobuf message, in order (varints as ints, length-delimited
    as bytes; fixed-width values skipped). Raises on malformed data (IndexError/ValueError)."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ValueError("truncated field")
            out.append((number, data[i:i + size]))
            i += size
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def plain_layout(proto: bytes) -> tuple[bool, bool]:
    """``(pieces spell the text, adds a dummy prefix)`` from a serialized ``ModelProto``: true only
    for an empty normalization table, no whitespace collapsing and ``▁`` as a prefix."""
    try:
        top = _fields(proto)
        normalizer = [f for n, v in top if n == _NORMALIZER and isinstance(v, bytes) for f in _fields(v)]
        trainer = [f for n, v in top if n == _TRAINER and isinstance(v, bytes) for f in _fields(v)]
    except (IndexError, ValueError):
        return False, False
    charsmap = b"".join(v for n, v in normalizer if n == _CHARSMAP and isinstance(v, bytes))
    flags = {n: bool(v) for n, v in normalizer if isinstance(v, int)}
    suffix = any(bool(v) for n, v in trainer if n == _SPACE_AS_SUFFIX and isinstance(v, int))
    plain = not charsmap and not flags.get(_REMOVE_SPACES, True) and not suffix
    return plain, flags.get(_DUMMY_PREFIX, True)


def piece_byte_lengths(pieces: Sequence[str], is_byte: Sequence[bool], is_unknown: Sequence[bool]) -> np.ndarray:
    """Bytes of text each piece stands for (int64): a byte piece 1, ``▁`` a space, the unknown
    piece -1 (its surface is not known from its id)."""
    lengths = np.fromiter((1 if b else len(p.replace(WORD_START, " ").encode("utf-8"))
                           for p, b in zip(pieces, is_byte)), dtype=np.int64, count=len(pieces))
    lengths[np.asarray(is_unknown, dtype=bool)] = -1
    return lengths


def byte_starts(flat: np.ndarray, lengths: np.ndarray, texts: Sequence[str], piece_bytes: np.ndarray, *,
                dummy_prefix: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, wrong)``: each token's byte start inside its own text, and which texts' pieces do
    not spell them exactly (an unknown piece, a literal ``▁``): the caller asks the tokenizer for
    those texts' offsets instead."""
    sizes = piece_bytes[flat]
    firsts = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=firsts[1:])
    nonempty = lengths > 0
    heads = firsts[:-1][nonempty]
    if dummy_prefix:
        sizes[heads] -= 1  # the ``▁`` SentencePiece puts in front of every text
    starts = np.cumsum(sizes) - sizes  # running byte start over the whole batch
    wrong = np.zeros(lengths.shape[0], dtype=bool)
    if heads.size:
        totals = np.add.reduceat(sizes, heads)
        unknown = np.add.reduceat((sizes < 0).astype(np.int64), heads) > 0
        text_bytes = np.fromiter(map(len, map(str.encode, (t for t, k in zip(texts, nonempty.tolist()) if k))),
                                 dtype=np.int64, count=heads.size)
        wrong[nonempty] = unknown | (totals != text_bytes)
    return starts - np.repeat(starts[heads], lengths[nonempty]), wrong
