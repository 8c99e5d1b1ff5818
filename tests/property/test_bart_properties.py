"""Hypothesis invariants of BART rows and noising over random documents and configs."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.config import BartConfig
from lmpairs.transforms import example_rng
from lmpairs.transforms.bart import BartObjective
from lmpairs.vocab import toy_vocab

VOCABS = {every: toy_vocab(num_ordinary=400, word_start_every=every) for every in (1, 3)}
ZERO = dict(mask_ratio=0.0, random_ratio=0.0, token_mask_ratio=0.0, token_delete_ratio=0.0,
            insert_ratio=0.0, permute_sentence_ratio=0.0, rotate_ratio=0.0)
RATIO = st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.5, 1.0]) | st.floats(0.0, 1.0)


@st.composite
def documents(draw, *, unique: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, sentence_ends)`` of ordinary ids; ``unique`` ids make every position recoverable."""
    lengths = draw(st.lists(st.integers(0, 40), min_size=1, max_size=10))
    n = sum(lengths)
    if unique:
        ids = np.arange(105, 105 + n, dtype=np.int32)
    else:
        ids = np.array(draw(st.lists(st.integers(105, 504), min_size=n, max_size=n)), dtype=np.int32)
    return ids, np.cumsum(lengths).astype(np.int32)


@st.composite
def configs(draw) -> dict:
    return dict(mask_ratio=draw(RATIO), random_ratio=draw(RATIO), poisson_lambda=draw(st.floats(0.1, 8.0)),
                mask_whole_words=draw(st.booleans()), token_mask_ratio=draw(RATIO),
                token_delete_ratio=draw(RATIO), insert_ratio=draw(RATIO),
                permute_sentence_ratio=draw(RATIO), rotate_ratio=draw(RATIO))


def frozen_rows(objective, ids, ends):
    ids.setflags(write=False)
    rows, rest = objective.document_rows("doc.txt:0", ids, ends)
    assert rest.size == 0
    for row in rows:
        row.ids.setflags(write=False)  # any in-place write by corrupt raises
        row.segment_lengths.setflags(write=False)
    return rows


def noised(objective, row, seed=0):
    return objective.corrupt(row, rng=example_rng(seed, "bart", row.key, 0))


@settings(max_examples=200, deadline=None)
@given(doc=documents(), seq_len=st.integers(4, 40), bos=st.booleans())
def test_rows_fit_and_rebuild_the_document(doc, seq_len, bos):
    ids, ends = doc
    vocab = VOCABS[3] if bos else _no_bos(VOCABS[3])
    objective = BartObjective(BartConfig(seq_len=seq_len), vocab)
    rows = frozen_rows(objective, ids, ends)
    head = 1 if bos else 0
    capacity = seq_len - head - 1
    bodies = [row.ids[head:-1] for row in rows]
    assert np.concatenate([np.zeros(0, np.int32), *bodies]).tolist() == ids.tolist()
    for row in rows:
        assert 2 + head <= len(row.ids) <= seq_len and row.ids[-1] == vocab.eos_id
        assert (not bos or row.ids[0] == vocab.bos_id) and row.segment_lengths.sum() == len(row.ids)
    sentence_ends = set(ends.tolist())
    for cut in np.cumsum([len(b) for b in bodies])[:-1].tolist():
        previous_end = max([e for e in sentence_ends if e < cut], default=0)
        assert cut in sentence_ends or (cut - previous_end) % capacity == 0


def _no_bos(vocab):
    from lmpairs.vocab import Vocab
    return Vocab(size=vocab.size, pad_id=0, unk_id=1, bos_id=None, eos_id=3, mask_id=4,
                 sentinel_ids=vocab.sentinel_ids, special=vocab.special, word_start=vocab.word_start)


@settings(max_examples=300, deadline=None)
@given(doc=documents(), config=configs(), every=st.sampled_from([1, 3]), seed=st.integers(0, 2**32 - 1))
def test_corrupt_invariants(doc, config, every, seed):
    vocab = VOCABS[every]
    c = BartConfig(seq_len=32, **config)
    objective = BartObjective(c, vocab)
    for row in frozen_rows(objective, *doc):
        out = noised(objective, row, seed)
        again = noised(objective, row, seed)
        inputs, labels = out["input_ids"], out["labels"]
        assert inputs.dtype == labels.dtype == np.int32
        assert inputs.tolist() == again["input_ids"].tolist() and labels.tolist() == row.ids.tolist()
        assert inputs[0] == vocab.bos_id and inputs[-1] == vocab.eos_id
        inner = inputs[1:-1]
        assert not vocab.special[inner[inner != vocab.mask_id]].any()  # no bos/eos/pad/sentinel inside
        # Length: token masking keeps it, deletion removes ceil(d*B), each infilled span (>= 1
        # token) becomes one mask or random id, each zero-length span adds one (their number is
        # unbounded: fairseq's Poisson draws before the budget is reached), insertion adds ceil(i*n).
        # So: without random ids, the non-mask tokens never outnumber the body left after deletion,
        # and without infilling the length is exact.
        body = len(row.ids) - 2
        after_delete = body - math.ceil(c.token_delete_ratio * body - 1e-9)
        if c.random_ratio == 0:
            assert (inner != vocab.mask_id).sum() <= after_delete
        if c.mask_ratio == 0:
            assert len(inner) == after_delete + math.ceil(c.insert_ratio * after_delete - 1e-9)


