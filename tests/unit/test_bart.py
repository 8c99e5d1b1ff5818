"""BART over batches: sentence-aware rows that never mix documents, fairseq's noising from the keyed hash."""
from __future__ import annotations

import numpy as np
import pytest
from vocabs import toy_vocab

from lmpairs.config import BartConfig
from lmpairs.objectives import make_objective
from lmpairs.transforms import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms import bart_noise as noise
from lmpairs.transforms.bart import BartObjective, group_sentences, sentence_pieces
from lmpairs.transforms.bart_packing import BartPacker
from lmpairs.transforms.batch import concat_rows, take_rows
from lmpairs.transforms.seeding import row_keys, stable_hash64
from lmpairs.transforms.testing import (
    check_invariants,
    document_batch,
    examples_as_lists,
    rows_as_lists,
    rows_in_memory,
)
from lmpairs.vocab import Vocab

VOCAB = toy_vocab()  # bos 2, eos 3, mask 4, ordinary 105.. (word start every 3rd id from 105)
BIG = toy_vocab(9000)  # room for documents whose ids name them
BOS, EOS, MASK = VOCAB.bos_id, VOCAB.eos_id, VOCAB.mask_id
QUIET = dict(mask_ratio=0.0, permute_sentence_ratio=0.0)


def body(n: int, start: int = 200) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int32)


def one(values) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.int32)
    return values, np.array([0, values.shape[0]], dtype=np.int64)


def keys(seed: int = 0, rows: int = 1) -> np.ndarray:
    return (np.arange(rows, dtype=np.uint64) + np.uint64(seed)) * np.uint64(0x9E3779B97F4A7C15)


def streams(seed: int = 0, rows: int = 1) -> dict[str, np.ndarray]:
    return {name: keys(seed * 16 + i, rows) for i, name in enumerate(("lengths", "values", "ids", "place", "slots"))}


def framed_rows(*bodies) -> RowBatch:
    ids = Ragged.from_rows([np.concatenate([[BOS], b, [EOS]]) for b in bodies])
    return RowBatch(np.arange(len(bodies), dtype=np.uint64) + 1, ids,
                    Ragged(ids.lengths.astype(np.int32), np.arange(len(bodies) + 1, dtype=np.int64)))


# --- rows ---------------------------------------------------------------------------------------

def test_rows_hold_whole_documents_best_fit_and_cut_long_ones_at_sentence_ends():
    bart = make_objective("bart", BartConfig(seq_len=9), VOCAB)  # body capacity 7
    docs = [("a.txt:3", body(12), np.array([2, 5, 12])), ("e", body(0), np.array([0])),
            ("b", body(3, 500), np.array([1, 3])), ("c", body(2, 600), np.array([2])),
            ("d", body(9, 700), np.array([9]))]
    packer = bart.packer()
    assert packer.add(document_batch(docs)).num_rows == 0  # best fit waits for the whole stream
    rows, dropped = packer.finish()
    assert dropped == 0 and packer.counts == {"sentences_cut": 1}
    got = rows_as_lists(rows)
    # a (12 tokens): sentences 2 3 7 -> pieces [2 3] and [7]; d's one sentence of 9 is cut into 7 + 2.
    # Framed pieces 7, 9, 5 (b), 4 (c), 9, 4 go longest first into the fullest row that fits.
    assert [r[1] for r in got] == [
        [BOS, 205, 206, 207, 208, 209, 210, 211, EOS],
        [BOS, 700, 701, 702, 703, 704, 705, 706, EOS],
        [BOS, 200, 201, 202, 203, 204, EOS],
        [BOS, 500, 501, 502, EOS, BOS, 600, 601, EOS],
        [BOS, 707, 708, EOS]]
    assert [r[2] for r in got] == [[9], [9], [7], [5, 4], [4]]
    assert [rows.sentence_ends.row(i).tolist() for i in range(rows.num_rows)] == [
        [8], [8], [3, 6], [2, 4, 8], [3]]
    a, b, d = (stable_hash64(k) for k in ("a.txt:3", "b", "d"))
    assert [r[0] for r in got] == row_keys(4, np.array([a, d, a, b, d], np.uint64),
                                           np.array([5, 0, 0, 0, 7])).tolist()


