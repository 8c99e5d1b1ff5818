"""BART rows and noising functions on small hand-checked cases (toy vocabulary)."""
from __future__ import annotations

import numpy as np
import pytest

from lmpairs.config import BartConfig
from lmpairs.transforms import make_objective
from lmpairs.transforms.bart import BartObjective, body_segments, group_sentences, sentence_lengths
from lmpairs.transforms.bart_noise import (delete_tokens, infill_text, insert_noise, insert_values,
                                           mask_tokens_bart, noise_count, permute_sentences,
                                           place_spans, poisson_span_lengths, replace_spans,
                                           rotate_document)
from lmpairs.transforms.objective import Row
from lmpairs.transforms.seeding import stable_hash64
from lmpairs.vocab import Vocab, toy_vocab

VOCAB = toy_vocab(1000)
EVERY_WORD = toy_vocab(1000, word_start_every=1)
MASK, BOS, EOS = VOCAB.mask_id, VOCAB.bos_id, VOCAB.eos_id
QUIET = dict(mask_ratio=0.0, permute_sentence_ratio=0.0)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def no_bos_vocab() -> Vocab:
    v = toy_vocab(1000)
    return Vocab(size=v.size, pad_id=0, unk_id=1, bos_id=None, eos_id=3, mask_id=4,
                 sentinel_ids=v.sentinel_ids, special=v.special, word_start=v.word_start)


def body(n: int, start: int = 200) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int32)


# --- row building -------------------------------------------------------------------------------

def test_sentence_lengths_cuts_long_sentences_and_closes_the_document():
    assert sentence_lengths(20, np.array([3, 3, 12]), max_length=5).tolist() == [3, 5, 4, 5, 3]
    assert sentence_lengths(4, np.array([], dtype=np.int32), max_length=5).tolist() == [4]
    assert sentence_lengths(0, np.array([0]), max_length=5).tolist() == []


def test_group_sentences_is_greedy():
    assert group_sentences(np.array([3, 2, 4, 1, 5]), 5).tolist() == [0, 2, 4, 5]
    assert group_sentences(np.array([], dtype=np.int64), 5).tolist() == [0]


def test_document_rows_frame_sentences_and_keep_documents_apart():
    objective = BartObjective(BartConfig(seq_len=7), VOCAB)
    ids = body(12)
    rows, rest = objective.document_rows("a.txt:3", ids, np.array([2, 5, 12]))
    assert rest.dtype == np.int32 and rest.size == 0
    assert [r.ids.tolist() for r in rows] == [
        [BOS, 200, 201, 202, 203, 204, EOS],
        [BOS, 205, 206, 207, 208, 209, EOS],
        [BOS, 210, 211, EOS],
    ]
    assert [r.segment_lengths.tolist() for r in rows] == [[3, 4], [7], [4]]
    assert [r.key for r in rows] == [stable_hash64("bart", "doc", "a.txt:3", i) for i in range(3)]
    assert all(r.ids.dtype == np.int32 and r.segment_lengths.dtype == np.int32 for r in rows)
    assert objective.document_rows("e", body(0), np.array([0]))[0] == []


def test_document_rows_without_bos_use_eos_only():
    objective = BartObjective(BartConfig(seq_len=5), no_bos_vocab())
    rows, _ = objective.document_rows("d", body(6), np.array([6]))
    assert [r.ids.tolist() for r in rows] == [[200, 201, 202, 203, EOS], [204, 205, EOS]]
    assert [r.segment_lengths.tolist() for r in rows] == [[5], [3]]
    out = objective.corrupt(rows[1], rng=rng())
    assert out["labels"].tolist() == [204, 205, EOS] and out["input_ids"][-1] == EOS


def test_pack_leftovers_has_nothing_to_pack():
    objective = BartObjective(BartConfig(), VOCAB)
    assert objective.pack_leftovers("train/0", [np.zeros(0, np.int32)]) == ([], 0)
    with pytest.raises(ValueError, match="never pack across documents"):
        objective.pack_leftovers("train/0", [body(3)])


def test_body_segments_drop_framing():
    assert body_segments(np.array([3, 4, 2]), 1, 7).tolist() == [2, 4, 1]
    assert body_segments(np.array([9]), 1, 7).tolist() == [7]
    assert body_segments(np.array([1, 3]), 1, 2).tolist() == [2]


# --- noising functions --------------------------------------------------------------------------

