"""Masked LM (BERT/RoBERTa): full-sentence rows framed ``<s> … </s>``, 15% selected, then 80/10/10.

Rows follow RoBERTa's FULL-SENTENCES packing: every document is followed by eos (the document
separator), the stream is cut into ``seq_len - 1`` tokens and each row gets a leading bos (fairseq's
``TokenBlockDataset`` + ``PrependTokenDataset``). Special ids are never selected.

Selection works on words: with ``whole_word`` a word starts at a ``▁`` piece, at a row start or
after a special token; otherwise every maskable token is its own word. Each word draws one hash
word at the position of its first token (stream ``SELECT``).

- ``exact`` (BERT's ``create_masked_lm_predictions``): a budget of ``max(1, round(n * p))`` tokens
  over the ``n`` maskable ones. Without whole words: exactly the ``budget`` maskable positions with
  the smallest ``(hash, position)``. With whole words: words in ascending hash order, BERT's greedy
  rule (a word that would overflow the budget is skipped, later smaller ones are still tried); the
  longest fitting prefix is taken at once and the short greedy tail runs in a few vectorized
  rounds over the whole batch (at most one round per token of the largest remaining gap).
- ``bernoulli`` (Hugging Face's collator): each word independently, ``hash < p * 2**64``.

Each selected token then draws one word (stream ``ACTION``): below ``mask_fraction`` it becomes the
mask id, below ``mask_fraction + random_fraction`` a random ordinary id (stream ``RANDOM``,
multiply-shift into ``vocab.ordinary_ids``: never a special, sentinel or mask; it may equal the
original, as in BERT and HF), otherwise it is kept. ``labels`` hold the original id at selected
positions and -100 elsewhere. Cost: a few O(tokens) passes per batch plus one sort of the
candidate positions (those whose hash falls under a per-row bound that holds the budget).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from lmpairs.config_base import FINAL_ROW, FRACTION, Config, check, seq_len_setting
from lmpairs.fields import Limits, setting
from lmpairs.transforms.batch import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.packing import ConcatPacker
from lmpairs.transforms.rowops import smallest_k_grid, to_grid
from lmpairs.transforms.seeding import threshold, uniform_ints, word_grid, words_at
from lmpairs.transforms.spec import IGNORE_INDEX
from lmpairs.vocab import Vocab

SELECT, ACTION, RANDOM = 0, 1, 2
"""Hash streams of MLM."""
STREAMS = (SELECT, ACTION, RANDOM)


def exact_budgets(num_maskable: np.ndarray, mask_prob: float) -> np.ndarray:
    """BERT's ``max(1, round(n * p))`` per row (half to even, as Python's round), 0 with nothing to mask."""
    budget = np.maximum(1, np.rint(num_maskable * mask_prob)).astype(np.int64)
    return np.where(num_maskable > 0, budget, 0)


def ordinary_range(vocab: Vocab) -> tuple[int, int] | None:
    """``(lo, hi)`` when exactly the ids in ``[lo, hi)`` are ordinary (specials only at both ends, as in
    lmpairs-trained and most pretrained vocabularies), else None."""
    ordinary = vocab.ordinary_ids
    lo, hi = int(ordinary[0]), int(ordinary[-1]) + 1
    return (lo, hi) if hi - lo == ordinary.shape[0] else None


def maskable_ids(grid: np.ndarray, vocab: Vocab) -> np.ndarray:
    """``~vocab.special[grid]``: one range test when the ordinary ids are contiguous, a gather otherwise."""
    bounds = ordinary_range(vocab)
    if bounds is None:
        return ~np.take(vocab.special, grid)
    shifted = grid.astype(np.uint32)  # ids are non-negative int32: same order as unsigned
    shifted -= np.uint32(bounds[0])  # ids below lo wrap around to huge values
    return shifted < np.uint32(bounds[1] - bounds[0])


def greedy_exact(word_rows: np.ndarray, word_hash: np.ndarray, sizes: np.ndarray, budget: np.ndarray,
                 num_rows: int) -> np.ndarray:
    """BERT's whole-word choice: words by ascending ``(hash, position)``, each taken if it still fits.

    Only each row's words under a hash bound are ordered (enough words to fill the budget with
    overwhelming probability): one row-wise stable argsort of a padded matrix. The longest fitting
    prefix is taken at once; the greedy tail then runs in vectorized rounds (each round takes, per
    row, the next word that fits its remaining gap; fewer rounds than the largest gap). A row that
    runs out of candidates with its gap still open is redone with all its words, so the result is
    exactly BERT's loop over the whole shuffled word list.
    """
    counts = np.bincount(word_rows, minlength=num_rows)
    tokens = np.bincount(word_rows, weights=sizes, minlength=num_rows)
    need = budget / np.maximum(tokens / np.maximum(counts, 1), 1.0)  # words expected to fill the budget
    frac = (need + 3.0 * np.sqrt(need) + 16.0) / np.maximum(counts, 1)
    bound = np.where(frac >= 0.5, 2.0**64 - 2.0**12, frac * 2.0**64).astype(np.uint64)
    chosen, redo = _greedy_rows(word_rows, word_hash, sizes, budget, num_rows, word_hash < bound[word_rows])
    if redo.any():  # a row needed words past its candidates (rare): redo those rows with every word
        again, _ = _greedy_rows(word_rows, word_hash, sizes, budget, num_rows, redo[word_rows])
        chosen = np.where(redo[word_rows], again, chosen)
    return chosen


def _greedy_rows(word_rows: np.ndarray, word_hash: np.ndarray, sizes: np.ndarray, budget: np.ndarray,
                 num_rows: int, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`greedy_exact` over the ``candidate`` words: the chosen mask, and the rows that would
    need more words than their candidates (their result is not final)."""
    idx = np.flatnonzero(candidate)
    rows = word_rows[idx]
    per_row = np.bincount(rows, minlength=num_rows)
    width = int(per_row.max()) if num_rows and idx.size else 0
    columns = np.arange(width)[None, :]
    valid = columns < per_row[:, None]
    hashes = np.full((num_rows, width), np.uint64(2**64 - 1), dtype=np.uint64)
    hashes[valid] = word_hash[idx]
    order = np.argsort(hashes, axis=1, kind="stable")  # ties by position: candidates are in position order
    item = np.full((num_rows, width), -1, dtype=np.int64)
    item[valid] = idx
    item = np.take_along_axis(item, order, axis=1)
    valid = item >= 0
    size = np.where(valid, sizes[np.maximum(item, 0)], 0)
    cum = np.cumsum(size, axis=1)
    taken = valid & (cum <= budget[:, None])  # the longest fitting prefix
    used = np.where(taken, size, 0).sum(axis=1)
    gap = budget - used
    nxt = taken.sum(axis=1) + 1  # skip the word that overflowed
    while True:  # greedy tail
        live = valid & (columns >= nxt[:, None]) & (size <= gap[:, None]) & (gap > 0)[:, None]
        hit = live.any(axis=1)
        if not hit.any():
            break
        pick = np.argmax(live, axis=1)
        rows_hit = np.flatnonzero(hit)
        taken[rows_hit, pick[hit]] = True
        gap[hit] -= size[rows_hit, pick[hit]]
        nxt[hit] = pick[hit] + 1
    # BERT stops once the budget is filled; a row still short after its last candidate would go on
    # to words past the bound, which were not ordered here.
    exhausted = (gap > 0) & (per_row < np.bincount(word_rows, minlength=num_rows))
    chosen = np.zeros(word_rows.shape[0], dtype=bool)
    chosen[item[taken]] = True
    return chosen, exhausted


