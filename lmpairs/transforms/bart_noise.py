"""BART's noising (fairseq ``DenoisingDataset``), vectorized over a whole batch of document bodies.

Every function takes *bodies* (the ids between ``<s>`` and ``</s>``; BART's objective passes one
per document of each row, so no noise crosses a document) as flat ``values`` and ``offsets``, so
the framing is never touched, and returns new arrays; inputs are never mutated. Draws are keyed
hash words (:mod:`lmpairs.transforms.seeding`): ``keys`` holds one stream key per body, and each
draw sits at a position of its own domain (token, sentence, span or slot index inside the body).

Counts follow fairseq, ``ceil(n * ratio)`` (guarded against float error, so ``ceil(10 * 0.3)`` is
3), or, given ``round_words`` (one hash word per body), ``n * ratio`` rounded at random (up with
probability its fraction): a BART row holds several short documents, noised one by one, and a ceil
per document would raise the rate applied to a corpus of short paragraphs. Random ids are drawn
from ``vocab.ordinary_ids`` (fairseq draws any id, specials included).
Text infilling differs from fairseq in two documented ways, both so the configured rates are the
rates applied: (1) spans are placed so they never overlap (a uniform random arrangement of the
spans among the unmasked words), so a row really loses ``mask_ratio`` of its words; fairseq's
independent starts collide and realize about ``1 - exp(-mask_ratio)``. (2) A zero-length span's
inserted token is random with probability ``random_ratio`` like any span's. Poisson(λ) span
lengths come from the inverse CDF of a uniform float per draw.
"""
from __future__ import annotations

import math

import numpy as np

from lmpairs.transforms.rowops import (
    gather,
    insert_values,
    lengths_of,
    offsets_of,
    positions_in_rows,
    rank_in_rows,
    row_of,
    segment_cumsum,
    smallest_k,
)
from lmpairs.transforms.seeding import below, uniform_ints, unit_floats, words_at
from lmpairs.vocab import Vocab


def ceil_counts(n: np.ndarray, ratio: float) -> np.ndarray:
    """fairseq's ``ceil(n * ratio)`` per row, with a guard so float error cannot add one."""
    n = np.asarray(n, dtype=np.int64)
    if ratio <= 0.0:
        return np.zeros(n.shape, dtype=np.int64)
    return np.minimum(n, np.ceil(n * ratio - 1e-9).astype(np.int64)).clip(min=0)


def noise_counts(n: np.ndarray, ratio: float, round_words: np.ndarray | None = None) -> np.ndarray:
    """``ceil(n * ratio)`` per row, or with ``round_words`` ``floor(n * ratio)`` plus one with
    probability the fraction (so the expected count is exactly ``n * ratio``)."""
    if round_words is None or ratio <= 0.0:
        return ceil_counts(n, ratio)
    n = np.asarray(n, dtype=np.int64)
    exact = n * ratio
    low = np.floor(exact + 1e-9)
    up = unit_floats(round_words) < np.maximum(exact - low, 0.0)
    return np.minimum(n, low.astype(np.int64) + up).clip(min=0)


def random_ordinary(words: np.ndarray, vocab: Vocab) -> np.ndarray:
    """Ordinary ids (never a special, sentinel or mask), one per word, by multiply-shift."""
    return vocab.ordinary_ids[uniform_ints(words, vocab.ordinary_ids.shape[0])]


