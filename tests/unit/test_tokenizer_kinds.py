"""Tokenizer kinds beyond SentencePiece and tokenizer.json: tekken.json, tiktoken rank files, model
directories; extra specials for objectives; the deprecated ``lmpairs.tokenizer`` alias."""
import importlib
import shutil
import sys

import numpy as np
import pytest
import tiktoken
from hf_tokenizers import write_gpt2_style
from tiktoken_files import tekken_file, write_rank_file

from lmpairs.tokenizers import NUM_SENTINELS, Tokenizer, TokenizerError
from lmpairs.tokenizers.tiktoken_bpe import LLAMA3_PATTERN

TEXT = "Hello world.  A second sentence!\n\n    indented code\n吾輩は猫である。"


@pytest.fixture(scope="module")
def tekken():
    return Tokenizer.load(tekken_file())


@pytest.fixture(scope="module")
def rank_file(tmp_path_factory):
    return write_rank_file(tmp_path_factory.mktemp("ranks") / "tokenizer.model")


def test_tekken_specials_come_from_the_file_and_ranks_follow_them(tekken):
    assert tekken.kind == "tekken" and tekken.model_vocab_size == 131072
    v = tekken.vocab
    assert (v.unk_id, v.bos_id, v.eos_id, v.pad_id) == (0, 1, 2, 11)
    assert tekken.id_to_piece(3) == "[INST]" and tekken.id_to_piece(999) == "<SPECIAL_999>"
    assert v.special[:1000].all() and not v.special[1000:131072].all()
    # lmpairs' own mask and sentinels are appended in T5's layout, nothing else
    assert v.sentinel(0) == 131072 + NUM_SENTINELS - 1 and v.mask_id == 131072 + NUM_SENTINELS
    assert v.size == 131072 + NUM_SENTINELS + 1


def test_tekken_ids_are_mistral_commons_own(tekken):
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    reference = Tekkenizer.from_file(tekken_file())
    assert tekken.encode(TEXT).tolist() == reference.encode(TEXT, bos=False, eos=False)


def test_rank_file_uses_llama3_pattern_and_has_no_specials(rank_file):
    tok = Tokenizer.load(rank_file)
    assert tok.kind == "tiktoken" and tok.model_vocab_size == 3000
    ranks = {tok._model._bytes[i]: i for i in range(3000)}
    reference = tiktoken.Encoding("ref", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens={})
    assert tok.encode(TEXT).tolist() == reference.encode_ordinary(TEXT)
    v = tok.vocab  # eos, pad, mask and sentinels appended; no bos, no unk
    assert v.bos_id is None and v.unk_id is None and v.eos_id >= 3000 and v.size == 3000 + NUM_SENTINELS + 3


def test_word_starts_follow_the_pattern(tekken):
    ids = tekken.encode("Hello world, 42 unbelievabilities")
    pieces = [(tekken.piece_text(i), bool(tekken.vocab.word_start[i])) for i in ids]
    starts = [p for p, start in pieces if start]
    assert " world" in starts and "," in starts and "4" in starts  # a space, punctuation or a digit opens a pre-token
    assert len(starts) < len(pieces) and all(p[:1].isalpha() for p, start in pieces if not start)


def test_inspect_renders_text_piece_by_piece(tekken, rank_file):
    for tok in (tekken, Tokenizer.load(rank_file)):
        ids = tok.encode(TEXT)
        assert "".join(tok.piece_texts(ids)) == TEXT
        assert tok.decode(ids) == TEXT


def test_a_model_directory_loads_its_tokenizer_file(tmp_path, llama_model_path, rank_file):
    hf_dir = write_gpt2_style(tmp_path).parent
    assert Tokenizer.load(hf_dir).kind == "tokenizer.json"
    spm_dir = tmp_path / "spm"
    spm_dir.mkdir()
    shutil.copyfile(llama_model_path, spm_dir / "tokenizer.model")
    assert Tokenizer.load(spm_dir).sha256 == Tokenizer.load(llama_model_path).sha256
    llama3_dir = tmp_path / "llama3"
    llama3_dir.mkdir()
    shutil.copyfile(rank_file, llama3_dir / "tokenizer.model")
    assert Tokenizer.load(llama3_dir).kind == "tiktoken"
    mistral_dir = tmp_path / "mistral"
    mistral_dir.mkdir()
    (mistral_dir / "tekken.json").symlink_to(tekken_file())
    assert Tokenizer.load(mistral_dir).kind == "tekken"


@pytest.mark.parametrize("fixture", ["llama_model_path", "tekken_path"])
def test_named_specials_are_the_tokenizers_own_or_appended_after_the_rest(request, fixture, tmp_path):
    path = request.getfixturevalue(fixture) if fixture != "tekken_path" else tekken_file()
    base, tok = Tokenizer.load(path), Tokenizer.load(path)
    tok.add_named_specials(["[NLU]", "<fim_prefix>", "</s>", "[NLU]"])
    v, named = tok.vocab, dict(tok.vocab.named)
    assert list(named) == ["[NLU]", "<fim_prefix>", "</s>"]  # in the order asked, once each
    assert named["</s>"] == base.vocab.eos_id  # the tokenizer's own piece
    assert (named["[NLU]"], named["<fim_prefix>"]) == (base.vocab.size, base.vocab.size + 1)
    assert v.size == base.vocab.size + 2 and v.special[list(named.values())].all()
    assert (v.mask_id, v.sentinel_ids, v.pad_id) == (base.vocab.mask_id, base.vocab.sentinel_ids, base.vocab.pad_id)
    assert tok.describe()["special_ids"]["[NLU]"] == named["[NLU]"] and v.named_id("[NLU]") == named["[NLU]"]
    assert tok.decode([named["[NLU]"]]) == "[NLU]"
    again = Tokenizer.load(path)
    again.restore_named_specials(tok.describe()["special_ids"])  # what readers do from a manifest
    assert dict(again.vocab.named) == named and again.vocab.size == v.size
    with pytest.raises(ValueError, match="named_specials"):
        base.vocab.named_id("[NLU]")


def test_tekken_named_specials_reuse_its_fim_tokens(tekken):
    tok = Tokenizer.load(tekken_file())
    tok.add_named_specials(["[PREFIX]", "[SUFFIX]", "[MIDDLE]"])
    assert dict(tok.vocab.named) == {"[PREFIX]": 14, "[SUFFIX]": 16, "[MIDDLE]": 15}
    assert tok.vocab.size == tekken.vocab.size


def test_old_module_name_is_a_deprecated_alias():
    sys.modules.pop("lmpairs.tokenizer", None)
    with pytest.warns(DeprecationWarning, match="lmpairs.tokenizers"):
        old = importlib.import_module("lmpairs.tokenizer")
    assert old.Tokenizer is Tokenizer and old.TokenizerError is TokenizerError


def test_encode_columns_are_one_row_per_text(llama_tokenizer):
    ids, ends = llama_tokenizer.encode_columns(["a b", "", "c. D."], sentence_ends=True)
    assert ids.num_rows == ends.num_rows == 3 and ends.row(1).size == 0
    assert np.array_equal(ids.row(2), llama_tokenizer.encode("c. D.")) and ends.row(2).size == 2
