"""lmpairs.tokenizer with Hugging Face tokenizer.json files: detection, vocabulary, word starts, encoding, decoding.

The two fixtures are trained here with ``tokenizers`` (about 2 s, once per session; no downloads):
a GPT-2-style byte-level BPE and a T5-style Metaspace Unigram (see ``tests/hf_tokenizers.py``).
"""
from __future__ import annotations

import hashlib
import json
import pickle
import sys

import numpy as np
import pytest
from hf_tokenizers import japanese_documents, write_gpt2_style, write_llama_style, write_t5_style

from lmpairs.errors import UserError
from lmpairs.sentences import split_sentences
from lmpairs.tokenizers import Tokenizer, TokenizerError, train_tokenizer
from lmpairs.tokenizers.hf import bytes_to_unicode
from lmpairs.tokenizers.threads import configure_threads, encode_threads

tokenizers = pytest.importorskip("tokenizers")

ENGLISH = ("The assert statement is a convenient way to insert debugging assertions into a program.  "
           "Assignment statements are used to (re)bind names to values!\nThey modify attributes? Yes.")


@pytest.fixture(scope="session")
def hf_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hf_tokenizers")


@pytest.fixture(scope="session")
def gpt2_path(hf_dir):
    return write_gpt2_style(hf_dir)


@pytest.fixture(scope="session")
def t5_path(hf_dir):
    return write_t5_style(hf_dir)


@pytest.fixture(scope="session")
def gpt2(gpt2_path):
    return Tokenizer.load(gpt2_path)


@pytest.fixture(scope="session")
def t5(t5_path):
    return Tokenizer.load(t5_path)


@pytest.fixture(params=["gpt2", "t5"])
def hf(request):
    return request.getfixturevalue(request.param)


# Detection ----------------------------------------------------------------------------------------

def test_tokenizer_json_is_detected_by_content_not_name(gpt2_path, tmp_path):
    renamed = tmp_path / "vocab.model"
    renamed.write_bytes(gpt2_path.read_bytes())
    tok = Tokenizer.load(renamed)
    assert tok.kind == "tokenizer.json" and tok.model_vocab_size == 2000
    assert Tokenizer.from_bytes(gpt2_path.read_bytes(), name="remote").sha256 == tok.sha256


def test_sentencepiece_stays_the_default_kind(trained_tokenizer):
    assert trained_tokenizer.kind == "sentencepiece"
    assert trained_tokenizer.describe()["kind"] == "sentencepiece"


@pytest.mark.parametrize("content, message", [
    (b'{"model": ', "starts like JSON but does not parse"),
    (b'{"bos_token": "<s>", "eos_token": "</s>"}', "not tokenizer_config.json"),
    (b'  [1, 2]', "without the \"model\"/\"added_tokens\" fields"),
])
def test_json_that_is_no_tokenizer_json_is_refused(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(TokenizerError, match=message) as info:
        Tokenizer.load(path)
    assert isinstance(info.value, UserError) and str(path) in str(info.value)


def test_a_json_model_the_library_rejects_names_the_file(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "NoSuchModel"}, "added_tokens": []}))
    with pytest.raises(TokenizerError, match=f"{path}: the tokenizers library cannot read"):
        Tokenizer.load(path)


