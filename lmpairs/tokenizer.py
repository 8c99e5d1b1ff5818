"""SentencePiece models as lmpairs sees them: the effective vocabulary, batched encoding, a fingerprint.

A pretrained model (LLaMA, T5's spiece) often lacks pad, mask and sentinel pieces; they are given
ids past the model's own vocabulary in T5's layout (``<extra_id_i>`` = n + 99 - i, then mask, then
pad), so the embedding a trainer builds must have ``vocab.size`` rows, not ``n``. A model from
:func:`train_tokenizer` already holds every special piece, so nothing is appended to it.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
from itertools import chain
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import sentencepiece as spm

from lmpairs.errors import UserError
from lmpairs.text import CorpusSentences, normalize_text, resolve_inputs, split_sentences
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)

NUM_SENTINELS = 100
MASK_PIECES = ("<mask>", "[MASK]")
PAD_PIECES = ("<pad>", "[PAD]")
WORD_START = "\u2581"


class TokenizerError(UserError):
    """A tokenizer file or training input is unusable; the message names the path and the fix."""


def sentinel_piece(index: int) -> str:
    """The piece text of T5's ``index``-th sentinel, ``<extra_id_{index}>``."""
    return f"<extra_id_{index}>"


class Tokenizer:
    """A loaded SentencePiece model plus its effective :class:`~lmpairs.vocab.Vocab`.

    Picklable (the model bytes travel, not the file path), so a Beam DoFn may also ship one; the
    usual route is still to :meth:`load` it in ``DoFn.setup()``.
    """

    def __init__(self, model_proto: bytes, *, name: str = "<bytes>") -> None:
        self._proto = bytes(model_proto)
        self.name = name
        self.sha256 = hashlib.sha256(self._proto).hexdigest()
        self._sp = _parse_model(self._proto, name)
        self.model_vocab_size = self._sp.get_piece_size()
        self.vocab, self.appended = _build_vocab(self._sp, name)
        self._visible = np.zeros(self.vocab.size, dtype=bool)
        self._visible[[self.vocab.mask_id, *self.vocab.sentinel_ids]] = True

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Load a SentencePiece ``.model`` file; every failure is a :class:`TokenizerError`."""
        path = Path(path)
        fix = "pass a SentencePiece .model file, or train one with `lmpairs train-tokenizer`."
        if not path.exists():
            raise TokenizerError(f"{path}: no such tokenizer file; {fix}")
        if path.is_dir():
            raise TokenizerError(f"{path}: is a directory, expected a SentencePiece .model file; {fix}")
        try:
            data = path.read_bytes()
        except OSError as err:
            raise TokenizerError(f"{path}: cannot read the tokenizer file ({err.strerror}); "
                                 "check its permissions.") from err
        if not data:
            raise TokenizerError(f"{path}: the tokenizer file is empty (0 bytes); {fix}")
        return cls(data, name=str(path))

    @classmethod
    def from_bytes(cls, model_proto: bytes, *, name: str = "<bytes>") -> "Tokenizer":
        """Build from a serialized model (e.g. read from a remote filesystem)."""
        return cls(model_proto, name=name)

    def __getstate__(self) -> dict:
        return {"proto": self._proto, "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["proto"], name=state["name"])

    def __repr__(self) -> str:
        return (f"Tokenizer({os.path.basename(self.name)!r}, vocab_size={self.vocab.size}, "
                f"model_vocab_size={self.model_vocab_size}, sha256={self.sha256[:12]})")

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode whole texts in one SentencePiece call; int32 ids, no bos/eos."""
        flat, lengths = self._encode_flat(list(texts))
        return np.split(flat, np.cumsum(lengths[:-1])) if len(texts) else []

    def encode_documents(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split each text into sentences and encode all of them in one call.

        Returns per text ``(ids, sentence_ends)``, both int32: ``ids`` is the concatenation of the
        sentence encodings, ``sentence_ends[k]`` the exclusive end of sentence ``k`` in ``ids``
        (the last equals ``len(ids)``). Sentences that encode to no ids are left out, so ends are
        strictly increasing; a text without sentences gives two empty arrays.
        """
        per_text = [split_sentences(normalize_text(text)) for text in texts]
        counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
        flat, lengths = self._encode_flat(list(chain.from_iterable(per_text)))
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

    def _encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids of ``texts`` back to back (int32) and each text's length (int64)."""
        encoded = self._sp.encode(texts, out_type=int)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        total = int(lengths.sum())
        flat = np.fromiter(chain.from_iterable(encoded), dtype=np.int32, count=total)
        return flat, lengths

    def piece_to_id(self, piece: str) -> int | None:
        """The effective id of ``piece``, or None when neither the model nor the appended ids have it."""
        found = _find_piece(self._sp, piece)
        if found is not None:
            return found
        return next((i for i, p in self.appended.items() if p == piece), None)

    def id_to_piece(self, i: int) -> str:
        """The piece of any effective id, appended ones included (``<extra_id_3>``, ``<mask>``)."""
        i = int(i)
        if 0 <= i < self.model_vocab_size:
            return self._sp.id_to_piece(i)
        if i in self.appended:
            return self.appended[i]
        raise TokenizerError(f"id {i} is outside the effective vocabulary [0, {self.vocab.size}) of "
                             f"{self.name}; were these ids made with another tokenizer?")

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of ``ids`` with mask and sentinel pieces shown (``<mask>``, ``<extra_id_0>``).

        Other control ids (pad, bos, eos, appended pad) decode to nothing, as in SentencePiece.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = (ids < 0) | (ids >= self.vocab.size)
        if bad.any():
            self.id_to_piece(int(ids[bad][0]))  # raises with the message
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
        text = self._sp.decode(ids.tolist())
        # SentencePiece drops the space of a text's first word; after a mark it is a real space.
        if after_mark and ids.size and self.vocab.word_start[ids[0]] and text:
            text = " " + text
        return text

    def describe(self) -> dict:
        """The tokenizer's entry in a manifest."""
        return {
            "file": os.path.basename(self.name), "sha256": self.sha256,
            "vocab_size": self.vocab.size, "model_vocab_size": self.model_vocab_size,
            "special_ids": self.vocab.special_ids(), "appended": len(self.appended),
        }


def _parse_model(data: bytes, name: str) -> spm.SentencePieceProcessor:
    sp = spm.SentencePieceProcessor()
    try:
        sp.LoadFromSerializedProto(data)
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[0]
        raise TokenizerError(
            f"{name}: not a SentencePiece model (SentencePiece says: {reason}); pass the binary "
            ".model file that SentencePiece training writes (not the .vocab text file or a "
            "Hugging Face tokenizer.json).") from err
    if sp.get_piece_size() == 0:
        raise TokenizerError(f"{name}: the SentencePiece model has no pieces; retrain it.")
    return sp


def _find_piece(sp: spm.SentencePieceProcessor, piece: str) -> int | None:
    """The model's id of ``piece`` or None: ``piece_to_id`` answers unk for a missing piece."""
    i = sp.piece_to_id(piece)
    if i == sp.unk_id() and piece != sp.id_to_piece(i):
        return None
    return i


def _find_first(sp: spm.SentencePieceProcessor, model_id: int, pieces: Sequence[str]) -> int | None:
    """``model_id`` when the model sets it (>= 0), else the id of the first of ``pieces`` it has."""
    if model_id >= 0:
        return model_id
    found = (_find_piece(sp, piece) for piece in pieces)
    return next((i for i in found if i is not None), None)


def _build_vocab(sp: spm.SentencePieceProcessor, name: str) -> tuple[Vocab, dict[int, str]]:
    """The effective vocabulary and the pieces appended past the model (id -> piece)."""
    n = sp.get_piece_size()
    found = [_find_piece(sp, sentinel_piece(i)) for i in range(NUM_SENTINELS)]
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

    mask_id = _id_or_append(_find_first(sp, -1, MASK_PIECES), "<mask>")
    pad_id = _id_or_append(_find_first(sp, sp.pad_id(), PAD_PIECES), "<pad>")
    eos_id = _id_or_append(_find_first(sp, sp.eos_id(), ("</s>",)), "</s>")
    bos_id = _find_first(sp, sp.bos_id(), ("<s>",))
    size = n + len(appended)
    special = np.ones(size, dtype=bool)
    special[:n] = [sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i) for i in range(n)]
    word_start = np.zeros(size, dtype=bool)
    word_start[:n] = [sp.id_to_piece(i).startswith(WORD_START) for i in range(n)]
    vocab = Vocab(size=size, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id, unk_id=sp.unk_id(),
                  mask_id=mask_id, sentinel_ids=sentinel_ids, special=special, word_start=word_start)
    return vocab, appended


