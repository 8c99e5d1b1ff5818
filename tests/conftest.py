"""Shared fixtures: hermetic corpora and tokenizers, the optional real data, and the test tiers.

Everything the default tier needs is made here or installed by the ``test`` extra, so a bare clone
passes ``make test``: text from ``tests/textgen.py`` (the embedded pydoc corpus plus seeded Faker
English and Japanese), tokenizers trained on it once per session (a few seconds, as nanoGPT's
tests do), and a real pretrained 32,000-piece SentencePiece model shipped inside the
``mistral-common`` wheel (Mistral 7B v0.1's, the LLaMA layout: unk 0, bos 1, eos 2, byte fallback,
no pad, mask or sentinels). The real corpora and models in ``../shared/data`` (override with
``LMPAIRS_SHARED_DATA``) are only used by tests that take ``shared_data``; those skip without it.

Tiers: tests under ``integration/`` and ``e2e/`` are marked ``slow`` unless marked ``fast``;
``make test`` runs ``-m "not slow"``, ``make test-all`` everything.
"""
from __future__ import annotations

import importlib.util
import io
import os
import shutil
from pathlib import Path

import pytest
import sentencepiece as spm
from logging_state import restored_logging
from textgen import bom_crlf_bytes, english_paragraphs, english_text, japanese_lines

from lmpairs.tokenizers import Tokenizer, train_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LMPAIRS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
TRAINED_VOCAB_SIZE = 2000
SLOW_DIRS = ("integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Runner, DDP and end-to-end tests are ``slow`` unless marked ``fast``; tests that take the
    ``shared_data`` fixture get the ``shared_data`` marker (``-m shared_data`` selects them)."""
    tests_dir = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(tests_dir).parts if item.path.is_relative_to(tests_dir) else ()
        if parts and parts[0] in SLOW_DIRS and not item.get_closest_marker("fast"):
            item.add_marker(pytest.mark.slow)
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture(autouse=True)
def isolated_logging():
    """Each test starts and ends with the loggers as it found them (see :func:`restored_logging`)."""
    with restored_logging():
        yield


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real corpora (``corpora/``) and SentencePiece models (``tokenizers/``).

    Present in this workspace and in CI; a bare clone lacks it, and the tests that need it skip.
    """
    if not (SHARED_DATA / "corpora").is_dir() or not (SHARED_DATA / "tokenizers").is_dir():
        pytest.skip(f"needs the real corpora in {SHARED_DATA} (absent; present in CI)")
    return SHARED_DATA


# Hermetic corpora ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("text")


@pytest.fixture(scope="session")
def english_corpus(text_dir: Path) -> Path:
    """About 1.5 MB of English (LF): the pydoc documents, then 3,000 generated paragraphs, blank
    lines between them. Stands in for WikiText-2, Shakespeare and Austen."""
    path = text_dir / "english.txt"
    path.write_text(english_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bom_crlf_corpus(text_dir: Path) -> Path:
    """About 280 KB of generated English paragraphs, one a line, stored with a UTF-8 BOM and CRLF
    line endings (as Botchan is); text the trained tokenizer never saw."""
    path = text_dir / "novel_bom_crlf.txt"
    path.write_bytes(bom_crlf_bytes("\n".join(english_paragraphs(1400, seed=7)) + "\n"))
    return path


@pytest.fixture(scope="session")
def japanese_corpus(text_dir: Path) -> Path:
    """About 300 KB of generated Japanese, CRLF line endings, no spaces (stands in for 吾輩は猫である)."""
    path = text_dir / "japanese.txt"
    path.write_bytes(("\r\n".join(japanese_lines(800, seed=0)) + "\r\n").encode("utf-8"))
    return path


# Tokenizers ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def trained_tokenizer(english_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """A 2,000-piece unigram model trained by lmpairs on :func:`english_corpus` (pad 0, unk 1, bos 2,
    eos 3, mask 4 and the 100 sentinels in the vocabulary)."""
    output = tmp_path_factory.mktemp("tokenizer") / "english_2k.model"
    return train_tokenizer([english_corpus], output, TRAINED_VOCAB_SIZE)


def pretrained_model_file() -> Path:
    """Mistral 7B v0.1's SentencePiece model as the ``mistral-common`` wheel installs it."""
    spec = importlib.util.find_spec("mistral_common")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("mistral-common is not installed; run `make setup` (the test extra pins it).")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.model.v1"


@pytest.fixture(scope="session")
def llama_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real pretrained 32,000-piece BPE model in the LLaMA layout (unk 0, bos 1, eos 2, byte
    fallback, no pad, mask or sentinels), copied to a ``.model`` path: Mistral 7B v0.1's."""
    path = tmp_path_factory.mktemp("pretrained") / "mistral_7b_v0.1.model"
    shutil.copyfile(pretrained_model_file(), path)
    return path


@pytest.fixture(scope="session")
def llama_tokenizer(llama_model_path: Path) -> Tokenizer:
    """The LLaMA-layout model (102 ids appended: sentinels, mask, pad)."""
    return Tokenizer.load(llama_model_path)


def train_plain_spm(lines: list[str], path: Path, vocab_size: int, **options) -> Path:
    """A model trained straight through SentencePiece, with its defaults (unk 0, bos 1, eos 2, no pad)."""
    writer = io.BytesIO()
    spm.set_random_generator_seed(0)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=writer, vocab_size=vocab_size,
                                   num_threads=1, minloglevel=2, **options)
    path.write_bytes(writer.getvalue())
    return path


@pytest.fixture(scope="session")
def spm_test_model_path(english_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000-piece unigram model in SentencePiece's default layout (unk 0, bos 1, eos 2, no pad),
    like SentencePiece's own test model."""
    lines = [line for line in english_corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    return train_plain_spm(lines[:6000], tmp_path_factory.mktemp("spm") / "spm_unigram_1k.model", 1000)


@pytest.fixture(scope="session")
def spm_test_tokenizer(spm_test_model_path: Path) -> Tokenizer:
    """The 1,000-piece default-layout model (102 ids appended)."""
    return Tokenizer.load(spm_test_model_path)


@pytest.fixture(scope="session")
def japanese_tokenizer(japanese_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """A 1,000-piece unigram model in SentencePiece's default layout trained on :func:`japanese_corpus`."""
    lines = japanese_corpus.read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("spm_ja") / "spm_ja_1k.model"
    return Tokenizer.load(train_plain_spm(lines, path, 1000, character_coverage=0.9995))


@pytest.fixture
def torch_one_thread():
    """Tiny models run several times faster on one thread when other work shares the two cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