def test_noise_count_is_fairseq_ceil_without_float_error():
    assert noise_count(10, 0.3) == 3 and noise_count(11, 0.3) == 4
    assert noise_count(0, 0.5) == 0 and noise_count(5, 0.0) == 0 and noise_count(3, 1.0) == 3


def test_permute_sentences_moves_whole_sentences():
    ids = body(10)
    lengths = np.array([2, 3, 1, 4])
    out = permute_sentences(ids, lengths, ratio=1.0, rng=rng(3))
    sentences = {tuple(s) for s in np.split(ids, np.cumsum(lengths)[:-1])}
    pieces, i = [], 0
    while i < len(out):  # walk the output sentence by sentence (each starts at its first token)
        match = next(s for s in sentences if tuple(out[i:i + len(s)]) == s)
        pieces.append(match)
        i += len(match)
    assert sorted(pieces) == sorted(sentences) and out.tolist() != ids.tolist()
    assert permute_sentences(ids, lengths, ratio=0.0, rng=rng()).tolist() == ids.tolist()
    assert permute_sentences(ids, np.array([10]), ratio=1.0, rng=rng()).tolist() == ids.tolist()
    with pytest.raises(ValueError, match="sum to 9 but the body has 10"):
        permute_sentences(ids, np.array([9]), ratio=1.0, rng=rng())


def test_permute_ratio_half_leaves_the_rest_in_place():
    lengths = np.ones(10, dtype=np.int64)
    out = permute_sentences(body(10), lengths, ratio=0.5, rng=rng(1))
    assert (out != body(10)).sum() <= 5 and sorted(out.tolist()) == body(10).tolist()


def test_rotate_document():
    ids = body(6)
    out = rotate_document(ids, ratio=1.0, rng=rng(0))
    offset = out.tolist().index(200)
    assert 0 < offset < 6 and np.roll(ids, 6 - offset).tolist() == out.tolist()
    assert rotate_document(ids, ratio=0.0, rng=rng()).tolist() == ids.tolist()


def test_token_mask_and_delete_counts():
    ids = body(20)
    masked = mask_tokens_bart(ids, ratio=0.25, vocab=VOCAB, rng=rng())
    assert (masked == MASK).sum() == 5 and (masked[masked != MASK] == ids[masked != MASK]).all()
    kept = delete_tokens(ids, ratio=0.25, rng=rng())
    assert len(kept) == 15 and np.all(np.diff(kept) > 0) and set(kept) <= set(ids)


def test_insert_noise_exact_counts_and_order():
    ids = body(20)
    out = insert_noise(ids, ratio=0.5, random_ratio=0.25, vocab=VOCAB, rng=rng())
    original = np.isin(out, ids)
    assert len(out) == 30 and out[original].tolist() == ids.tolist()
    assert (out == MASK).sum() == 7  # ceil(10 * 0.25) = 3 random ordinary ids
    assert not VOCAB.special[out[~original & (out != MASK)]].any()
    assert len(insert_noise(ids, ratio=0.1, random_ratio=0.0, vocab=VOCAB, rng=rng())) == 22
    out = insert_values(ids, np.array([7, 8], np.int32), rng=rng())
    assert out[np.isin(out, ids)].tolist() == ids.tolist() and sorted(out[~np.isin(out, ids)]) == [7, 8]


def test_poisson_span_lengths_trim_to_the_budget():
    for seed in range(50):
        for budget in (1, 2, 7, 40):
            lengths = poisson_span_lengths(budget, poisson_lambda=3.5, rng=rng(seed))
            assert lengths.sum() == budget and lengths[-1] > 0 and (lengths >= 0).all()


def test_place_spans_disjoint_never_overlap():
    for seed in range(50):
        lengths = np.array([3, 1, 4, 2])
        first = place_spans(12, lengths, disjoint=True, rng=rng(seed))
        covered = np.concatenate([np.arange(f, f + n) for f, n in zip(first, lengths)])
        assert len(set(covered.tolist())) == 10 and covered.max() < 12 and np.all(np.diff(first) > 0)
    fairseq = place_spans(12, np.array([5, 5, 5]), disjoint=False, rng=rng())
    assert len(set(fairseq.tolist())) == 3 and fairseq.max() < 12