def test_a_full_pool_is_packed_at_the_same_piece_whatever_the_batches():
    bart = make_objective("bart", BartConfig(seq_len=48), BIG)
    docs = tagged_documents(300, seed=6)

    def rows_of(batch_size: int) -> tuple[list, list]:
        packer = BartPacker(objective_id=bart.objective_id, seq_len=48, bos_id=BOS, eos_id=EOS, pool_tokens=500)
        parts = [packer.add(document_batch(docs[i:i + batch_size])) for i in range(0, len(docs), batch_size)]
        last = packer.finish()[0]
        assert sum(p.num_rows for p in parts) > 5 * last.num_rows  # full pools were packed along the way
        rows = concat_rows([*parts, last])
        return rows_as_lists(rows), rows.sentence_ends.values.tolist()

    one = rows_of(300)
    assert rows_of(7) == one and rows_of(1) == one and rows_of(64) == one
    whole = rows_in_memory(bart, docs)  # one pool: packs at least as tightly
    assert len(one[0]) >= whole.num_rows and sum(len(r[1]) for r in one[0]) == whole.ids.values.shape[0]


def test_sentence_ends_are_cleaned_and_grouping_is_greedy():
    docs = document_batch([("x", body(10), np.array([3, 3, 0, 7, 15])), ("y", body(4), np.array([]))])
    lengths, offsets, num_cut = sentence_pieces(docs, max_length=4)
    assert lengths.tolist() == [3, 4, 3, 4] and offsets.tolist() == [0, 3, 4] and num_cut == 0
    first, stop = group_sentences(np.array([1, 2, 2, 1, 4, 1]), np.array([0, 4, 6]), 4)
    assert first.tolist() == [0, 2, 4, 5] and stop.tolist() == [2, 4, 5, 6]


def test_rows_without_bos_use_eos_only():
    no_bos = Vocab(size=VOCAB.size, pad_id=0, unk_id=1, bos_id=None, eos_id=3, mask_id=4,
                   sentinel_ids=VOCAB.sentinel_ids, special=VOCAB.special, word_start=VOCAB.word_start)
    bart = make_objective("bart", BartConfig(seq_len=4, **QUIET), no_bos)
    rows = rows_in_memory(bart, [("d", body(6), np.array([6]))])
    assert [r[1] for r in rows_as_lists(rows)] == [[200, 201, 202, EOS], [203, 204, 205, EOS]]
    assert bart.corrupt(rows, seed=0).columns["input_ids"].values.tolist() == rows.ids.values.tolist()


# --- noising functions --------------------------------------------------------------------------

def test_ceil_counts_are_fairseq_ceil_without_float_error():
    assert noise.ceil_counts(np.array([10, 11, 0, 3]), 0.3).tolist() == [3, 4, 0, 1]
    assert noise.ceil_counts(np.array([5]), 0.0).tolist() == [0]
    assert noise.ceil_counts(np.array([3]), 1.0).tolist() == [3]


def test_permute_sentences_moves_whole_sentences():
    ids = body(10)
    lengths = np.array([2, 3, 1, 4])
    values, offsets = one(ids)
    out = noise.permute_sentences(values, offsets, lengths, np.array([0, 4]), ratio=1.0, choose_keys=keys(1),
                                  order_keys=keys(2))
    sentences = {tuple(s) for s in np.split(ids, np.cumsum(lengths)[:-1])}
    pieces, i = [], 0
    while i < len(out):
        match = next(s for s in sentences if tuple(out[i:i + len(s)]) == s)
        pieces.append(match)
        i += len(match)
    assert sorted(pieces) == sorted(sentences) and out.tolist() != ids.tolist()
    assert noise.permute_sentences(values, offsets, lengths, np.array([0, 4]), ratio=0.0, choose_keys=keys(),
                                   order_keys=keys()).tolist() == ids.tolist()
    half = noise.permute_sentences(*one(body(10)), np.ones(10, np.int64), np.array([0, 10]), ratio=0.5,
                                   choose_keys=keys(3), order_keys=keys(4))
    assert (half != body(10)).sum() <= 5 and sorted(half.tolist()) == body(10).tolist()


