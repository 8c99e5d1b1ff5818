"""MLM objective: row framing, word grouping, exact/bernoulli selection and 80/10/10, with exact values."""
from __future__ import annotations

import numpy as np
import pytest

from lmpairs.config import MlmConfig
from lmpairs.transforms import make_objective
from lmpairs.transforms.mlm import (
    IGNORE_INDEX, MlmObjective, choose_words_exact, exact_budget, mask_tokens, select_positions, word_index,
)
from lmpairs.transforms.objective import Row
from lmpairs.vocab import Vocab, toy_vocab

VOCAB = toy_vocab()  # pad 0, unk 1, bos 2, eos 3, mask 4, sentinels 5..104, ordinary 105.. (word starts 105, 108, …)
DEFAULTS = dict(mask_prob=0.15, selection="exact", mask_fraction=0.8, random_fraction=0.1, whole_word=False)


def _mask(ids, seed=0, **overrides):
    return mask_tokens(np.asarray(ids, dtype=np.int32), **{**DEFAULTS, **overrides}, vocab=VOCAB,
                       rng=np.random.default_rng(seed))


def _no_bos_vocab() -> Vocab:
    size = 50
    special = np.zeros(size, dtype=bool)
    special[:10] = True
    return Vocab(size=size, pad_id=0, bos_id=None, eos_id=1, unk_id=2, mask_id=3, sentinel_ids=(9, 8, 7, 6, 5, 4),
                 special=special, word_start=np.ones(size, dtype=bool))


# --- word grouping and budgets ---------------------------------------------------------------------

def test_word_index_whole_words_start_at_word_start_pieces_and_after_specials():
    ids = np.array([2, 105, 106, 107, 108, 3, 109, 110, 111, 112, 113, 3], dtype=np.int32)
    words, num_words = word_index(ids, whole_word=True, vocab=VOCAB)
    np.testing.assert_array_equal(words, [-1, 0, 0, 0, 1, -1, 2, 2, 3, 3, 3, -1])
    assert num_words == 4


def test_word_index_without_whole_words_makes_each_maskable_token_a_word():
    ids = np.array([2, 105, 106, 3, 107], dtype=np.int32)
    words, num_words = word_index(ids, whole_word=False, vocab=VOCAB)
    np.testing.assert_array_equal(words, [-1, 0, 1, -1, 2])
    assert num_words == 3


def test_word_index_of_empty_row():
    words, num_words = word_index(np.zeros(0, dtype=np.int32), whole_word=True, vocab=VOCAB)
    assert words.shape == (0,) and num_words == 0


@pytest.mark.parametrize("n, p, want", [(0, 0.15, 0), (1, 0.15, 1), (3, 0.15, 1), (10, 0.15, 2), (30, 0.15, 4),
                                        (50, 0.15, 8), (511, 0.15, 77), (20, 1.0, 20)])
def test_exact_budget_is_berts_max_1_round_half_even(n, p, want):
    assert exact_budget(n, p) == want


def test_exact_words_never_overflow_the_budget():
    # Ten two-token words, budget 3: one word fits, every other one would overflow.
    sizes = np.full(10, 2)
    for seed in range(20):
        chosen = choose_words_exact(sizes, 3, rng=np.random.default_rng(seed))
        assert chosen.shape == (1,)


def test_exact_words_skip_an_overflowing_word_and_keep_trying():
    # Nine two-token words and one single: BERT's greedy always reaches 3 (2+1 or 1+2).
    sizes = np.array([2] * 9 + [1])
    for seed in range(50):
        chosen = choose_words_exact(sizes, 3, rng=np.random.default_rng(seed))
        assert int(sizes[chosen].sum()) == 3
        assert 9 in chosen.tolist()
        assert len(set(chosen.tolist())) == chosen.size


# --- selection and replacement ---------------------------------------------------------------------

