"""Token ids as readable text, one display string per id, and two texts laid out side by side.

Rendering goes piece by piece (not through ``decode``) so callers can mark single positions:
a piece's word-start marker (``▁``, ``Ġ``) becomes a space, byte-level pieces show the text they
spell, special ids get a visible name (``<s>``, ``[MASK]``,
``<extra_id_3>``), and a mark keeps the space of the word it stands for. Only a few examples are
rendered, so a Python loop over their tokens is fine here.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from itertools import zip_longest

import numpy as np

from lmpairs.tokenizers import Tokenizer

WORD_START = "\u2581"
MASK_MARK = "[MASK]"
DOC_BOUNDARY = " \u2551 "  # ║ between documents


class PieceRenderer:
    """Per-id display strings of one tokenizer, cached (a demo row repeats most of its pieces)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        vocab = tokenizer.vocab
        self._names = {vocab.pad_id: "<pad>", vocab.eos_id: "</s>", vocab.unk_id: "\u2047",
                       vocab.mask_id: MASK_MARK}
        if vocab.bos_id is not None:
            self._names[vocab.bos_id] = "<s>"
        self._names.update((sid, f"<extra_id_{i}>") for i, sid in enumerate(vocab.sentinel_ids))
        self._cache: dict[int, str] = {}

    def word_start(self, i: int) -> bool:
        """Whether id ``i`` begins a word (its piece starts with ``▁``), so a mark for it gets a space."""
        return bool(self.tokenizer.vocab.word_start[int(i)])

    def bare(self, i: int) -> str:
        """The piece of ``i`` without its word-start space (``▁fox`` -> ``fox``), for use inside marks;
        a lone ``▁`` piece stays ``▁`` so a mark is never empty."""
        return self.piece(i).lstrip(" ") or WORD_START

    def piece(self, i: int) -> str:
        """The display string of one id: text with its leading space, or a special id's name."""
        i = int(i)
        cached = self._cache.get(i)
        if cached is None:
            cached = self._cache[i] = self._render(i)
        return cached

    def _render(self, i: int) -> str:
        name = self._names.get(i)
        if name is not None:
            return name
        return self.tokenizer.piece_text(i)

    def mark(self, i: int, text: str) -> str:
        """``text`` standing in for id ``i``, spaced like ``i``'s own piece."""
        return (" " if self.word_start(i) else "") + text

    def text(self, ids: Sequence[int] | np.ndarray, *, boundaries: Sequence[int] = ()) -> str:
        """Readable text of ``ids``; ``boundaries`` are positions that start a new document (``║``)."""
        starts = set(int(b) for b in boundaries)
        parts = []
        for position, i in enumerate(np.asarray(ids).tolist()):
            shown = self.display(i, position)
            if position in starts and position > 0:
                parts.append(DOC_BOUNDARY)
                shown = shown.lstrip(" ")
            parts.append(shown)
        return "".join(parts).strip()

    def display(self, i: int, position: int) -> str:
        """One id as it appears inside running text: special names (not unk, which stands for text)
        are set off by a space."""
        i = int(i)
        shown = self.piece(i)
        spaced = i in self._names or self.tokenizer.vocab.special[i]
        if position > 0 and spaced and i != self.tokenizer.vocab.unk_id:
            return " " + shown
        return shown


def side_by_side(left_title: str, left: str, right_title: str, right: str, *, width: int) -> list[str]:
    """Two texts wrapped into columns of equal width under their titles, separated by ``│``."""
    column = max(20, (width - 5) // 2)

    def wrap(text: str) -> list[str]:
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(textwrap.wrap(paragraph, column, break_long_words=True, break_on_hyphens=False) or [""])
        return lines

    rows = [f"  {left_title:<{column}} \u2502 {right_title}", f"  {'-' * column} \u2502 {'-' * column}"]
    for a, b in zip_longest(wrap(left), wrap(right), fillvalue=""):
        rows.append(f"  {a:<{column}} \u2502 {b}".rstrip())
    return rows


def truncated(ids: np.ndarray, limit: int) -> tuple[np.ndarray, str]:
    """The first ``limit`` ids (all when ``limit`` is 0) and a ``… (+N tokens)`` note for the rest."""
    ids = np.asarray(ids)
    if limit <= 0 or ids.shape[0] <= limit:
        return ids, ""
    return ids[:limit], f" \u2026 (+{ids.shape[0] - limit} tokens)"
