"""Text clean-up before tokenization: newline/BOM normalization and rule-based sentence splitting.

Sentences are found from the raw text, never from token ids, so BART's sentence permutation works
for any tokenizer (a period piece differs per vocabulary and Japanese has none). The splitter is
one compiled regular expression that finds sentence ends (C speed); Python only slices sentences.
"""
from __future__ import annotations

import re

BOM = "\ufeff"
_CLOSERS = "\"'”’)\\]}»」』）】〉》"
_NEWLINES = "\n\r\u2028\u2029\x85"
_BLANK_AHEAD = rf"(?=[^\S{_NEWLINES}]*[{_NEWLINES}])"  # optional spaces, then another line break
_SENTENCE_END = re.compile(
    # Every branch starts at one character class, so the regex engine skips to candidates in C.
    rf"[.!?。！？{_NEWLINES}](?:"
    # Latin . ! ? (plus closing quotes/brackets) then whitespace, unless the next word starts in
    # lowercase, so "e.g. the" or "Mr. and Mrs." stay in one sentence.
    rf"(?<=[.!?])[{_CLOSERS}]*(?=\s+(?![\sa-z]))"
    # CJK 。！？ (plus closers): no space needed after them.
    rf"|(?<=[。！？])[{_CLOSERS}]*"
    # A blank line ends a sentence; a single line break is a wrap (hard-wrapped paragraphs keep
    # their sentences whole). CRLF counts as one line break.
    rf"|(?<=[\n\u2028\u2029\x85]){_BLANK_AHEAD}"
    rf"|(?<=\r)(?:\n{_BLANK_AHEAD}|(?!\n){_BLANK_AHEAD}))"
)


def normalize_text(text: str) -> str:
    """Drop a leading byte-order mark and turn CRLF / CR line endings into LF.

    Files from Windows and Project Gutenberg carry both; left alone, ``\\ufeff`` becomes an unknown
    piece and ``\\r`` a stray token in models that keep control characters (byte fallback).
    """
    if text.startswith(BOM):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences at blank lines, after ``. ! ?`` and after ``。！？``.

    A single line break inside a paragraph is a wrap, not a sentence end, so a hard-wrapped book
    keeps its sentences whole for BART's sentence permutation; a line that ends in ``. ! ?`` still
    ends one when the next line does not start in lowercase.

    Only the whitespace between sentences is dropped: joining the result with the removed
    whitespace gives ``text`` back. Empty pieces (blank lines) are skipped. A final sentence
    without end punctuation is kept.
    """
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    ends.append(len(text))
    pieces = map(text.__getitem__, map(slice, [0, *ends], ends))
    return [piece for piece in map(str.strip, pieces) if piece]


def sentence_end_offsets(text: str) -> list[int]:
    """Where each sentence of :func:`split_sentences` ends in ``text``: the character offset just
    past its last non-space character, one per sentence, increasing. Tokenizers that encode a whole
    text map these to token positions through their offsets."""
    cuts = [match.end() for match in _SENTENCE_END.finditer(text)]
    cuts.append(len(text))
    ends, start = [], 0
    for cut in cuts:
        kept = text[start:cut].rstrip()
        if kept.strip():
            ends.append(start + len(kept))
        start = cut
    return ends

