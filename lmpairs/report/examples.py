"""Decoded examples as coloured HTML: what the model sees beside what it must predict.

One function per declared view, like :mod:`lmpairs.inspection.examples` (which prints the same
marks in a terminal): CLM colours each document and marks where the next one starts; MLM colours
[MASK], random and kept positions; T5 gives each sentinel and its target span one colour; BART
marks masks and added tokens in the input and the text missing from it in the original. Every
token's tooltip names its id.
"""
from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np

from lmpairs.inspection.render import PieceRenderer
from lmpairs.objectives import IGNORE_INDEX
from lmpairs.report.corruption import aligned_blocks

MAX_TOKENS = 200
PALETTE = ("#fde2b3", "#c7e9c0", "#c6dbef", "#f9c5d1", "#dadaeb", "#fdd0a2", "#c7eae5", "#e5d8bd")

Columns = dict[str, np.ndarray]


def token(pieces: PieceRenderer, i: int, position: int, cls: str = "", shown: str | None = None,
          style: str = "", note: str = "") -> str:
    text = pieces.display(i, position) if shown is None else shown
    attributes = (f' class="{cls}"' if cls else "") + (f' style="{style}"' if style else "")
    title = f"id {int(i)}" + (f": {note}" if note else "")
    return f'<span{attributes} title="{escape(title)}">{escape(text)}</span>'


def _limit(n: int) -> int:
    return min(n, MAX_TOKENS)


def _more(n: int) -> str:
    return f'<span class="more"> \u2026 (+{n - MAX_TOKENS} tokens)</span>' if n > MAX_TOKENS else ""


def pair(left_title: str, left: str, right_title: str, right: str) -> str:
    return (f'<div class="pair"><div><h5>{escape(left_title)}</h5><p class="ids">{left}</p></div>'
            f'<div><h5>{escape(right_title)}</h5><p class="ids">{right}</p></div></div>')


def html_clm(row: Columns, pieces: PieceRenderer) -> str:
    ids = np.asarray(row["input_ids"])
    doc = np.repeat(np.arange(len(row["doc_lengths"])), np.asarray(row["doc_lengths"]).astype(np.int64))
    parts = []
    for p in range(_limit(ids.shape[0])):
        if p and doc[p] != doc[p - 1]:
            parts.append('<span class="boundary" title="next document">\u2551</span>')
        parts.append(token(pieces, ids[p], p, style=f"background:{PALETTE[doc[p] % len(PALETTE)]}",
                           note=f"document {doc[p] + 1}"))
    lengths = ", ".join(map(str, row["doc_lengths"].tolist()))
    legend = f"{len(row['doc_lengths'])} document piece(s) of {lengths} tokens"
    return (f'<p class="legend">{escape(legend)}; each has its own colour, \u2551 marks where the next starts; '
            'targets are the same row shifted by one.</p>'
            f'<p class="ids">{"".join(parts)}{_more(ids.shape[0])}</p>')


def html_mlm(row: Columns, pieces: PieceRenderer) -> str:
    ids, labels = np.asarray(row["input_ids"]), np.asarray(row["labels"])
    selected = labels != IGNORE_INDEX
    mask_id = pieces.tokenizer.vocab.mask_id
    left, right = [], []
    for p in range(_limit(ids.shape[0])):
        i = int(ids[p])
        if selected[p]:
            orig = int(labels[p])
            kind = "mask" if i == mask_id else ("kept" if i == orig else "rand")
            left.append(token(pieces, i, p, kind, note=f"{kind}; label {pieces.bare(orig)!r}"))
            right.append(token(pieces, orig, p, "label", note="predicted"))
        else:
            left.append(token(pieces, i, p))
            right.append(token(pieces, i, p, "plain"))
    legend = (f'<p class="legend">{int(selected.sum())} of {ids.shape[0]} positions predicted: '
              '<span class="mask">[MASK]</span> <span class="rand">random</span> <span class="kept">kept</span>; '
              'labels are -100 elsewhere.</p>')
    more = _more(ids.shape[0])
    return legend + pair("input_ids", "".join(left) + more, "labels (predicted positions marked)",
                         "".join(right) + more)


