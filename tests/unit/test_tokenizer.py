"""lmpairs.tokenizer: loading, the effective vocabulary, batched encoding, decoding and training."""
from __future__ import annotations

import hashlib
import io
import pickle
import re

import numpy as np
import pytest
import sentencepiece as spm

from lmpairs.reading import InputError
from lmpairs.sentences import normalize_text, split_sentences
from lmpairs.tokenizers import Tokenizer, TokenizerError, train_tokenizer

MODELS = {  # file: (pieces n, sha256 from shared/data/SOURCES.md)
    "llama2.model": (32000, "9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347"),
    "spm_test_unigram_1k.model": (1000, "4884d27bf50494e080aa99dbb868f27b68b6a3b6bd128da37ad6057c5e3cf5a2"),
    "spm_test_ja_8k.model": (8000, "e39551e7ab937745b25edf55a7399d3c78948fda1dabca6b1781df2fcec67f65"),
}


def raw_spm_model(corpus, **options) -> bytes:
    """A small model trained straight through SentencePiece (no lmpairs defaults) on ``corpus``."""
    lines = corpus.read_text(encoding="utf-8-sig").splitlines()
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines[:3000]), model_writer=writer,
                                   vocab_size=400, num_threads=1, minloglevel=2, **options)
    return writer.getvalue()


def english_documents(corpus, count: int) -> list[str]:
    text = corpus.read_text(encoding="utf-8")
    return [d for d in text.split("\n\n") if d.strip()][:count]


# Loading pretrained models: T5 layout past the model's vocabulary ---------------------------------

@pytest.mark.parametrize("name", sorted(MODELS))
def test_pretrained_model_gets_specials_appended_in_t5_layout(shared_data, name):
    n, sha = MODELS[name]
    tok = Tokenizer.load(shared_data / "tokenizers" / name)
    vocab = tok.vocab
    assert (tok.model_vocab_size, vocab.size, tok.sha256) == (n, n + 102, sha)
    assert vocab.sentinel_ids == tuple(range(n + 99, n - 1, -1))
    assert (vocab.sentinel(0), vocab.sentinel(99), vocab.mask_id, vocab.pad_id) == (n + 99, n, n + 100, n + 101)
    assert (vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2)
    assert [tok.id_to_piece(i) for i in (n, n + 99, n + 100, n + 101)] == [
        "<extra_id_99>", "<extra_id_0>", "<mask>", "<pad>"]
    assert tok.id_to_piece(n + 96) == "<extra_id_3>"
    assert vocab.special[n:].all() and not vocab.word_start[n:].any()
    assert vocab.ordinary_ids.max() < n
    assert len(tok.appended) == 102


def test_llama_describe_is_the_manifest_entry(llama_tokenizer, llama_model_path):
    assert llama_tokenizer.describe() == {
        "file": llama_model_path.name, "kind": "sentencepiece",
        "sha256": hashlib.sha256(llama_model_path.read_bytes()).hexdigest(),
        "vocab_size": 32102, "model_vocab_size": 32000,
        "special_ids": {"pad": 32101, "bos": 1, "eos": 2, "unk": 0, "mask": 32100,
                        "extra_id_0": 32099, "num_sentinels": 100},
        "appended": 102,
    }


def test_sha256_is_the_hash_of_the_file_bytes(spm_test_model_path, spm_test_tokenizer):
    data = spm_test_model_path.read_bytes()
    assert spm_test_tokenizer.sha256 == hashlib.sha256(data).hexdigest()


def test_a_missing_piece_is_not_mistaken_for_unk_id_0(llama_tokenizer):
    # piece_to_id("<mask>") answers 0 (unk) in LLaMA's model; that must not become the mask id.
    assert spm.SentencePieceProcessor(model_proto=llama_tokenizer._proto).piece_to_id("<mask>") == 0
    assert llama_tokenizer.vocab.mask_id == 32100
    assert llama_tokenizer.piece_to_id("<mask>") == 32100
    assert llama_tokenizer.piece_to_id("<extra_id_7>") == 32092
    assert llama_tokenizer.piece_to_id("<no such piece>") is None
    assert llama_tokenizer.piece_to_id("<unk>") == 0
    assert llama_tokenizer.piece_to_id("▁the") == spm.SentencePieceProcessor(
        model_proto=llama_tokenizer._proto).piece_to_id("▁the") > 258


