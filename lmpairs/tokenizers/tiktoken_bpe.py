"""The tiktoken kinds: Mistral's ``tekken.json`` and a tiktoken rank file (Llama 3's ``tokenizer.model``).

Both are byte-level BPE ranks plus a pre-tokenizer pattern, encoded by the ``tiktoken`` library
(Rust, GIL released, its own threads per batch). A tekken.json carries its pattern and its special
tokens (ids ``0 .. num_special - 1``, ranks shifted past them, as ``mistral_common`` lays them
out); a rank file (``base64-token rank`` per line) carries neither, so it is read with Llama 3's
pattern and has no specials (the facade appends what lmpairs needs). Token offsets for sentence
ends are the running sums of each token's byte length (byte-level BPE spells the text exactly).

Word starts follow the pattern: a pre-token is an optional non-letter character followed by
letters, so a piece starts a word unless it begins with a letter or combining mark (or a UTF-8
continuation byte).
"""
from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

from lmpairs.tokenizers.errors import TokenizerError
from lmpairs.tokenizers.hf import MAX_VOCAB_SIZE
from lmpairs.tokenizers.threads import encode_threads

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
"""Llama 3's pre-tokenizer pattern (``meta-llama/llama3`` ``tokenizer.py``), used for rank files."""
TEKKEN_V3_SPECIALS = ("<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
                      "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]",
                      "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
                      "[TOOL_CONTENT]")
"""The specials of tekken files that list none (mistral_common's ``DEPRECATED_SPECIAL_TOKENS``)."""
_RANK_LINE = re.compile(rb"[A-Za-z0-9+/]+=*[ \t]+[0-9]+")


def looks_like_rank_file(data: bytes) -> bool:
    """Whether ``data`` starts with a tiktoken rank line (``base64 rank``): a SentencePiece protobuf
    starts with a field tag byte (``0x0A``), never with base64."""
    return _RANK_LINE.match(data, 0, 256) is not None


def parse_rank_file(data: bytes, name: str) -> dict[bytes, int]:
    """The ``{token bytes: rank}`` of a tiktoken rank file; a bad line is a one-line error."""
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error) as err:
            raise TokenizerError(f"{name}: line {number} is not `base64-token rank` ({line[:40]!r}); pass an intact "
                                 "tiktoken rank file.") from err
    return ranks


def tekken_ranks(config: dict[str, Any], name: str) -> tuple[dict[bytes, int], list[str], str, int]:
    """``(ranks, special token names, pattern, vocabulary size)`` of a parsed tekken.json."""
    try:
        settings = config["config"]
        pattern, size, num_special = (settings["pattern"], int(settings["default_vocab_size"]),
                                      int(settings["default_num_special_tokens"]))
        inner = size - num_special
        if not (0 < inner and 0 <= num_special and size <= MAX_VOCAB_SIZE and inner <= len(config["vocab"])):
            raise ValueError(f"default_vocab_size {size} with {num_special} specials and {len(config['vocab'])} ranks")
        ranks = {base64.b64decode(t["token_bytes"], validate=True): int(t["rank"]) for t in config["vocab"][:inner]}
        listed = config.get("special_tokens")
        specials = [t["token_str"] for t in listed] if listed is not None else list(TEKKEN_V3_SPECIALS)
    except (KeyError, TypeError, ValueError, binascii.Error) as err:
        raise TokenizerError(f"{name}: not an intact tekken.json ({type(err).__name__}: {err}); pass the file "
                             "mistral_common ships (e.g. tekken_240911.json).") from err
    if len(specials) > num_special:
        raise TokenizerError(f"{name}: lists {len(specials)} special tokens but reserves {num_special} ids.")
    specials += [f"<SPECIAL_{i}>" for i in range(len(specials), num_special)]
    return ranks, specials, pattern, size


