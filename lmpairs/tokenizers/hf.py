"""The Hugging Face kind: a ``tokenizer.json`` read with ``tokenizers``.

Everything lmpairs needs is read from the file itself, so a build, the loader and ``inspect`` see
the same vocabulary from the same bytes (the sha256 covers them): special tokens are the added
tokens flagged ``special``; bos/eos come from the post-processor's template (``<s> $A </s>``,
RoBERTa/BERT ``cls``/``sep``) and only where it says nothing from well-known names among the
special tokens; pad from the ``padding`` block or a pad-named special token; unk from the model.
Word starts follow the pre-tokenizer: ``Ġ`` pieces (and whitespace-only pieces) for byte-level
BPE, the replacement character (``▁``) for Metaspace, no ``##`` for WordPiece.

Special tokens spelled out in the corpus are encoded as text (``encode_special_tokens``), as
SentencePiece treats control pieces. Documents are encoded whole through ``encode_batch`` (the
library's Rust thread pool, sized once per process to this worker's share of the cores); sentence
ends, only when asked, come from the encodings' character offsets (:mod:`lmpairs.tokenizers.offsets`).
The file is checked before the library sees it: ids below 2**31 and at most :data:`MAX_VOCAB_SIZE`,
so a hostile file is a one-line error, not a huge allocation.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np

from lmpairs.tokenizers.errors import TokenizerError
from lmpairs.tokenizers.threads import configure_threads, encode_threads

logger = logging.getLogger(__name__)

BOS_NAMES = ("<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>", "[CLS]")
EOS_NAMES = ("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "[SEP]")
PAD_NAMES = ("<pad>", "[PAD]", "<|padding|>", "<|pad|>")
_WHITESPACE_BYTES = b" \t\n\r\x0b\x0c"
INSTALL_HINT = "pip install 'lmpairs[hf]'"


MAX_VOCAB_SIZE = 1 << 24
"""The largest vocabulary accepted (16.7M ids; real ones stop near 260k): an id past it is a damaged
or hostile file, refused before anything is allocated per id."""


def parse_json_tokenizer(data: bytes, name: str) -> tuple[str, dict[str, Any]] | None:
    """``(kind, parsed file)`` when ``data`` is JSON: ``"tokenizer.json"`` (a Hugging Face file, with
    ``model`` or ``added_tokens``) or ``"tekken"`` (Mistral's, with ``config`` and ``vocab``); None when
    it does not start like JSON (a SentencePiece protobuf, a tiktoken rank file). Other JSON, or JSON
    that does not parse or nests absurdly deep, raises :class:`TokenizerError`."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):  # never a SentencePiece protobuf's first byte
        return None
    try:
        config = json.loads(data.decode("utf-8-sig"))
    except RecursionError as err:
        raise TokenizerError(f"{name}: JSON nested too deeply to be a tokenizer file; pass a real tokenizer.json "
                             "or tekken.json.") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TokenizerError(f"{name}: starts like JSON but does not parse ({err}); pass a complete "
                             "Hugging Face tokenizer.json or tekken.json.") from err
    if isinstance(config, dict) and {"config", "vocab"} <= config.keys() and isinstance(config["vocab"], list):
        return "tekken", config
    if not isinstance(config, dict) or not ({"model", "added_tokens"} & config.keys()):
        keys = ", ".join(sorted(config)[:5]) if isinstance(config, dict) else type(config).__name__
        raise TokenizerError(f"{name}: a JSON file without the \"model\"/\"added_tokens\" fields of a "
                             f"Hugging Face tokenizer.json (found: {keys}); pass the tokenizer.json itself, "
                             "not tokenizer_config.json or special_tokens_map.json.")
    return "tokenizer.json", config


def check_vocab_ids(config: dict[str, Any], name: str) -> None:
    """Refuse ids that are not ints in ``[0, MAX_VOCAB_SIZE)`` before ``tokenizers`` or lmpairs allocates
    anything per id (an id of 2**31 would otherwise mean a 2**31-entry piece table)."""
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    vocab = model.get("vocab")
    ids: list[Any] = list(vocab.values()) if isinstance(vocab, dict) else []
    if isinstance(vocab, list) and len(vocab) > MAX_VOCAB_SIZE:
        ids = [len(vocab)]
    added = config.get("added_tokens") or []
    if not isinstance(added, list) or not all(isinstance(t, dict) for t in added):
        raise TokenizerError(f"{name}: \"added_tokens\" is not a list of objects; pass an intact tokenizer.json.")
    ids += [t.get("id", -1) for t in added]
    bad = [i for i in ids if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < MAX_VOCAB_SIZE]
    if bad:
        raise TokenizerError(f"{name}: token id {bad[0]!r} is not an integer in [0, {MAX_VOCAB_SIZE}); a vocabulary "
                             "that large is damaged or not a tokenizer; pass an intact tokenizer.json.")


class HFTokenizerModel:
    """A ``tokenizer.json``: pieces, declared specials, word starts, batched encoding and decoding."""

    kind = "tokenizer.json"

    def __init__(self, data: bytes, config: dict[str, Any], name: str, *, num_threads: int | None = None) -> None:
        check_vocab_ids(config, name)
        tokenizers = _import_tokenizers(name)
        configure_threads(num_threads if num_threads is not None else encode_threads())
        try:
            self._tok = tokenizers.Tokenizer.from_str(data.decode("utf-8-sig"))
        except Exception as err:  # the library raises plain Exception
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise TokenizerError(f"{name}: the tokenizers library cannot read this tokenizer.json ({reason}); "
                                 "re-save it with a current `tokenizers`, or upgrade: "
                                 f"{INSTALL_HINT} --upgrade.") from err
        # Corpus text that spells a special token ("<|endoftext|>") is text, never that token's id;
        # documents are encoded whole (a file's truncation would cut them, its padding pad them).
        self._tok.encode_special_tokens = True
        self._tok.no_truncation()
        self._tok.no_padding()
        by_piece = self._tok.get_vocab(with_added_tokens=True)
        if not by_piece:
            raise TokenizerError(f"{name}: the tokenizer.json has an empty vocabulary; pass a trained tokenizer.")
        self.size = max(by_piece.values()) + 1
        self._pieces = [""] * self.size
        present = np.zeros(self.size, dtype=bool)
        for piece, i in by_piece.items():
            self._pieces[i] = piece
            present[i] = True
        added = [t for t in config.get("added_tokens") or [] if 0 <= t.get("id", -1) < self.size]
        self._added = {t["id"] for t in added}
        self.special = ~present
        self.special[[t["id"] for t in added if t.get("special")]] = True
        special_names = {t["content"]: t["id"] for t in added if t.get("special")}
        self.scheme, self.marker = word_scheme(config)
        self._byte_of = {c: b for b, c in bytes_to_unicode().items()} if self.scheme == "byte_level" else {}
        self.word_start = np.fromiter((self._starts_word(i) for i in range(self.size)), dtype=bool, count=self.size)
        model = config.get("model") or {}
        self.unk_id = model.get("unk_id") if model.get("type") == "Unigram" else self.find(model.get("unk_token"))
        first, last = template_ends(config.get("post_processor"))
        self.bos_id = first if first is not None else _first_named(special_names, BOS_NAMES)
        self.eos_id = last if last is not None else _first_named(special_names, EOS_NAMES)
        padding = config.get("padding") or {}
        self.pad_id = self.find(padding.get("pad_token")) if padding else None
        if self.pad_id is None:
            self.pad_id = _first_named({t["content"]: t["id"] for t in added}, PAD_NAMES)

    def find(self, piece: str | None) -> int | None:
        """The id of ``piece`` (a model piece or an added token) or None: no unk fallback."""
        return None if piece is None else self._tok.token_to_id(piece)

    def piece(self, i: int) -> str:
        return self._pieces[i]

    def _starts_word(self, i: int) -> bool:
        piece = self._pieces[i]
        if i in self._added or not piece:
            return True
        if self.scheme == "byte_level":
            return piece[0] == self.marker or all(self._byte_of.get(c, 0) in _WHITESPACE_BYTES for c in piece)
        if self.scheme == "metaspace":
            return piece.startswith(self.marker)
        if self.scheme == "continuation":
            return not piece.startswith(self.marker)
        return True

    def piece_text(self, i: int) -> str:
        """The text of one piece as decoding shows it: ``Ġ``/``▁`` as a space, byte-level pieces as
        the UTF-8 text they spell; bytes that are only part of a character as ``<0xNN>``."""
        piece = self._pieces[i]
        if i in self._added or self.special[i]:
            return piece
        raw = self.piece_bytes(i)
        if raw is not None:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return "".join(f"<0x{b:02X}>" for b in raw)
            return text if self.scheme == "byte_level" or text.isprintable() else piece
        if self.scheme == "metaspace":
            return piece.replace(self.marker, " ")
        if self.scheme == "continuation":
            return piece[len(self.marker):] if piece.startswith(self.marker) else " " + piece
        return piece

    def piece_bytes(self, i: int) -> bytes | None:
        """The bytes a byte-level or byte-fallback piece stands for; None for other pieces."""
        piece = self._pieces[i]
        if i in self._added or self.special[i]:
            return None
        if self.scheme == "byte_level" and all(c in self._byte_of for c in piece):
            return bytes(self._byte_of[c] for c in piece)
        if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
            return bytes([int(piece[3:5], 16)])
        return None

    def encode_flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All ids of ``texts`` back to back (int32) and each text's length (int64); no offsets."""
        encode = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)  # no offsets (tokenizers >= 0.21)
        ids = [e.ids for e in encode(texts, add_special_tokens=False)]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(lengths.sum()))  # C-level flatten
        return flat, lengths

    def encode_offsets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """``encode_flat`` plus every token's start (a character offset in its text), in one
        ``encode_batch`` call; for sentence ends only (offsets cost time)."""
        encodings = self._tok.encode_batch(texts, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        total = int(lengths.sum())
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=total)
        pairs = chain.from_iterable(chain.from_iterable(e.offsets for e in encodings))  # (start, end) flat
        starts = np.fromiter(pairs, dtype=np.int64, count=2 * total)[0::2]
        return flat, lengths, starts, "char"

    def decode(self, ids: list[int]) -> str:
        """Text of model ids as the tokenizer's decoder writes it; special tokens decode to nothing."""
        return self._tok.decode(ids, skip_special_tokens=True)


