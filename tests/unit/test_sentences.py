"""Text normalization and sentence splitting (lmpairs.sentences); corpus reading is tested in test_reading_*."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.sentences import normalize_text, split_sentences

_BLANK_LINE = re.compile(r"[\n\u2028\u2029\x85][^\S\n\u2028\u2029\x85]*[\n\u2028\u2029\x85]")


def assert_lossless_split(text: str, sentences: list[str]) -> None:
    """Sentences appear in order in ``text`` and only whitespace lies between and around them."""
    position = 0
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        lines = sentence.replace("\r\n", "\n").replace("\r", "\n")
        assert not _BLANK_LINE.search(lines), sentence  # a sentence may hold a wrap, never a blank line
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
    ("Line one\nline two\n\n\n  Line three  ", ["Line one\nline two", "Line three"]),  # a wrap, a blank line
    ("A heading\r\n\r\nBody text.\rMore", ["A heading", "Body text.", "More"]),
    ("A hard-wrapped\nsentence. And a\r\nsecond one.\nThird.", ["A hard-wrapped\nsentence.",
                                                                 "And a\r\nsecond one.", "Third."]),
    ("Heading\u2028\u2028Body\rwrapped\r\rEnd", ["Heading", "Body\rwrapped", "End"]),
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
    # Single line breaks are wraps: Shakespeare's verse lines join into sentences (about 11,800).
    ("tinyshakespeare.txt", 11_000), ("botchan.txt", 3_000), ("pride_and_prejudice.txt", 7_000),
    ("wagahaiwa_nekodearu_ja.txt", 7_000), ("wikitext2_test.raw.txt", 9_000),
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
    text = "a" + " " * 200_000 + "B. " * 50_000 + "\u3000" * 100_000 + "\n\n end" + "\n \t" * 100_000 + "x"
    sentences = split_sentences(text)  # a quadratic regex would take minutes here
    assert len(sentences) == 50_002 and sentences[-2] == "end" and sentences[-1] == "x"
    assert sentences[0] == "a" + " " * 200_000 + "B."


_ALPHABET = st.sampled_from(list("ab Z.!?。！？」\"')\n\r\t\u3000猫"))


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_split_sentences_keeps_every_non_space_character_in_order(text):
    assert_lossless_split(text, split_sentences(text))