@settings(max_examples=100, deadline=None)
@given(doc=documents(), seed=st.integers(0, 2**32 - 1))
def test_no_noise_is_identity(doc, seed):
    objective = BartObjective(BartConfig(seq_len=24, **ZERO), VOCABS[3])
    for row in frozen_rows(objective, *doc):
        assert noised(objective, row, seed)["input_ids"].tolist() == row.ids.tolist()


@settings(max_examples=150, deadline=None)
@given(doc=documents(unique=True), ratio=RATIO, seed=st.integers(0, 2**32 - 1))
def test_permutation_only_reorders_whole_sentences(doc, ratio, seed):
    objective = BartObjective(BartConfig(seq_len=48, **{**ZERO, "permute_sentence_ratio": ratio}), VOCABS[3])
    for row in frozen_rows(objective, *doc):
        inputs = noised(objective, row, seed)["input_ids"]
        assert sorted(inputs.tolist()) == sorted(row.ids.tolist())
        sentence_of = np.repeat(np.arange(len(row.segment_lengths)), row.segment_lengths)
        position = {token: i for i, token in enumerate(row.ids.tolist())}
        source = np.array([position[t] for t in inputs[1:-1].tolist()])
        if source.size:  # each sentence is one contiguous, in-order block of the input
            sentences = sentence_of[source]
            block_starts = np.flatnonzero(np.diff(sentences, prepend=-1))
            assert len(set(sentences[block_starts].tolist())) == len(block_starts)
            assert np.all(np.diff(source)[np.diff(sentences) == 0] == 1)


@settings(max_examples=150, deadline=None)
@given(doc=documents(), ratio=RATIO, seed=st.integers(0, 2**32 - 1))
def test_deletion_only_keeps_a_subsequence(doc, ratio, seed):
    objective = BartObjective(BartConfig(seq_len=32, **{**ZERO, "token_delete_ratio": ratio}), VOCABS[3])
    for row in frozen_rows(objective, *doc):
        inputs = noised(objective, row, seed)["input_ids"].tolist()
        remaining = iter(row.ids.tolist())
        assert all(token in remaining for token in inputs)
        body = len(row.ids) - 2
        assert len(inputs) == len(row.ids) - math.ceil(ratio * body - 1e-9) if body else True


@settings(max_examples=150, deadline=None)
@given(doc=documents(unique=True), config=configs(), seed=st.integers(0, 2**32 - 1))
def test_without_reordering_or_random_ids_the_kept_tokens_are_a_subsequence(doc, config, seed):
    config.update(random_ratio=0.0, permute_sentence_ratio=0.0, rotate_ratio=0.0)
    objective = BartObjective(BartConfig(seq_len=32, **config), VOCABS[3])
    for row in frozen_rows(objective, *doc):
        out = noised(objective, row, seed)
        kept = out["input_ids"][out["input_ids"] != VOCABS[3].mask_id]
        assert np.all(np.diff(kept[1:-1]) > 0) and set(kept.tolist()) <= set(row.ids.tolist())
        counts = objective.measure(out)
        assert counts["removed"] == len(row.ids) - len(kept) and counts["added"] == 0


@settings(max_examples=100, deadline=None)
@given(doc=documents(unique=True), seed=st.integers(0, 2**32 - 1))
def test_rotation_only_rotates_the_body(doc, seed):
    objective = BartObjective(BartConfig(seq_len=32, **{**ZERO, "rotate_ratio": 1.0}), VOCABS[3])
    for row in frozen_rows(objective, *doc):
        inner, source = noised(objective, row, seed)["input_ids"][1:-1], row.ids[1:-1]
        assert any(np.roll(source, k).tolist() == inner.tolist() for k in range(max(1, len(source))))
        assert len(source) < 2 or inner.tolist() != source.tolist()


def test_different_seeds_differ():
    objective = BartObjective(BartConfig(seq_len=128), VOCABS[3])
    ids = np.random.default_rng(0).integers(105, 505, 120).astype(np.int32)
    row = objective.document_rows("d", ids, np.arange(12, 121, 12))[0][0]
    outputs = {tuple(noised(objective, row, seed)["input_ids"].tolist()) for seed in range(8)}
    assert len(outputs) == 8