def _import_tokenizers(name: str):
    try:
        import tokenizers
    except ImportError as err:
        raise TokenizerError(f"{name}: is a Hugging Face tokenizer.json, which needs the optional "
                             f"`tokenizers` package; install it with: {INSTALL_HINT}") from err
    return tokenizers


def _walk(node: Any, children: str) -> Iterator[dict[str, Any]]:
    """A component and, for a ``Sequence``, its parts in order (``pretokenizers``, ``normalizers``...)."""
    if isinstance(node, dict):
        yield node
        for child in node.get(children) or []:
            yield from _walk(child, children)


def word_scheme(config: dict[str, Any]) -> tuple[str, str]:
    """How a piece shows that it starts a word: ``("byte_level", "Ġ")``, ``("metaspace", "▁")``,
    ``("continuation", "##")`` (WordPiece: pieces that continue a word carry the prefix) or
    ``("piece", "")`` (no marker known: every piece is its own word)."""
    pre = list(_walk(config.get("pre_tokenizer"), "pretokenizers"))
    if any(p.get("type") == "ByteLevel" for p in pre):
        return "byte_level", bytes_to_unicode()[ord(" ")]
    for p in pre:
        if p.get("type") == "Metaspace":
            return "metaspace", p.get("replacement", "\u2581")
    for n in _walk(config.get("normalizer"), "normalizers"):  # LLaMA/Mistral: Replace(" ", "▁") + Prepend("▁")
        if n.get("type") in ("Replace", "Prepend") and "\u2581" in (n.get("content") or n.get("prepend") or ""):
            return "metaspace", "\u2581"
    prefix = (config.get("model") or {}).get("continuing_subword_prefix")
    if prefix:
        return "continuation", prefix
    return "piece", ""