class TiktokenModel:
    """Byte-level BPE ranks with a pattern: pieces, specials, word starts, batched encoding, offsets."""

    def __init__(self, ranks: dict[bytes, int], *, specials: Sequence[str], pattern: str, name: str, kind: str,
                 num_threads: int | None = None) -> None:
        import tiktoken

        num_special = len(specials)
        inner = len(ranks)
        if inner == 0 or inner + num_special > MAX_VOCAB_SIZE:
            raise TokenizerError(f"{name}: {inner} ranks; a tokenizer needs 1 to {MAX_VOCAB_SIZE - num_special}.")
        if sorted(ranks.values()) != list(range(inner)):
            raise TokenizerError(f"{name}: the ranks are not 0..{inner - 1} without gaps; pass an intact file.")
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise TokenizerError(f"{name}: byte 0x{missing[0]:02X} has no rank, so some text cannot be encoded; "
                                 "pass a byte-level BPE rank file.")
        try:
            self._enc = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
        except Exception as err:  # tiktoken raises ValueError or a Rust panic for a bad pattern
            raise TokenizerError(f"{name}: tiktoken cannot use this pattern/ranks ({err}); "
                                 "pass an intact file.") from err
        self.kind = kind
        self._offset = num_special
        self._threads = num_threads if num_threads is not None else encode_threads()
        self.size = num_special + inner
        self._bytes: list[bytes] = [b""] * inner
        for token, rank in ranks.items():
            self._bytes[rank] = token
        self._specials = list(specials)
        self._special_ids = {piece: i for i, piece in enumerate(self._specials)}
        self._byte_lengths = np.array([len(b) for b in self._bytes], dtype=np.int64)
        self.special = np.zeros(self.size, dtype=bool)
        self.special[:num_special] = True
        self.word_start = np.ones(self.size, dtype=bool)
        self.word_start[num_special:] = [_starts_word(b) for b in self._bytes]
        self.unk_id, self.bos_id = self.find("<unk>"), self.find_first(("<s>", "<|begin_of_text|>"))
        self.eos_id = self.find_first(("</s>", "<|end_of_text|>", "<|endoftext|>"))
        self.pad_id = self.find_first(("<pad>", "<|pad|>"))

    def find(self, piece: str) -> int | None:
        """A special's id by name; an ordinary piece by its UTF-8 text; None when missing."""
        if piece in self._special_ids:
            return self._special_ids[piece]
        rank = self._enc._mergeable_ranks.get(piece.encode("utf-8"))  # noqa: SLF001 - the library's own table
        return None if rank is None else rank + self._offset

    def find_first(self, pieces: Sequence[str]) -> int | None:
        return next((i for i in (self._special_ids.get(p) for p in pieces) if i is not None), None)

    def piece(self, i: int) -> str:
        if i < self._offset:
            return self._specials[i]
        return self._bytes[i - self._offset].decode("utf-8", errors="backslashreplace")

    def piece_bytes(self, i: int) -> bytes | None:
        return None if i < self._offset else self._bytes[i - self._offset]

    def piece_text(self, i: int) -> str:
        if i < self._offset:
            return self._specials[i]
        raw = self._bytes[i - self._offset]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "".join(f"<0x{b:02X}>" for b in raw)

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids back to back (int32) and each text's length (int64): one multi-threaded batch."""
        encoded = self._enc.encode_ordinary_batch(texts, num_threads=self._threads)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        flat = np.fromiter((i for row in encoded for i in row), dtype=np.int32, count=int(lengths.sum()))
        if self._offset:
            flat += self._offset
        return flat, lengths

    def encode_offsets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """``encode_flat`` plus each token's byte offset in its text (running sums of byte lengths)."""
        flat, lengths = self.encode_flat(texts)
        sizes = self._byte_lengths[flat - self._offset]
        ends = np.cumsum(sizes)
        doc_starts = np.repeat(np.concatenate([[0], ends])[np.concatenate([[0], np.cumsum(lengths)[:-1]])]
                               if lengths.shape[0] else np.zeros(0, np.int64), lengths)
        return flat, lengths, ends - sizes - doc_starts, "byte"

    def decode(self, ids: list[int]) -> str:
        """Text of model ids; special ids decode to nothing (as SentencePiece's control pieces)."""
        raw = b"".join(self._bytes[i - self._offset] for i in ids if i >= self._offset)
        return raw.decode("utf-8", errors="replace")


def _starts_word(raw: bytes) -> bool:
    if not raw or 0x80 <= raw[0] < 0xC0:
        return False
    first = raw[:4].decode("utf-8", errors="ignore")[:1]
    return not first or unicodedata.category(first)[0] not in "LM"