def items_of(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offsets, rows, positions)`` of ``counts[r]`` items per row, flat."""
    offsets = offsets_of(counts)
    rows = row_of(offsets)
    return offsets, rows, positions_in_rows(offsets, rows)


def permute_sentences(values: np.ndarray, offsets: np.ndarray, sentence_lengths: np.ndarray,
                      sentence_offsets: np.ndarray, *, ratio: float, choose_keys: np.ndarray,
                      order_keys: np.ndarray) -> np.ndarray:
    """Shuffle ``ceil(ratio * S)`` sentences of each row among their own slots (fairseq).

    The chosen sentences are the ones with the smallest ``choose_keys`` words; they move into the
    chosen slots in the order of their ``order_keys`` words. Row lengths are unchanged.
    """
    num_rows = offsets.shape[0] - 1
    counts = lengths_of(sentence_offsets)
    s_rows = row_of(sentence_offsets)
    s_pos = positions_in_rows(sentence_offsets, s_rows)
    k = ceil_counts(counts, ratio)
    k[k < 2] = 0
    if not k.any():
        return values.copy()
    chosen = (smallest_k(s_rows, words_at(choose_keys[s_rows], s_pos), k, num_rows) if (k < counts).any()
              else np.repeat(k > 0, counts))
    slots = np.flatnonzero(chosen)
    order_of_chosen, _ = rank_in_rows(s_rows[slots], words_at(order_keys[s_rows[slots]], s_pos[slots]), num_rows)
    new_order = np.arange(s_rows.shape[0])
    new_order[slots] = slots[order_of_chosen]
    starts = offsets[s_rows] + segment_cumsum(sentence_lengths, sentence_offsets) - sentence_lengths
    return gather(values, starts[new_order], sentence_lengths[new_order])


def mask_random_tokens(values: np.ndarray, offsets: np.ndarray, *, ratio: float, keys: np.ndarray,
                       mask_id: int, round_words: np.ndarray | None = None) -> np.ndarray:
    """Token masking (BART paper): ``ceil(ratio * n)`` tokens per row become ``<mask>``."""
    out = values.copy()
    if ratio <= 0.0 or values.size == 0:
        return out
    rows = row_of(offsets)
    pos = positions_in_rows(offsets, rows)
    out[smallest_k(rows, words_at(keys[rows], pos), noise_counts(lengths_of(offsets), ratio, round_words),
                   offsets.shape[0] - 1)] = mask_id
    return out


def delete_random_tokens(values: np.ndarray, offsets: np.ndarray, *, ratio: float, keys: np.ndarray,
                         round_words: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Token deletion (BART paper): ``ceil(ratio * n)`` tokens per row are removed."""
    if ratio <= 0.0 or values.size == 0:
        return values.copy(), offsets
    rows = row_of(offsets)
    pos = positions_in_rows(offsets, rows)
    k = noise_counts(lengths_of(offsets), ratio, round_words)
    gone = smallest_k(rows, words_at(keys[rows], pos), k, offsets.shape[0] - 1)
    return values[~gone], offsets_of(lengths_of(offsets) - k)


def poisson_table(poisson_lambda: float) -> np.ndarray:
    """CDF of Poisson(λ) at 0, 1, …, far enough that the rest of the tail is below 1e-17."""
    top = int(poisson_lambda + 30.0 * math.sqrt(poisson_lambda) + 40)
    k = np.arange(top + 1)
    log_pmf = k * math.log(poisson_lambda) - poisson_lambda - np.array([math.lgamma(i + 1) for i in k])
    return np.cumsum(np.exp(log_pmf))


