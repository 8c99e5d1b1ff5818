"""The tokenizer as lmpairs sees it: every kind behind one facade, with the effective vocabulary,
exact batched encoding, optional sentence ends, decoding and a fingerprint.

Kinds (told from the bytes, never from the file name, so a renamed file or remote bytes load the
same): a SentencePiece ``.model``; a Hugging Face ``tokenizer.json`` (optional ``tokenizers``
package, ``pip install 'lmpairs[hf]'``); Mistral's ``tekken.json`` and a tiktoken rank file (the
``tiktoken`` package); a local model directory holding one of them (:mod:`lmpairs.tokenizers.files`).

Encoding is exact: a document's ids are the tokenizer's own encoding of its whole text, no bos/eos;
sentence ends are computed only when asked (:mod:`lmpairs.tokenizers.offsets`).

A pretrained model (LLaMA, T5's spiece, GPT-2) often lacks pad, mask and sentinel pieces; they are
given ids past the model's own vocabulary in T5's layout (``<extra_id_i>`` = n + 99 - i, then mask,
then pad, then eos where even that is missing), then any extra specials an objective asks for
(``[NLU]``, ``<fim_prefix>``) in the order asked, so the embedding a trainer builds must have
``vocab.size`` rows, not ``n``. A model from :func:`train_tokenizer` already holds every special
piece of lmpairs' own, so nothing is appended to it.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain

import numpy as np

from lmpairs.sentences import normalize_text
from lmpairs.tokenizers.errors import FIX, NUM_SENTINELS, TokenizerError, sentinel_piece
from lmpairs.tokenizers.files import read_tokenizer_bytes
from lmpairs.tokenizers.kinds import parse_model
from lmpairs.tokenizers.offsets import sentence_token_ends, whole_documents
from lmpairs.tokenizers.training import HF_MODEL_TYPES, MODEL_TYPES, write_trained_tokenizer
from lmpairs.tokenizers.vocabulary import MASK_PIECES, build_vocab
from lmpairs.transforms.batch import Ragged

logger = logging.getLogger(__name__)



class Tokenizer:
    """A loaded tokenizer of any kind plus its effective :class:`~lmpairs.vocab.Vocab`.

    Picklable (the file bytes travel, not the path), so a Beam DoFn may also ship one; the usual
    route is still to :meth:`from_bytes` it in ``DoFn.setup()``. ``kind`` is ``"sentencepiece"``,
    ``"tokenizer.json"``, ``"tekken"`` or ``"tiktoken"``; ``num_threads`` sizes the native encode
    threads (default: this process's share of the cores, :func:`lmpairs.tokenizers.threads.encode_threads`).
    Objectives that need special tokens beyond lmpairs' own (``[NLU]``, ``<fim_prefix>``) get them
    with :meth:`add_named_specials` (the build) and :meth:`restore_named_specials` (readers).
    """

    def __init__(self, model_proto: bytes, *, name: str = "<bytes>", num_threads: int | None = None) -> None:
        self._proto = bytes(model_proto)
        self.name = name
        self._num_threads = num_threads
        self.sha256 = hashlib.sha256(self._proto).hexdigest()
        self._model = parse_model(self._proto, name, num_threads)
        self.kind = self._model.kind
        self.model_vocab_size = self._model.size
        self.vocab, self.appended = build_vocab(self._model, name)
        self._visible = np.zeros(self.vocab.size, dtype=bool)
        self._visible[[self.vocab.mask_id, *self.vocab.sentinel_ids]] = True

    @property
    def file_bytes(self) -> bytes:
        """The tokenizer file's bytes (what :attr:`sha256` covers and workers receive)."""
        return self._proto

    @classmethod
    def load(cls, path: str | os.PathLike, *, num_threads: int | None = None) -> Tokenizer:
        """Load a tokenizer file or model directory (kind told by content); every failure,
        a special or oversized file included, is a :class:`TokenizerError`."""
        resolved, data = read_tokenizer_bytes(path)
        return cls(data, name=str(resolved), num_threads=num_threads)

    @classmethod
    def from_bytes(cls, model_proto: bytes, *, name: str = "<bytes>", num_threads: int | None = None) -> Tokenizer:
        """Build from a file's bytes (e.g. read from a remote filesystem, or shipped to a worker)."""
        return cls(model_proto, name=name, num_threads=num_threads)

    def add_named_specials(self, pieces: Sequence[str], *, ids: Mapping[str, int] | None = None) -> None:
        """Give each piece an id: the model's own where it has the piece (StarCoder's ``<fim_prefix>``,
        tekken's ``[PREFIX]``), else the next id past every appended one, in the order given; ``ids``
        (a manifest's ``special_ids``) restores the ids a build assigned. Deterministic; the vocabulary
        grows and the manifest's ``special_ids`` records every named id.
        """
        old_size, named = self.vocab.size, dict(self.vocab.named)
        pieces = [p for p in dict.fromkeys(pieces) if p not in named]
        wanted: dict[str, int | None] = {}
        for piece in pieces:
            given = None if ids is None else ids.get(piece)
            wanted[piece] = self._model.find(piece) if given is None else given
        self.vocab = self.vocab.with_named(wanted)
        self.appended.update((i, p) for p, i in self.vocab.named if i >= self.model_vocab_size and p in wanted)
        grow = self.vocab.size - old_size
        self._visible = np.concatenate([self._visible, np.zeros(grow, bool)])
        self._visible[[i for _, i in self.vocab.named]] = True

    def restore_named_specials(self, special_ids: Mapping[str, int | None]) -> None:
        """Re-add the named specials a manifest's ``special_ids`` records (inspect, dynamic corruption)."""
        named = {k: v for k, v in special_ids.items() if k not in STANDARD_SPECIALS and isinstance(v, int)}
        if named:
            self.add_named_specials(sorted(named, key=named.__getitem__), ids=named)

    def __getstate__(self) -> dict:
        return {"proto": self._proto, "name": self.name, "num_threads": self._num_threads,
                "named": self.vocab.special_ids()}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["proto"], name=state["name"], num_threads=state.get("num_threads"))
        self.restore_named_specials(state.get("named") or {})

    def __repr__(self) -> str:
        return (f"Tokenizer({os.path.basename(self.name)!r}, kind={self.kind!r}, vocab_size={self.vocab.size}, "
                f"model_vocab_size={self.model_vocab_size}, sha256={self.sha256[:12]})")

    def encode(self, text: str) -> np.ndarray:
        """The tokenizer's own encoding of ``text`` (int32, no bos/eos): what a document becomes."""
        return self.encode_flat([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode whole texts in one call; int32 ids, no bos/eos."""
        flat, lengths = self.encode_flat(texts)
        return np.split(flat, np.cumsum(lengths[:-1])) if len(texts) else []

    def encode_flat(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids of ``texts`` back to back (int32) and each text's length (int64), in one native
        call: the columnar form the build uses (no per-document arrays)."""
        if not len(texts):
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        return self._model.encode_flat(list(texts))

    def encode_columns(self, texts: Sequence[str], *, sentence_ends: bool = False) -> tuple[Ragged, Ragged]:
        """``(ids, sentence_ends)`` of whole texts as ragged columns, one native call.

        ``ids`` row ``d`` is exactly ``encode(texts[d])``. ``sentence_ends`` row ``d`` holds that
        document's exclusive sentence ends in tokens, strictly increasing, the last equal to its
        length (none for a document without tokens): the sentence rule's ends
        (:func:`lmpairs.sentences.sentence_end_offsets`) mapped through the tokenizer's offsets
        when ``sentence_ends`` is true, else one sentence per document (nothing extra computed).
        Texts are taken as given: the reader has already normalized them (BOM, CRLF).
        """
        texts = list(texts)
        if not texts:
            empty = Ragged(np.zeros(0, np.int32), np.zeros(1, np.int64))
            return empty, empty
        if not sentence_ends:
            flat, lengths = self._model.encode_flat(texts)
            ends = whole_documents(lengths)
        else:
            flat, lengths, starts, unit = self._model.encode_offsets(texts)
            ends = sentence_token_ends(texts, lengths, starts, unit=unit)
        offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return Ragged(flat, offsets), ends

    def encode_documents(self, texts: Sequence[str], *,
                         sentence_ends: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text ``(ids, sentence_ends)`` (int32): :meth:`encode_columns` as a list, after the
        reader's normalization (a leading BOM dropped, CRLF/CR -> LF). A convenience for tests and
        small callers; the build uses the columns."""
        ids, ends = self.encode_columns([normalize_text(t) for t in texts], sentence_ends=sentence_ends)
        return [(ids.row(d), ends.row(d)) for d in range(ids.num_rows)]

    def piece_to_id(self, piece: str) -> int | None:
        """The effective id of ``piece``, or None when neither the model nor the appended ids have it."""
        found = self._model.find(piece)
        if found is not None:
            return found
        return next((i for i, p in self.appended.items() if p == piece), None)

    def id_to_piece(self, i: int) -> str:
        """The piece of any effective id, appended ones included (``<extra_id_3>``, ``<mask>``)."""
        i = self._check_id(i)
        return self._model.piece(i) if i < self.model_vocab_size else self.appended[i]

    def piece_text(self, i: int) -> str:
        """The text id ``i`` stands for in running text, for showing one token at a time: a word
        start's marker (``▁``, ``Ġ``) as a leading space, byte-level pieces as the text they spell
        (bytes that are only part of a character as ``<0xNN>``), specials and appended ids as their
        piece (``<extra_id_3>``)."""
        i = self._check_id(i)
        return self._model.piece_text(i) if i < self.model_vocab_size else self.appended[i]

    def piece_texts(self, ids: Iterable[int] | np.ndarray) -> list[str]:
        """:meth:`piece_text` of each position, with a character spelled by several byte pieces
        (byte-level BPE, byte fallback) shown whole on the position that completes it and ``""`` on
        the ones before; bytes that never form a character stay ``<0xNN>``. Joined, the strings
        read as the decoded text (specials shown by name)."""
        out: list[str] = []
        pending: list[tuple[int, bytes]] = []

        def flush() -> None:
            for position, raw in pending:
                out[position] = "".join(f"<0x{b:02X}>" for b in raw)
            pending.clear()

        for position, i in enumerate(np.asarray(ids, dtype=np.int64).reshape(-1).tolist()):
            raw = self._model.piece_bytes(self._check_id(i)) if i < self.model_vocab_size else None
            if raw is None:
                flush()
                out.append(self.piece_text(i))
                continue
            out.append("")
            pending.append((position, raw))
            joined = b"".join(r for _, r in pending)
            try:
                out[position] = joined.decode("utf-8")
                pending.clear()
            except UnicodeDecodeError as err:
                if err.reason != "unexpected end of data" or len(joined) > 8:
                    flush()
        flush()
        return out

    def _check_id(self, i: int) -> int:
        i = int(i)
        if 0 <= i < self.model_vocab_size or i in self.appended:
            return i
        raise TokenizerError(f"id {i} is outside the effective vocabulary [0, {self.vocab.size}) of "
                             f"{self.name}; were these ids made with another tokenizer?")

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of ``ids`` with mask and sentinel pieces shown (``<mask>``, ``<extra_id_0>``).

        Other special ids (pad, bos, eos, appended pad) decode to nothing, as in SentencePiece.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= self.vocab.size)
        if bad.any():
            self._check_id(int(ids[bad][0]))  # raises with the message
        marks = np.flatnonzero(self._visible[ids])
        parts, start = [], 0
        for pos in chain(marks.tolist(), [ids.size]):
            parts.append(self._decode_plain(ids[start:pos], after_mark=start > 0))
            if pos < ids.size:
                parts.append(self.id_to_piece(int(ids[pos])))
            start = pos + 1
        return "".join(parts)

    def _decode_plain(self, ids: np.ndarray, *, after_mark: bool) -> str:
        ids = ids[ids < self.model_vocab_size]
        text = self._model.decode(ids.tolist())
        # A decoder drops the space of a text's first word; after a mark it is a real space.
        if after_mark and ids.size and self.vocab.word_start[ids[0]] and text and not text[0].isspace():
            text = " " + text
        return text

    def describe(self) -> dict:
        """The tokenizer's entry in a manifest."""
        return {
            "file": os.path.basename(self.name), "kind": self.kind, "sha256": self.sha256,
            "vocab_size": self.vocab.size, "model_vocab_size": self.model_vocab_size,
            "special_ids": self.vocab.special_ids(), "appended": len(self.appended),
        }


STANDARD_SPECIALS = ("pad", "bos", "eos", "unk", "mask", "extra_id_0", "num_sentinels")
"""The keys of ``Vocab.special_ids()`` that are not extra named specials."""


@functools.wraps(write_trained_tokenizer, assigned=("__module__", "__name__", "__qualname__"))
def train_tokenizer(*args, **kwargs) -> Tokenizer:
    """Train a tokenizer (see :func:`lmpairs.tokenizers.training.write_trained_tokenizer` for the
    arguments), write it and return it loaded."""
    return Tokenizer.load(write_trained_tokenizer(*args, **kwargs))


__all__ = ["FIX", "HF_MODEL_TYPES", "MASK_PIECES", "MODEL_TYPES", "NUM_SENTINELS", "STANDARD_SPECIALS", "Tokenizer",
           "TokenizerError", "sentinel_piece",
           "train_tokenizer"]
