"""BART's noising functions (fairseq ``DenoisingDataset``), vectorized over the body of one row.

Every function takes the row *body* (the ids between ``<s>`` and ``</s>``), so the framing can
never be touched, and returns a new int32 array; the input is never mutated. Counts follow fairseq:
``ceil(n * ratio)`` (guarded against float error, so ``ceil(10 * 0.3)`` is 3, not 4). Random ids are
drawn from ``vocab.ordinary_ids`` (fairseq draws any id, specials included).

Text infilling differs from fairseq in two documented ways, both so the configured rates are the
rates applied. (1) By default spans are placed so they do not overlap (``disjoint=True``), so a row
really loses ``mask_ratio`` of its words; fairseq starts each span at an independent random word,
spans collide and merge, and it realizes about ``1 - exp(-mask_ratio)`` (26% for 0.3);
``disjoint=False`` reproduces that placement. (2) A zero-length span's inserted token is random
with probability ``random_ratio`` like any span's; fairseq routes them through insertion noise,
whose ``ceil(n * random_ratio)`` makes a lone inserted mask always random (12% random, not 10%).
Insertion noise counts ``ceil(ratio * body length)``; fairseq's base also counts ``<s>``/``</s>``.
Cost: O(tokens) numpy per call, plus a loop over the rare Poisson redraws.
"""
from __future__ import annotations

import math

import numpy as np

from lmpairs.vocab import Vocab


def noise_count(num_items: int, ratio: float) -> int:
    """fairseq's ``ceil(num_items * ratio)``, with a guard so float error cannot add one."""
    if ratio <= 0.0 or num_items <= 0:
        return 0
    return min(num_items, int(math.ceil(num_items * ratio - 1e-9)))


def random_ordinary(count: int, vocab: Vocab, *, rng: np.random.Generator) -> np.ndarray:
    """``count`` ids drawn uniformly from the ordinary pieces (never a special, sentinel or mask)."""
    pool = vocab.ordinary_ids
    return pool[rng.integers(0, pool.shape[0], size=count)].astype(np.int32, copy=False)