MODEL_TYPES = ("unigram", "bpe", "char", "word")
TRAINED_SPECIALS = dict(pad_id=0, unk_id=1, bos_id=2, eos_id=3,
                        pad_piece="<pad>", unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>")


def train_tokenizer(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    output: str | os.PathLike,
    vocab_size: int,
    *,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    input_sentence_size: int = 2_000_000,
    byte_fallback: bool = False,
    text_field: str = "text",
    seed: int = 0,
    num_threads: int = 4,
) -> Tokenizer:
    """Train a SentencePiece model on text files and write it to ``output`` (a ``.model`` path).

    ``inputs`` are files, directories or globs (``.jsonl`` files give their ``text_field``).
    Lines are normalized and split into sentences, as :meth:`Tokenizer.encode_documents` sees
    them. The model gets pad 0, unk 1, bos 2, eos 3, then ``<mask>`` 4 and the sentinels as
    control pieces (literal ``<mask>`` in a corpus is not matched), in T5's descending layout
    (``<extra_id_99>`` = 5 … ``<extra_id_0>`` = 104). Same inputs and options give the same model
    bytes: no paths are recorded, sampling is seeded and the thread count is fixed.
    Unusable inputs raise :class:`~lmpairs.text.CorpusError`, failed training :class:`TokenizerError`.
    """
    output = Path(output)
    if output.suffix != ".model":
        raise TokenizerError(f"{output}: the output must be a .model path, e.g. {output.with_suffix('.model')}.")
    if model_type not in MODEL_TYPES:
        raise TokenizerError(f"model_type={model_type!r}: expected one of {', '.join(MODEL_TYPES)}.")
    paths = resolve_inputs(inputs)
    reserved = 4 + 1 + NUM_SENTINELS  # pad, unk, bos, eos, mask, sentinels
    if not isinstance(vocab_size, int) or vocab_size <= reserved:
        raise TokenizerError(f"vocab_size={vocab_size!r}: must be an integer > {reserved} (the special "
                             "pieces) plus room for characters; pass e.g. --vocab-size 8000.")
    sentences = CorpusSentences(paths, text_field=text_field)
    model = io.BytesIO()
    logger.info("training a %s tokenizer (vocab %d) on %d file(s)", model_type, vocab_size, len(paths))
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
            model_type=model_type, character_coverage=character_coverage,
            input_sentence_size=input_sentence_size, shuffle_input_sentence=True,
            byte_fallback=byte_fallback, num_threads=num_threads, hard_vocab_limit=True,
            control_symbols=["<mask>", *(sentinel_piece(i) for i in reversed(range(NUM_SENTINELS)))],
            minloglevel=0 if logger.isEnabledFor(logging.DEBUG) else 2, **TRAINED_SPECIALS)
    except (RuntimeError, ValueError, OSError) as err:  # SentencePiece may wrap a feed error
        raise _training_error(err, sentences, vocab_size) from err
    _write_atomically(output, model.getvalue())
    logger.info("wrote %s (%d sentences read)", output, sentences.count)
    return Tokenizer.load(output)


def _training_error(err: Exception, feed: CorpusSentences, vocab_size: int) -> Exception:
    if feed.error is not None:
        return feed.error
    reason = str(err).strip().splitlines()[0]
    if feed.count == 0:
        fix = "the inputs hold no text; check the paths."
    elif "too high" in reason:
        fix = f"the corpus is too small for {vocab_size} pieces; lower --vocab-size or add text."
    else:
        fix = "check --vocab-size and --model-type."
    return TokenizerError(f"SentencePiece training failed after {feed.count} sentences "
                          f"({reason}): {fix}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a model behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
