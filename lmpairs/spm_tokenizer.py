"""The SentencePiece side of :class:`lmpairs.tokenizer.Tokenizer`: a ``.model`` file's pieces and specials.

SentencePiece is the default and the fast path: one C++ call encodes a batch of sentences, and
sentence ends are the running sums of the sentence lengths (no offsets needed). Every failure is
a :class:`~lmpairs.tokenizer_common.TokenizerError`.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import sentencepiece as spm

from lmpairs.sentences import normalize_text, split_sentences
from lmpairs.tokenizer_common import TokenizerError

WORD_START = "\u2581"
PAD_PIECES = ("<pad>", "[PAD]")


class SentencePieceModel:
    """A parsed ``.model``: its pieces, the specials it declares and batched encoding.

    ``pad_id``/``bos_id``/``eos_id``/``unk_id`` are the model's own ids (None when it has none);
    the facade appends what is missing.
    """

    kind = "sentencepiece"

    def __init__(self, data: bytes, name: str) -> None:
        sp = spm.SentencePieceProcessor()
        try:
            sp.LoadFromSerializedProto(data)
        except RuntimeError as err:
            reason = str(err).strip().splitlines()[0]
            raise TokenizerError(
                f"{name}: not a SentencePiece model (SentencePiece says: {reason}); pass the binary "
                ".model file that SentencePiece training writes (not the .vocab text file), or a "
                "Hugging Face tokenizer.json.") from err
        if sp.get_piece_size() == 0:
            raise TokenizerError(f"{name}: the SentencePiece model has no pieces; retrain it.")
        self._sp = sp
        self.size = sp.get_piece_size()
        self.unk_id = sp.unk_id()
        self.pad_id = int(sp.pad_id()) if sp.pad_id() >= 0 else self.find_first(PAD_PIECES)
        self.eos_id = int(sp.eos_id()) if sp.eos_id() >= 0 else self.find("</s>")
        self.bos_id = int(sp.bos_id()) if sp.bos_id() >= 0 else self.find("<s>")
        self.special = np.fromiter((sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i) for i in range(self.size)),
                                   dtype=bool, count=self.size)
        self.word_start = np.fromiter((sp.id_to_piece(i).startswith(WORD_START) for i in range(self.size)),
                                      dtype=bool, count=self.size)

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
        """All ids of ``texts`` back to back (int32) and each text's length (int64)."""
        encoded = self._sp.encode(texts, out_type=int)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        flat = np.fromiter(chain.from_iterable(encoded), dtype=np.int32, count=int(lengths.sum()))
        return flat, lengths

    def encode_documents(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Sentences of every text encoded in one call; see ``Tokenizer.encode_documents``.

        Sentences are encoded apart, so the whitespace between them is dropped (SentencePiece
        would turn a line break into a plain ``▁``) and each sentence starts a word.
        """
        per_text = [split_sentences(normalize_text(text)) for text in texts]
        counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
        flat, lengths = self.encode_flat(list(chain.from_iterable(per_text)))
        token_ends = np.cumsum(lengths)
        first_sentence = np.concatenate([[0], np.cumsum(counts)])
        first_token = np.concatenate([[0], token_ends])[first_sentence]
        nonempty = lengths > 0
        doc_start = np.repeat(first_token[:-1], counts)
        ends = (token_ends - doc_start)[nonempty].astype(np.int32)
        first_end = np.concatenate([[0], np.cumsum(nonempty)])[first_sentence]
        tokens, sentences = first_token.tolist(), first_end.tolist()
        return [(flat[tokens[d]:tokens[d + 1]], ends[sentences[d]:sentences[d + 1]])
                for d in range(len(per_text))]

    def decode(self, ids: list[int]) -> str:
        """Text of model ids; control pieces decode to nothing."""
        return self._sp.decode(ids)

    @property
    def processor(self) -> spm.SentencePieceProcessor:
        return self._sp
