"""SentencePiece token starts from piece lengths (the plain-encode path) equal SentencePiece's own.

The build asks for sentence ends only for BART; on a model whose pieces spell the text (Mistral's
v1) the starts come from running sums of piece byte lengths instead of ``offset_mapping``. They must
give the same sentence ends on every text, and texts the sums cannot describe (a literal ``▁``)
must take SentencePiece's own offsets.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import sentencepiece as spm

from lmpairs.tokenizers import Tokenizer
from lmpairs.tokenizers.offsets import sentence_token_ends, utf8_offsets
from lmpairs.tokenizers.spm_offsets import plain_layout

TEXTS = [
    "Hello 😀 world. 日本語です。次の文！ Done.",
    "  leading spaces. Next one",
    " ",
    "",
    "a\n\nb  c. D",
    "rare ꙮ. 𝔘x. Ok",
    "a literal \u2581 marker. Then more.",
    "def f():\n    return 1\n\n\nclass A:\n\tpass\n",
    "é" * 10 + ". Ü. ß.",
    "ends with space. ",
]


@pytest.fixture(scope="module")
def model(llama_tokenizer):
    return llama_tokenizer._model


def test_mistral_v1_pieces_spell_the_text(llama_model_path):
    assert plain_layout(llama_model_path.read_bytes()) == (True, True)


def test_plain_starts_give_sentencepieces_sentence_ends(model):
    flat, lengths, starts, unit = model.encode_offsets(TEXTS)
    own_flat, own_lengths, own_starts, own_unit = model._encode_offsets(TEXTS)
    assert unit == "byte" and model._plain_layout()[0] is not None
    np.testing.assert_array_equal(flat, own_flat)
    np.testing.assert_array_equal(lengths, own_lengths)
    ours = sentence_token_ends(TEXTS, lengths, starts, unit=unit)
    theirs = sentence_token_ends(TEXTS, own_lengths, own_starts, unit=own_unit)
    np.testing.assert_array_equal(ours.offsets, theirs.offsets)
    np.testing.assert_array_equal(ours.values, theirs.values)
    assert ours.values.size > len(TEXTS)  # several sentences per text, not one each


def test_a_literal_word_start_marker_takes_sentencepieces_own_offsets(model):
    text = TEXTS[6]
    _, lengths, starts, _ = model.encode_offsets([text])
    _, _, own, own_unit = model._encode_offsets([text])
    expected = utf8_offsets(text)[own] if own_unit == "char" else own
    np.testing.assert_array_equal(starts, expected)


def test_utf8_offsets_match_encoding_each_prefix():
    text = "aé😀日\u2581b"
    assert utf8_offsets(text).tolist() == [len(text[:i].encode("utf-8")) for i in range(len(text) + 1)]


def test_a_normalizing_model_keeps_sentencepieces_offsets(trained_tokenizer):
    """lmpairs' trained unigram uses NFKC (its pieces need not spell the text): no plain path."""
    assert not plain_layout(trained_tokenizer._proto)[0]
    assert trained_tokenizer._model._plain_layout()[0] is None
    assert plain_layout(b"\xff\xff") == (False, False)


def test_an_identity_model_without_byte_fallback_takes_own_offsets_for_unknown_pieces(english_corpus):
    """No byte fallback: a character outside the vocabulary becomes the unknown piece, whose length
    the ids do not tell; those texts take SentencePiece's offsets, the others the running sums."""
    lines = [line for line in english_corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:3000]
    writer = io.BytesIO()
    spm.set_random_generator_seed(0)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=writer, vocab_size=400, num_threads=1,
                                   minloglevel=2, normalization_rule_name="identity", remove_extra_whitespaces=False,
                                   model_type="bpe", character_coverage=1.0)
    model = Tokenizer.from_bytes(writer.getvalue())._model
    assert model._plain_layout()[0] is not None
    texts = [*TEXTS, "Unknown ☃ snowman. Then Ω omega!  Done", "plain words. More words"]
    flat, lengths, starts, unit = model.encode_offsets(texts)
    _, own_lengths, own_starts, own_unit = model._encode_offsets(texts)
    ours = sentence_token_ends(texts, lengths, starts, unit=unit)
    theirs = sentence_token_ends(texts, own_lengths, own_starts, unit=own_unit)
    assert (flat == model.unk_id).any()
    np.testing.assert_array_equal(ours.offsets, theirs.offsets)
    np.testing.assert_array_equal(ours.values, theirs.values)
