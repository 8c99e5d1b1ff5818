"""The tokenizer as lmpairs sees it: a SentencePiece ``.model`` or a Hugging Face ``tokenizer.json``
behind one facade, with the effective vocabulary, batched encoding, decoding and a fingerprint.

The kind is told from the bytes (a JSON object with ``model``/``added_tokens`` is a tokenizer.json,
anything else must parse as a SentencePiece protobuf), never from the file name, so a renamed file
or remote bytes load the same. SentencePiece stays the default and fast path; tokenizer.json needs
the optional ``tokenizers`` package (``pip install 'lmpairs[hf]'``).

A pretrained model (LLaMA, T5's spiece, GPT-2) often lacks pad, mask and sentinel pieces; they are
given ids past the model's own vocabulary in T5's layout (``<extra_id_i>`` = n + 99 - i, then mask,
then pad, then eos where even that is missing), so the embedding a trainer builds must have
``vocab.size`` rows, not ``n``. A model from :func:`train_tokenizer` already holds every special
piece, so nothing is appended to it.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from lmpairs.tokenizer_common import NUM_SENTINELS, TokenizerError, sentinel_piece
from lmpairs.tokenizer_training import HF_MODEL_TYPES, MODEL_TYPES, write_trained_tokenizer
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)

MASK_PIECES = ("<mask>", "[MASK]")
_FIX = ("pass a SentencePiece .model file or a Hugging Face tokenizer.json, or train one with "
        "`lmpairs train-tokenizer`.")


class Tokenizer:
    """A loaded tokenizer (SentencePiece or tokenizer.json) plus its effective :class:`~lmpairs.vocab.Vocab`.

    Picklable (the file bytes travel, not the path), so a Beam DoFn may also ship one; the usual
    route is still to :meth:`from_bytes` it in ``DoFn.setup()``. ``kind`` is ``"sentencepiece"``
    or ``"tokenizer.json"``; ``num_threads`` sizes tokenizer.json's encode pool (default: this
    process's share of the cores, see :func:`lmpairs.hf_tokenizer.encode_threads`).
    """

    def __init__(self, model_proto: bytes, *, name: str = "<bytes>", num_threads: int | None = None) -> None:
        self._proto = bytes(model_proto)
        self.name = name
        self._num_threads = num_threads
        self.sha256 = hashlib.sha256(self._proto).hexdigest()
        self._model = _parse(self._proto, name, num_threads)
        self.kind = self._model.kind
        self.model_vocab_size = self._model.size
        self.vocab, self.appended = _build_vocab(self._model, name)
        self._visible = np.zeros(self.vocab.size, dtype=bool)
        self._visible[[self.vocab.mask_id, *self.vocab.sentinel_ids]] = True

    @classmethod
    def load(cls, path: str | os.PathLike, *, num_threads: int | None = None) -> Tokenizer:
        """Load a ``.model`` or ``tokenizer.json`` file (told apart by content); every failure is a
        :class:`TokenizerError`."""
        path = Path(path)
        if not path.exists():
            raise TokenizerError(f"{path}: no such tokenizer file; {_FIX}")
        if path.is_dir():
            raise TokenizerError(f"{path}: is a directory, expected a SentencePiece .model file or a "
                                 f"tokenizer.json (e.g. {path / 'tokenizer.json'}); {_FIX}")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise TokenizerError(f"{path}: cannot read the tokenizer file ({err.strerror}); "
                                 "check its permissions.") from err
        if not data:
            raise TokenizerError(f"{path}: the tokenizer file is empty (0 bytes); {_FIX}")
        return cls(data, name=str(path), num_threads=num_threads)

    @classmethod
    def from_bytes(cls, model_proto: bytes, *, name: str = "<bytes>", num_threads: int | None = None) -> Tokenizer:
        """Build from a file's bytes (e.g. read from a remote filesystem, or shipped to a worker)."""
        return cls(model_proto, name=name, num_threads=num_threads)

    def __getstate__(self) -> dict:
        return {"proto": self._proto, "name": self.name, "num_threads": self._num_threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["proto"], name=state["name"], num_threads=state.get("num_threads"))

    def __repr__(self) -> str:
        return (f"Tokenizer({os.path.basename(self.name)!r}, kind={self.kind!r}, vocab_size={self.vocab.size}, "
                f"model_vocab_size={self.model_vocab_size}, sha256={self.sha256[:12]})")

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode whole texts in one call; int32 ids, no bos/eos."""
        flat, lengths = self._model.encode_flat(list(texts))
        return np.split(flat, np.cumsum(lengths[:-1])) if len(texts) else []

    def encode_documents(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Encode texts with their sentence ends, in one batched call.

        Returns per text ``(ids, sentence_ends)``, both int32: ``sentence_ends[k]`` is the
        exclusive end of sentence ``k`` in ``ids`` (found from the text by
        :func:`lmpairs.sentences.split_sentences`; the last equals ``len(ids)``), strictly increasing; a
        text without sentences gives two empty arrays. SentencePiece encodes the sentences apart
        (whitespace between them dropped); a tokenizer.json encodes the whole text and maps the
        sentence ends through its offsets (whitespace kept, so the ids decode back to the text).
        """
        return self._model.encode_documents(texts)

    def add_named_specials(self, pieces: Sequence[str], *, ids: Mapping[str, int] | None = None) -> None:
        """Give each piece an id: the model's own where it has the piece (StarCoder's ``<fim_prefix>``),
        else the next id past every appended one, in the order given; ``ids`` (a manifest's
        ``special_ids``) restores the ids a build assigned. Deterministic; the vocabulary grows and
        the manifest's ``special_ids`` records every named id.
        """
        old_size, named = self.vocab.size, dict(self.vocab.named)
        pieces = [p for p in pieces if p not in named]
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