def test_rotate_token_mask_delete_and_insert():
    values, offsets = one(body(6))
    out = noise.rotate(values, offsets, ratio=1.0, keys=keys())
    offset = out.tolist().index(200)
    assert 0 < offset < 6 and np.roll(body(6), 6 - offset).tolist() == out.tolist()
    values, offsets = one(body(20))
    masked = noise.mask_random_tokens(values, offsets, ratio=0.25, keys=keys(), mask_id=MASK)
    assert (masked == MASK).sum() == 5 and (masked[masked != MASK] == values[masked != MASK]).all()
    kept, kept_offsets = noise.delete_random_tokens(values, offsets, ratio=0.25, keys=keys())
    assert kept_offsets.tolist() == [0, 15] and np.all(np.diff(kept) > 0) and set(kept) <= set(values)
    out, out_offsets = noise.insert_noise(values, offsets, ratio=0.5, random_ratio=0.25, vocab=VOCAB,
                                          keys={"ids": keys(1), "slots": keys(2)})
    original = np.isin(out, values)
    assert out_offsets.tolist() == [0, 30] and out[original].tolist() == values.tolist()
    assert (out == MASK).sum() == 7  # ceil(10 * 0.25) = 3 random ordinary ids
    assert not VOCAB.special[out[~original & (out != MASK)]].any()


def test_poisson_span_lengths_trim_to_each_budget():
    budgets = np.array([1, 2, 7, 40, 0] * 40)
    lengths, offsets = noise.poisson_span_lengths(budgets, poisson_lambda=3.5, keys=keys(0, budgets.shape[0]))
    sums = np.add.reduceat(np.append(lengths, 0), offsets[:-1])[:budgets.shape[0]]
    sums[np.diff(offsets) == 0] = 0
    assert sums.tolist() == budgets.tolist() and (lengths >= 0).all()
    last = offsets[1:][np.diff(offsets) > 0] - 1
    assert (lengths[last] > 0).all()


def test_poisson_table_mean():
    cdf = noise.poisson_table(3.5)
    pmf = np.diff(cdf, prepend=0)
    assert abs(cdf[-1] - 1) < 1e-12 and abs((np.arange(cdf.shape[0]) * pmf).sum() - 3.5) < 1e-9


def test_infill_masks_whole_words_one_mask_per_span_without_overlap():
    ids = body(300)  # distinct ids: positions are recoverable from values
    out, offsets = noise.infill(*one(ids), mask_ratio=0.3, random_ratio=0.0, poisson_lambda=40.0,
                                whole_words=True, vocab=VOCAB, keys=streams(5))
    starts = VOCAB.word_start[ids]
    kept = np.zeros(300, dtype=bool)
    kept[out[out != MASK] - 200] = True
    assert np.all(np.diff(out[out != MASK]) > 0)
    run_begin = np.flatnonzero(~kept & np.concatenate([[True], kept[:-1]]))
    run_end = np.flatnonzero(~kept & np.concatenate([kept[1:], [True]])) + 1
    assert starts[run_begin].all() and all(e == 300 or starts[e] for e in run_end)
    assert starts[~kept].sum() == noise.ceil_counts(np.array([int(starts.sum())]), 0.3)[0]  # disjoint: exact
    assert len(run_begin) <= (out == MASK).sum()


def test_infill_zero_budget_and_token_level():
    values, offsets = one(body(10))
    same, _ = noise.infill(values, offsets, mask_ratio=0.0, random_ratio=0.1, poisson_lambda=3.5, whole_words=True,
                           vocab=VOCAB, keys=streams())
    assert same.tolist() == values.tolist()
    out, _ = noise.infill(values, offsets, mask_ratio=0.5, random_ratio=0.0, poisson_lambda=100.0,
                          whole_words=False, vocab=VOCAB, keys=streams())
    assert (out == MASK).sum() == 1 and len(out) == 6  # one span of exactly 5 tokens


# --- the objective ------------------------------------------------------------------------------

def test_declaration():
    bart = make_objective("bart", BartConfig(), VOCAB)
    assert isinstance(bart, BartObjective)
    assert bart.columns == ("input_ids", "labels", "doc_lengths", "sentence_ends")
    assert bart.full_row_length == 512 and bart.spec.family == "encoder-decoder" and bart.spec.decoder_start == "eos"


