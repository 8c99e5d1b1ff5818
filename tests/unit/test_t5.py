"""T5 span corruption: exact agreement with T5's sentinel functions, lengths, masks, the objective."""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from lmpairs.config import ConfigError, T5Config, t5_lengths
from lmpairs.transforms import make_objective
from lmpairs.transforms.objective import Row
from lmpairs.transforms.t5 import (
    T5Objective, noise_counts, random_segmentation, random_spans_noise_mask, span_corrupt, validate_t5_config,
)
from lmpairs.vocab import Vocab, toy_vocab

VOCAB = toy_vocab()  # pad 0, unk 1, bos 2, eos 3, mask 4, <extra_id_i> = 104 - i, ordinary 105..1104
EOS = VOCAB.eos_id
S = VOCAB.sentinel_ids


# --- an independent, loop-based reading of T5's noise_span_to_unique_sentinel ----------------------

def reference_noise_span_to_unique_sentinel(tokens: list[int], noise_mask: list[bool], sentinels) -> list[int]:
    """Token by token: the first token of each noise run becomes the next sentinel, the rest vanish."""
    out, used, previous = [], 0, False
    for token, noise in zip(tokens, noise_mask):
        if noise and not previous:
            out.append(sentinels[used])
            used += 1
        elif not noise:
            out.append(token)
        previous = noise
    return out


def reference_corrupt(tokens, noise_mask, sentinels, eos) -> tuple[list[int], list[int]]:
    inputs = reference_noise_span_to_unique_sentinel(list(tokens), list(noise_mask), sentinels)
    targets = reference_noise_span_to_unique_sentinel(list(tokens), [not m for m in noise_mask], sentinels)
    return inputs + [eos], targets + [eos]


def _ids(n: int, start: int = 200) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.int32)


def _row(ids) -> Row:
    ids = np.asarray(ids, dtype=np.int32)
    return Row(key=7, ids=ids, segment_lengths=np.array([ids.shape[0]], dtype=np.int32))


# --- span_corrupt -----------------------------------------------------------------------------------

def test_span_corrupt_worked_example():
    ids = _ids(7)  # 200..206
    mask = np.array([0, 1, 1, 0, 0, 1, 1], dtype=bool)
    inputs, targets = span_corrupt(ids, mask, sentinel_ids=S, eos_id=EOS)
    np.testing.assert_array_equal(inputs, [200, S[0], 203, 204, S[1], EOS])
    np.testing.assert_array_equal(targets, [S[0], 201, 202, S[1], 205, 206, EOS])
    assert inputs.dtype == np.int32 and targets.dtype == np.int32


def test_span_corrupt_matches_t5_docstring_example_with_trailing_sentinel():
    # T5: "We hold X to be Y that" -> "X these truths Y self evident Z" (mask ends with non-noise).
    words = "We hold these truths to be self evident that".split()
    ids = _ids(len(words))
    mask = np.array([w in ("these", "truths", "self", "evident") for w in words])
    inputs, targets = span_corrupt(ids, mask, sentinel_ids=S, eos_id=EOS)
    np.testing.assert_array_equal(inputs, [200, 201, S[0], 204, 205, S[1], 208, EOS])
    np.testing.assert_array_equal(targets, [S[0], 202, 203, S[1], 206, 207, S[2], EOS])


@pytest.mark.parametrize("mask", [
    [], [0], [1], [1, 1, 1], [0, 0, 0], [1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1], [1, 1, 0, 0, 0, 1],
])
def test_span_corrupt_equals_reference_on_edge_masks(mask):
    ids = _ids(len(mask))
    mask = np.array(mask, dtype=bool)
    inputs, targets = span_corrupt(ids, mask, sentinel_ids=S, eos_id=EOS)
    want_inputs, want_targets = reference_corrupt(ids.tolist(), mask.tolist(), S, EOS)
    assert inputs.tolist() == want_inputs and targets.tolist() == want_targets