def poisson_span_lengths(budgets: np.ndarray, *, poisson_lambda: float,
                         keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Span lengths (in words) ~ Poisson(λ) summing exactly to each row's budget (fairseq's trimming).

    Draw ``i`` of a row is the inverse CDF at the float of its word ``i``. Keeps the shortest prefix
    whose total reaches the budget and trims its last span; zero-length spans stay (they become
    insertions). Returns flat lengths and their offsets per row.
    """
    num_rows = budgets.shape[0]
    cdf = poisson_table(poisson_lambda)
    draws = np.ceil(budgets / max(poisson_lambda, 1e-3) * 1.25).astype(np.int64) + 8
    draws[budgets == 0] = 0
    while True:  # a row whose draws fall short gets twice as many (rare: tiny budgets)
        offsets, rows, pos = items_of(draws)
        lengths = np.searchsorted(cdf, unit_floats(words_at(keys[rows], pos)), side="right").astype(np.int64)
        cum = segment_cumsum(lengths, offsets)
        totals = np.zeros(num_rows, dtype=np.int64)
        nonempty = draws > 0
        totals[nonempty] = cum[offsets[1:][nonempty] - 1]
        short = totals < budgets
        if not short.any():
            break
        draws[short] *= 2
    before = cum - lengths
    keep = before < budgets[rows]
    lengths = np.minimum(lengths, budgets[rows] - before)[keep]
    return lengths, offsets_of(np.bincount(rows[keep], minlength=num_rows))


def infill(values: np.ndarray, offsets: np.ndarray, *, mask_ratio: float, random_ratio: float,
           poisson_lambda: float, whole_words: bool, vocab: Vocab, keys: dict[str, np.ndarray],
           round_words: np.ndarray | None = None) -> tuple:
    """Text infilling (fairseq add_whole_word_mask, span-poisson, replace_length=1), batched.

    Masks ``ceil(mask_ratio * num_words)`` words per row (rounded at random given ``round_words``)
    in Poisson(λ) spans placed without overlap; each span becomes one ``<mask>``, or a random
    ordinary id with probability ``random_ratio``; a zero-length span inserts its token at a random
    slot instead. Tokens before a row's first word start are never masked. ``keys``: stream keys by
    purpose (``lengths``, ``values``, ``ids``, ``place``, ``slots``). Returns new ``(values, offsets)``.
    """
    num_rows = offsets.shape[0] - 1
    rows = row_of(offsets)
    starts_mask = vocab.word_start[values] if whole_words else np.ones(values.shape[0], dtype=bool)
    word_flat = np.flatnonzero(starts_mask)
    num_words = np.bincount(rows[word_flat], minlength=num_rows)
    word_offsets = offsets_of(num_words)
    budgets = noise_counts(num_words, mask_ratio, round_words)
    if not budgets.any():
        return values.copy(), offsets
    lengths, span_offsets = poisson_span_lengths(budgets, poisson_lambda=poisson_lambda, keys=keys["lengths"])
    span_rows = row_of(span_offsets)
    span_pos = positions_in_rows(span_offsets, span_rows)
    is_random = below(words_at(keys["values"][span_rows], span_pos), random_ratio)
    span_values = np.full(lengths.shape[0], vocab.mask_id, dtype=np.int32)
    span_values[is_random] = random_ordinary(words_at(keys["ids"][span_rows[is_random]], span_pos[is_random]), vocab)
    positive = lengths > 0
    # Place the positive spans: c slots among free + c, then slot_j - j + words of earlier spans.
    p_rows, p_len = span_rows[positive], lengths[positive]
    count = np.bincount(p_rows, minlength=num_rows)
    free = num_words - budgets
    slot_offsets, slot_rows, slot_pos = items_of(free + count)
    taken = smallest_k(slot_rows, words_at(keys["place"][slot_rows], slot_pos), count, num_rows)
    p_offsets = offsets_of(count)
    j = positions_in_rows(p_offsets, p_rows)
    first_word = slot_pos[taken] - j + segment_cumsum(p_len, p_offsets) - p_len
    begin = word_flat[word_offsets[p_rows] + first_word]
    end_word = first_word + p_len
    end = np.where(end_word < num_words[p_rows], word_flat[np.minimum(word_offsets[p_rows] + end_word,
                                                                      max(word_flat.shape[0] - 1, 0))],
                   offsets[p_rows + 1])
    depth = np.bincount(begin, minlength=values.shape[0] + 1) - np.bincount(end, minlength=values.shape[0] + 1)
    covered = np.cumsum(depth[:-1]) > 0
    keep = ~covered
    keep[begin] = True
    out = values.copy()
    out[begin] = span_values[positive]
    out_values = out[keep]
    out_offsets = offsets_of(np.bincount(rows[keep], minlength=num_rows))
    zero = ~positive
    if zero.any():
        z_rows = span_rows[zero]
        z_count = np.bincount(z_rows, minlength=num_rows)
        _, s_rows, s_pos = items_of(lengths_of(out_offsets) + z_count)
        out_values, out_offsets = insert_values(out_values, out_offsets, span_values[zero], z_rows,
                                                words_at(keys["slots"][s_rows], s_pos), z_count)
    return out_values, out_offsets


def insert_noise(values: np.ndarray, offsets: np.ndarray, *, ratio: float, random_ratio: float, vocab: Vocab,
                 keys: dict[str, np.ndarray], round_words: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Insertion noise: ``ceil(ratio * n)`` tokens at random slots of each body, of which exactly
    ``ceil(count * random_ratio)`` are random ordinary ids and the rest ``<mask>`` (fairseq)."""
    if ratio <= 0.0:
        return values.copy(), offsets
    num_rows = offsets.shape[0] - 1
    count = noise_counts(lengths_of(offsets), ratio, round_words)
    _, n_rows, n_pos = items_of(count)
    new = np.full(n_rows.shape[0], vocab.mask_id, dtype=np.int32)
    rnd = n_pos < ceil_counts(count, random_ratio)[n_rows]
    new[rnd] = random_ordinary(words_at(keys["ids"][n_rows[rnd]], n_pos[rnd]), vocab)
    _, s_rows, s_pos = items_of(lengths_of(offsets) + count)
    del num_rows
    return insert_values(values, offsets, new, n_rows, words_at(keys["slots"][s_rows], s_pos), count)


def rotate(values: np.ndarray, offsets: np.ndarray, *, ratio: float, keys: np.ndarray) -> np.ndarray:
    """With probability ``ratio`` per row, rotate the body to start at a random token (never at 0)."""
    if ratio <= 0.0:
        return values.copy()
    lengths = lengths_of(offsets)
    num_rows = lengths.shape[0]
    draw = words_at(keys[:, None], np.arange(2)[None, :]).reshape(num_rows, 2)
    turn = below(draw[:, 0], ratio) & (lengths >= 2)
    shift = np.where(turn, 1 + uniform_ints(draw[:, 1], np.maximum(lengths - 1, 1)), 0)
    rows = row_of(offsets)
    pos = positions_in_rows(offsets, rows)
    source = offsets[rows] + (pos + shift[rows]) % np.maximum(lengths[rows], 1)
    return values[source]
