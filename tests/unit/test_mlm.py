"""MLM over batches: BERT's exact budget and greedy whole words, HF's bernoulli, 80/10/10, RoBERTa rows."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vocabs import toy_vocab

from lmpairs.config import MlmConfig
from lmpairs.objectives import IGNORE_INDEX, make_objective
from lmpairs.transforms import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.mlm import ACTION, RANDOM, SELECT, exact_budgets, greedy_exact
from lmpairs.transforms.seeding import stream_keys, threshold, uniform_ints, words_at
from lmpairs.transforms.testing import check_invariants, document_batch, rows_as_lists, rows_in_memory
from lmpairs.vocab import Vocab

VOCAB = toy_vocab()  # pad 0, unk 1, bos 2, eos 3, mask 4, sentinels 5..104, ordinary 105.. (word start every 3rd)
MLM_ID = 2


def rows_of(*rows, key0: int = 11) -> RowBatch:
    ids = Ragged.from_rows([np.asarray(r, np.int32) for r in rows])
    return RowBatch(np.arange(len(rows), dtype=np.uint64) + key0, ids,
                    Ragged(ids.lengths.astype(np.int32), np.arange(len(rows) + 1, dtype=np.int64)))


def word(seed: int, key: int, copy: int, stream: int, position: int) -> int:
    k = stream_keys(seed, MLM_ID, np.array([key], np.uint64), copy, stream)
    return int(words_at(k, np.array([position]))[0])


def reference_row(ids: list[int], key: int, *, seed: int, config: MlmConfig, vocab: Vocab = VOCAB):
    """One row, position by position, straight from the contract (BERT's loop for whole words)."""
    special = vocab.special
    maskable = [not special[i] for i in ids]
    starts = []
    for p, i in enumerate(ids):
        if not maskable[p]:
            continue
        if not config.whole_word or p == 0 or not maskable[p - 1] or vocab.word_start[i]:
            starts.append(p)
    words = [[p] for p in starts]
    if config.whole_word:
        for w, p in enumerate(starts):
            q = p + 1
            while q < len(ids) and maskable[q] and q not in starts:
                words[w].append(q)
                q += 1
    hashes = [word(seed, key, 0, SELECT, p) for p in starts]
    selected = set()
    if config.selection == "bernoulli":
        for w, h in zip(words, hashes):
            if h < threshold(config.mask_prob):
                selected.update(w)
    else:
        n = sum(maskable)
        budget = max(1, round(n * config.mask_prob)) if n else 0
        for _, w in sorted(zip(hashes, words), key=lambda t: (t[0], t[1][0])):
            if len(selected) >= budget:
                break
            if len(selected) + len(w) > budget:
                continue
            selected.update(w)
    inputs, labels = list(ids), [IGNORE_INDEX] * len(ids)
    for p in sorted(selected):
        labels[p] = ids[p]
        u = word(seed, key, 0, ACTION, p)
        if u < threshold(config.mask_fraction):
            inputs[p] = vocab.mask_id
        elif u < threshold(config.mask_fraction + config.random_fraction):
            r = word(seed, key, 0, RANDOM, p)
            inputs[p] = int(vocab.ordinary_ids[int(uniform_ints(np.array([r], np.uint64), len(vocab.ordinary_ids))[0])])
    return inputs, labels


@pytest.mark.parametrize("selection", ["exact", "bernoulli"])
@pytest.mark.parametrize("whole_word", [False, True])
def test_batch_equals_the_position_by_position_reference(selection, whole_word):
    config = MlmConfig(seq_len=128, selection=selection, whole_word=whole_word, mask_prob=0.2)
    mlm = make_objective("mlm", config, VOCAB)
    rng = np.random.default_rng(0)
    rows = [[2, *rng.integers(105, 1105, n), 3, *rng.integers(105, 1105, 5)] for n in (1, 9, 40, 100)]
    rows.append([2, 3])  # nothing maskable
    batch = rows_of(*rows)
    ex = mlm.corrupt(batch, seed=9)
    for i, ids in enumerate(rows):
        inputs, labels = reference_row([int(x) for x in ids], 11 + i, seed=9, config=config)
        assert ex.columns["input_ids"].row(i).tolist() == inputs
        assert ex.columns["labels"].row(i).tolist() == labels


def test_exact_budget_is_berts_rounding():
    assert exact_budgets(np.array([0, 1, 3, 10, 62, 510]), 0.15).tolist() == [0, 1, 1, 2, 9, 76]
    assert exact_budgets(np.array([10]), 0.25).tolist() == [2]  # round(2.5) is 2: half to even, as Python


def test_exact_selects_exactly_the_budget_and_never_a_special():
    mlm = make_objective("mlm", MlmConfig(seq_len=600, mask_prob=0.3), VOCAB)
    ids = np.array([2, *range(105, 160), 3, 4, *range(700, 707), 0], dtype=np.int32)
    ex = mlm.corrupt(rows_of(ids, ids[:30], ids[::-1]), seed=0)
    for i, n in enumerate([62, 29, 62]):
        labels = ex.columns["labels"].row(i)
        assert (labels != IGNORE_INDEX).sum() == round(n * 0.3)
        assert not VOCAB.special[ex.columns["labels"].row(i)[labels != IGNORE_INDEX]].any()


def test_random_replacements_are_ordinary_ids():
    config = MlmConfig(seq_len=512, mask_prob=1.0, mask_fraction=0.0, random_fraction=1.0)
    mlm = make_objective("mlm", config, VOCAB)
    ex = mlm.corrupt(rows_of(np.arange(105, 605)), seed=0)
    assert not VOCAB.special[ex.columns["input_ids"].values].any()
    assert len(set(ex.columns["input_ids"].values.tolist())) > 300


def test_copies_differ_keys_are_copy_keys_and_clean_recovers():
    mlm = make_objective("mlm", MlmConfig(seq_len=128, copies=3), VOCAB)
    assert mlm.num_copies == 3
    rows = rows_of(np.array([2, *range(105, 232)]))
    copies = mlm.examples(rows, seed=1)
    assert int(copies[0].keys[0]) == 11 and len({int(c.keys[0]) for c in copies}) == 3
    labels = [c.columns["labels"].values for c in copies]
    assert not np.array_equal(labels[0], labels[1]) and not np.array_equal(labels[1], labels[2])
    for c in copies:
        assert np.array_equal(mlm.clean(c).ids.values, rows.ids.values)


def test_invariants_and_seed_sensitivity():
    mlm = make_objective("mlm", MlmConfig(seq_len=64, whole_word=True), VOCAB)
    rng = np.random.default_rng(3)
    docs = [(i, rng.integers(105, 1105, n), np.array([n])) for i, n in enumerate(rng.integers(1, 150, 25))]
    rows = rows_in_memory(mlm, docs, batch_size=4)
    a = check_invariants(mlm, rows, seed=5, splits=[2, 3, 11])
    b = mlm.corrupt(rows, seed=6)
    assert not np.array_equal(a.columns["labels"].values, b.columns["labels"].values)


def test_measure_counts_each_outcome():
    mlm = make_objective("mlm", MlmConfig(seq_len=8), VOCAB)
    ex = ExampleBatch(np.zeros(2, np.uint64), {
        "input_ids": Ragged.from_rows([[2, 4, 106, 999], [4, 108, 109, 3]]),
        "labels": Ragged.from_rows([[-100, 105, 106, 107], [-100, -100, 120, -100]])})
    # clean rows: [2, 105, 106, 107] [4, 108, 120, 3]: the second row's 4 is an unselected mask id (special)
    assert mlm.measure(ex) == {"tokens": 8, "maskable": 5, "selected": 4, "masked": 1, "random": 2, "kept": 1}


def test_ids_outside_the_vocabulary_are_an_error():
    mlm = make_objective("mlm", MlmConfig(seq_len=8), VOCAB)
    with pytest.raises(ValueError, match="different tokenizer"):
        mlm.corrupt(rows_of([2, VOCAB.size]), seed=0)


# --- rows: RoBERTa FULL-SENTENCES -------------------------------------------------------------------

def test_rows_are_bos_plus_stream_chunks_with_eos_between_documents():
    mlm = make_objective("mlm", MlmConfig(seq_len=8), VOCAB)
    docs = [("a", np.arange(105, 115), np.array([10])), ("b", np.array([200, 201, 202]), np.array([3])),
            ("c", np.array([300]), np.array([1]))]
    rows = rows_as_lists(rows_in_memory(mlm, docs))
    assert [r[1] for r in rows] == [[2, 105, 106, 107, 108, 109, 110, 111], [2, 112, 113, 114, 3, 200, 201, 202],
                                    [2, 3, 300, 3]]
    assert [r[2] for r in rows] == [[8], [5, 3], [2, 2]]
    assert mlm.full_row_length == 8


def test_final_row_drop_counts_its_tokens():
    mlm = make_objective("mlm", MlmConfig(seq_len=8, final_row="drop"), VOCAB)
    packer = mlm.packer()
    full = packer.add(document_batch([("a", np.arange(105, 115), np.array([10]))]))
    last, dropped = packer.finish()
    assert full.num_rows == 1 and last.num_rows == 0 and dropped == 4  # 112 113 114 </s>


def test_vocab_without_bos_frames_with_eos_only():
    no_bos = Vocab(size=VOCAB.size, pad_id=0, unk_id=1, bos_id=None, eos_id=3, mask_id=4,
                   sentinel_ids=VOCAB.sentinel_ids, special=VOCAB.special, word_start=VOCAB.word_start)
    mlm = make_objective("mlm", MlmConfig(seq_len=4), no_bos)
    rows = rows_as_lists(rows_in_memory(mlm, [("d", np.arange(20, 25) + 100, np.array([5]))]))
    assert [r[1] for r in rows] == [[120, 121, 122, 123], [124, 3]]


@settings(max_examples=80, deadline=None)
@given(data=st.data(), num_rows=st.integers(1, 4), spread=st.sampled_from([4, 2**64 - 1]))
def test_greedy_whole_words_equal_berts_loop(data, num_rows, spread):
    counts = [data.draw(st.integers(0, 80)) for _ in range(num_rows)]
    rows = np.repeat(np.arange(num_rows), counts)
    choices = data.draw(st.sampled_from([[1, 2, 3, 7], [2, 3, 7]]))  # no 1-token words: gaps stay open longer
    sizes = np.array(data.draw(st.lists(st.sampled_from(choices), min_size=rows.size, max_size=rows.size)),
                     dtype=np.int64)
    hashes = np.array(data.draw(st.lists(st.integers(0, spread), min_size=rows.size, max_size=rows.size)),
                      dtype=np.uint64)
    budget = np.array([data.draw(st.integers(0, int(sizes[rows == r].sum()))) for r in range(num_rows)])
    want = np.zeros(rows.size, dtype=bool)
    for r in range(num_rows):
        filled = 0
        for _, i in sorted((int(hashes[i]), i) for i in np.flatnonzero(rows == r)):
            if filled >= budget[r]:
                break
            if filled + sizes[i] > budget[r]:
                continue
            want[i] = True
            filled += sizes[i]
    assert greedy_exact(rows, hashes, sizes, budget, num_rows).tolist() == want.tolist()