def test_span_corrupt_equals_reference_on_every_mask_of_length_8():
    ids = _ids(8)
    for bits in itertools.product([False, True], repeat=8):
        inputs, targets = span_corrupt(ids, np.array(bits), sentinel_ids=S, eos_id=EOS)
        want_inputs, want_targets = reference_corrupt(ids.tolist(), bits, S, EOS)
        assert inputs.tolist() == want_inputs, bits
        assert targets.tolist() == want_targets, bits


def test_span_corrupt_equals_reference_on_random_and_t5_masks():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(2, 600))
        ids = rng.integers(105, 1105, n).astype(np.int32)
        if trial % 2:
            mask = rng.random(n) < rng.uniform(0.05, 0.3)
            if np.diff(mask.astype(int), prepend=0).clip(0).sum() > 100:
                continue
        else:
            mask = random_spans_noise_mask(n, noise_density=0.15, mean_noise_span_length=3.0, rng=rng)
        inputs, targets = span_corrupt(ids, mask, sentinel_ids=S, eos_id=EOS)
        want_inputs, want_targets = reference_corrupt(ids.tolist(), mask.tolist(), S, EOS)
        assert inputs.tolist() == want_inputs and targets.tolist() == want_targets


def test_span_corrupt_rejects_more_spans_than_sentinels():
    mask = np.array([0, 1, 0, 1, 0, 1], dtype=bool)
    with pytest.raises(ValueError, match="3 spans but only 2 sentinel ids"):
        span_corrupt(_ids(6), mask, sentinel_ids=S[:2], eos_id=EOS)


def test_span_corrupt_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must be equal 1-d shapes"):
        span_corrupt(_ids(5), np.zeros(4, dtype=bool), sentinel_ids=S, eos_id=EOS)


# --- counts, segmentation and masks -----------------------------------------------------------------

def test_t5_lengths_match_t5_random_spans_helper():
    assert t5_lengths(512, 0.15, 3.0) == (568, 114)
    assert t5_lengths(1024, 0.15, 3.0) == (1137, 229)


@pytest.mark.parametrize("length, want", [
    (0, (1, 1)), (1, (1, 1)), (2, (1, 1)), (10, (2, 1)), (20, (3, 1)), (50, (8, 3)), (568, (85, 28)),
    (1137, (171, 57)), (190, (28, 9)),  # 190 * 0.15 = 28.499…: float64 half-even, as T5Config
])
def test_noise_counts(length, want):
    assert noise_counts(length, noise_density=0.15, mean_noise_span_length=3.0) == want


def test_spans_are_capped_by_nonnoise_tokens_where_t5_would_fail():
    # 95 noise tokens in 95 spans would need 95 non-empty non-noise spans out of 5 tokens.
    assert noise_counts(100, noise_density=0.95, mean_noise_span_length=1.0) == (95, 5)
    assert noise_counts(3, noise_density=0.5, mean_noise_span_length=1.0) == (2, 1)
    mask = random_spans_noise_mask(100, noise_density=0.95, mean_noise_span_length=1.0,
                                   rng=np.random.default_rng(0))
    assert mask.sum() == 95 and np.count_nonzero(np.diff(mask.astype(int)) == 1) == 5


def test_random_segmentation_is_a_uniform_composition():
    # 5 items into 3 non-empty parts: C(4, 2) = 6 compositions, each with probability 1/6.
    rng = np.random.default_rng(1)
    draws = Counter(tuple(random_segmentation(5, 3, rng=rng).tolist()) for _ in range(6000))
    assert set(draws) == {(1, 1, 3), (1, 3, 1), (3, 1, 1), (1, 2, 2), (2, 1, 2), (2, 2, 1)}
    assert all(850 < count < 1150 for count in draws.values()), draws  # ±~5 sigma around 1000


def test_random_segmentation_edges():
    rng = np.random.default_rng(2)
    assert random_segmentation(7, 1, rng=rng).tolist() == [7]
    assert random_segmentation(4, 4, rng=rng).tolist() == [1, 1, 1, 1]