def test_special_and_word_start_flags_of_llama(llama_tokenizer):
    vocab = llama_tokenizer.vocab
    assert vocab.special[:3].all()  # unk, bos, eos
    assert not vocab.special[3:259].any()  # byte-fallback pieces <0x00>..<0xFF> are ordinary
    assert llama_tokenizer.id_to_piece(3) == "<0x00>" and llama_tokenizer.id_to_piece(258) == "<0xFF>"
    assert int(vocab.special.sum()) == 3 + 102
    assert vocab.word_start[llama_tokenizer.piece_to_id("▁the")] and not vocab.word_start[3]
    pieces = [llama_tokenizer.id_to_piece(i) for i in range(32000)]
    assert int(vocab.word_start.sum()) == sum(p.startswith("\u2581") for p in pieces)


def test_model_with_its_own_pad_and_mask_appends_only_sentinels(bom_crlf_corpus):
    data = raw_spm_model(bom_crlf_corpus, pad_id=3, user_defined_symbols=["[MASK]"])
    tok = Tokenizer.from_bytes(data, name="tiny.model")
    n = tok.model_vocab_size
    assert tok.vocab.pad_id == 3 and tok.vocab.mask_id == tok.piece_to_id("[MASK]") < n
    assert tok.vocab.sentinel_ids == tuple(range(n + 99, n - 1, -1))
    assert tok.vocab.size == n + 100 and len(tok.appended) == 100
    assert tok.vocab.special[tok.vocab.mask_id]


def test_model_with_only_some_sentinels_is_refused(bom_crlf_corpus):
    data = raw_spm_model(bom_crlf_corpus, control_symbols=["<extra_id_0>", "<extra_id_1>"])
    with pytest.raises(TokenizerError, match=r"tiny\.model: .*lacks 98 \(first: <extra_id_2>\)"):
        Tokenizer.from_bytes(data, name="tiny.model")


# Bad files ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (None, "no such tokenizer file"),
    (b"", "empty"),
    (b"<unk>\t0\n<s>\t0\n</s>\t0\n\xe2\x96\x81the\t-3.1\n", "not a SentencePiece model"),
    (np.random.default_rng(0).bytes(4096), "not a SentencePiece model"),
])
def test_bad_tokenizer_files_raise_tokenizer_error_naming_the_path(tmp_path, content, message):
    path = tmp_path / "broken.model"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TokenizerError, match=re.escape(str(path)) + ".*" + message) as info:
        Tokenizer.load(path)
    assert isinstance(info.value, ValueError)
    assert "lmpairs train-tokenizer" in str(info.value) or ".model file" in str(info.value)


def test_a_directory_without_a_tokenizer_file_names_what_it_looked_for(tmp_path):
    with pytest.raises(TokenizerError, match=re.escape(str(tmp_path)) + ": a directory without tokenizer.json"):
        Tokenizer.load(tmp_path)


# Encoding -----------------------------------------------------------------------------------------

def test_encode_batch_matches_sentencepiece_and_is_int32(llama_model_path, llama_tokenizer):
    texts = ["Hello world.", "", "Zwei Wörter\nand a newline", "吾輩は猫である。"]
    reference = spm.SentencePieceProcessor(model_file=str(llama_model_path))
    encoded = llama_tokenizer.encode_batch(texts)
    assert [e.dtype for e in encoded] == [np.int32] * 4
    assert [e.tolist() for e in encoded] == reference.encode(texts)
    assert llama_tokenizer.encode_batch([]) == []


@pytest.mark.parametrize("fixture", ["trained_tokenizer", "llama_tokenizer"])
def test_encode_documents_is_sentencepieces_own_encoding_of_the_whole_text(request, english_corpus, fixture):
    tok = request.getfixturevalue(fixture)
    documents = english_documents(english_corpus, 300) + ["", " \n\n "]
    encoded = tok.encode_documents(documents)
    assert len(encoded) == len(documents)
    for text, (ids, ends) in zip(documents, encoded):
        assert ids.dtype == np.int32 and ends.dtype == np.int32
        assert ids.tolist() == tok._model.processor.encode(text)
        if ids.size:
            assert ends[-1] == ids.size and np.all(np.diff(ends) > 0)
            assert len(ends) <= max(1, len(split_sentences(text)))
    assert (encoded[-2][0].size, encoded[-2][1].size) == (0, 0)


