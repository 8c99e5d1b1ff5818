"""The SentencePiece kind: a ``.model`` file's pieces and specials, batched encoding and offsets.

Each document is encoded whole in one C++ call per batch (SentencePiece's own thread pool, sized to
this worker's share of the cores); sentence ends, when an objective asks, come from the pieces'
offsets: running sums of piece lengths when the pieces spell the text
(:mod:`lmpairs.tokenizers.spm_offsets`), else character offsets from ``offset_mapping`` on current
SentencePiece, byte offsets of the immutable proto pieces on older ones. Every failure is a
:class:`~lmpairs.tokenizers.errors.TokenizerError`.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import sentencepiece as spm

from lmpairs.tokenizers.errors import TokenizerError
from lmpairs.tokenizers.offsets import utf8_offsets
from lmpairs.tokenizers.spm_offsets import byte_starts, piece_byte_lengths, plain_layout
from lmpairs.tokenizers.threads import encode_threads

WORD_START = "\u2581"
PAD_PIECES = ("<pad>", "[PAD]")


def _offsets_type(sp: spm.SentencePieceProcessor) -> str:
    """The offsets return type this SentencePiece supports (they changed across releases)."""
    for offsets in ("offset_mapping", "immutable_proto", "proto"):
        try:
            sp.encode([""], out_type=offsets)
            return offsets
        except (ValueError, TypeError, AttributeError, RuntimeError):
            continue
    return "immutable_proto"


class SentencePieceModel:
    """A parsed ``.model``: its pieces, the specials it declares and batched encoding.

    ``pad_id``/``bos_id``/``eos_id``/``unk_id`` are the model's own ids (None when it has none);
    the facade appends what is missing.
    """

    kind = "sentencepiece"

    def __init__(self, data: bytes, name: str, *, num_threads: int | None = None) -> None:
        sp = spm.SentencePieceProcessor()
        try:
            sp.LoadFromSerializedProto(data)
        except RuntimeError as err:
            reason = str(err).strip().splitlines()[0]
            raise TokenizerError(
                f"{name}: not a SentencePiece model (SentencePiece says: {reason}); pass the binary "
                ".model file that SentencePiece training writes (not the .vocab text file), a "
                "Hugging Face tokenizer.json, a tekken.json or a tiktoken rank file.") from err
        if sp.get_piece_size() == 0:
            raise TokenizerError(f"{name}: the SentencePiece model has no pieces; retrain it.")
        self._sp = sp
        self._threads = num_threads if num_threads is not None else encode_threads()
        self._offsets_type = _offsets_type(sp)
        self.size = sp.get_piece_size()
        self.unk_id = sp.unk_id()
        self.pad_id = int(sp.pad_id()) if sp.pad_id() >= 0 else self.find_first(PAD_PIECES)
        self.eos_id = int(sp.eos_id()) if sp.eos_id() >= 0 else self.find("</s>")
        self.bos_id = int(sp.bos_id()) if sp.bos_id() >= 0 else self.find("<s>")
        self.special = np.fromiter((sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i) for i in range(self.size)),
                                   dtype=bool, count=self.size)
        self.word_start = np.fromiter((sp.id_to_piece(i).startswith(WORD_START) for i in range(self.size)),
                                      dtype=bool, count=self.size)
        self._data = data
        self._plain: tuple[np.ndarray | None, bool] | None = None  # piece byte lengths, dummy prefix

    def find(self, piece: str) -> int | None:
        """The model's id of ``piece`` or None: ``piece_to_id`` answers unk for a missing piece."""
        i = self._sp.piece_to_id(piece)
        if i == self._sp.unk_id() and piece != self._sp.id_to_piece(i):
            return None
        return i

    def find_first(self, pieces: Sequence[str]) -> int | None:
        return next((i for i in map(self.find, pieces) if i is not None), None)

    def piece(self, i: int) -> str:
        return self._sp.id_to_piece(i)

    def piece_text(self, i: int) -> str:
        """``▁`` as a space; a byte piece of printable ASCII as its character, other bytes as ``<0xNN>``."""
        piece = self._sp.id_to_piece(i)
        if self._sp.is_byte(i):
            value = int(piece[3:5], 16)
            return chr(value) if 0x20 <= value < 0x7F else piece
        if self.special[i]:
            return piece
        return piece.replace(WORD_START, " ")

    def piece_bytes(self, i: int) -> bytes | None:
        """The byte a byte-fallback piece (``<0xE3>``) stands for; None for other pieces."""
        return bytes([int(self._sp.id_to_piece(i)[3:5], 16)]) if self._sp.is_byte(i) else None

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids of ``texts`` back to back (int32) and each text's length (int64): one C++ call.

        Lists of ints, flattened by ``np.fromiter``: cheaper than ``out_type="numpy"``, whose one
        array per text costs ~10 us each on 40-byte documents."""
        encoded = self._sp.encode(texts, out_type=int, num_threads=self._threads)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        flat = np.fromiter(chain.from_iterable(encoded), dtype=np.int32, count=int(lengths.sum()))
        return flat, lengths

    def encode_offsets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """``encode_flat`` plus every token's start offset in its text and the offsets' unit.

        For a model whose pieces spell the text (:mod:`lmpairs.tokenizers.spm_offsets`) the starts
        are running sums of piece lengths over the plain encode (about half the cost of asking
        SentencePiece for offsets); otherwise, and for a text whose pieces do not add up to it,
        SentencePiece's own."""
        piece_bytes, dummy_prefix = self._plain_layout()
        if piece_bytes is not None:
            flat, lengths = self.encode_flat(texts)
            starts, wrong = byte_starts(flat, lengths, texts, piece_bytes, dummy_prefix=dummy_prefix)
            if wrong.any():
                firsts = np.concatenate(([0], np.cumsum(lengths)))
                for d in np.flatnonzero(wrong).tolist():
                    starts[firsts[d]:firsts[d + 1]] = self._own_byte_starts(texts[d])
            return flat, lengths, starts, "byte"
        return self._encode_offsets(texts)

    def _plain_layout(self) -> tuple[np.ndarray | None, bool]:
        """Each piece's byte length when the pieces spell the text, else None; and whether a dummy
        ``▁`` is put in front. Computed on first use (only objectives with sentences need it)."""
        if self._plain is None:
            plain, dummy_prefix = plain_layout(self._data)
            sp, ids = self._sp, range(self.size)
            lengths = piece_byte_lengths([sp.id_to_piece(i) for i in ids], [sp.is_byte(i) for i in ids],
                                         [sp.is_unknown(i) for i in ids]) if plain else None
            self._plain = (lengths, dummy_prefix)
        return self._plain

    def _encode_offsets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        encoded = self._sp.encode(texts, out_type=self._offsets_type, num_threads=self._threads)
        if self._offsets_type == "offset_mapping":
            ids = [e["ids"] for e in encoded]
            lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
            total = int(lengths.sum())
            pairs = chain.from_iterable(chain.from_iterable(e["offsets"] for e in encoded))  # (start, end) flat
            starts = np.fromiter(pairs, dtype=np.int64, count=2 * total)[0::2]
            unit = "char"
        else:
            ids = [[p.id for p in e.pieces] for e in encoded]
            lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
            total = int(lengths.sum())
            starts = np.fromiter((p.begin for e in encoded for p in e.pieces), dtype=np.int64, count=total)
            unit = "byte"
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=total)
        return flat, lengths, starts, unit

    def _own_byte_starts(self, text: str) -> np.ndarray:
        """SentencePiece's own token starts of one text, in bytes."""
        _, _, starts, unit = self._encode_offsets([text])
        return utf8_offsets(text)[starts] if unit == "char" else starts

    def decode(self, ids: list[int]) -> str:
        """Text of model ids; control pieces decode to nothing."""
        return self._sp.decode(ids)

    @property
    def processor(self) -> spm.SentencePieceProcessor:
        return self._sp