def gather_segments(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``ids[starts[i] : starts[i] + lengths[i]]`` in order, in one fancy-index."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.cumsum(lengths)
    offsets -= lengths
    index = np.repeat(np.asarray(starts, dtype=np.int64) - offsets, lengths)
    index += np.arange(index.shape[0])
    return ids[index]


def permute_sentences(ids: np.ndarray, segment_lengths: np.ndarray, *, ratio: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Shuffle ``ceil(ratio * num_sentences)`` of the sentences among their own slots (fairseq).

    ``segment_lengths`` are the body's sentence lengths (they sum to ``len(ids)``); with ratio 1
    this is a full random permutation of the sentences.
    """
    ids = np.asarray(ids, dtype=np.int32)
    lengths = np.asarray(segment_lengths, dtype=np.int64)
    if int(lengths.sum()) != ids.shape[0]:
        raise ValueError(f"permute_sentences: segment_lengths sum to {int(lengths.sum())} but the body has "
                         f"{ids.shape[0]} ids; pass the body's sentence lengths (framing excluded).")
    num_sentences = lengths.shape[0]
    num_to_permute = noise_count(num_sentences, ratio)
    if num_to_permute < 2:
        return ids.copy()
    chosen = rng.permutation(num_sentences)[:num_to_permute]
    order = np.arange(num_sentences)
    order[chosen] = chosen[rng.permutation(num_to_permute)]
    starts = np.cumsum(lengths) - lengths
    return gather_segments(ids, starts[order], lengths[order])


def rotate_document(ids: np.ndarray, *, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """With probability ``ratio``, rotate the body to start at a random token (never at 0)."""
    ids = np.asarray(ids, dtype=np.int32)
    if ratio <= 0.0 or rng.random() >= ratio or ids.shape[0] < 2:
        return ids.copy()
    offset = int(rng.integers(1, ids.shape[0]))
    return np.concatenate([ids[offset:], ids[:offset]])


def mask_tokens_bart(ids: np.ndarray, *, ratio: float, vocab: Vocab, rng: np.random.Generator) -> np.ndarray:
    """Token masking (BART paper): ``ceil(ratio * n)`` random tokens become ``<mask>``."""
    ids = np.asarray(ids, dtype=np.int32)
    out = ids.copy()
    count = noise_count(ids.shape[0], ratio)
    if count:
        out[rng.choice(ids.shape[0], size=count, replace=False)] = vocab.mask_id
    return out


def delete_tokens(ids: np.ndarray, *, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Token deletion (BART paper): ``ceil(ratio * n)`` random tokens are removed."""
    ids = np.asarray(ids, dtype=np.int32)
    count = noise_count(ids.shape[0], ratio)
    if count == 0:
        return ids.copy()
    keep = np.ones(ids.shape[0], dtype=bool)
    keep[rng.choice(ids.shape[0], size=count, replace=False)] = False
    return ids[keep]


def span_values(is_random: np.ndarray, vocab: Vocab, *, rng: np.random.Generator) -> np.ndarray:
    """The token each noise span or insertion becomes: ``<mask>``, or a random ordinary id."""
    values = np.full(is_random.shape[0], vocab.mask_id, dtype=np.int32)
    values[is_random] = random_ordinary(int(is_random.sum()), vocab, rng=rng)
    return values


def insert_values(ids: np.ndarray, values: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Insert ``values`` at uniform random slots among ``ids`` (fairseq add_insertion_noise)."""
    ids = np.asarray(ids, dtype=np.int32)
    count = values.shape[0]
    if count == 0:
        return ids.copy()
    total = ids.shape[0] + count
    slots = rng.choice(total, size=count, replace=False)
    noise = np.zeros(total, dtype=bool)
    noise[slots] = True
    out = np.empty(total, dtype=np.int32)
    out[~noise] = ids
    out[slots] = values
    return out


def insert_noise(ids: np.ndarray, *, ratio: float, random_ratio: float, vocab: Vocab,
                 rng: np.random.Generator) -> np.ndarray:
    """Insertion noise: ``ceil(ratio * n)`` tokens at random slots of the body, of which exactly
    ``ceil(count * random_ratio)`` are random ordinary ids and the rest ``<mask>`` (fairseq)."""
    ids = np.asarray(ids, dtype=np.int32)
    count = noise_count(ids.shape[0], ratio)
    if count == 0:  # BART's default ratio 0: no draws to make
        return ids.copy()
    is_random = np.arange(count) < noise_count(count, random_ratio)
    return insert_values(ids, span_values(is_random, vocab, rng=rng), rng=rng)


def poisson_span_lengths(budget: int, *, poisson_lambda: float, rng: np.random.Generator) -> np.ndarray:
    """Span lengths (in words) ~ Poisson(λ) summing exactly to ``budget`` (fairseq's trimming).

    Draws until the total reaches the budget, keeps the shortest prefix that does, and trims its
    last span so the sum is exact. Zero-length spans stay in the result: they become insertions.
    """
    lengths = rng.poisson(poisson_lambda, size=budget).astype(np.int64, copy=False)
    cumulative = np.cumsum(lengths)
    while cumulative[-1] < budget:  # rare: only tiny budgets draw too little
        lengths = np.concatenate([lengths, rng.poisson(poisson_lambda, size=budget)])
        cumulative = np.cumsum(lengths)
    last = int(np.searchsorted(cumulative, budget, side="left"))
    lengths = lengths[: last + 1]  # a view of this function's own array: safe to write
    lengths[last] = budget - (int(cumulative[last - 1]) if last else 0)
    return lengths


def place_spans(num_words: int, lengths: np.ndarray, *, disjoint: bool, rng: np.random.Generator) -> np.ndarray:
    """First word of each span (``lengths`` all > 0, summing to at most ``num_words``).

    ``disjoint``: a uniform random arrangement of the spans among the unmasked words (spans may
    touch, never overlap). Otherwise fairseq's placement: distinct random start words.
    """
    count = lengths.shape[0]
    if not disjoint:
        return rng.choice(num_words, size=count, replace=False).astype(np.int64)
    before = np.cumsum(lengths)  # words of the spans before each one, after the subtraction below
    free = num_words - int(before[-1]) if count else num_words
    before -= lengths
    slots = rng.choice(free + count, size=count, replace=False).astype(np.int64, copy=False)
    slots.sort()
    slots -= np.arange(count)
    slots += before
    return slots


def replace_spans(ids: np.ndarray, word_starts: np.ndarray, first_words: np.ndarray, lengths: np.ndarray,
                  values: np.ndarray) -> np.ndarray:
    """Replace each span of whole words by one token ``values[i]``; overlapping spans merge.

    ``word_starts`` are token positions of words; span ``i`` covers words ``first_words[i]`` up to
    ``first_words[i] + lengths[i]`` (clipped to the body). A merged run keeps the value of the span
    that starts it, as fairseq does.
    """
    n = ids.shape[0]
    bounds = np.empty(word_starts.shape[0] + 1, dtype=np.int64)
    bounds[:-1] = word_starts
    bounds[-1] = n
    begin = word_starts[first_words]
    end = bounds[np.minimum(first_words + lengths, word_starts.shape[0])]
    depth = np.bincount(begin, minlength=n + 1)
    depth -= np.bincount(end, minlength=n + 1)
    depth = np.cumsum(depth[:n])
    keep = depth == 0
    leaders = depth[begin] == 1
    keep[begin[leaders]] = True
    out = ids[keep]
    out[np.cumsum(keep)[begin[leaders]] - 1] = values[leaders]
    return out


def infill_text(ids: np.ndarray, *, mask_ratio: float, random_ratio: float, poisson_lambda: float,
                whole_words: bool, vocab: Vocab, rng: np.random.Generator, disjoint: bool = True) -> np.ndarray:
    """Text infilling (fairseq add_whole_word_mask, span-poisson, replace_length=1).

    Masks ``ceil(mask_ratio * num_words)`` words in Poisson(λ) spans; each span becomes one
    ``<mask>``, or a random ordinary id with probability ``random_ratio``; a zero-length span inserts
    its token at a random slot instead. Tokens before the body's first word start are never masked.
    """
    ids = np.asarray(ids, dtype=np.int32)
    word_starts = (np.flatnonzero(vocab.word_start[ids]) if whole_words
                   else np.arange(ids.shape[0])).astype(np.int64, copy=False)
    budget = noise_count(word_starts.shape[0], mask_ratio)
    if budget == 0:
        return ids.copy()
    lengths = poisson_span_lengths(budget, poisson_lambda=poisson_lambda, rng=rng)
    values = span_values(rng.random(lengths.shape[0]) < random_ratio, vocab, rng=rng)
    spans = lengths > 0
    if spans.all():  # no zero-length span: nothing to insert afterwards (and no draw for it)
        first_words = place_spans(word_starts.shape[0], lengths, disjoint=disjoint, rng=rng)
        return replace_spans(ids, word_starts, first_words, lengths, values)
    out = ids
    if spans.any():
        first_words = place_spans(word_starts.shape[0], lengths[spans], disjoint=disjoint, rng=rng)
        out = replace_spans(ids, word_starts, first_words, lengths[spans], values[spans])
    return insert_values(out, values[~spans], rng=rng)