def test_all_selected_all_masked_when_p_and_mask_fraction_are_one():
    ids = [2, 105, 106, 3, 200, 4, 3]
    input_ids, labels = _mask(ids, mask_prob=1.0, mask_fraction=1.0, random_fraction=0.0)
    np.testing.assert_array_equal(input_ids, [2, 4, 4, 3, 4, 4, 3])
    np.testing.assert_array_equal(labels, [-100, 105, 106, -100, 200, -100, -100])
    assert input_ids.dtype == np.int32 and labels.dtype == np.int32


def test_bernoulli_with_p_one_selects_every_maskable_token():
    ids = [2, 105, 106, 107, 3]
    input_ids, labels = _mask(ids, selection="bernoulli", mask_prob=1.0, mask_fraction=0.0, random_fraction=0.0)
    np.testing.assert_array_equal(input_ids, ids)
    np.testing.assert_array_equal(labels, [-100, 105, 106, 107, -100])


def test_random_fraction_one_draws_only_ordinary_ids():
    ids = np.arange(105, 405, dtype=np.int32)
    input_ids, labels = _mask(ids, mask_prob=1.0, mask_fraction=0.0, random_fraction=1.0)
    np.testing.assert_array_equal(labels, ids)
    assert not VOCAB.special[input_ids].any()
    assert (input_ids != ids).mean() > 0.95  # 1000 ordinary ids: a draw repeats the original ~0.1% of the time


def test_exact_selects_budget_positions_among_maskable_only():
    ids = np.array([2] + list(range(105, 125)) + [3], dtype=np.int32)  # 20 maskable
    selected = select_positions(ids, mask_prob=0.15, selection="exact", whole_word=False, vocab=VOCAB,
                                rng=np.random.default_rng(3))
    assert selected.sum() == 3 and not selected[0] and not selected[-1]


def test_whole_word_exact_selects_whole_words_within_budget():
    ids = np.arange(105, 144, dtype=np.int32)  # 39 tokens in 13 words of 3: budget round(5.85) = 6
    words, _ = word_index(ids, whole_word=True, vocab=VOCAB)
    for seed in range(20):
        selected = select_positions(ids, mask_prob=0.15, selection="exact", whole_word=True, vocab=VOCAB,
                                    rng=np.random.default_rng(seed))
        assert selected.sum() == 6  # exactly two words
        chosen = np.unique(words[selected])
        assert selected.sum() == np.isin(words, chosen).sum()


def test_unknown_selection_names_the_choices():
    with pytest.raises(ValueError, match="'exact' .* or 'bernoulli'"):
        _mask([105, 106], selection="uniform")


def test_out_of_range_ids_name_the_range_and_the_likely_cause():
    with pytest.raises(ValueError, match=r"ids in \[105, 5000\], expected \[0, 1105\).*different tokenizer"):
        _mask([105, 5000])


