"""MLM rates on real text: 15% of maskable tokens selected, then 80/10/10, for real SentencePiece vocabularies.

Rows are paragraphs of the hermetic English corpus (pydoc text and generated prose) packed into 512-token
rows exactly as the pipeline does (one packer, documents in order), corrupted as one batch.
At 500 rows the selection rate's standard deviation over seeds is about 0.0006 (0.001 with whole
words), so the 0.005 tolerance is over five deviations wide: a new seed won't flake.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmpairs.config import MlmConfig
from lmpairs.objectives import IGNORE_INDEX, make_objective
from lmpairs.transforms.batch import take_rows
from lmpairs.transforms.mlm import exact_budgets
from lmpairs.transforms.testing import rows_in_memory

SEQ_LEN = 512
NUM_ROWS = 500
TOKENIZERS = ("trained_tokenizer", "llama_tokenizer")
SELECTIONS = [("exact", False), ("exact", True), ("bernoulli", False), ("bernoulli", True)]


def _rows(tokenizer, corpus: Path):
    """The first ``NUM_ROWS`` full-length MLM rows of ``corpus``."""
    lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    mlm = make_objective("mlm", MlmConfig(seq_len=SEQ_LEN), tokenizer.vocab)
    encoded = tokenizer.encode_documents(lines)
    rows = rows_in_memory(mlm, [(f"english.txt:{i:06d}", ids, ends) for i, (ids, ends) in enumerate(encoded)])
    full = np.flatnonzero(rows.ids.lengths == SEQ_LEN)
    assert full.shape[0] >= NUM_ROWS, f"{corpus} gave only {full.shape[0]} full rows with {tokenizer!r}"
    return take_rows(rows, full[:NUM_ROWS])


@pytest.fixture(scope="module", params=TOKENIZERS)
def corpus(request):
    tokenizer = request.getfixturevalue(request.param)
    return tokenizer, _rows(tokenizer, request.getfixturevalue("english_corpus"))


def _examples(tokenizer, rows, **config):
    mlm = make_objective("mlm", MlmConfig(seq_len=SEQ_LEN, **config), tokenizer.vocab)
    ex = mlm.corrupt(rows, seed=1234)
    return mlm, ex, mlm.measure(ex)


def test_rows_are_bos_framed_with_eos_between_documents(corpus):
    tokenizer, rows = corpus
    vocab = tokenizer.vocab
    ids = rows.ids.values.reshape(NUM_ROWS, SEQ_LEN)
    assert (ids[:, 0] == vocab.bos_id).all() and ids.dtype == np.int32
    assert (ids[:, 1:] == vocab.bos_id).sum() == 0  # bos only leads a row; eos alone separates documents
    assert (ids[:, :-1] == vocab.eos_id).any(axis=1).sum() > NUM_ROWS // 10  # packed rows hold several paragraphs


@pytest.mark.parametrize("selection, whole_word", SELECTIONS)
def test_selection_and_replacement_rates(corpus, selection, whole_word):
    tokenizer, rows = corpus
    _, _, n = _examples(tokenizer, rows, selection=selection, whole_word=whole_word)
    assert n["tokens"] == NUM_ROWS * SEQ_LEN
    assert n["masked"] + n["random"] + n["kept"] == n["selected"]
    assert n["selected"] / n["maskable"] == pytest.approx(0.15, abs=0.005)
    assert n["masked"] / n["selected"] == pytest.approx(0.8, abs=0.02)
    assert n["random"] / n["selected"] == pytest.approx(0.1, abs=0.02)
    assert n["kept"] / n["selected"] == pytest.approx(0.1, abs=0.02)


def test_exact_selects_berts_count_in_every_row(corpus):
    tokenizer, rows = corpus
    mlm, ex, _ = _examples(tokenizer, rows, selection="exact")
    ids = rows.ids.values.reshape(NUM_ROWS, SEQ_LEN)
    maskable = (~tokenizer.vocab.special[ids]).sum(axis=1)
    selected = (ex.columns["labels"].values.reshape(NUM_ROWS, SEQ_LEN) != IGNORE_INDEX).sum(axis=1)
    assert selected.tolist() == exact_budgets(maskable, 0.15).tolist()
    assert np.array_equal(mlm.clean(ex).ids.values, rows.ids.values)


@pytest.mark.parametrize("selection", ["exact", "bernoulli"])
def test_whole_word_masks_every_piece_of_a_word(corpus, selection):
    tokenizer, rows = corpus
    vocab = tokenizer.vocab
    _, ex, _ = _examples(tokenizer, rows, selection=selection, whole_word=True)
    ids = rows.ids.values.reshape(NUM_ROWS, SEQ_LEN)
    selected = ex.columns["labels"].values.reshape(NUM_ROWS, SEQ_LEN) != IGNORE_INDEX
    maskable = ~vocab.special[ids]
    # A maskable piece without "▁" after a maskable piece continues that word: same fate.
    cont = maskable[:, 1:] & maskable[:, :-1] & ~vocab.word_start[ids[:, 1:]]
    assert (selected[:, 1:][cont] == selected[:, :-1][cont]).all()
    assert (selected[:, 1:] & cont).sum() > 0  # multi-piece words were actually selected


def test_mask_and_random_ids_come_from_the_effective_vocabulary(corpus):
    tokenizer, rows = corpus
    vocab = tokenizer.vocab
    _, ex, _ = _examples(tokenizer, rows)
    inputs, labels = ex.columns["input_ids"].values, ex.columns["labels"].values
    replaced = inputs[(labels != IGNORE_INDEX) & (inputs != labels) & (inputs != vocab.mask_id)]
    assert replaced.size > 0 and not vocab.special[replaced].any()
    assert replaced.max() < tokenizer.model_vocab_size  # never an appended sentinel, mask or pad
    assert tokenizer.id_to_piece(vocab.mask_id) in ("<mask>", "[MASK]")
    assert inputs.max() < vocab.size


def test_llama_mask_is_appended_past_the_model(llama_tokenizer):
    vocab = llama_tokenizer.vocab
    assert llama_tokenizer.model_vocab_size == 32000
    assert vocab.mask_id >= 32000 and vocab.special[vocab.mask_id]
    assert all(s >= 32000 for s in vocab.sentinel_ids)
