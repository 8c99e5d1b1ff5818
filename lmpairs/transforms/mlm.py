"""Masked LM (BERT/RoBERTa): full-sentence rows framed ``<s> … </s>``, 15% selected, then 80/10/10.

Rows follow RoBERTa's FULL-SENTENCES packing: every document is followed by eos (the document
separator), the stream is cut into ``seq_len - 1`` tokens and each row gets a leading bos (fairseq's
``TokenBlockDataset`` + ``PrependTokenDataset``). Special ids are never selected.

Selection (:func:`select_positions`) works on words: with ``whole_word`` a word starts at a
``▁`` piece or after a special token, otherwise every maskable token is its own word.

- ``exact`` (BERT's ``create_masked_lm_predictions``): a budget of ``max(1, round(n * p))`` tokens
  over the ``n`` maskable ones; words are taken in random order, a word that would overflow the
  budget is skipped and later, smaller ones are still tried. Without whole words this is exactly
  ``budget`` positions drawn uniformly without replacement.
- ``bernoulli`` (Hugging Face's collator): each word independently with probability ``p``.

Each selected token then draws one uniform number: below ``mask_fraction`` it becomes the mask id,
below ``mask_fraction + random_fraction`` a random ordinary id (which may equal the original, as
in BERT and HF), otherwise it is kept. ``labels`` hold the original id at selected positions and
-100 elsewhere. Cost: O(n) numpy per row plus one permutation of its words; exact whole-word
selection ends with a loop over the few words that can still fill the last budget gap (fewer
iterations than the gap, which is smaller than one word).
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from lmpairs.config import MlmConfig
from lmpairs.transforms.objective import Columns, Objective, Row
from lmpairs.vocab import Vocab

IGNORE_INDEX = -100
"""Label of positions that carry no loss (``ignore_index`` of the cross-entropy)."""


def word_index(ids: np.ndarray, *, whole_word: bool, vocab: Vocab) -> tuple[np.ndarray, int]:
    """Each position's word number (-1 for special tokens) and the number of words.

    A word starts at a maskable piece flagged ``vocab.word_start``, at the row start or right after
    a special token; without ``whole_word`` every maskable token starts its own word.
    """
    maskable = ~vocab.special[ids]
    starts = maskable.copy()
    if whole_word:
        after_maskable = np.zeros_like(maskable)
        after_maskable[1:] = maskable[:-1]
        starts &= vocab.word_start[ids] | ~after_maskable
    words = np.cumsum(starts, dtype=np.int64) - 1
    words[~maskable] = -1
    return words, int(starts.sum())


def exact_budget(num_maskable: int, mask_prob: float) -> int:
    """BERT's ``max(1, round(n * p))`` (Python's round, half to even), or 0 with nothing to mask."""
    return max(1, int(round(num_maskable * mask_prob))) if num_maskable else 0


def choose_words_exact(sizes: np.ndarray, budget: int, *, rng: np.random.Generator) -> np.ndarray:
    """Indices of words taken in random order until their tokens reach ``budget``, never beyond.

    Mirrors BERT: the longest prefix of the shuffled words that fits is taken at once; after it, a
    word too long for the remaining gap is skipped and the next one that fits is taken.
    """
    order = rng.permutation(sizes.shape[0])
    ordered_sizes = sizes[order]
    taken = int(np.searchsorted(np.cumsum(ordered_sizes), budget, side="right"))
    chosen = [order[:taken]]
    gap = budget - int(ordered_sizes[:taken].sum())
    start = taken + 1
    while gap > 0 and start < order.shape[0]:
        fits = np.flatnonzero(ordered_sizes[start:] <= gap)
        if fits.size == 0:
            break
        j = start + int(fits[0])
        chosen.append(order[j:j + 1])
        gap -= int(ordered_sizes[j])
        start = j + 1
    return np.concatenate(chosen)


def select_positions(ids: np.ndarray, *, mask_prob: float, selection: Literal["exact", "bernoulli"],
                     whole_word: bool, vocab: Vocab, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the positions to predict; specials are never selected (see module doc)."""
    if selection not in ("exact", "bernoulli"):
        raise ValueError(f"mlm selection={selection!r}: must be 'exact' (BERT) or 'bernoulli' (HF collator).")
    selected = np.zeros(ids.shape[0], dtype=bool)
    if not whole_word:  # word k is the k-th maskable token: the same draws, made on positions directly
        maskable = np.flatnonzero(~vocab.special[ids])
        if selection == "exact":
            budget = exact_budget(maskable.shape[0], mask_prob)
            selected[maskable[rng.permutation(maskable.shape[0])[:budget]]] = True
        else:
            selected[maskable[rng.random(maskable.shape[0]) < mask_prob]] = True
        return selected
    words, num_words = word_index(ids, whole_word=whole_word, vocab=vocab)
    in_word = words >= 0
    if selection == "exact":
        budget = exact_budget(int(in_word.sum()), mask_prob)
        word_chosen = np.zeros(num_words, dtype=bool)
        word_chosen[choose_words_exact(np.bincount(words[in_word], minlength=num_words), budget, rng=rng)] = True
    else:
        word_chosen = rng.random(num_words) < mask_prob
    selected[in_word] = word_chosen[words[in_word]]
    return selected