def test_mask_starts_with_nonnoise_and_ends_with_noise():
    rng = np.random.default_rng(3)
    for length in range(2, 300):
        mask = random_spans_noise_mask(length, noise_density=0.15, mean_noise_span_length=3.0, rng=rng)
        assert mask.shape == (length,) and mask.dtype == bool
        assert not mask[0] and mask[-1]


def test_mask_of_tiny_rows_is_t5s():
    rng = np.random.default_rng(4)
    assert random_spans_noise_mask(0, noise_density=0.15, mean_noise_span_length=3.0, rng=rng).shape == (0,)
    assert random_spans_noise_mask(1, noise_density=0.15, mean_noise_span_length=3.0, rng=rng).tolist() == [False]
    assert random_spans_noise_mask(2, noise_density=0.15, mean_noise_span_length=3.0, rng=rng).tolist() == [False, True]
    assert not random_spans_noise_mask(9, noise_density=0.0, mean_noise_span_length=3.0, rng=rng).any()


def test_all_masks_with_the_drawn_counts_are_equally_likely():
    # length 10, density 0.3, mean 1.5: 3 noise in 2 spans (2 ways) x 7 non-noise in 2 spans (6 ways).
    rng = np.random.default_rng(5)
    draws = Counter(tuple(random_spans_noise_mask(10, noise_density=0.3, mean_noise_span_length=1.5,
                                                  rng=rng).tolist()) for _ in range(12000))
    assert len(draws) == 12
    assert all(sum(m) == 3 for m in draws)
    assert all(850 < count < 1150 for count in draws.values()), draws


# --- full rows have exactly the configured lengths --------------------------------------------------

@pytest.mark.parametrize("seq_len", [512, 1024])
def test_full_raw_row_gives_exact_inputs_and_targets_lengths(seq_len):
    config = T5Config(seq_len=seq_len)
    objective = T5Objective(config, VOCAB)
    rng = np.random.default_rng(6)
    for seed in range(100):
        row = _row(rng.integers(105, 1105, config.raw_length))
        columns = objective.examples(row, seed=seed)[0][1]
        assert columns["input_ids"].shape == (seq_len,)
        assert columns["labels"].shape == (config.targets_length,)


def test_full_rows_fit_exactly_for_every_seq_len_from_16_to_2048():
    rng = np.random.default_rng(7)
    many_sentinels = tuple(range(9000, 8000, -1))  # past 100 spans only the counts matter here
    for seq_len in range(16, 2049):
        config = T5Config(seq_len=seq_len)
        mask = random_spans_noise_mask(config.raw_length, noise_density=0.15, mean_noise_span_length=3.0, rng=rng)
        inputs, targets = span_corrupt(_ids(config.raw_length, 105), mask, sentinel_ids=many_sentinels,
                                       eos_id=EOS)
        assert (inputs.shape[0], targets.shape[0]) == (seq_len, config.targets_length), seq_len


# --- the objective ----------------------------------------------------------------------------------

def test_objective_is_registered_and_reads_raw_rows():
    objective = make_objective("t5", T5Config(), VOCAB)
    assert isinstance(objective, T5Objective)
    assert (objective.name, objective.columns) == ("t5", ("input_ids", "labels"))
    assert objective.row_length == 568 and objective.keep_partial


def test_documents_are_concatenated_without_separator_and_short_final_row_kept():
    objective = T5Objective(T5Config(seq_len=16), VOCAB)  # raw rows of 17 tokens
    assert objective.row_length == 17
    rows, remainder = objective.document_rows("a", _ids(40, 105), np.array([40], dtype=np.int32))
    assert len(rows) == 2 and remainder.tolist() == list(range(139, 145))
    np.testing.assert_array_equal(rows[1].ids, _ids(17, 122))
    packed, dropped = objective.pack_leftovers("g", [remainder, _ids(5, 500)])
    assert dropped == 0 and len(packed) == 1
    assert packed[0].ids.tolist() == [139, 140, 141, 142, 143, 144, 500, 501, 502, 503, 504]