def html_t5(row: Columns, pieces: PieceRenderer) -> str:
    ids, targets = np.asarray(row["input_ids"]), np.asarray(row["labels"])
    index = {sid: n for n, sid in enumerate(pieces.tokenizer.vocab.sentinel_ids)}

    def colour(values: np.ndarray, spans: bool) -> str:
        parts, current = [], None
        for p in range(_limit(values.shape[0])):
            i = int(values[p])
            if i in index:
                current = index[i]
                parts.append(token(pieces, i, p, "sentinel", style=f"background:{PALETTE[current % len(PALETTE)]}",
                                   note=f"sentinel {current}"))
            elif spans and current is not None and i != pieces.tokenizer.vocab.eos_id:
                parts.append(token(pieces, i, p, style=f"background:{PALETTE[current % len(PALETTE)]}",
                                   note=f"span of sentinel {current}"))
            else:
                parts.append(token(pieces, i, p))
        return "".join(parts) + _more(values.shape[0])

    spans = int(sum(int(i) in index for i in ids.tolist()))
    legend = f'<p class="legend">{spans} noise spans: each sentinel and the span it replaced share a colour.</p>'
    return legend + pair("input_ids (spans \u2192 sentinels)", colour(ids, False),
                         "labels (sentinel + span)", colour(targets, True))


def html_bart(row: Columns, pieces: PieceRenderer) -> str:
    ids, labels = np.asarray(row["input_ids"]), np.asarray(row["labels"])
    in_input = np.zeros(ids.shape[0], dtype=bool)
    in_labels = np.zeros(labels.shape[0], dtype=bool)
    for a, b, size in aligned_blocks(ids.tolist(), labels.tolist()):
        in_input[a:a + size] = True
        in_labels[b:b + size] = True
    mask_id = pieces.tokenizer.vocab.mask_id
    left = [token(pieces, i, p, "mask" if i == mask_id else ("" if in_input[p] else "rand"))
            for p, i in enumerate(ids[:_limit(ids.shape[0])].tolist())]
    right = [token(pieces, i, p, "" if in_labels[p] else "del", note="" if in_labels[p] else "not in the input")
             for p, i in enumerate(labels[:_limit(labels.shape[0])].tolist())]
    legend = (f'<p class="legend">input: {int((ids == mask_id).sum())} <span class="mask">[MASK]</span>, '
              f'{int((~in_input & (ids != mask_id)).sum())} <span class="rand">added</span>; original: '
              f'{int((~in_labels).sum())} <span class="del">not in the input</span> (infilled or deleted); sentence '
              'order may be permuted.</p>')
    return legend + pair("input_ids (noised)", "".join(left) + _more(ids.shape[0]),
                         "labels (original row)", "".join(right) + _more(labels.shape[0]))


def html_plain(row: Columns, pieces: PieceRenderer) -> str:
    parts = []
    for name, values in row.items():
        values = np.asarray(values)
        if name != "input_ids" and (values < 0).any() or name.endswith("lengths") or name.endswith("ends"):
            parts.append(f'<h5>{escape(name)}</h5><p class="ids">{escape(str(values[:MAX_TOKENS].tolist()))}</p>')
        else:
            text = "".join(token(pieces, i, p) for p, i in enumerate(values[:MAX_TOKENS].tolist()))
            parts.append(f'<h5>{escape(name)}</h5><p class="ids">{text}{_more(values.shape[0])}</p>')
    return "".join(parts)


VIEWS: dict[str, Callable[[Columns, PieceRenderer], str]] = {
    "next-token": html_clm, "masked": html_mlm, "sentinels": html_t5, "denoising": html_bart}
"""Declared view -> its HTML renderer; others get :func:`html_plain`."""


def example_html(view: str, row: Columns, pieces: PieceRenderer) -> str:
    return VIEWS.get(view, html_plain)(row, pieces)