def template_ends(post_processor: Any) -> tuple[int | None, int | None]:
    """The ids a single-sequence template puts before and after the text (bos, eos), each None
    when the post-processor adds nothing there (GPT-2's ByteLevel adds nothing at all)."""
    for p in _walk(post_processor, "processors"):
        kind = p.get("type")
        if kind in ("RobertaProcessing", "BertProcessing"):
            return int(p["cls"][1]), int(p["sep"][1])
        if kind == "TemplateProcessing":
            single, tokens = p.get("single") or [], p.get("special_tokens") or {}
            first = _template_id(single[0], tokens) if single else None
            last = _template_id(single[-1], tokens) if len(single) > 1 else None
            return first, last
    return None, None


def _template_id(item: dict[str, Any], tokens: dict[str, Any]) -> int | None:
    """The id of a template item that is one special token (None for ``$A`` or multi-id tokens)."""
    token = tokens.get((item.get("SpecialToken") or {}).get("id"), {})
    ids = token.get("ids") or []
    return int(ids[0]) if len(ids) == 1 else None


def _first_named(ids_by_name: dict[str, int], names: Sequence[str]) -> int | None:
    return next((ids_by_name[n] for n in names if n in ids_by_name), None)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table that byte-level pieces are written in (space -> ``Ġ``)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1), *range(ord("\xae"), 256)]
    table, extra = {b: chr(b) for b in kept}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table