def test_no_noise_is_identity_and_labels_are_the_rows():
    bart = make_objective("bart", BartConfig(**QUIET), VOCAB)
    rows = framed_rows(body(8), body(3, 300))
    ex = check_invariants(bart, rows, seed=0, splits=[1])
    assert ex.columns["input_ids"].values.tolist() == rows.ids.values.tolist()
    assert ex.columns["labels"].values.tolist() == rows.ids.values.tolist()


def test_corrupt_rejects_unframed_rows_and_bad_segments():
    bart = make_objective("bart", BartConfig(), VOCAB)
    ids = Ragged.from_rows([body(5)])
    with pytest.raises(ValueError, match="not framed"):
        bart.corrupt(RowBatch(np.ones(1, np.uint64), ids, Ragged.from_rows([[5]])), seed=0)
    framed = Ragged.from_rows([[BOS, 300, EOS]])
    with pytest.raises(ValueError, match="segments"):
        bart.corrupt(RowBatch(np.ones(1, np.uint64), framed, Ragged.from_rows([[2]])), seed=0)


def test_corrupt_order_deletion_then_infilling():
    config = BartConfig(mask_ratio=0.5, token_delete_ratio=0.5, random_ratio=0.0, poisson_lambda=100.0,
                        mask_whole_words=False, permute_sentence_ratio=0.0)
    out = make_objective("bart", config, VOCAB).corrupt(framed_rows(body(20)), seed=0).columns["input_ids"]
    assert out.lengths.tolist() == [2 + 10 - 5 + 1]  # 10 deleted, then a 5-token span of the 10 left -> one mask


def test_every_noise_at_once_keeps_the_invariants():
    config = BartConfig(seq_len=64, token_mask_ratio=0.1, token_delete_ratio=0.1, insert_ratio=0.1,
                        rotate_ratio=0.5, permute_sentence_ratio=0.5)
    bart = make_objective("bart", config, VOCAB)
    rng = np.random.default_rng(2)
    docs = []
    for i in range(30):
        n = int(rng.integers(1, 200))
        docs.append((i, rng.integers(105, 1105, n), np.unique(np.append(rng.integers(1, n + 1, 6), n))))
    rows = rows_in_memory(bart, docs, batch_size=4)
    ex = check_invariants(bart, rows, seed=1, splits=[3, 4, 17])
    inputs = ex.columns["input_ids"]
    assert (inputs.values[inputs.offsets[:-1]] == BOS).all() and (inputs.values[inputs.offsets[1:] - 1] == EOS).all()


def test_measure_counts_removed_masks_and_added():
    bart = make_objective("bart", BartConfig(), VOCAB)
    ex = ExampleBatch(np.zeros(2, np.uint64), {
        "input_ids": Ragged.from_rows([[BOS, 302, MASK, 304, 777, MASK, EOS], [BOS, 300, EOS]]),
        "labels": Ragged.from_rows([[BOS, 300, 301, 302, 303, 304, EOS], [BOS, 300, EOS]]),
        "doc_lengths": Ragged.from_rows([[4, 3], [3]]), "sentence_ends": Ragged.from_rows([[3, 6], [2]])})
    assert bart.measure(ex) == {"tokens": 10, "label_tokens": 10, "body_tokens": 4, "removed": 3, "masks": 2,
                                "added": 1}


def test_shared_counts_is_the_multiset_intersection():
    from collections import Counter

    from lmpairs.transforms.bart import shared_counts

    rng = np.random.default_rng(0)
    a = [rng.integers(0, 6, n) for n in (0, 1, 5, 30, 12)]
    b = [rng.integers(0, 6, n) for n in (3, 0, 5, 25, 12)]
    want = sum(sum((Counter(x.tolist()) & Counter(y.tolist())).values()) for x, y in zip(a, b))
    assert shared_counts(Ragged.from_rows(a), Ragged.from_rows(b)) == want


# --- noise stays inside each document -----------------------------------------------------------

def tagged_documents(num: int, seed: int = 0) -> list:
    """Documents whose ids name them: document ``i`` uses ids ``1000 + 40 i ..`` (distinct per token)."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(num):
        n = int(rng.integers(1, 40))
        ids = np.arange(1000 + 40 * i, 1000 + 40 * i + n, dtype=np.int32)
        docs.append((f"doc{i}", ids, np.unique(np.append(rng.integers(1, n + 1, 4), n))))
    return docs


def split_documents(row: np.ndarray, lengths=None) -> list[np.ndarray]:
    """A framed row cut into its documents' bodies: at each ``</s>`` (no body holds a frame id)."""
    ends = np.flatnonzero(row == EOS) + 1
    return [piece[1:-1] for piece in np.split(row, ends[:-1])]


