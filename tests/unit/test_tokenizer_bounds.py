"""Bounds on tokenizer files: special files, oversized files, absurd ids and deep JSON are one-line
:class:`TokenizerError` s (exit 2 from the CLI), never a hang, a huge allocation or a traceback."""
import json
import os
import re

import pytest

from lmpairs.cli import main
from lmpairs.tokenizers import Tokenizer, TokenizerError
from lmpairs.tokenizers import files as tokenizer_files
from lmpairs.tokenizers.hf import MAX_VOCAB_SIZE


def one_line(excinfo, *parts):
    message = str(excinfo.value)
    assert "\n" not in message and all(p in message for p in parts), message


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo.model"
    os.mkfifo(path)  # opening it for reading would block forever
    return path


def test_a_fifo_is_refused_without_opening_it(fifo):
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(fifo)
    one_line(excinfo, str(fifo), "not a regular file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_character_devices_are_refused(device):
    if not os.path.exists(device):
        pytest.skip(f"{device} is absent here")
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(device)
    one_line(excinfo, device, "not a regular file")


def test_a_file_over_the_size_cap_is_refused_before_reading(llama_model_path, monkeypatch):
    monkeypatch.setattr(tokenizer_files, "MAX_TOKENIZER_BYTES", 1000)
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(llama_model_path)
    one_line(excinfo, str(llama_model_path), "over the 1000 bytes")


def tokenizer_json(vocab: dict, added=()) -> bytes:
    return json.dumps({"version": "1.0", "added_tokens": list(added), "normalizer": None, "pre_tokenizer": None,
                       "post_processor": None, "decoder": None,
                       "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "a"}}).encode()


@pytest.mark.parametrize("vocab,added,bad", [
    ({"a": 0, "b": 2**31}, (), "2147483648"),
    ({"a": 0, "b": MAX_VOCAB_SIZE}, (), str(MAX_VOCAB_SIZE)),
    ({"a": 0, "b": -1}, (), "-1"),
    ({"a": 0, "b": 1}, ({"id": 2**40, "content": "<x>", "special": True},), str(2**40)),
    ({"a": 0, "b": "1"}, (), "'1'"),
])
def test_absurd_ids_in_a_tokenizer_json_are_refused_before_allocating(tmp_path, vocab, added, bad):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(tokenizer_json(vocab, added))
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(path)
    one_line(excinfo, str(path), f"token id {bad}", "not an integer in [0, ")


def test_an_absurd_tekken_vocabulary_size_is_refused(tmp_path):
    path = tmp_path / "tekken.json"
    path.write_text(json.dumps({"config": {"pattern": ".", "default_vocab_size": 2**40,
                                           "default_num_special_tokens": 3}, "vocab": []}))
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(path)
    one_line(excinfo, str(path), "not an intact tekken.json")


@pytest.mark.parametrize("data", [b"[" * 200_000, b'{"model": ' + b'{"a": ' * 200_000])
def test_deeply_nested_json_is_a_one_line_error(tmp_path, data):
    path = tmp_path / "tokenizer.json"
    path.write_bytes(data)
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(path)
    one_line(excinfo, str(path), "nested too deeply")


def test_a_bad_rank_file_line_is_named(tmp_path):
    path = tmp_path / "tokenizer.model"
    path.write_bytes(b"IQ== 0\nnot base64!! 1\n")
    with pytest.raises(TokenizerError) as excinfo:
        Tokenizer.load(path)
    one_line(excinfo, str(path), "line 2")


@pytest.mark.parametrize("make", ["fifo", "deep", "huge_id"])
def test_build_exits_2_with_one_line(make, fifo, tmp_path, capsys, monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    path = {"fifo": fifo, "deep": tmp_path / "deep.json", "huge_id": tmp_path / "huge.json"}[make]
    if make == "deep":
        path.write_bytes(b"[" * 200_000)
    elif make == "huge_id":
        path.write_bytes(tokenizer_json({"a": 0, "b": 2**31}))
    assert main(["build", "--input", "setup.py", "--output", str(tmp_path / "out"), "--tokenizer", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lmpairs build: error: ") and "Traceback" not in err, err
    assert re.search(re.escape(str(path)), err) and not (tmp_path / "out").exists()
