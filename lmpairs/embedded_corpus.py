"""The embedded default corpus: CPython's reference documentation from ``pydoc_data.topics``.

Every CPython ships the text behind ``help("assert")`` (79 topics, about 465 KB of English prose
and code), so the demo needs no download, no network and no third-party text in this repository.
Topics are split at their reStructuredText headings into sections, and long sections into groups of
whole paragraphs, giving a few hundred documents of at most ``max_chars`` characters. Hard-wrapped
prose paragraphs are joined into one line each (the tokenizer ends a sentence at a line break, so
this keeps real sentences for BART's sentence permutation); indented code keeps its lines.
The result depends only on the running CPython's ``pydoc_data`` (it differs between Python versions).
"""
from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

CORPUS_NAME = "cpython-reference-docs"
DEFAULT_MAX_CHARS = 2000
"""Documents are cut at paragraph boundaries once they reach this many characters."""

# A heading: one line of text underlined by a run of * = - ~ ^ " characters.
_HEADING = re.compile(r"^(?P<title>\S[^\n]*)\n(?P<rule>[*=\-~^\"]{3,})[ \t]*$", re.M)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_BULLET = re.compile(r"^(?:[*\-+]|\d+\.|\(\d+\))\s")


@dataclass(frozen=True, kw_only=True)
class CorpusDocument:
    """One document of the embedded corpus: ``text`` plus where it came from (topic, section, part)."""

    text: str
    topic: str
    section: str
    part: int

    def to_record(self) -> dict[str, object]:
        return {"text": self.text, "topic": self.topic, "section": self.section, "part": self.part}


def load_topics() -> dict[str, str]:
    """CPython's ``pydoc_data.topics.topics`` (topic name -> reStructuredText-like plain text)."""
    from pydoc_data.topics import topics  # stdlib; imported lazily as it is 465 KB of strings
    return dict(topics)


def split_sections(text: str) -> list[tuple[str, str]]:
    """``(title, body)`` of each heading in ``text``; text before the first heading gets title ''."""
    sections, title, start = [], "", 0
    for match in _HEADING.finditer(text):
        sections.append((title, text[start:match.start()]))
        title, start = match.group("title").strip(), match.end()
    sections.append((title, text[start:]))
    return [(t, body) for t, body in sections if body.strip() or t]


def reflow_paragraph(paragraph: str) -> str:
    """One line per prose paragraph or list item, so line breaks mark real sentence ends.

    A paragraph whose first line is indented by three or more spaces (code, grammar rules) keeps
    its lines; elsewhere wrapped lines are joined onto the line they continue, and each bullet
    (``*``, ``-``, ``1.``) starts a new line.
    """
    lines = [line.rstrip() for line in paragraph.strip("\n").splitlines()]
    first = lines[0] if lines else ""
    if first.startswith(("   ", "\t")) and not _BULLET.match(first.strip()):
        return "\n".join(lines)
    joined: list[str] = []
    for line in filter(None, map(str.strip, lines)):
        if joined and not _BULLET.match(line):
            joined[-1] += " " + line
        else:
            joined.append(line)
    return "\n".join(joined)


def group_paragraphs(paragraphs: list[str], max_chars: int) -> list[list[str]]:
    """Consecutive paragraphs grouped until a group reaches ``max_chars`` (a long paragraph stays whole)."""
    groups: list[list[str]] = []
    size = max_chars
    for paragraph in paragraphs:
        if size >= max_chars:
            groups.append([])
            size = 0
        groups[-1].append(paragraph)
        size += len(paragraph) + 1
    return groups


def topic_documents(topic: str, text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[CorpusDocument]:
    """The documents of one topic: each section's paragraphs in groups of about ``max_chars``."""
    documents = []
    for title, body in split_sections(text):
        paragraphs = [reflow_paragraph(p) for p in _PARAGRAPH_BREAK.split(body) if p.strip()]
        for part, group in enumerate(group_paragraphs(paragraphs, max_chars)):
            head = [title] if title and part == 0 else []
            documents.append(CorpusDocument(text="\n".join(head + group), topic=topic,
                                            section=title, part=part))
    return documents


def corpus_documents(*, max_documents: int | None = None,
                     max_chars: int = DEFAULT_MAX_CHARS) -> list[CorpusDocument]:
    """All documents, topics in sorted order; ``max_documents`` keeps the first ones (a slice for tests)."""
    if max_documents is not None and max_documents < 1:
        raise ValueError(f"max_documents={max_documents}: must be >= 1 (or None for the whole corpus).")
    if max_chars < 1:
        raise ValueError(f"max_chars={max_chars}: must be >= 1; the default is {DEFAULT_MAX_CHARS}.")
    documents: list[CorpusDocument] = []
    for topic, text in sorted(load_topics().items()):
        documents.extend(topic_documents(topic, text, max_chars=max_chars))
    return documents[:max_documents] if max_documents is not None else documents


def describe_corpus() -> str:
    """One line naming the corpus and the CPython it comes from (its text varies by version)."""
    return (f"CPython {platform.python_version()} reference documentation "
            f"(pydoc_data.topics, {len(load_topics())} topics)")


def write_corpus(output_dir: str | os.PathLike, *, max_documents: int | None = None,
                 max_chars: int = DEFAULT_MAX_CHARS, num_files: int = 1) -> list[Path]:
    """Write the corpus as JSONL (``{"text", "topic", "section", "part"}`` per line) and return the paths.

    Documents go round-robin into ``num_files`` files named ``<CORPUS_NAME>-0000N.jsonl``, so a
    pipeline can read them in parallel. The bytes are a pure function of the arguments and the
    CPython version; writing again gives identical files.
    """
    if num_files < 1:
        raise ValueError(f"num_files={num_files}: must be >= 1.")
    documents = corpus_documents(max_documents=max_documents, max_chars=max_chars)
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    paths = [output / f"{CORPUS_NAME}-{i:05d}.jsonl" for i in range(min(num_files, len(documents)))]
    for index, path in enumerate(paths):
        lines = (json.dumps(d.to_record(), ensure_ascii=False, sort_keys=True)
                 for d in documents[index::len(paths)])
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, path)
    return paths