def test_encode_documents_records_each_sentence_end(trained_tokenizer):
    text = "It is a truth universally acknowledged. Is it?\n\nIt is!"
    [(ids, ends)] = trained_tokenizer.encode_documents([text])
    sentences = [trained_tokenizer.decode(part) for part in np.split(ids, ends[:-1])]
    assert [s.lower() for s in sentences] == [
        "it is a truth universally acknowledged.", "is it?", "it is!"]


def test_encode_documents_ignores_bom_and_crlf(bom_crlf_corpus, llama_tokenizer):
    raw = bom_crlf_corpus.read_bytes().decode("utf-8")[:20_000]
    assert raw.startswith("\ufeff") and "\r\n" in raw
    [(ids, ends)] = llama_tokenizer.encode_documents([raw])
    [(clean_ids, clean_ends)] = llama_tokenizer.encode_documents([normalize_text(raw)])
    assert np.array_equal(ids, clean_ids) and np.array_equal(ends, clean_ends)
    cr, bom_bytes = llama_tokenizer.piece_to_id("<0x0D>"), llama_tokenizer.piece_to_id("<0xEF>")
    assert cr not in ids and bom_bytes not in ids
    assert ends.size == len(split_sentences(normalize_text(raw)))


def test_encode_documents_on_japanese_sentences(shared_data):
    tok = Tokenizer.load(shared_data / "tokenizers" / "spm_test_ja_8k.model")
    lines = (shared_data / "corpora" / "wagahaiwa_nekodearu_ja.txt").read_text(encoding="utf-8").splitlines()
    [(ids, ends)] = tok.encode_documents(["\n".join(lines[18:20])])
    assert ends.size == 15 + 5  # sentences of those two lines (see test_sentences.py)
    last = "それまでは記憶しているがあとは何の事やらいくら考え出そうとしても分らない。"
    assert tok.decode(ids[ends[-2]:ends[-1]]) == last


def test_encode_documents_on_generated_japanese_sentences(japanese_tokenizer, japanese_corpus):
    lines = japanese_corpus.read_text(encoding="utf-8").splitlines()[:2]
    sentences = split_sentences("\n".join(lines))
    [(ids, ends)] = japanese_tokenizer.encode_documents(["\n".join(lines)])
    assert ends.size == len(sentences) > 2 and ends[-1] == ids.size
    assert japanese_tokenizer.decode(ids[ends[-2]:ends[-1]]) == sentences[-1]


# Decoding and pickling ----------------------------------------------------------------------------

def test_decode_shows_masks_and_sentinels(llama_tokenizer, trained_tokenizer):
    for tok in (llama_tokenizer, trained_tokenizer):
        vocab = tok.vocab
        head, middle, tail = tok.encode_batch(["the cat", "on the", "mat"])
        noisy = np.concatenate([head, [vocab.sentinel(0)], middle, [vocab.mask_id], tail])
        assert tok.decode(tok.encode_batch(["the cat sat on the mat"])[0]) == "the cat sat on the mat"
        assert tok.decode(noisy) == "the cat<extra_id_0> on the<mask> mat"
        assert tok.decode([vocab.pad_id, vocab.eos_id]) == ""


def test_out_of_range_ids_raise_tokenizer_error(llama_tokenizer):
    with pytest.raises(TokenizerError, match=r"id 32102 is outside the effective vocabulary \[0, 32102\)"):
        llama_tokenizer.id_to_piece(32102)
    with pytest.raises(TokenizerError, match="id -100"):
        llama_tokenizer.decode([5, -100])


def test_tokenizer_pickles_with_its_model_bytes(spm_test_tokenizer):
    copy = pickle.loads(pickle.dumps(spm_test_tokenizer))
    assert copy.sha256 == spm_test_tokenizer.sha256 and copy.describe() == spm_test_tokenizer.describe()
    text = ["I saw a girl."]
    assert copy.encode_batch(text)[0].tolist() == spm_test_tokenizer.encode_batch(text)[0].tolist()


