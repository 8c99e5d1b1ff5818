"""Hermetic test text: the embedded pydoc corpus plus Faker-generated English and Japanese.

The default test tier must pass in a bare clone, so its text comes from what the project ships or
installs: :mod:`lmpairs.embedded_corpus` (CPython's reference documentation) and Faker's ``en_US`` and
``ja_JP`` providers (a pinned version in the ``test`` extra, seeded, so the text is the same every
run). The real corpora in ``../shared/data`` are only read by tests that take ``shared_data``.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from faker import Faker

from lmpairs.embedded_corpus import corpus_documents


def pydoc_documents() -> list[str]:
    """The embedded corpus (a few hundred documents, about 460 KB of English prose and code)."""
    return [document.text for document in corpus_documents()]


def english_paragraphs(count: int, *, seed: int = 0) -> list[str]:
    """``count`` paragraphs of generated English, 3 to 8 sentences each.

    Sentences end in ``.``, ``?`` or ``!``; some are joined by a comma or carry a quotation, so the
    tokenizers trained on this text hold the punctuation tests decode.
    """
    fake = Faker("en_US")
    fake.seed_instance(seed)
    paragraphs = []
    for _ in range(count):
        sentences = []
        for _ in range(fake.random_int(3, 8)):
            sentence = fake.sentence(nb_words=fake.random_int(4, 14))[:-1]
            shape = fake.random_int(0, 9)
            if shape == 0:
                sentence += ", and " + fake.sentence(nb_words=5)[:-1].lower()
            elif shape == 1:
                sentence = f'"{sentence}," said {fake.first_name()}; "{fake.word()}"'
            sentences.append(sentence + ("?" if shape in (2, 3) else "!" if shape == 4 else "."))
        paragraphs.append(" ".join(sentences))
    return paragraphs


def japanese_lines(count: int, *, seed: int = 0) -> list[str]:
    """``count`` lines of generated Japanese (no spaces, sentences end in 。, a name or place in some)."""
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    lines = []
    for index in range(count):
        body = fake.text(max_nb_chars=fake.random_int(60, 240)).replace("\n", "")
        if index % 3 == 0:
            body = f"{fake.name()}は{fake.city()}に住んでいる。{body}"
        lines.append(body)
    return lines


def english_text(*, num_generated: int = 3000, seed: int = 0) -> str:
    """Pydoc documents then generated paragraphs, one blank line between documents (about 1.5 MB).

    Big enough for the rate tests (500 rows of 512 LLaMA tokens) and the 2,000-piece tokenizer.
    """
    return "\n\n".join(pydoc_documents() + english_paragraphs(num_generated, seed=seed)) + "\n"


def bom_crlf_bytes(text: str) -> bytes:
    """``text`` as a Windows file would store it: UTF-8 BOM and CRLF line endings."""
    return ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8")


def head_lines(data: bytes, num_bytes: int) -> bytes:
    """The first ``num_bytes`` of ``data``, cut back to the last complete line."""
    data = data[:num_bytes]
    return data[: data.rfind(b"\n") + 1]


def write_corpus_slices(root: Path) -> Path:
    """Small files in the layouts the pipeline reads: English plain and ``.gz``, Japanese, BOM+CRLF, JSONL.

    ``en/shakespeare.txt`` (24 KB, LF, blank lines between paragraphs), ``en/botchan.txt.gz``
    (16 KB, BOM + CRLF, gzipped), ``ja.txt`` (12 KB Japanese, CRLF) and ``arxiv.jsonl`` (2 records
    with ``text`` and ``meta``). The names are those of the real corpora the slices were once cut
    from, so tests keep their paths; the text is generated (pydoc text in the JSONL).
    """
    (root / "en").mkdir(parents=True, exist_ok=True)
    plays = "\n\n".join(english_paragraphs(120, seed=1))
    (root / "en" / "shakespeare.txt").write_bytes(head_lines(plays.encode(), 24_000))
    novel = "\n".join(english_paragraphs(80, seed=2)) + "\n"
    (root / "en" / "botchan.txt.gz").write_bytes(gzip.compress(head_lines(bom_crlf_bytes(novel), 16_000), mtime=0))
    ja = "\r\n".join(japanese_lines(200, seed=3)) + "\r\n"
    (root / "ja.txt").write_bytes(head_lines(ja.encode("utf-8"), 12_000))
    records = [{"text": "\n\n".join(pydoc_documents()[i:i + 12]), "meta": {"source": "pydoc", "index": i}}
               for i in (0, 12)]
    (root / "arxiv.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                      encoding="utf-8")
    return root
