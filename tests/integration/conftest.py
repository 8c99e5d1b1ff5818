"""Fixtures for pipeline integration tests: slices of the real corpora and a one-call build helper.

Slices keep the suite fast on two cores: each is cut at a line boundary, so it stays valid UTF-8
and keeps its BOM and CRLF line endings where the original has them.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lmpairs.config import BuildConfig
from lmpairs.pipeline import run_build


def head_lines(path: Path, num_bytes: int) -> bytes:
    """The first ``num_bytes`` of ``path``, cut back to the last complete line."""
    data = path.read_bytes()[:num_bytes]
    return data[: data.rfind(b"\n") + 1]


@pytest.fixture(scope="session")
def corpus_slices(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with English (plain and .gz), Japanese, BOM+CRLF and JSONL slices of the real corpora."""
    corpora = shared_data / "corpora"
    root = tmp_path_factory.mktemp("corpora")
    (root / "en").mkdir()
    (root / "en" / "shakespeare.txt").write_bytes(head_lines(corpora / "tinyshakespeare.txt", 24_000))
    (root / "en" / "botchan.txt.gz").write_bytes(gzip.compress(head_lines(corpora / "botchan.txt", 16_000)))
    (root / "ja.txt").write_bytes(head_lines(corpora / "wagahaiwa_nekodearu_ja.txt", 12_000))
    (root / "arxiv.jsonl").write_bytes(b"".join((corpora / "arxiv_sample.jsonl").read_bytes().splitlines(True)[:2]))
    return root


def _build(inputs: list[str], output: Path, tokenizer: str, *, beam_args: tuple[str, ...] = (), seq_len: int = 64,
           **options):
    config = BuildConfig(inputs=tuple(inputs), output=str(output), tokenizer=tokenizer, **options).with_seq_len(seq_len)
    return run_build(config, list(beam_args))


@pytest.fixture(scope="session")
def build():
    """``build(inputs, output, tokenizer_path, beam_args=(), seq_len=64, **BuildConfig fields) -> manifests``:
    one build, in-process unless ``beam_args`` name another runner."""
    return _build