def replace_selected(ids: np.ndarray, selected: np.ndarray, *, mask_fraction: float, random_fraction: float,
                     vocab: Vocab, rng: np.random.Generator) -> np.ndarray:
    """A new int32 array: selected positions become mask / random ordinary id / kept (80/10/10)."""
    out = ids.copy()
    positions = np.flatnonzero(selected)
    draw = rng.random(positions.shape[0])
    out[positions[draw < mask_fraction]] = vocab.mask_id
    randomized = positions[(draw >= mask_fraction) & (draw < mask_fraction + random_fraction)]
    out[randomized] = vocab.ordinary_ids[rng.integers(0, vocab.ordinary_ids.shape[0], size=randomized.shape[0])]
    return out


def mask_tokens(ids: np.ndarray, *, mask_prob: float, selection: Literal["exact", "bernoulli"],
                mask_fraction: float, random_fraction: float, whole_word: bool, vocab: Vocab,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, labels)`` of one row, both int32; ``ids`` is not modified.

    Draw order is fixed (word permutation or per-word uniforms, then one uniform per selected
    token, then the random ids), so the same ``rng`` state gives the same example everywhere.
    """
    ids = np.asarray(ids, dtype=np.int32)  # only read: replace_selected writes a copy
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab.size):
        raise ValueError(f"mlm: row has ids in [{int(ids.min())}, {int(ids.max())}], expected [0, {vocab.size}); "
                         "the row was tokenized with a different tokenizer than the vocab passed here.")
    selected = select_positions(ids, mask_prob=mask_prob, selection=selection, whole_word=whole_word,
                                vocab=vocab, rng=rng)
    input_ids = replace_selected(ids, selected, mask_fraction=mask_fraction, random_fraction=random_fraction,
                                 vocab=vocab, rng=rng)
    labels = np.where(selected, ids, np.int32(IGNORE_INDEX))  # int32 already: no astype copy
    return input_ids, labels


class MlmObjective(Objective):
    name = "mlm"
    columns = ("input_ids", "labels")
    config: MlmConfig

    @property
    def row_length(self) -> int:
        """``seq_len`` minus the bos that :meth:`finish_row` prepends (when the vocab has one)."""
        return self.config.seq_len - (1 if self.vocab.bos_id is not None else 0)

    @property
    def num_copies(self) -> int:
        return self.config.copies

    def frame_document(self, ids: np.ndarray, sentence_ends: np.ndarray) -> np.ndarray:
        """``ids [eos]``: eos separates documents inside a packed row (RoBERTa FULL-SENTENCES)."""
        framed = np.empty(len(ids) + 1, dtype=np.int32)
        framed[:-1] = ids
        framed[-1] = self.vocab.eos_id
        return framed

    def finish_row(self, ids: np.ndarray, segment_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prepend bos; it counts as part of the first segment."""
        if self.vocab.bos_id is None:
            return np.asarray(ids, dtype=np.int32), np.asarray(segment_lengths, dtype=np.int32)
        row = np.empty(len(ids) + 1, dtype=np.int32)
        row[0] = self.vocab.bos_id
        row[1:] = ids
        segments = np.array(segment_lengths, dtype=np.int32, copy=True).reshape(-1)
        if segments.size == 0:
            segments = np.zeros(1, dtype=np.int32)
        segments[0] += 1
        return row, segments

    def corrupt(self, row: Row, *, rng: np.random.Generator) -> Columns:
        c = self.config
        input_ids, labels = mask_tokens(row.ids, mask_prob=c.mask_prob, selection=c.selection,
                                        mask_fraction=c.mask_fraction, random_fraction=c.random_fraction,
                                        whole_word=c.whole_word, vocab=self.vocab, rng=rng)
        return {"input_ids": input_ids, "labels": labels}

    def clean_ids(self, columns: Columns) -> np.ndarray:
        labels = np.asarray(columns["labels"])
        return np.where(labels != IGNORE_INDEX, labels, np.asarray(columns["input_ids"])).astype(np.int32)

    def measure(self, columns: Columns) -> dict[str, int]:
        """Token counts behind the manifest's applied rates (selected/maskable, masked/selected, …)."""
        input_ids = np.asarray(columns["input_ids"])
        labels = np.asarray(columns["labels"])
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