def test_missing_tokenizers_package_names_the_extra(gpt2_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers -> ImportError
    with pytest.raises(TokenizerError, match=r"needs the optional `tokenizers` package.*pip install 'lmpairs\[hf\]'"):
        Tokenizer.load(gpt2_path)


def test_a_directory_hint_names_its_tokenizer_json(tmp_path):
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        Tokenizer.load(tmp_path)


# Vocabulary: special ids and appended ids ---------------------------------------------------------

def test_gpt2_style_gets_sentinels_mask_and_pad_appended(gpt2, gpt2_path):
    n, vocab = gpt2.model_vocab_size, gpt2.vocab
    assert (vocab.eos_id, vocab.bos_id, vocab.unk_id) == (0, None, None)  # <|endoftext|>; byte-level has no unk
    assert vocab.sentinel_ids == tuple(range(n + 99, n - 1, -1))
    assert (vocab.mask_id, vocab.pad_id, vocab.size) == (n + 100, n + 101, n + 102)
    assert [gpt2.id_to_piece(i) for i in (n, n + 99, n + 100, n + 101)] == [
        "<extra_id_99>", "<extra_id_0>", "<mask>", "<pad>"]
    assert gpt2.piece_to_id("<extra_id_3>") == n + 96 and gpt2.piece_to_id("<no such piece>") is None
    assert gpt2.describe() == {
        "file": "tokenizer.json", "kind": "tokenizer.json",
        "sha256": hashlib.sha256(gpt2_path.read_bytes()).hexdigest(), "vocab_size": n + 102, "model_vocab_size": n,
        "special_ids": {"pad": n + 101, "bos": None, "eos": 0, "unk": None, "mask": n + 100, "extra_id_0": n + 99,
                        "num_sentinels": 100},
        "appended": 102,
    }


def test_t5_style_takes_pad_unk_and_the_template_eos_from_the_file(t5):
    n, vocab = t5.model_vocab_size, t5.vocab
    assert (vocab.pad_id, vocab.eos_id, vocab.unk_id, vocab.bos_id) == (0, 1, 2, None)
    assert vocab.sentinel_ids == tuple(range(n + 99, n - 1, -1)) and vocab.mask_id == n + 100
    assert vocab.size == n + 101 and len(t5.appended) == 101


def test_the_post_processor_template_wins_over_token_names(gpt2_path, tmp_path):
    tok = tokenizers.Tokenizer.from_file(str(gpt2_path))
    tok.add_special_tokens(["<s>", "</s>", "[CLS]", "[SEP]", "[PAD]"])
    cls, sep, pad = (tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.enable_padding(pad_id=pad, pad_token="[PAD]")
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    vocab = Tokenizer.load(path).vocab
    assert (vocab.bos_id, vocab.eos_id, vocab.pad_id) == (cls, sep, pad)  # not <s>, </s> or <|endoftext|>


def test_a_trained_in_vocabulary_mask_and_sentinels_are_used(tmp_path, gpt2):
    # lmpairs' own layout through train-tokenizer: nothing appended.
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(ENGLISH * 50 + "\n" + "\n".join(japanese_documents(50)), encoding="utf-8")
    tok = train_tokenizer([corpus], tmp_path / "tokenizer.json", 600, model_type="bpe-bytelevel")
    vocab = tok.vocab
    assert tok.kind == "tokenizer.json" and tok.appended == {} and vocab.size == 600
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id, vocab.mask_id) == (0, 1, 2, 3, 4)
    assert vocab.sentinel_ids == tuple(range(104, 4, -1))
    assert vocab.special[:105].all() and not vocab.special[105:].any()
    [ids] = tok.encode_batch(["a <mask> and <extra_id_0> in text"])
    assert not vocab.special[ids].any()  # literal special text is not a special id


def test_byte_level_training_is_reproducible(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(ENGLISH * 20 + "\n" + "\n".join(japanese_documents(30)), encoding="utf-8")
    first = train_tokenizer([corpus], tmp_path / "a" / "tokenizer.json", 400, model_type="bpe-bytelevel")
    second = train_tokenizer([corpus], tmp_path / "b" / "tokenizer.json", 400, model_type="bpe-bytelevel")
    assert first.sha256 == second.sha256


def test_hf_kinds_write_json_paths(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(ENGLISH, encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"written to a \.json path, e\.g\. .*tok\.json"):
        train_tokenizer([corpus], tmp_path / "tok.model", 600, model_type="bpe-bytelevel")


# Word starts and ordinary ids ---------------------------------------------------------------------

def test_byte_level_word_starts_are_g_pieces_and_whitespace(gpt2):
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    pieces = [gpt2.id_to_piece(i) for i in range(gpt2.model_vocab_size)]
    expected = [p.startswith("\u0120") or all(byte_of[c] in b" \t\n\r\x0b\x0c" for c in p) for p in pieces]
    expected[0] = True  # <|endoftext|>, an added token
    assert gpt2.vocab.word_start[:gpt2.model_vocab_size].tolist() == expected
    assert not gpt2.vocab.word_start[gpt2.model_vocab_size:].any()


def test_metaspace_word_starts_are_the_replacement_pieces(t5):
    n = t5.model_vocab_size
    flags = t5.vocab.word_start[3:n]
    assert flags.tolist() == [t5.id_to_piece(i).startswith("\u2581") for i in range(3, n)]


def test_the_256_byte_pieces_are_ordinary(gpt2):
    ids = [gpt2.piece_to_id(c) for c in bytes_to_unicode().values()]
    assert None not in ids and not gpt2.vocab.special[ids].any()
    assert set(gpt2.vocab.ordinary_ids.tolist()) == set(range(1, gpt2.model_vocab_size))


def test_word_starts_never_split_a_pre_tokenizer_word(hf):
    """Whole-word groups (a word-start token and the tokens after it) are unions of whole
    pre-tokenizer words: no token inside a pre-tokenizer word is flagged as a word start."""
    raw = tokenizers.Tokenizer.from_str(hf._proto.decode("utf-8"))
    text = ENGLISH.replace("\n", " ")
    words = raw.pre_tokenizer.pre_tokenize_str(text)
    word_begins = {start for _, (start, _) in words}
    encoding = raw.encode(text, add_special_tokens=False)
    flagged = hf.vocab.word_start[np.asarray(encoding.ids)]
    starts = [start for start, _ in encoding.offsets]
    assert all(start in word_begins for start, flag in zip(starts, flagged) if flag)
    spaced = {start for word, (start, _) in words if word[0] in "\u0120\u2581"}  # words after a space
    assert spaced <= {start for start, flag in zip(starts, flagged) if flag}


# Encoding and decoding ----------------------------------------------------------------------------

def test_encode_batch_matches_the_library_and_is_int32(hf):
    raw = tokenizers.Tokenizer.from_str(hf._proto.decode("utf-8"))
    texts = [ENGLISH, *japanese_documents(3), ""]
    encoded = hf.encode_batch(texts)
    assert [e.dtype for e in encoded] == [np.int32] * len(texts)
    assert [e.tolist() for e in encoded] == [raw.encode(t, add_special_tokens=False).ids for t in texts]
    assert hf.encode_batch([]) == []


def test_documents_round_trip_and_sentence_ends_follow_the_text(hf):
    texts = [ENGLISH, *japanese_documents(20, seed=3), "\ufeffBOM and CRLF.\r\nSecond line.\r\n"]
    for text, (ids, ends) in zip(texts, hf.encode_documents(texts)):
        clean = text.lstrip("\ufeff").replace("\r\n", "\n")
        assert ids.dtype == np.int32 and ends.dtype == np.int32
        assert hf.decode(ids) == clean
        assert ends[-1] == ids.shape[0] and (np.diff(ends) > 0).all()
        sentences = [hf.decode(part).strip() for part in np.split(ids, ends[:-1])]
        assert sentences == split_sentences(clean)


def test_japanese_round_trips_through_byte_pieces(gpt2):
    text = "吾輩は猫である。名前はまだ無い。"  # characters the fixture never saw come out as byte pieces
    [(ids, ends)] = gpt2.encode_documents([text])
    assert gpt2.decode(ids) == text and ends.tolist()[-1] == ids.shape[0] and len(ends) == 2


def test_an_empty_document_has_no_tokens_and_whitespace_is_one_sentence(hf):
    for ids, ends in hf.encode_documents(["", "\ufeff"]):
        assert ids.shape == ends.shape == (0,)
    [(ids, ends)] = hf.encode_documents(["  \n\n "])
    assert np.array_equal(ids, hf.encode("  \n\n ")) and ends.tolist() == [ids.shape[0]]


def test_decode_shows_masks_and_sentinels(hf):
    vocab = hf.vocab
    head, middle, tail = hf.encode_batch(["the cat", " on the", " mat"])
    noisy = np.concatenate([head, [vocab.sentinel(0)], middle, [vocab.mask_id], tail])
    assert hf.decode(noisy) == "the cat<extra_id_0> on the<mask> mat"
    assert hf.decode([vocab.pad_id, vocab.eos_id]) == ""
    with pytest.raises(TokenizerError, match=f"id {vocab.size} is outside the effective vocabulary"):
        hf.decode([vocab.size])


def test_piece_text_renders_pieces_as_decoded_text(gpt2, t5):
    [ids] = gpt2.encode_batch([" the cat"])
    assert [gpt2.id_to_piece(i) for i in ids][0].startswith("\u0120")
    assert "".join(gpt2.piece_text(i) for i in ids) == " the cat"
    [ids] = t5.encode_batch(["the cat"])
    assert "".join(t5.piece_text(i) for i in ids) == " the cat"
    assert gpt2.piece_text(gpt2.vocab.sentinel(3)) == "<extra_id_3>"
    assert gpt2.piece_text(gpt2.piece_to_id(bytes_to_unicode()[0xE3])) == "<0xE3>"  # part of a character


def test_tokenizer_pickles_with_its_file_bytes(gpt2):
    copy = pickle.loads(pickle.dumps(gpt2))
    assert copy.describe() == gpt2.describe() and copy.kind == "tokenizer.json"
    assert copy.encode_batch([ENGLISH])[0].tolist() == gpt2.encode_batch([ENGLISH])[0].tolist()


# Thread pool --------------------------------------------------------------------------------------

@pytest.fixture
def clean_thread_env(monkeypatch):
    for name in ("RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM", "_LMPAIRS_RAYON_NUM_THREADS",
                 "LMPAIRS_TOKENIZER_THREADS", "PIPELINE_OPTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)), raising=False)
    return monkeypatch


def test_encode_threads_share_the_cores_among_beam_worker_processes(clean_thread_env):
    assert encode_threads() == 16
    clean_thread_env.setenv("PIPELINE_OPTIONS", json.dumps({"options": {"direct_num_workers": 4}}))
    assert encode_threads() == 4
    clean_thread_env.setenv("PIPELINE_OPTIONS", json.dumps({"beam:option:direct_num_workers:v1": 0}))  # 0 = all cores
    assert encode_threads() == 1
    clean_thread_env.setenv("PIPELINE_OPTIONS", json.dumps({"options": {"runner": "DataflowRunner"}}))
    assert encode_threads() == 1  # one SDK process per vCPU
    clean_thread_env.setenv("PIPELINE_OPTIONS", json.dumps({"options": {
        "runner": "DataflowRunner", "experiments": ["no_use_multiple_sdk_containers"]}}))
    assert encode_threads() == 16
    clean_thread_env.setenv("LMPAIRS_TOKENIZER_THREADS", "3")
    assert encode_threads() == 3


def test_configure_threads_keeps_a_user_setting_and_resizes_its_own(clean_thread_env):
    import os

    configure_threads(4)
    assert (os.environ["RAYON_NUM_THREADS"], os.environ["TOKENIZERS_PARALLELISM"]) == ("4", "true")
    configure_threads(1)  # a worker process that inherited the driver's setting
    assert (os.environ["RAYON_NUM_THREADS"], os.environ["TOKENIZERS_PARALLELISM"]) == ("1", "false")
    clean_thread_env.setenv("RAYON_NUM_THREADS", "7")
    configure_threads(2)
    assert os.environ["RAYON_NUM_THREADS"] == "7"


def test_special_tokens_spelled_in_text_stay_text(gpt2):
    [ids] = gpt2.encode_batch(["end<|endoftext|>here"])
    assert gpt2.vocab.eos_id not in ids.tolist() and gpt2.decode(ids) == "end<|endoftext|>here"


def test_piece_texts_show_characters_split_into_byte_pieces_whole(gpt2, t5):
    text = "吾輩は猫である。名前はまだ無い。 The end."
    for tok in (gpt2, t5):
        [ids] = tok.encode_batch([text])
        shown = tok.piece_texts(ids)
        assert len(shown) == ids.shape[0] and "".join(shown).replace("<unk>", "").lstrip() == tok.decode(ids)
    [ids] = gpt2.encode_batch(["である"])  # unseen characters: several byte pieces each
    assert "".join(gpt2.piece_texts(ids)) == "である" and "" in gpt2.piece_texts(ids)
    lone = gpt2.piece_to_id(bytes_to_unicode()[0xE3])
    assert gpt2.piece_texts([lone, gpt2.vocab.mask_id]) == ["<0xE3>", "<mask>"]



# Other layouts: LLaMA-2 as transformers converts it, BERT's WordPiece -------------------------------

@pytest.fixture(scope="session")
def llama(hf_dir):
    return Tokenizer.load(write_llama_style(hf_dir))


def test_llama_style_specials_word_starts_and_byte_fallback(llama):
    n, vocab = llama.model_vocab_size, llama.vocab
    assert (vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2)  # bos from the "<s> $A" template
    assert (vocab.sentinel(0), vocab.mask_id, vocab.pad_id, vocab.size) == (n + 99, n + 100, n + 101, n + 102)
    assert llama._model.scheme == "metaspace"  # from the normalizer's Replace(" ", "▁")
    assert vocab.word_start[llama.piece_to_id("\u2581The")] and not vocab.word_start[llama.piece_to_id("at")]
    byte_ids = [llama.piece_to_id(f"<0x{b:02X}>") for b in range(256)]
    assert not vocab.special[byte_ids].any()  # byte-fallback pieces are ordinary
    text = "The cat sat.\n吾輩は猫である。"
    [(ids, ends)] = llama.encode_documents([text])
    assert llama.decode(ids) == text and len(ends) == 2
    assert "".join(llama.piece_texts(ids)).lstrip() == text
    assert llama.piece_text(byte_ids[0x41]) == "A" and llama.piece_text(byte_ids[0xE3]) == "<0xE3>"


def test_wordpiece_takes_cls_sep_pad_mask_from_the_file(tmp_path):
    from tokenizers.implementations import BertWordPieceTokenizer

    bert = BertWordPieceTokenizer(lowercase=True)
    bert.train_from_iterator([ENGLISH] * 20, vocab_size=300, show_progress=False)
    bert.enable_padding(pad_id=bert.token_to_id("[PAD]"), pad_token="[PAD]")
    bert.enable_truncation(max_length=8)  # a file's padding and truncation must not reach the data
    path = tmp_path / "tokenizer.json"
    bert.save(str(path))
    tok = Tokenizer.load(path)
    vocab, find = tok.vocab, tok.piece_to_id
    assert (vocab.bos_id, vocab.eos_id, vocab.pad_id, vocab.unk_id, vocab.mask_id) == (
        find("[CLS]"), find("[SEP]"), find("[PAD]"), find("[UNK]"), find("[MASK]"))
    assert tok.appended == {tok.model_vocab_size + k: f"<extra_id_{99 - k}>" for k in range(100)}
    [ids] = tok.encode_batch(["reassignments statementsss"])  # words the tiny vocabulary splits
    pieces = [tok.id_to_piece(i) for i in ids]
    assert any(p.startswith("##") for p in pieces)
    assert vocab.word_start[ids].tolist() == [not p.startswith("##") for p in pieces]
    assert "".join(tok.piece_text(i) for i in ids) == " reassignments statementsss"
    short, long = tok.encode_batch(["statements", ENGLISH])
    assert short.shape[0] == 1 and long.shape[0] > 8 and vocab.pad_id not in long.tolist()


def test_a_tokenizer_json_with_only_special_tokens_is_refused(gpt2_path, tmp_path):
    config = json.loads(gpt2_path.read_text("utf-8"))
    config["model"]["vocab"], config["model"]["merges"] = {"<|endoftext|>": 0}, []
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(TokenizerError, match="every one of its 1 ids is a special token"):
        Tokenizer.load(path)


def test_unencodable_text_raises_what_the_build_counts_per_document(hf):
    # lmpairs.pipeline.splitjob.encode retries a failed batch per document on these exceptions.
    with pytest.raises((TypeError, UnicodeError, RuntimeError)):
        hf.encode_documents(["fine", "lone surrogate \ud800 here"])
