"""Fixtures for pipeline integration tests: small corpora in every input layout and a one-call build helper.

The slices are generated (see ``tests/textgen.py``), so these tests need nothing beside the clone.
Each is cut at a line boundary, so it stays valid UTF-8 and keeps its BOM and CRLF line endings.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from textgen import write_corpus_slices

from lmpairs.config import BuildConfig
from lmpairs.pipeline import run_build


@pytest.fixture(scope="session")
def corpus_slices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with English (plain and .gz, BOM+CRLF), Japanese (CRLF) and JSONL slices."""
    return write_corpus_slices(tmp_path_factory.mktemp("corpora"))


def _build(inputs: list[str], output: Path, tokenizer: str, *, beam_args: tuple[str, ...] = (), seq_len: int = 64,
           **options):
    config = BuildConfig(inputs=tuple(inputs), output=str(output), tokenizer=tokenizer, **options).with_seq_len(seq_len)
    return run_build(config, list(beam_args))


@pytest.fixture(scope="session")
def build():
    """``build(inputs, output, tokenizer_path, beam_args=(), seq_len=64, **BuildConfig fields) -> manifests``:
    one build, in-process unless ``beam_args`` name another runner."""
    return _build
