"""Shared fixtures: paths to the real test data next to the repository and tokenizers built from it.

The data lives in ``../shared/data`` (see its SOURCES.md), never inside the repository. The trained
tokenizer is trained once per session on real English text (a few seconds), as nanoGPT's tests do,
rather than downloaded.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from lmpairs.tokenizer import Tokenizer, train_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TRAINED_VOCAB_SIZE = 2000


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real corpora (``corpora/``) and SentencePiece models (``tokenizers/``)."""
    if not (SHARED_DATA / "corpora").is_dir() or not (SHARED_DATA / "tokenizers").is_dir():
        pytest.fail(f"{SHARED_DATA}: the shared test data is missing (expected corpora/ and "
                    "tokenizers/ there); check out the project so that shared/ sits next to the "
                    "repository root.", pytrace=False)
    return SHARED_DATA


@pytest.fixture(scope="session")
def trained_tokenizer(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """A 2,000-piece unigram model trained on Shakespeare and Austen (pad 0, unk 1, bos 2, eos 3,
    mask and the 100 sentinels in the vocabulary)."""
    corpora = shared_data / "corpora"
    output = tmp_path_factory.mktemp("tokenizer") / "english_2k.model"
    return train_tokenizer([corpora / "tinyshakespeare.txt", corpora / "pride_and_prejudice.txt"],
                           output, TRAINED_VOCAB_SIZE)


@pytest.fixture(scope="session")
def llama_tokenizer(shared_data: Path) -> Tokenizer:
    """LLaMA 2's 32,000-piece BPE model (no pad, mask or sentinels: 102 ids appended)."""
    return Tokenizer.load(shared_data / "tokenizers" / "llama2.model")


@pytest.fixture(scope="session")
def spm_test_tokenizer(shared_data: Path) -> Tokenizer:
    """SentencePiece's own 1,000-piece unigram test model (unk 0, bos 1, eos 2, no pad)."""
    return Tokenizer.load(shared_data / "tokenizers" / "spm_test_unigram_1k.model")


@pytest.fixture
def torch_one_thread():
    """Tiny models run several times faster on one thread when other work shares the two cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
