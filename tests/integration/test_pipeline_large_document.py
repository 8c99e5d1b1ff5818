"""A 50 MB single-line document across three byte-range splits: read once, tokenized, every token in a row."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from textgen import english_paragraphs

pytestmark = pytest.mark.slow


def test_a_50_mb_line_is_one_document_read_by_the_split_it_starts_in(build, trained_tokenizer, tmp_path):
    path = tmp_path / "one_line.txt"
    paragraph = " ".join(english_paragraphs(400, seed=9)) + " "
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(50_000_000 // len(paragraph) + 1):
            out.write(paragraph)
        out.write("\n")
    manifests = build([str(path)], tmp_path / "out", trained_tokenizer.name, seq_len=1024, objectives="clm",
                      documents="line", max_document_bytes=64 << 20, validation_fraction=0.0, split_mb=16)
    clm = manifests["clm"]
    assert len(clm.inputs) == 3
    c = clm.counters
    assert (c["documents_read"], c["documents_used"]) == (1, 1)
    assert [s.path.split("/")[1][:10] for s in clm.splits["train"]] == ["part-00000"]  # the first split owns it
    stored = sum(len(row) for s in clm.splits["train"]
                 for row in pq.read_table(tmp_path / "out" / "clm" / s.path).column("input_ids").to_pylist())
    assert stored == c["tokens"] + 2 - c["dropped_tokens"] and c["tokens"] > 10_000_000