def test_same_rng_seed_same_example_and_input_untouched():
    ids = np.arange(105, 305, dtype=np.int32)
    ids.setflags(write=False)
    a, b = _mask(ids, seed=7), _mask(ids, seed=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(ids, np.arange(105, 305))
    assert not np.array_equal(a[1], _mask(ids, seed=8)[1])


# --- row building ----------------------------------------------------------------------------------

def test_row_length_leaves_room_for_bos():
    assert MlmObjective(MlmConfig(seq_len=8), VOCAB).row_length == 7
    assert MlmObjective(MlmConfig(seq_len=8), _no_bos_vocab()).row_length == 8


def test_document_rows_are_bos_plus_row_length_tokens_and_remainder_ends_with_eos():
    mlm = MlmObjective(MlmConfig(seq_len=8), VOCAB)
    rows, remainder = mlm.document_rows("a.txt:0", np.arange(105, 115, dtype=np.int32), np.array([10]))
    assert len(rows) == 1
    np.testing.assert_array_equal(rows[0].ids, [2, 105, 106, 107, 108, 109, 110, 111])
    np.testing.assert_array_equal(rows[0].segment_lengths, [8])
    np.testing.assert_array_equal(remainder, [112, 113, 114, 3])


def test_packed_leftovers_are_framed_rows_with_eos_between_documents():
    mlm = MlmObjective(MlmConfig(seq_len=8), VOCAB)
    leftovers = [np.array([105, 106, 107, 108, 109, 3]), np.array([200, 201, 202, 3]), np.array([300, 3])]
    rows, dropped = mlm.pack_leftovers("bucket-0", leftovers)
    assert dropped == 0 and len(rows) == 2
    np.testing.assert_array_equal(rows[0].ids, [2, 105, 106, 107, 108, 109, 3, 200])
    np.testing.assert_array_equal(rows[0].segment_lengths, [7, 1])
    np.testing.assert_array_equal(rows[1].ids, [2, 201, 202, 3, 300, 3])
    np.testing.assert_array_equal(rows[1].segment_lengths, [4, 2])
    assert all(r.ids.dtype == np.int32 for r in rows)


def test_final_row_drop_drops_and_counts_the_partial_row():
    mlm = MlmObjective(MlmConfig(seq_len=8, final_row="drop"), VOCAB)
    leftovers = [np.array([105, 106, 107, 108, 109, 3]), np.array([200, 201, 202, 3]), np.array([300, 3])]
    rows, dropped = mlm.pack_leftovers("bucket-0", leftovers)
    assert len(rows) == 1 and dropped == 5


def test_vocab_without_bos_frames_with_eos_only():
    mlm = MlmObjective(MlmConfig(seq_len=4), _no_bos_vocab())
    np.testing.assert_array_equal(mlm.frame_document(np.array([20, 21]), np.array([2])), [20, 21, 1])
    rows, remainder = mlm.document_rows("d", np.array([20, 21, 22, 23, 24]), np.array([5]))
    np.testing.assert_array_equal(rows[0].ids, [20, 21, 22, 23])
    np.testing.assert_array_equal(remainder, [24, 1])


# --- columns: corrupt, clean_ids, measure, copies --------------------------------------------------

def test_corrupt_columns_and_clean_ids_recovers_the_row():
    mlm = make_objective("mlm", MlmConfig(seq_len=64, mask_prob=0.3), VOCAB)
    assert isinstance(mlm, MlmObjective) and mlm.columns == ("input_ids", "labels")
    row = Row(key=11, ids=np.array([2, *range(105, 160), 3, *range(700, 707)], dtype=np.int32),
              segment_lengths=np.array([57, 7], dtype=np.int32))
    columns = mlm.corrupt(row, rng=np.random.default_rng(0))
    assert set(columns) == set(mlm.columns)
    assert (columns["labels"] != IGNORE_INDEX).sum() == 19  # round(62 * 0.3)
    np.testing.assert_array_equal(mlm.clean_ids(columns), row.ids)


def test_measure_counts_each_outcome():
    mlm = MlmObjective(MlmConfig(seq_len=8), VOCAB)
    columns = {"input_ids": np.array([2, 4, 106, 999, 4, 108, 109, 3], dtype=np.int32),
               "labels": np.array([-100, 105, 106, 107, -100, -100, 120, -100], dtype=np.int32)}
    # clean row: [2, 105, 106, 107, 4, 108, 120, 3]: pos 4 holds an unselected mask id (special)
    assert mlm.measure(columns) == {"tokens": 8, "maskable": 5, "selected": 4, "masked": 1, "random": 2, "kept": 1}


def test_copies_are_differently_masked_with_stable_keys():
    mlm = MlmObjective(MlmConfig(seq_len=128, copies=3), VOCAB)
    row = Row(key=5, ids=np.array([2, *range(105, 232)], dtype=np.int32), segment_lengths=np.array([128]))
    examples = mlm.examples(row, seed=1)
    assert [k for k, _ in examples][0] == 5 and len({k for k, _ in examples}) == 3
    labels = [cols["labels"] for _, cols in examples]
    assert not np.array_equal(labels[0], labels[1]) and not np.array_equal(labels[1], labels[2])
    again = mlm.examples(row, seed=1)
    for (k1, c1), (k2, c2) in zip(examples, again):
        assert k1 == k2
        np.testing.assert_array_equal(c1["input_ids"], c2["input_ids"])
