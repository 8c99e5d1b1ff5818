"""Decoded examples shown the way each objective is usually explained: input beside target.

One function per declared ``view`` (``ObjectiveSpec.view``; ``RENDERERS[name]`` looks it up). CLM shows
document boundaries (``║``) and the next-token shift; MLM marks ``[MASK]``, ``{random→orig}`` and ``(kept)`` positions;
T5 aligns each sentinel in the input with its span in the target; BART shows the noised input
beside the original with masks, removed and added tokens visible.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np

from lmpairs.inspection.render import DOC_BOUNDARY, MASK_MARK, WORD_START, PieceRenderer, side_by_side, truncated
from lmpairs.objectives import IGNORE_INDEX, SpecTable

SHIFT_ROWS = 6
"""Positions of the CLM next-token table."""
MAX_SPAN_LINES = 8
"""Sentinel-to-span lines shown per T5 example."""

Columns = dict[str, np.ndarray]
Renderer = Callable[[Columns, PieceRenderer, int, int], list[str]]


def render_clm(columns: Columns, pieces: PieceRenderer, width: int, max_tokens: int) -> list[str]:
    """Row tokens ``0..L-1`` as inputs beside ``1..L`` as targets, ``║`` where a document starts."""
    row = np.asarray(columns["input_ids"])
    doc_lengths = np.asarray(columns["doc_lengths"]).astype(np.int64)
    starts = np.cumsum(doc_lengths)[:-1]
    inputs, note = truncated(row[:-1], max_tokens)
    targets, _ = truncated(row[1:], max_tokens)
    lines = [f"  {row.shape[0]} tokens = {row.shape[0] - 1} input positions + 1; {doc_lengths.shape[0]} "
             f"document(s) of {', '.join(map(str, doc_lengths.tolist()))} tokens ('{DOC_BOUNDARY.strip()}' "
             "marks where the next one starts)"]
    lines += side_by_side("input_ids = row[:-1]", pieces.text(inputs, boundaries=starts) + note,
                          "target_ids = row[1:] (next token)", pieces.text(targets, boundaries=starts - 1) + note,
                          width=width)
    lines.append("  next-token shift: " + "   ".join(
        f"{pieces.piece(a).strip()!r}\u2192{pieces.piece(b).strip()!r}"
        for a, b in zip(row[:SHIFT_ROWS].tolist(), row[1:SHIFT_ROWS + 1].tolist())))
    return lines


def render_mlm(columns: Columns, pieces: PieceRenderer, width: int, max_tokens: int) -> list[str]:
    """The input with ``[MASK]``, ``{random→orig}`` and ``(kept)`` marks beside the original with «labels»."""
    input_ids = np.asarray(columns["input_ids"])
    labels = np.asarray(columns["labels"])
    selected = labels != IGNORE_INDEX
    clean = np.where(selected, labels, input_ids)
    masked = selected & (input_ids == pieces.tokenizer.vocab.mask_id)
    kept = selected & (input_ids == labels)
    randomized = selected & ~masked & ~kept
    shown_input, shown_target = [], []
    limit = input_ids.shape[0] if max_tokens <= 0 else min(max_tokens, input_ids.shape[0])
    for p in range(limit):
        i, orig = int(input_ids[p]), int(clean[p])
        if masked[p]:
            shown_input.append(pieces.mark(orig, MASK_MARK))
        elif randomized[p]:
            shown_input.append(pieces.mark(orig, f"{{{pieces.bare(i)}\u2192{pieces.bare(orig)}}}"))
        elif kept[p]:
            shown_input.append(pieces.mark(orig, f"({pieces.bare(orig)})"))
        else:
            shown_input.append(pieces.display(i, p))
        shown_target.append(pieces.mark(orig, f"\u00ab{pieces.bare(orig)}\u00bb") if selected[p]
                            else pieces.display(orig, p))
    note = truncated(input_ids, max_tokens)[1]
    num = int(selected.sum())
    lines = [f"  {num} of {input_ids.shape[0]} positions predicted: {int(masked.sum())} [MASK], "
             f"{int(randomized.sum())} {{random\u2192orig}}, {int(kept.sum())} (kept); labels are -100 elsewhere"]
    lines += side_by_side("input_ids", "".join(shown_input).strip() + note,
                          "labels (\u00abpredicted\u00bb, in the clean row)", "".join(shown_target).strip() + note,
                          width=width)
    return lines


def sentinel_spans(targets: np.ndarray, sentinel_index: dict[int, int]) -> list[tuple[int, np.ndarray]]:
    """``(sentinel number, span ids)`` in target order: each sentinel and the ids up to the next one."""
    body = targets[:-1] if targets.shape[0] else targets
    marks = [p for p, i in enumerate(body.tolist()) if i in sentinel_index]
    ends = marks[1:] + [body.shape[0]]
    return [(sentinel_index[int(body[m])], body[m + 1:e]) for m, e in zip(marks, ends)]


def render_t5(columns: Columns, pieces: PieceRenderer, width: int, max_tokens: int) -> list[str]:
    """Inputs with sentinels beside targets, then each ``<extra_id_N>`` with the span it replaced.

    When the input is cut to ``max_tokens``, the targets stop at the first span whose sentinel
    is not shown, so both columns cover the same stretch of text.
    """
    inputs = np.asarray(columns["input_ids"])
    targets = np.asarray(columns["labels"])
    sentinel_ids = pieces.tokenizer.vocab.sentinel_ids
    sentinel_index = {sid: n for n, sid in enumerate(sentinel_ids)}
    shown_inputs, note = truncated(inputs, max_tokens)
    shown_spans = {sentinel_index[i] for i in shown_inputs.tolist() if i in sentinel_index}
    spans = sentinel_spans(targets, sentinel_index)
    cut = next((k for k, (n, _) in enumerate(spans) if n not in shown_spans), len(spans))
    target_ids = targets if cut == len(spans) else np.asarray(
        [i for n, span in spans[:cut] for i in (sentinel_ids[n], *span.tolist())], dtype=np.int64)
    target_note = "" if cut == len(spans) else f" \u2026 (+{len(spans) - cut} spans)"
    noise = sum(span.shape[0] for _, span in spans)
    lines = [f"  {len(spans)} noise spans, {noise} noise tokens; inputs {inputs.shape[0]} tokens, "
             f"targets {targets.shape[0]} (both end with </s>)"]
    lines += side_by_side("input_ids (spans \u2192 sentinels)", pieces.text(shown_inputs) + note,
                          "labels (sentinel + span)", (pieces.text(target_ids) + target_note).strip(), width=width)
    lines += ["  sentinel \u2194 span:"] if cut else []
    lines += [f"    <extra_id_{n}> \u2194 {pieces.text(span)!r}" for n, span in spans[:min(cut, MAX_SPAN_LINES)]]
    if cut > MAX_SPAN_LINES:
        lines.append(f"    \u2026 {cut - MAX_SPAN_LINES} more")
    return lines


MAX_DOCUMENTS = 6
"""Documents of a BART row shown one by one; the rest are counted."""


def frame_ends(ids: np.ndarray, eos_id: int, bos_id: int | None) -> np.ndarray:
    """Exclusive ends of the ``<s> … </s>`` documents of a noised row: an ``</s>`` before ``<s>`` or the end."""
    at = np.flatnonzero(ids == eos_id)
    if bos_id is not None:
        at = at[(at + 1 == ids.shape[0]) | (ids[np.minimum(at + 1, ids.shape[0] - 1)] == bos_id)]
    return at + 1


def render_bart(columns: Columns, pieces: PieceRenderer, width: int, max_tokens: int) -> list[str]:
    """Each document of the row: its noised input beside its original (masks, {added}, «removed» visible)."""
    input_ids = np.asarray(columns["input_ids"])
    labels = np.asarray(columns["labels"])
    vocab = pieces.tokenizer.vocab
    label_ends = np.cumsum(np.asarray(columns.get("doc_lengths", [labels.shape[0]]), dtype=np.int64))
    input_ends = frame_ends(input_ids, vocab.eos_id, vocab.bos_id)
    if input_ends.shape[0] != label_ends.shape[0]:  # not framed per document: show the row as one
        input_ends, label_ends = np.array([input_ids.shape[0]]), np.array([labels.shape[0]])
    mask_id = vocab.mask_id
    num_docs = label_ends.shape[0]
    lines = [f"  {num_docs} document(s) of {', '.join(map(str, np.diff(label_ends, prepend=0).tolist()))} tokens; "
             f"input {input_ids.shape[0]} tokens with {int((input_ids == mask_id).sum())} [MASK]; original "
             f"{labels.shape[0]} tokens (sentence order may be permuted inside each document)"]
    for d, (noisy, clean) in enumerate(zip(np.split(input_ids, input_ends[:-1]), np.split(labels, label_ends[:-1]))):
        if d == MAX_DOCUMENTS:
            lines.append(f"  \u2026 {num_docs - d} more document(s)")
            break
        in_input, in_labels = _matched(noisy, clean)
        added = ~in_input & (noisy != mask_id)
        lines.append(f"  document {d + 1}: input {noisy.shape[0]} tokens, {int((noisy == mask_id).sum())} [MASK], "
                     f"{int(added.sum())} {{added}}; original {clean.shape[0]}, {int((~in_labels).sum())} "
                     "\u00abnot in the input\u00bb")
        lines += side_by_side("input_ids (noised)", _bracketed(noisy, added, pieces, "{", "}", max_tokens),
                              "labels (original)", _bracketed(clean, ~in_labels, pieces, "\u00ab", "\u00bb",
                                                              max_tokens), width=width)
    return lines


def _matched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``a`` and ``b`` covered by common blocks, longest first, in any order.

    Unlike a diff, blocks may cross, so a permuted sentence still matches its original; matched
    ids are replaced by unique negative values so each position is used once.
    """
    a_ids, b_ids = a.astype(np.int64).tolist(), b.astype(np.int64).tolist()
    in_a = np.zeros(len(a_ids), dtype=bool)
    in_b = np.zeros(len(b_ids), dtype=bool)
    fresh = -1  # a gets odd negative stand-ins, b even ones: no two are ever equal
    while True:
        block = difflib.SequenceMatcher(None, a_ids, b_ids, autojunk=False).find_longest_match(
            0, len(a_ids), 0, len(b_ids))
        if block.size == 0:
            return in_a, in_b
        in_a[block.a:block.a + block.size] = True
        in_b[block.b:block.b + block.size] = True
        a_ids[block.a:block.a + block.size] = range(fresh, fresh - 2 * block.size, -2)
        b_ids[block.b:block.b + block.size] = range(fresh - 1, fresh - 1 - 2 * block.size, -2)
        fresh -= 2 * block.size