# Training -----------------------------------------------------------------------------------------

def test_trained_tokenizer_holds_every_special_piece(trained_tokenizer):
    vocab = trained_tokenizer.vocab
    assert (vocab.size, trained_tokenizer.model_vocab_size, trained_tokenizer.appended) == (2000, 2000, {})
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id, vocab.mask_id) == (0, 1, 2, 3, 4)
    assert vocab.sentinel_ids == tuple(range(104, 4, -1))
    assert [trained_tokenizer.id_to_piece(i) for i in (0, 1, 2, 3, 4, 5, 104)] == [
        "<pad>", "<unk>", "<s>", "</s>", "<mask>", "<extra_id_99>", "<extra_id_0>"]
    assert vocab.special[:105].all() and not vocab.special[105:].any()
    assert trained_tokenizer.describe()["appended"] == 0


def test_literal_special_text_is_not_encoded_as_a_special_id(trained_tokenizer):
    [ids] = trained_tokenizer.encode_batch(["a <mask> and <extra_id_0> in text"])
    assert not trained_tokenizer.vocab.special[ids[ids != trained_tokenizer.vocab.unk_id]].any()


def test_training_is_deterministic_and_silent(bom_crlf_corpus, tmp_path, capfd):
    corpus = bom_crlf_corpus
    first = train_tokenizer([corpus], tmp_path / "a.model", 600)
    second = train_tokenizer([str(corpus)], tmp_path / "nested" / "b.model", 600)
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "nested" / "b.model").read_bytes()
    assert first.sha256 == second.sha256 and first.vocab.size == 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.model", "nested"]  # no temp files left
    assert capfd.readouterr() == ("", "")  # progress goes through logging only


def test_training_accepts_globs_and_names_one_that_matches_nothing(tmp_path):
    pattern = str(tmp_path / "*.nothing")
    with pytest.raises(InputError, match=re.escape(pattern)):
        train_tokenizer([pattern], tmp_path / "x.model", 500)
    assert not (tmp_path / "x.model").exists()


def test_training_errors_say_how_to_fix_them(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("Tiny corpus. Only a few words.\r\nNot enough for a big vocabulary.\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match="lower --vocab-size"):
        train_tokenizer([small], tmp_path / "big.model", 5000)
    with pytest.raises(TokenizerError, match=r"vocab_size=100: must be an integer > 105"):
        train_tokenizer([small], tmp_path / "x.model", 100)
    with pytest.raises(TokenizerError, match=r"x\.vocab: a unigram tokenizer is written to a \.model path"):
        train_tokenizer([small], tmp_path / "x.vocab", 500)
    with pytest.raises(TokenizerError, match=r"model_type='bogus': expected one of unigram, bpe"):
        train_tokenizer([small], tmp_path / "x.model", 500, model_type="bogus")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match="hold no text"):
        train_tokenizer([empty], tmp_path / "x.model", 500)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\u00e9.\n".encode("latin-1"))
    with pytest.raises(InputError, match=re.escape(str(latin1)) + ".*not UTF-8"):
        train_tokenizer([latin1], tmp_path / "x.model", 500)


def test_piece_text_shows_spaces_bytes_and_special_pieces(llama_tokenizer):
    """What ``inspect`` shows per token: ``▁`` as a space, a printable ASCII byte piece as its
    character (other bytes stay ``<0xNN>``), special and appended pieces as themselves."""
    tok, vocab = llama_tokenizer, llama_tokenizer.vocab

    def expected(i: int) -> str:
        piece = tok.id_to_piece(i)
        byte = re.fullmatch(r"<0x([0-9A-F]{2})>", piece)
        if byte:
            value = int(byte.group(1), 16)
            return chr(value) if 0x20 <= value < 0x7F else piece
        return piece if vocab.special[i] else piece.replace("\u2581", " ")

    assert [tok.piece_text(i) for i in range(vocab.size)] == [expected(i) for i in range(vocab.size)]
    [ids] = tok.encode_batch(["吾輩は猫"])
    assert "".join(tok.piece_texts(ids)).strip() == "吾輩は猫"