def test_replace_spans_merges_overlaps_and_keeps_adjacent_spans_apart():
    ids = body(10)
    starts = np.array([0, 2, 3, 5, 8])  # words: [0,1] [2] [3,4] [5,6,7] [8,9]
    values = np.array([MASK, 7, 8], dtype=np.int32)
    # spans: words 0-1 (mask), words 1-2 (overlap: merged into the first), word 4 (value 8)
    out = replace_spans(ids, starts, np.array([0, 1, 4]), np.array([2, 2, 1]), values)
    assert out.tolist() == [MASK, 205, 206, 207, 8]
    out = replace_spans(ids, starts, np.array([3, 4]), np.array([1, 1]), values[:2])
    assert out.tolist() == [200, 201, 202, 203, 204, MASK, 7]


def test_infill_masks_whole_words_in_one_mask_per_span():
    ids = body(300)  # distinct ids: positions are recoverable from values
    out = infill_text(ids, mask_ratio=0.3, random_ratio=0.0, poisson_lambda=40.0, whole_words=True,
                      vocab=VOCAB, rng=rng(5))
    starts = VOCAB.word_start[ids]
    kept = np.zeros(300, dtype=bool)
    kept[out[out != MASK] - 200] = True
    assert np.all(np.diff(out[out != MASK]) > 0)
    run_begin = np.flatnonzero(~kept & np.concatenate([[True], kept[:-1]]))
    run_end = np.flatnonzero(~kept & np.concatenate([kept[1:], [True]])) + 1
    assert starts[run_begin].all() and all(e == 300 or starts[e] for e in run_end)
    assert starts[~kept].sum() == noise_count(int(starts.sum()), 0.3)
    assert len(run_begin) <= (out == MASK).sum()


def test_infill_zero_budget_and_token_level():
    ids = body(10)
    assert infill_text(ids, mask_ratio=0.0, random_ratio=0.1, poisson_lambda=3.5, whole_words=True,
                       vocab=VOCAB, rng=rng()).tolist() == ids.tolist()
    out = infill_text(ids, mask_ratio=0.5, random_ratio=0.0, poisson_lambda=100.0, whole_words=False,
                      vocab=VOCAB, rng=rng())
    assert (out == MASK).sum() == 1 and len(out) == 6  # one span of exactly 5 tokens


# --- the objective ------------------------------------------------------------------------------

def test_registered_and_columns():
    objective = make_objective("bart", BartConfig(), VOCAB)
    assert isinstance(objective, BartObjective) and objective.columns == ("input_ids", "labels")
    assert objective.row_length == 512


def test_corrupt_with_no_noise_is_identity_and_copies():
    objective = BartObjective(BartConfig(**QUIET), VOCAB)
    ids = np.concatenate([[BOS], body(8), [EOS]]).astype(np.int32)
    out = objective.corrupt(Row(1, ids, np.array([10], np.int32)), rng=rng())
    assert out["input_ids"].tolist() == out["labels"].tolist() == ids.tolist()
    out["labels"][0] = 99
    assert ids[0] == BOS and objective.clean_ids({"labels": ids}).tolist() == ids.tolist()


def test_corrupt_rejects_unframed_rows_and_bad_segments():
    objective = BartObjective(BartConfig(), VOCAB)
    with pytest.raises(ValueError, match="not framed <s> … </s>"):
        objective.corrupt(Row(7, body(5), np.array([5], np.int32)), rng=rng())
    framed = np.array([BOS, 300, EOS], np.int32)
    with pytest.raises(ValueError, match="summing to 2, expected 3"):
        objective.corrupt(Row(7, framed, np.array([2], np.int32)), rng=rng())


def test_corrupt_order_deletion_then_infilling():
    config = BartConfig(mask_ratio=0.5, token_delete_ratio=0.5, random_ratio=0.0, poisson_lambda=100.0,
                        mask_whole_words=False, permute_sentence_ratio=0.0)
    objective = BartObjective(config, VOCAB)
    ids = np.concatenate([[BOS], body(20), [EOS]]).astype(np.int32)
    out = objective.corrupt(Row(1, ids, np.array([22], np.int32)), rng=rng())["input_ids"]
    assert len(out) == 2 + 10 - 5 + 1  # 10 deleted, then a 5-token span of the 10 left -> one mask


def test_measure_counts_removed_masks_and_added():
    objective = BartObjective(BartConfig(), VOCAB)
    labels = np.array([BOS, 300, 301, 302, 303, 304, EOS], np.int32)
    inputs = np.array([BOS, 302, MASK, 304, 777, MASK, EOS], np.int32)
    assert objective.measure({"input_ids": inputs, "labels": labels}) == {
        "tokens": 7, "label_tokens": 7, "body_tokens": 5, "removed": 3, "masks": 2, "added": 1}