def select_grid(grid: np.ndarray, valid: np.ndarray | None, keys: np.ndarray, *, mask_prob: float,
                selection: Literal["exact", "bernoulli"], whole_word: bool, vocab: Vocab) -> np.ndarray:
    """Sorted flat grid indices of the positions to predict; ``keys``: the rows' ``SELECT`` keys."""
    if selection not in ("exact", "bernoulli"):
        raise ValueError(f"mlm selection={selection!r}: must be 'exact' (BERT) or 'bernoulli' (HF collator).")
    num_rows, width = grid.shape
    maskable = maskable_ids(grid, vocab)
    if valid is not None:
        maskable &= valid
    starts = maskable
    if whole_word:
        after_maskable = np.zeros_like(maskable)
        after_maskable[:, 1:] = maskable[:, :-1]
        starts = maskable & (vocab.word_start[grid] | ~after_maskable)
    words = word_grid(keys, width, scratch=True)  # used only inside this call
    if selection == "bernoulli":
        chosen = starts & (words < np.uint64(threshold(mask_prob))) if mask_prob < 1.0 else starts.copy()
        if not whole_word or not starts.any():
            return np.flatnonzero(chosen)
        word_id = np.cumsum(starts.ravel()) - 1
        return np.flatnonzero(maskable.ravel() & chosen.ravel()[np.flatnonzero(starts.ravel())][np.maximum(word_id, 0)])
    num_maskable = np.count_nonzero(maskable, axis=1)
    budget = exact_budgets(num_maskable, mask_prob)
    if not whole_word:
        return smallest_k_grid(words, maskable, num_maskable, budget)
    where = np.flatnonzero(starts)
    if where.size == 0:
        return where
    word_id = np.cumsum(starts.ravel()) - 1
    sizes = np.bincount(word_id[maskable.ravel()], minlength=where.shape[0])
    chosen = greedy_exact(where // width, words.ravel()[where], sizes, budget, num_rows)
    return np.flatnonzero(maskable.ravel() & chosen[np.maximum(word_id, 0)])


def mask_batch(ids: np.ndarray, offsets: np.ndarray, select_keys: np.ndarray, action_keys: np.ndarray,
               random_keys: np.ndarray, *, config: MlmConfig, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, labels)`` flat int32 for rows ``ids``/``offsets``; ``ids`` is not modified."""
    c = config
    grid, valid = to_grid(ids, offsets, vocab.pad_id)
    width = grid.shape[1]
    positions = select_grid(grid, valid, select_keys, mask_prob=c.mask_prob, selection=c.selection,
                            whole_word=c.whole_word, vocab=vocab)
    sel_rows = positions // max(width, 1)
    # ACTION and RANDOM words of every selected position in one mix (RANDOM is used where random).
    both = words_at(np.stack([action_keys[sel_rows], random_keys[sel_rows]]), positions - sel_rows * width)
    draw = both[0]
    t_mask, t_random = threshold(c.mask_fraction), threshold(c.mask_fraction + c.random_fraction)
    is_mask = draw < np.uint64(t_mask) if t_mask < 2**64 else np.ones(draw.shape, bool)
    is_random = ~is_mask & (draw < np.uint64(t_random)) if t_random < 2**64 else ~is_mask
    inputs = grid.copy()
    flat_inputs = inputs.reshape(-1)
    flat_inputs[positions[is_mask]] = vocab.mask_id
    if is_random.any():
        picks = uniform_ints(both[1][is_random], vocab.ordinary_ids.shape[0])
        flat_inputs[positions[is_random]] = vocab.ordinary_ids[picks]
    labels = np.full(grid.shape, IGNORE_INDEX, dtype=np.int32)
    labels.reshape(-1)[positions] = grid.reshape(-1)[positions]
    if valid is None:
        return flat_inputs, labels.reshape(-1)
    return inputs[valid], labels[valid]


def one_segment(lengths: np.ndarray) -> Ragged:
    """Segments of rows whose boundaries are unknown: one segment per row."""
    return Ragged(lengths.astype(np.int32), np.arange(lengths.shape[0] + 1, dtype=np.int64))


@dataclass(frozen=True, kw_only=True)
class MlmConfig(Config):
    """Masked LM (BERT/RoBERTa): select ``mask_prob`` of maskable tokens, then 80/10/10."""

    owner: ClassVar[str] = "mlm"
    seq_len: int = seq_len_setting(512, 4, "tokens per row, including the frame tokens")
    mask_prob: float = setting(0.15, "share of maskable tokens selected for prediction",
                               limits=Limits(0.0, 1.0, low_open=True))
    selection: Literal["exact", "bernoulli"] = setting(
        "exact", "'exact' selects round(mask_prob * n) tokens per row (BERT); 'bernoulli' each token "
        "independently (HF's collator)")
    mask_fraction: float = setting(0.8, "share of selected tokens replaced by the mask id", limits=FRACTION)
    random_fraction: float = setting(0.1, "share of selected tokens replaced by a random id; the rest stay "
                                          "(mask_fraction + random_fraction <= 1)", limits=FRACTION)
    whole_word: bool = setting(False, "select whole words (all pieces of a word together)")
    copies: int = setting(1, "differently masked copies of each row (RoBERTa-style static duplication)",
                          limits=Limits(1, 100))
    final_row: Literal["pad", "drop"] = setting("pad", FINAL_ROW)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.mask_fraction + self.random_fraction <= 1.0 + 1e-9,
               f"mlm.mask_fraction + mlm.random_fraction = {self.mask_fraction + self.random_fraction}: "
               "must be <= 1 (the rest stay unchanged); lower one of them.")


@declare(name="mlm", objective_id=2, config=MlmConfig, columns=("input_ids", "labels"), family="encoder", view="masked",
         rates=(("selected / maskable", "selected", "maskable", "mask_prob"),
                ("[MASK] / selected", "masked", "selected", "mask_fraction"),
                ("random / selected", "random", "selected", "random_fraction"),
                ("kept / selected", "kept", "selected", None)))
class MlmObjective(Objective):
    config: MlmConfig

    @property
    def num_copies(self) -> int:
        return self.config.copies

    def packer(self) -> ConcatPacker:
        bos = self.vocab.bos_id
        return ConcatPacker(objective_id=self.objective_id, row_length=self.config.seq_len - (bos is not None),
                            suffix=self.vocab.eos_id, row_prefix=bos, keep_final=self.config.final_row == "pad")

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        ids = rows.ids.values
        check_ids(ids, self.vocab, "mlm")
        input_ids, labels = mask_batch(ids, rows.ids.offsets, *self.keys_for_streams(rows, seed, copy, STREAMS),
                                       config=self.config, vocab=self.vocab)
        offsets = rows.ids.offsets
        return {"input_ids": Ragged(input_ids, offsets), "labels": Ragged(labels, offsets)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
        ids = np.where(labels.values != IGNORE_INDEX, labels.values, inputs.values).astype(np.int32)
        return RowBatch(examples.keys, Ragged(ids, inputs.offsets), one_segment(inputs.lengths))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        """Token counts behind the manifest's applied rates (selected/maskable, masked/selected, …)."""
        input_ids = examples.columns["input_ids"].values
        labels = examples.columns["labels"].values
        selected = labels != IGNORE_INDEX
        clean = np.where(selected, labels, input_ids)
        kept = selected & (input_ids == labels)
        masked = selected & (input_ids == self.vocab.mask_id)
        return {
            "tokens": int(input_ids.shape[0]),
            "maskable": int((~self.vocab.special[clean]).sum()),
            "selected": int(selected.sum()),
            "masked": int(masked.sum()),
            "random": int((selected & ~kept & ~masked).sum()),
            "kept": int(kept.sum()),
        }


