"""Hypothesis invariants of T5 span corruption over rows of 1..2000 tokens and any valid settings."""
from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lmpairs.config import T5Config
from lmpairs.transforms.objective import Row
from lmpairs.transforms.t5 import T5Objective, random_spans_noise_mask
from lmpairs.vocab import Vocab, toy_vocab

NUM_SENTINELS = 2000  # enough for any row of up to 2000 tokens at any density


def _wide_vocab() -> Vocab:
    """pad 0 … mask 4, <extra_id_i> = 2004 - i, ordinary ids 2005..4999."""
    size = 5000
    special = np.zeros(size, dtype=bool)
    special[:2005] = True
    return Vocab(size=size, pad_id=0, unk_id=1, bos_id=2, eos_id=3, mask_id=4,
                 sentinel_ids=tuple(range(2004, 4, -1)), special=special, word_start=np.ones(size, dtype=bool))


WIDE = _wide_vocab()
DEFAULT = T5Objective(T5Config(), toy_vocab())  # 100 sentinels: enough for 2000 tokens at 0.15 / 3

lengths = st.integers(min_value=1, max_value=2000)
seeds = st.integers(min_value=0, max_value=2**63 - 1)
densities = st.floats(min_value=0.01, max_value=0.95)
means = st.floats(min_value=1.0, max_value=12.0)


def _row(vocab: Vocab, length: int, seed: int) -> Row:
    ids = np.random.default_rng(seed).choice(vocab.ordinary_ids, size=length).astype(np.int32)
    ids.setflags(write=False)
    return Row(key=seed, ids=ids, segment_lengths=np.array([length], dtype=np.int32))


def _objective(density: float, mean: float) -> T5Objective:
    return T5Objective(T5Config(seq_len=16, noise_density=density, mean_noise_span_length=mean), WIDE)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, lengths) of the runs of equal values in ``mask``."""
    starts = np.flatnonzero(np.diff(mask.astype(np.int8), prepend=-1))
    return mask[starts], np.diff(np.append(starts, mask.shape[0]))


@settings(max_examples=150, deadline=None)
@given(length=lengths, seed=seeds, density=densities, mean=means)
@example(length=100, seed=0, density=0.95, mean=1.0)  # more spans than non-noise tokens: capped
def test_corruption_rebuilds_the_row_and_has_t5s_counts(length, seed, density, mean):
    objective = _objective(density, mean)
    row = _row(WIDE, length, seed)
    before = row.ids.copy()
    columns = objective.corrupt(row, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(row.ids, before)
    assert all(columns[name].dtype == np.int32 and columns[name].ndim == 1 for name in ("input_ids", "labels"))
    np.testing.assert_array_equal(objective.clean_ids(columns), row.ids)

    stats = objective.measure(columns)
    assert stats["tokens"] == length
    if length == 1:  # T5 pads to 2, draws, and cuts the noise token off again
        assert (stats["noise_tokens"], stats["noise_spans"]) == (0, 0)
        return
    num_noise = min(max(round(length * density), 1), length - 1)
    num_spans = max(1, round(num_noise / mean))
    assert stats["noise_tokens"] == num_noise
    assert stats["noise_spans"] == min(num_spans, length - num_noise)  # capped only where T5 fails


@settings(max_examples=150, deadline=None)
@given(length=lengths, seed=seeds, density=densities, mean=means)
@example(length=100, seed=0, density=0.95, mean=1.0)
def test_mask_spans_alternate_are_non_empty_and_start_with_nonnoise(length, seed, density, mean):
    mask = random_spans_noise_mask(length, noise_density=density, mean_noise_span_length=mean,
                                   rng=np.random.default_rng(seed))
    assert mask.shape == (length,) and mask.dtype == bool
    values, run_lengths = _runs(mask)
    assert (run_lengths > 0).all()
    assert not values[0]  # non-noise first
    if length >= 2:
        assert values[-1]  # and noise last, so both kinds have the same number of spans
        assert values.sum() == (~values).sum()


@settings(max_examples=150, deadline=None)
@given(length=lengths, seed=seeds)
def test_sentinels_appear_in_order_and_open_each_noise_span(length, seed):
    row = _row(DEFAULT.vocab, length, seed)
    columns = DEFAULT.corrupt(row, rng=np.random.default_rng(seed))
    sentinels = np.asarray(DEFAULT.vocab.sentinel_ids)
    inputs, targets = columns["input_ids"], columns["labels"]
    assert inputs[-1] == DEFAULT.vocab.eos_id and targets[-1] == DEFAULT.vocab.eos_id
    in_sentinels = inputs[np.isin(inputs, sentinels)]
    tg_positions = np.flatnonzero(np.isin(targets, sentinels))
    num_spans = in_sentinels.shape[0]
    np.testing.assert_array_equal(in_sentinels, sentinels[:num_spans])  # <extra_id_0>, <extra_id_1>, …
    np.testing.assert_array_equal(targets[tg_positions], sentinels[:tg_positions.shape[0]])
    assert tg_positions.shape[0] >= 1 and tg_positions[0] == 0
    if length >= 2:
        assert tg_positions.shape[0] == num_spans >= 1
        assert (np.diff(np.append(tg_positions, targets.shape[0] - 1)) > 1).all()  # no empty span


@settings(max_examples=60, deadline=None)
@given(length=lengths, seed=seeds)
def test_same_seed_same_example(length, seed):
    row = _row(DEFAULT.vocab, length, seed)
    a = DEFAULT.examples(row, seed=seed)
    b = DEFAULT.examples(row, seed=seed)
    assert [k for k, _ in a] == [k for k, _ in b]
    for (_, x), (_, y) in zip(a, b):
        assert all(np.array_equal(x[name], y[name]) for name in DEFAULT.columns)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(min_value=200, max_value=2000), seed=seeds)
def test_different_seeds_give_different_masks(length, seed):
    # From 200 tokens on there are > 10^20 possible masks, so a collision means seeds are ignored.
    row = _row(DEFAULT.vocab, length, seed)
    a = DEFAULT.examples(row, seed=seed)[0][1]
    b = DEFAULT.examples(row, seed=(seed + 1) % 2**63)[0][1]
    assert not np.array_equal(a["input_ids"], b["input_ids"])