def _parse(data: bytes, name: str, num_threads: int | None):
    """The backend model for ``data``: a tokenizer.json by content, else SentencePiece."""
    from lmpairs.hf_tokenizer import HFTokenizerModel, parse_tokenizer_json

    config = parse_tokenizer_json(data, name)
    if config is not None:
        return HFTokenizerModel(data, config, name, num_threads=num_threads)
    from lmpairs.spm_tokenizer import SentencePieceModel

    return SentencePieceModel(data, name)


def _build_vocab(model, name: str) -> tuple[Vocab, dict[int, str]]:
    """The effective vocabulary and the pieces appended past the model (id -> piece).

    ``model`` declares its own pad/bos/eos/unk ids (None when absent), ``find(piece)`` (None when
    missing, never unk), ``special`` and ``word_start`` flags for its ``size`` ids.
    """
    n = model.size
    found = [model.find(sentinel_piece(i)) for i in range(NUM_SENTINELS)]
    appended: dict[int, str] = {}
    if all(i is not None for i in found):
        sentinel_ids = tuple(found)
    elif all(i is None for i in found):
        sentinel_ids = tuple(n + NUM_SENTINELS - 1 - i for i in range(NUM_SENTINELS))
        appended.update((sid, sentinel_piece(i)) for i, sid in enumerate(sentinel_ids))
    else:
        missing = [sentinel_piece(i) for i, f in enumerate(found) if f is None]
        raise TokenizerError(
            f"{name}: has some <extra_id_N> pieces but lacks {len(missing)} (first: {missing[0]}); "
            f"lmpairs needs all {NUM_SENTINELS} or none. Retrain with `lmpairs train-tokenizer`.")

    def _id_or_append(existing: int | None, piece: str) -> int:
        if existing is not None:
            return existing
        new_id = n + len(appended)
        appended[new_id] = piece
        return new_id

    mask_id = _id_or_append(next((i for i in map(model.find, MASK_PIECES) if i is not None), None), "<mask>")
    pad_id = _id_or_append(model.pad_id, "<pad>")
    eos_id = _id_or_append(model.eos_id, "</s>")
    size = n + len(appended)
    special = np.ones(size, dtype=bool)
    special[:n] = model.special
    if special.all():
        raise TokenizerError(f"{name}: every one of its {n} ids is a special token, so nothing is left to "
                             "encode text with; pass a trained tokenizer.")
    word_start = np.zeros(size, dtype=bool)
    word_start[:n] = model.word_start
    vocab = Vocab(size=size, pad_id=pad_id, bos_id=model.bos_id, eos_id=eos_id, unk_id=model.unk_id,
                  mask_id=mask_id, sentinel_ids=sentinel_ids, special=special, word_start=word_start)
    return vocab, appended


@functools.wraps(write_trained_tokenizer, assigned=("__module__", "__name__", "__qualname__"))
def train_tokenizer(*args, **kwargs) -> Tokenizer:
    """Train a tokenizer (see :func:`lmpairs.tokenizer_training.write_trained_tokenizer` for the
    arguments), write it and return it loaded."""
    return Tokenizer.load(write_trained_tokenizer(*args, **kwargs))


__all__ = ["HF_MODEL_TYPES", "MODEL_TYPES", "NUM_SENTINELS", "Tokenizer", "TokenizerError", "sentinel_piece",
           "train_tokenizer"]
