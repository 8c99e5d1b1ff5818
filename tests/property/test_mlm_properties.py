"""Hypothesis invariants of MLM masking and row building over random rows (specials included)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.config import MlmConfig
from lmpairs.transforms.mlm import IGNORE_INDEX, MlmObjective, exact_budget, mask_tokens, word_index
from lmpairs.vocab import toy_vocab

VOCABS = {every: toy_vocab(num_ordinary=300, word_start_every=every) for every in (1, 2, 3, 5)}
SPECIALS = (0, 1, 2, 3, 4, 5, 50, 104)  # pad, unk, bos, eos, mask, sentinels
ORDINARY = st.integers(105, 404)
TOKEN = st.one_of(ORDINARY, ORDINARY, ORDINARY, ORDINARY, st.sampled_from(SPECIALS))
ROWS = st.lists(TOKEN, max_size=300).map(lambda ids: np.array(ids, dtype=np.int32))


@st.composite
def configs(draw) -> dict:
    mask_fraction = draw(st.floats(0.0, 1.0))
    return dict(
        mask_prob=draw(st.floats(0.01, 1.0)),
        selection=draw(st.sampled_from(["exact", "bernoulli"])),
        mask_fraction=mask_fraction,
        random_fraction=draw(st.floats(0.0, 1.0 - mask_fraction)),
        whole_word=draw(st.booleans()),
    )


def _reference_words(ids, whole_word, vocab) -> np.ndarray:
    """Word number per position (-1 for specials), by a plain loop: the oracle for word_index."""
    words, current, previous_maskable = [], -1, False
    for token in ids.tolist():
        maskable = not vocab.special[token]
        if maskable and (not whole_word or not previous_maskable or vocab.word_start[token]):
            current += 1
        words.append(current if maskable else -1)
        previous_maskable = maskable
    return np.array(words, dtype=np.int64)


def _run(ids, config, vocab, seed):
    return mask_tokens(ids, **config, vocab=vocab, rng=np.random.default_rng(seed))


@settings(max_examples=300, deadline=None)
@given(ids=ROWS, config=configs(), every=st.sampled_from(sorted(VOCABS)), seed=st.integers(0, 2**32))
def test_masking_invariants(ids, config, every, seed):
    vocab = VOCABS[every]
    original = ids.copy()
    ids.setflags(write=False)
    input_ids, labels = _run(ids, config, vocab, seed)
    again = _run(ids, config, vocab, seed)

    np.testing.assert_array_equal(ids, original)
    np.testing.assert_array_equal(input_ids, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert input_ids.dtype == np.int32 and labels.dtype == np.int32
    assert input_ids.shape == ids.shape == labels.shape

    selected = labels != IGNORE_INDEX
    np.testing.assert_array_equal(labels[selected], ids[selected])
    assert not vocab.special[ids[selected]].any(), "a special id was selected"
    np.testing.assert_array_equal(input_ids[~selected], ids[~selected])
    replaced = input_ids[selected]
    assert (~vocab.special[replaced] | (replaced == vocab.mask_id)).all(), "random draw gave a special id"
    if config["mask_fraction"] == 1.0:
        assert (replaced == vocab.mask_id).all()
    if config["mask_fraction"] + config["random_fraction"] == 0.0:
        np.testing.assert_array_equal(replaced, ids[selected])

    words, num_words = word_index(ids, whole_word=config["whole_word"], vocab=vocab)
    np.testing.assert_array_equal(words, _reference_words(ids, config["whole_word"], vocab))
    sizes = np.bincount(words[words >= 0], minlength=num_words)
    chosen = np.bincount(words[selected], minlength=num_words)
    assert ((chosen == 0) | (chosen == sizes)).all(), "selection splits a word"
    if config["selection"] == "exact":
        budget = exact_budget(int((~vocab.special[ids]).sum()), config["mask_prob"])
        assert selected.sum() <= budget
        # BERT's greedy tries every word: each one left out would overflow what is left of the budget.
        assert (sizes[chosen == 0] > budget - selected.sum()).all()
        if not config["whole_word"]:
            assert selected.sum() == budget


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(TOKEN, min_size=180, max_size=400).map(lambda ids: np.array(ids, dtype=np.int32)),
       selection=st.sampled_from(["exact", "bernoulli"]), whole_word=st.booleans(),
       seeds=st.lists(st.integers(0, 2**32), min_size=2, max_size=2, unique=True))
def test_different_seeds_give_different_examples(ids, selection, whole_word, seeds):
    vocab = VOCABS[3]
    config = dict(mask_prob=0.15, selection=selection, mask_fraction=0.8, random_fraction=0.1, whole_word=whole_word)
    a, b = (_run(ids, config, vocab, seed) for seed in seeds)
    assert not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))


DOCS = st.lists(st.lists(ORDINARY, min_size=1, max_size=60).map(lambda d: np.array(d, dtype=np.int32)),
                min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(docs=DOCS, seq_len=st.integers(4, 40), final_row=st.sampled_from(["pad", "drop"]))
def test_rows_are_bos_framed_full_sentences(docs, seq_len, final_row):
    vocab = VOCABS[3]
    mlm = MlmObjective(MlmConfig(seq_len=seq_len, final_row=final_row), vocab)
    leftovers, full_rows = [], []
    for i, doc in enumerate(docs):
        rows, remainder = mlm.document_rows(f"doc-{i}", doc, np.array([doc.size], dtype=np.int32))
        full_rows += rows
        leftovers.append(remainder)
        # Whole rows of one document, then its remainder, rebuild the document followed by eos.
        rebuilt = np.concatenate([r.ids[1:] for r in rows] + [remainder])
        np.testing.assert_array_equal(rebuilt, np.append(doc, vocab.eos_id))
    packed, dropped = mlm.pack_leftovers("bucket", leftovers)
    stream = np.concatenate(leftovers)
    body = np.concatenate([r.ids[1:] for r in packed] + [np.zeros(0, np.int32)])
    np.testing.assert_array_equal(body, stream[: body.size])
    assert dropped == stream.size - body.size
    for row in full_rows + packed:
        assert row.ids[0] == vocab.bos_id and row.ids.dtype == np.int32
        assert int(row.segment_lengths.sum()) == row.ids.size
    assert all(r.ids.size == seq_len for r in full_rows + packed[:-1])
    if packed:
        last = packed[-1].ids.size
        assert last == seq_len or (final_row == "pad" and 2 < last < seq_len)
    # Exactly one eos per document, all of them at document ends (checked by the rebuild above).
    num_eos = sum(int((r.ids[1:] == vocab.eos_id).sum()) for r in full_rows) + int((stream == vocab.eos_id).sum())
    assert num_eos == len(docs)