def test_corrupt_is_seeded_int32_and_does_not_mutate():
    objective = T5Objective(T5Config(), VOCAB)
    ids = np.random.default_rng(8).integers(105, 1105, 568).astype(np.int32)
    ids.setflags(write=False)
    before = ids.copy()
    a = objective.corrupt(_row(ids), rng=np.random.default_rng(9))
    b = objective.corrupt(_row(ids), rng=np.random.default_rng(9))
    c = objective.corrupt(_row(ids), rng=np.random.default_rng(10))
    np.testing.assert_array_equal(ids, before)
    assert set(a) == {"input_ids", "labels"} and all(v.dtype == np.int32 for v in a.values())
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["input_ids"], c["input_ids"])


def test_clean_ids_and_measure_on_worked_example():
    objective = T5Objective(T5Config(), VOCAB)
    columns = {"input_ids": np.array([200, S[0], 203, 204, S[1], EOS], dtype=np.int32),
               "labels": np.array([S[0], 201, 202, S[1], 205, 206, EOS], dtype=np.int32)}
    np.testing.assert_array_equal(objective.clean_ids(columns), _ids(7))
    assert objective.measure(columns) == {"tokens": 7, "noise_tokens": 4, "noise_spans": 2}


def test_clean_ids_rebuilds_rows_of_every_length():
    objective = T5Objective(T5Config(), VOCAB)
    rng = np.random.default_rng(11)
    for length in list(range(0, 40)) + [567, 568]:
        ids = rng.integers(105, 1105, length).astype(np.int32)
        columns = objective.corrupt(_row(ids), rng=rng)
        np.testing.assert_array_equal(objective.clean_ids(columns), ids)
        stats = objective.measure(columns)
        num_noise, num_spans = noise_counts(length, noise_density=0.15, mean_noise_span_length=3.0)
        want = (length, num_noise, num_spans) if length >= 2 else (length, 0, 0)
        assert (stats["tokens"], stats["noise_tokens"], stats["noise_spans"]) == want


def test_clean_ids_rejects_foreign_columns():
    objective = T5Objective(T5Config(), VOCAB)
    with pytest.raises(ValueError, match="must end with eos id 3"):
        objective.clean_ids({"input_ids": np.array([200, 201], np.int32), "labels": np.array([EOS], np.int32)})
    swapped = {"input_ids": np.array([200, S[1], EOS], np.int32), "labels": np.array([S[0], 201, EOS], np.int32)}
    with pytest.raises(ValueError, match="do not match"):
        objective.clean_ids(swapped)


# --- configuration errors ---------------------------------------------------------------------------

def _vocab_with_sentinels(n: int) -> Vocab:
    size = 300
    special = np.zeros(size, dtype=bool)
    special[:10] = True
    return Vocab(size=size, pad_id=0, bos_id=1, eos_id=2, unk_id=3, mask_id=4,
                 sentinel_ids=tuple(range(9, 9 - n, -1)), special=special, word_start=np.ones(size, dtype=bool))


def test_too_many_spans_is_a_config_error_naming_fields_and_fix():
    config = T5Config(seq_len=512)  # 28 spans per full row
    with pytest.raises(ConfigError) as err:
        T5Objective(config, _vocab_with_sentinels(5))
    message = str(err.value)
    for part in ("t5.seq_len=512", "568", "t5.noise_density=0.15", "t5.mean_noise_span_length=3.0",
                 "up to 28 noise spans", "only 5 sentinel ids", "at least 28 <extra_id_N>"):
        assert part in message, part


def test_long_rows_exceed_100_sentinels():
    validate_t5_config(T5Config(seq_len=1024), VOCAB)  # 57 spans: fine
    with pytest.raises(ConfigError, match="only 100 sentinel ids"):
        T5Objective(T5Config(seq_len=2048), VOCAB)  # 2273 raw tokens -> 114 spans


def test_exactly_enough_sentinels_is_accepted():
    config = T5Config(seq_len=80)
    assert config.max_spans == 4
    validate_t5_config(config, _vocab_with_sentinels(4))
    with pytest.raises(ConfigError):
        validate_t5_config(config, _vocab_with_sentinels(3))