def owner(ids: np.ndarray) -> set[int]:
    return {int(i - 1000) // 40 for i in ids if i >= 1000}


def test_no_span_permutation_or_rotation_crosses_a_document():
    config = BartConfig(seq_len=64, rotate_ratio=1.0, token_mask_ratio=0.1, token_delete_ratio=0.1,
                        insert_ratio=0.05, random_ratio=0.0)
    bart = make_objective("bart", config, BIG)
    docs = tagged_documents(200)
    rows = rows_in_memory(bart, docs, batch_size=37)
    assert (rows.segments.lengths > 1).mean() > 0.5  # most rows hold several documents
    ex = check_invariants(bart, rows, seed=4, splits=[5, 11])
    inputs, labels = ex.columns["input_ids"], ex.columns["labels"]
    for i in range(rows.num_rows):
        clean = split_documents(labels.row(i))
        noisy = split_documents(inputs.row(i))
        assert len(noisy) == len(clean) == rows.segments.lengths[i]
        for before, after in zip(clean, noisy):
            assert owner(after) <= owner(before) and len(owner(before)) == 1  # nothing from a neighbour


def is_permutation_of(seq: np.ndarray, sentences: list[tuple]) -> bool:
    """``seq`` is the ``sentences`` (distinct ids) in some order: parse it sentence by sentence."""
    by_first = {s[0]: s for s in sentences}
    used, i = [], 0
    while i < len(seq):
        s = by_first.get(seq[i])
        if s is None or tuple(seq[i:i + len(s)]) != s:
            return False
        used.append(s)
        i += len(s)
    return sorted(used) == sorted(sentences)


def test_permutation_and_rotation_act_on_each_documents_own_sentences():
    bart = make_objective("bart", BartConfig(seq_len=64, mask_ratio=0.0, rotate_ratio=0.5), BIG)
    rows = rows_in_memory(bart, tagged_documents(120, seed=1))
    ex = bart.corrupt(rows, seed=2)
    changed = total = 0
    for i in range(rows.num_rows):
        ends = rows.sentence_ends.row(i)
        starts = np.concatenate([[0], np.cumsum(rows.segments.row(i))[:-1]]) + 1
        clean, noisy = split_documents(ex.columns["labels"].row(i)), split_documents(ex.columns["input_ids"].row(i))
        for body_start, before, after in zip(starts, clean, noisy):
            cut = ends[(ends > body_start) & (ends <= body_start + len(before))] - body_start
            sentences = [tuple(x) for x in np.split(before, cut[:-1])]
            assert cut[-1] == len(before)
            # a rotation of a permutation of the document's own sentences
            assert any(is_permutation_of(np.roll(after, k), sentences) for k in range(len(after)))
            total += 1
            changed += not np.array_equal(after, before)
    assert changed > 0.5 * total


def test_random_batch_splits_and_rows_subsets_give_the_same_examples():
    bart = make_objective("bart", BartConfig(seq_len=48), BIG)
    rows = rows_in_memory(bart, tagged_documents(150, seed=3))
    whole = examples_as_lists(bart.corrupt(rows, seed=9, copy=2))
    picked = np.array([7, 3, 0, rows.num_rows - 1])
    part = examples_as_lists(bart.corrupt(take_rows(rows, picked), seed=9, copy=2))
    assert part == [whole[i] for i in picked]


def test_infilling_rate_is_exact_on_average_over_short_documents():
    """Documents of 1-12 words: a per-document ceil would mask far more than 30%; random rounding does not."""
    bart = make_objective("bart", BartConfig(seq_len=128, permute_sentence_ratio=0.0, mask_whole_words=False),
                          VOCAB)
    rng = np.random.default_rng(5)
    docs = [(i, rng.integers(105, 1105, int(rng.integers(1, 13))).astype(np.int32), np.array([], np.int32))
            for i in range(4000)]
    counts = bart.measure(bart.corrupt(rows_in_memory(bart, docs), seed=0))
    assert abs(counts["removed"] / counts["body_tokens"] - 0.3) < 0.01
