"""T5 span corruption: T5's sentinel functions, lengths and uniform span partitions, over batches."""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from vocabs import toy_vocab

from lmpairs.config import ConfigError, T5Config, t5_lengths
from lmpairs.objectives import make_objective
from lmpairs.transforms import ExampleBatch, Ragged, RowBatch
from lmpairs.transforms.rowops import to_grid
from lmpairs.transforms.spans import noise_counts, random_partitions, runs_to_sentinels
from lmpairs.transforms.t5 import validate_t5_config
from lmpairs.transforms.testing import check_invariants, rows_in_memory
from lmpairs.vocab import Vocab

VOCAB = toy_vocab()  # pad 0, unk 1, bos 2, eos 3, mask 4, <extra_id_i> = 104 - i, ordinary 105..1104
EOS = VOCAB.eos_id
S = np.asarray(VOCAB.sentinel_ids, dtype=np.int32)


def reference_noise_span_to_unique_sentinel(tokens: list[int], noise_mask: list[bool]) -> list[int]:
    """Token by token: the first token of each noise run becomes the next sentinel, the rest vanish."""
    out, used, previous = [], 0, False
    for token, noise in zip(tokens, noise_mask):
        if noise and not previous:
            out.append(int(S[used]))
            used += 1
        elif not noise:
            out.append(token)
        previous = noise
    return out + [EOS]


def runs(flat, offsets, mask) -> Ragged:
    """``runs_to_sentinels`` over flat rows (converted to the grid it takes)."""
    grid, valid = to_grid(np.asarray(flat, np.int32), np.asarray(offsets, np.int64), 0)
    mask_grid, _ = to_grid(np.asarray(mask, np.int32), np.asarray(offsets, np.int64), 0)
    mask_grid = mask_grid.astype(bool)
    return runs_to_sentinels(grid, valid, mask_grid, S, EOS)


def rows_of(*rows) -> RowBatch:
    ids = Ragged.from_rows([np.asarray(r, np.int32) for r in rows])
    return RowBatch(np.arange(len(rows), dtype=np.uint64) + 7, ids,
                    Ragged(ids.lengths.astype(np.int32), np.arange(len(rows) + 1, dtype=np.int64)))


def test_worked_example_and_t5_docstring_example_in_one_batch():
    a = np.arange(200, 207)
    mask_a = [0, 1, 1, 0, 0, 1, 1]
    words = "We hold these truths to be self evident that".split()
    b = np.arange(300, 300 + len(words))
    mask_b = [w in ("these", "truths", "self", "evident") for w in words]
    mask = np.array(mask_a + mask_b, dtype=bool)
    flat = np.concatenate([a, b]).astype(np.int32)
    offsets = np.array([0, 7, 7 + len(words)])
    inputs = runs(flat, offsets, mask)
    targets = runs(flat, offsets, ~mask)
    assert inputs.row(0).tolist() == [200, S[0], 203, 204, S[1], EOS]
    assert targets.row(0).tolist() == [S[0], 201, 202, S[1], 205, 206, EOS]
    assert inputs.row(1).tolist() == [300, 301, S[0], 304, 305, S[1], 308, EOS]
    assert targets.row(1).tolist() == [S[0], 302, 303, S[1], 306, 307, S[2], EOS]
    assert inputs.values.dtype == np.int32 and targets.values.dtype == np.int32


@pytest.mark.parametrize("masks", [[[], [0], [1]], [[1, 1, 1], [0, 0, 0]], [[1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1]]])
def test_runs_to_sentinels_equal_the_reference_on_edge_masks(masks):
    flat = np.arange(200, 200 + sum(map(len, masks)), dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in masks])]).astype(np.int64)
    mask = np.array([x for m in masks for x in m], dtype=bool)
    out = runs(flat, offsets, mask)
    for i, m in enumerate(masks):
        tokens = flat[offsets[i]:offsets[i + 1]].tolist()
        assert out.row(i).tolist() == reference_noise_span_to_unique_sentinel(tokens, [bool(x) for x in m])


@pytest.mark.parametrize("inputs,raw,targets", [(512, 568, 114), (1024, 1137, 229)])
def test_lengths_match_t5_random_spans_helper(inputs, raw, targets):
    assert t5_lengths(inputs, 0.15, 3.0) == (raw, targets)
    objective = make_objective("t5", T5Config(seq_len=inputs), VOCAB)
    assert objective.full_row_length == raw
    rows = rows_of(*[np.random.default_rng(i).integers(105, 1105, raw) for i in range(8)])
    ex = objective.corrupt(rows, seed=0)
    assert set(ex.columns["input_ids"].lengths.tolist()) == {inputs}
    assert set(ex.columns["labels"].lengths.tolist()) == {targets}


