"""The embedded corpus: stdlib-only, deterministic, a few hundred real documents, well-formed JSONL."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from lmpairs import embedded_corpus as corpus
from lmpairs.embedded_corpus import (
    CORPUS_NAME,
    corpus_documents,
    group_paragraphs,
    reflow_paragraph,
    split_sections,
    topic_documents,
    write_corpus,
)


def test_module_imports_only_the_standard_library():
    tree = ast.parse(Path(corpus.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_whole_corpus_has_a_few_hundred_nonempty_documents_within_the_size_cap():
    documents = corpus_documents()
    assert 200 <= len(documents) <= 1000
    assert all(d.text.strip() for d in documents)
    assert len({d.topic for d in documents}) == len(corpus.load_topics())
    # A group closes once it reaches the cap, so only its last paragraph can carry it past.
    oversized = [d for d in documents if len(d.text) > 2 * corpus.DEFAULT_MAX_CHARS]
    assert len(oversized) < len(documents) // 20
    assert sum(len(d.text) for d in documents) > 0.9 * sum(len(t) for t in corpus.load_topics().values())


def test_first_document_starts_with_the_first_topics_heading():
    first = corpus_documents(max_documents=1)[0]
    assert first.topic == sorted(corpus.load_topics())[0]
    assert first.part == 0 and first.text.startswith(first.section + "\n")


def test_max_documents_takes_a_prefix_and_rejects_zero():
    assert corpus_documents(max_documents=7) == corpus_documents()[:7]
    with pytest.raises(ValueError, match="max_documents=0"):
        corpus_documents(max_documents=0)


def test_sections_split_at_underlined_headings():
    text = "Title\n*****\n\nIntro text.\n\nSub part\n========\n\nMore text.\n"
    assert split_sections(text) == [("Title", "\n\nIntro text.\n\n"), ("Sub part", "\n\nMore text.\n")]


def test_prose_is_reflowed_and_code_and_bullets_keep_their_lines():
    assert reflow_paragraph("A wrapped\nsentence here.  Next\none.") == "A wrapped sentence here.  Next one."
    code = "   if x:\n       pass"
    assert reflow_paragraph(code) == code
    assert reflow_paragraph("* first item\n  continues\n* second") == "* first item continues\n* second"


def test_paragraph_groups_close_at_the_cap_and_keep_order():
    groups = group_paragraphs(["a" * 5, "b" * 5, "c" * 5, "d" * 20, "e"], 10)
    assert groups == [["a" * 5, "b" * 5], ["c" * 5, "d" * 20], ["e"]]


def test_topic_heading_goes_only_into_a_sections_first_part():
    text = "Heading\n*******\n\n" + "\n\n".join(f"Paragraph {i} " + "x" * 40 for i in range(6))
    documents = topic_documents("t", text, max_chars=100)
    assert [d.part for d in documents] == [0, 1, 2]
    assert documents[0].text.startswith("Heading\nParagraph 0")
    assert documents[1].text.startswith("Paragraph 2")


def test_written_jsonl_round_trips_and_is_byte_identical_on_rewrite(tmp_path: Path):
    first = write_corpus(tmp_path / "a", max_documents=50, num_files=3)
    second = write_corpus(tmp_path / "b", max_documents=50, num_files=3)
    assert [p.name for p in first] == [f"{CORPUS_NAME}-{i:05d}.jsonl" for i in range(3)]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    records = [json.loads(line) for p in first for line in p.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 50
    assert {r["text"] for r in records} == {d.text for d in corpus_documents(max_documents=50)}
    assert all(set(r) == {"text", "topic", "section", "part"} for r in records)
    assert not list((tmp_path / "a").glob(".*.tmp"))