def _bracketed(ids: np.ndarray, marked: np.ndarray, pieces: PieceRenderer, opening: str, closing: str,
               max_tokens: int) -> str:
    """Text of ``ids`` with each run of ``marked`` positions wrapped in ``opening … closing``."""
    shown, note = truncated(ids, max_tokens)
    flags = marked[:shown.shape[0]].tolist()
    parts, run = [], []
    for p, i in enumerate(shown.tolist()):
        text = pieces.display(i, p)
        if not flags[p]:
            parts.append(text)
            continue
        run.append(text)
        if p + 1 == len(flags) or not flags[p + 1]:
            joined = "".join(run)
            lead = " " if joined.startswith(" ") else ""
            parts.append(f"{lead}{opening}{joined.strip() or WORD_START}{closing}")
            run = []
    return "".join(parts).strip() + note


def render_plain(columns: Columns, pieces: PieceRenderer, width: int, max_tokens: int) -> list[str]:
    """Any objective without a dedicated view: each stored column as decoded text."""
    lines = []
    for name, ids in columns.items():
        ids = np.asarray(ids)
        if name != "input_ids" and (ids < 0).any():
            lines.append(f"  {name}: {ids[:max_tokens].tolist() if max_tokens > 0 else ids.tolist()}")
            continue
        shown, note = truncated(ids, max_tokens)
        lines.append(f"  {name} ({ids.shape[0]} tokens): {pieces.text(shown)}{note}")
    return lines


VIEWS: dict[str, Renderer] = {"next-token": render_clm, "masked": render_mlm, "sentinels": render_t5,
                              "denoising": render_bart, "plain": render_plain}
"""Declared view -> how its examples are shown; a new view adds one function and one line."""
RENDERERS: SpecTable = SpecTable(lambda spec: VIEWS.get(spec.view, render_plain))
"""Objective name -> renderer, by the objective's declared view."""