def test_noise_counts_scalar_and_vector():
    assert noise_counts(568, noise_density=0.15, mean_noise_span_length=3.0) == (85, 28)
    assert noise_counts(1, noise_density=0.15, mean_noise_span_length=3.0) == (1, 1)
    n, s = noise_counts(np.array([1, 2, 100, 568]), noise_density=0.15, mean_noise_span_length=3.0)
    assert n.tolist() == [1, 1, 15, 85] and s.tolist() == [1, 1, 5, 28]


def test_random_partitions_are_exactly_uniform_over_compositions():
    # 6 items into 3 non-empty parts: C(5, 2) = 10 compositions, each equally likely.
    rows = 20000
    keys = np.arange(rows, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    parts = random_partitions(np.full(rows, 6), np.full(rows, 3), keys).reshape(rows, 3)
    assert (parts > 0).all() and (parts.sum(axis=1) == 6).all()
    counts = Counter(map(tuple, parts.tolist()))
    assert set(counts) == {c for c in itertools.product(range(1, 5), repeat=3) if sum(c) == 6}
    expected = rows / 10
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 30  # 9 degrees of freedom: p ~ 4e-4


def test_masks_start_with_nonnoise_end_with_noise_and_have_exact_counts():
    objective = make_objective("t5", T5Config(seq_len=64), VOCAB)
    lengths = [2, 3, 10, 37, 72, 72]
    rows = rows_of(*[np.arange(105, 105 + n) for n in lengths])
    mask = objective.noise_mask(rows, seed=4)
    assert mask.shape == (len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        assert not mask[i, n:].any()
        m = mask[i, :n]
        num_noise, num_spans = noise_counts(n, noise_density=0.15, mean_noise_span_length=3.0)
        assert not m[0] and m[-1] and int(m.sum()) == num_noise
        assert int((m[1:] & ~m[:-1]).sum()) == num_spans


def test_one_token_row_has_no_noise_and_a_lone_sentinel_target():
    objective = make_objective("t5", T5Config(seq_len=64), VOCAB)
    ex = objective.corrupt(rows_of([500]), seed=0)
    assert ex.columns["input_ids"].row(0).tolist() == [500, EOS]
    assert ex.columns["labels"].row(0).tolist() == [S[0], EOS]
    assert objective.clean(ex).ids.row(0).tolist() == [500]


def test_invariants_clean_and_measure_over_a_packed_stream():
    objective = make_objective("t5", T5Config(seq_len=32), VOCAB)
    rng = np.random.default_rng(1)
    docs = [(f"d{i}", rng.integers(105, 1105, n), np.array([n])) for i, n in enumerate(rng.integers(1, 90, 30))]
    rows = rows_in_memory(objective, docs, batch_size=7)
    assert set(rows.ids.lengths[:-1].tolist()) == {objective.full_row_length}  # the last one is short
    ex = check_invariants(objective, rows, seed=3, splits=[1, 5, 6])
    stats = objective.measure(ex)
    assert stats["tokens"] == rows.ids.values.shape[0]
    assert stats["noise_tokens"] == sum(noise_counts(n, noise_density=0.15, mean_noise_span_length=3.0)[0]
                                        for n in rows.ids.lengths.tolist())


def test_clean_rejects_foreign_columns():
    objective = make_objective("t5", T5Config(seq_len=32), VOCAB)
    no_eos = ExampleBatch(np.zeros(1, np.uint64), {"input_ids": Ragged.from_rows([[200, 201]]),
                                                   "labels": Ragged.from_rows([[EOS]])})
    with pytest.raises(ValueError, match="must end with eos"):
        objective.clean(no_eos)
    swapped = ExampleBatch(np.zeros(1, np.uint64), {"input_ids": Ragged.from_rows([[200, S[1], EOS]]),
                                                    "labels": Ragged.from_rows([[S[0], 201, EOS]])})
    with pytest.raises(ValueError, match="sentinels"):
        objective.clean(swapped)


def test_too_many_spans_is_a_config_error_before_any_row():
    few = Vocab(size=VOCAB.size, pad_id=0, unk_id=1, bos_id=2, eos_id=3, mask_id=4,
                sentinel_ids=tuple(range(104, 94, -1)), special=VOCAB.special, word_start=VOCAB.word_start)
    with pytest.raises(ConfigError, match="sentinel"):
        validate_t5_config(T5Config(seq_len=512), few)
    with pytest.raises(ValueError, match="sentinel"):  # a dynamic row longer than the build's
        make_objective("t5", T5Config(seq_len=16), few).corrupt(rows_of(np.arange(105, 905)), seed=0)
