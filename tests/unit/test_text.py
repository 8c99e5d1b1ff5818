"""Text normalization, sentence splitting and corpus reading (lmpairs.text)."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.text import (
    CorpusError, CorpusSentences, iter_corpus_sentences, normalize_text, resolve_inputs, split_sentences,
)


def assert_lossless_split(text: str, sentences: list[str]) -> None:
    """Sentences appear in order in ``text`` and only whitespace lies between and around them."""
    position = 0
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        assert "\n" not in sentence and "\r" not in sentence
        found = text.find(sentence, position)
        assert found >= 0, sentence
        assert text[position:found].strip() == "", (text[position:found], sentence)
        position = found + len(sentence)
    assert text[position:].strip() == ""


# normalize_text ---------------------------------------------------------------------------------

def test_normalize_text_strips_a_leading_bom_and_unifies_line_endings():
    assert normalize_text("\ufeffOne.\r\nTwo.\rThree.\n") == "One.\nTwo.\nThree.\n"


def test_normalize_text_keeps_a_bom_that_is_not_leading_and_clean_text_as_is():
    assert normalize_text("a\ufeffb") == "a\ufeffb"
    clean = "Already clean.\nYes."
    assert normalize_text(clean) is clean


def test_normalize_text_on_a_bom_crlf_file_removes_bom_and_every_cr(bom_crlf_corpus):
    raw = bom_crlf_corpus.read_bytes().decode("utf-8")
    assert raw.startswith("\ufeff") and "\r\n" in raw  # the file really has both
    text = normalize_text(raw)
    assert "\r" not in text and "\ufeff" not in text
    assert text.count("\n") == raw.count("\r\n")
    assert text == raw[1:].replace("\r\n", "\n")


# split_sentences --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Hello world. How are you?  Fine!", ["Hello world.", "How are you?", "Fine!"]),
    ('"Stop!" he said. "Why?" Then silence.', ['"Stop!" he said.', '"Why?"', "Then silence."]),
    ("She left (quietly.) He stayed.", ["She left (quietly.)", "He stayed."]),
    ("No final punctuation here", ["No final punctuation here"]),
    ("First. second starts lowercase", ["First. second starts lowercase"]),
    ("It costs 3.14 pounds. Cheap.", ["It costs 3.14 pounds.", "Cheap."]),
    ("Wait... What? Yes.", ["Wait...", "What?", "Yes."]),
    ("Line one\nline two\n\n\n  Line three  ", ["Line one", "line two", "Line three"]),
    ("A heading\r\nBody text.\rMore", ["A heading", "Body text.", "More"]),
    ("吾輩は猫である。名前はまだ無い。", ["吾輩は猫である。", "名前はまだ無い。"]),
    ("「どうした？」と聞いた。本当！", ["「どうした？」", "と聞いた。", "本当！"]),
    ("\u3000全角の空白。 次", ["全角の空白。", "次"]),
    ("", []),
    (" \n\t\n ", []),
])
def test_split_sentences_examples(text, expected):
    sentences = split_sentences(text)
    assert sentences == expected
    assert_lossless_split(text, sentences)


def test_split_sentences_on_a_real_japanese_line(shared_data):
    lines = (shared_data / "corpora" / "wagahaiwa_nekodearu_ja.txt").read_text(encoding="utf-8").splitlines()
    assert split_sentences(lines[19]) == [
        "この書生の掌の裏《うち》でしばらくはよい心持に坐っておったが、しばらくすると非常な速力で運転し始めた。",
        "書生が動くのか自分だけが動くのか分らないが無暗《むやみ》に眼が廻る。",
        "胸が悪くなる。",
        "到底《とうてい》助からないと思っていると、どさりと音がして眼から火が出た。",
        "それまでは記憶しているがあとは何の事やらいくら考え出そうとしても分らない。",
    ]


@pytest.mark.parametrize("name, minimum", [
    ("tinyshakespeare.txt", 34_000), ("botchan.txt", 4_000), ("pride_and_prejudice.txt", 10_000),
    ("wagahaiwa_nekodearu_ja.txt", 9_000), ("wikitext2_test.raw.txt", 5_000),
])
def test_split_sentences_loses_nothing_on_real_corpora(shared_data, name, minimum):
    text = normalize_text((shared_data / "corpora" / name).read_text(encoding="utf-8"))
    sentences = split_sentences(text)
    assert len(sentences) >= minimum
    assert_lossless_split(text, sentences)
    assert "".join("".join(sentences).split()) == "".join(text.split())


@pytest.mark.parametrize("fixture", ["english_corpus", "bom_crlf_corpus", "japanese_corpus"])
def test_split_sentences_loses_nothing_on_generated_corpora(request, fixture):
    text = normalize_text(request.getfixturevalue(fixture).read_text(encoding="utf-8"))
    sentences = split_sentences(text)
    assert len(sentences) >= 5_000
    assert_lossless_split(text, sentences)
    assert "".join("".join(sentences).split()) == "".join(text.split())


def test_split_sentences_is_linear_on_long_whitespace_runs():
    text = "a" + " " * 200_000 + "B. " * 50_000 + "\u3000" * 100_000 + "\n end"
    sentences = split_sentences(text)  # a quadratic regex would take minutes here
    assert len(sentences) == 50_001 and sentences[-1] == "end"
    assert sentences[0] == "a" + " " * 200_000 + "B."


_ALPHABET = st.sampled_from(list("ab Z.!?。！？」\"')\n\r\t\u3000猫"))


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_split_sentences_keeps_every_non_space_character_in_order(text):
    assert_lossless_split(text, split_sentences(text))


# resolve_inputs / iter_corpus_sentences ---------------------------------------------------------

def test_resolve_inputs_expands_files_dirs_and_globs_in_a_stable_order(tmp_path):
    for name in ["b.txt", "a.txt", "sub/c.txt", ".hidden/d.txt", "sub/.e.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    assert resolve_inputs(tmp_path) == [tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "sub/c.txt"]
    assert resolve_inputs([str(tmp_path / "*.txt"), tmp_path / "a.txt", tmp_path / "sub/c.txt"]) == [
        tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "sub/c.txt"]
    assert resolve_inputs(str(tmp_path / "**/c.txt")) == [tmp_path / "sub/c.txt"]


def test_resolve_inputs_names_a_glob_that_matches_nothing(tmp_path):
    pattern = str(tmp_path / "*.nothing")
    with pytest.raises(CorpusError, match=re.escape(pattern) + ": matches no files"):
        resolve_inputs([pattern])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CorpusError, match=re.escape(str(tmp_path / "empty_dir")) + ": matches no files"):
        resolve_inputs([tmp_path / "empty_dir"])
    with pytest.raises(CorpusError, match="no inputs given"):
        resolve_inputs([])


def test_resolve_inputs_names_a_missing_path(tmp_path):
    with pytest.raises(CorpusError, match=re.escape(str(tmp_path / "absent.txt"))):
        resolve_inputs([tmp_path / "absent.txt"])


def test_iter_corpus_sentences_handles_bom_crlf_and_skips_blank_lines(bom_crlf_corpus):
    sentences = list(iter_corpus_sentences([bom_crlf_corpus]))
    first_line = bom_crlf_corpus.read_text(encoding="utf-8-sig").splitlines()[0]
    assert sentences[0] == split_sentences(first_line)[0] and len(sentences) > len(first_line.splitlines())
    assert not any("\r" in s or "\ufeff" in s or not s.strip() for s in sentences)


def test_iter_corpus_sentences_reads_jsonl_text_fields(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"text": "One. Two!\r\nThree", "meta": 1}) + "\n\n"
                    + json.dumps({"text": "猫である。"}) + "\n", encoding="utf-8")
    assert list(iter_corpus_sentences([path])) == ["One.", "Two!", "Three", "猫である。"]


def test_iter_corpus_sentences_names_a_bad_jsonl_record(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "ok"}\n{"body": "no text field"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=re.escape(f"{path}:2") + ".*'text'.*--text-field"):
        list(iter_corpus_sentences([path]))


def test_corpus_sentences_counts_and_keeps_the_error_that_stopped_it(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("One. Two.\nThree\n", encoding="utf-8")
    bad.write_bytes(b"Fine line.\n\xff\xfe broken\n")
    feed = CorpusSentences([good])
    assert list(feed) == ["One.", "Two.", "Three"] and feed.count == 3 and feed.error is None
    feed = CorpusSentences([good, bad])
    with pytest.raises(CorpusError):
        list(feed)
    assert feed.count == 3 and str(bad) in str(feed.error)


def test_iter_corpus_sentences_names_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me.\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=re.escape(str(path)) + ".*not UTF-8"):
        list(iter_corpus_sentences([path]))
