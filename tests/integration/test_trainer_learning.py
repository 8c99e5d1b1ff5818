"""The reference trainer learns every objective from real text streamed through PairStream.

Shards are written straight from the objectives' transforms (no Beam) for 60 paragraphs of the
embedded pydoc corpus (real English prose, via the ``english_corpus`` fixture), tokenized with the
session's trained 2,000-piece tokenizer, 32 tokens per row.
Random-init loss is about ln(2108) = 7.65; learning only token frequencies brings it near 6, so
"last 5 steps below 0.8 × first 5" needs the model to use context within 40 steps.
"""
from pathlib import Path

import numpy as np
import pytest
from loader_fixtures import objective_examples, write_dataset

from lmpairs.config import OBJECTIVE_CONFIGS
from lmpairs.objectives import make_objective
from lmpairs.trainer import train

SEQ_LEN = 32


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def paragraphs(path: Path, start: int, count: int) -> list[str]:
    """Lines of more than five words (the pydoc corpus holds one prose paragraph a line)."""
    text = path.read_text(encoding="utf-8")
    found = [" ".join(p.split()) for p in text.splitlines() if len(p.split()) > 5]
    return found[start:start + count]


def write_objective(root: Path, objective: str, tokenizer, documents: list[str]) -> str:
    """``root/<objective>`` built with the objective's own rows and corruption (seed 0)."""
    config = OBJECTIVE_CONFIGS[objective](seq_len=SEQ_LEN)
    built = make_objective(objective, config, tokenizer.vocab)
    keys, columns = objective_examples(built, tokenizer, documents)
    return write_dataset(root / objective, objective, {"train": (keys, columns)}, config=config.to_dict(),
                         tokenizer=tokenizer.describe())


@pytest.fixture(scope="module")
def prose(english_corpus, trained_tokenizer, tmp_path_factory) -> dict[str, str]:
    documents = paragraphs(english_corpus, 30, 60)
    root = tmp_path_factory.mktemp("prose")
    return {o: write_objective(root, o, trained_tokenizer, documents) for o in ("clm", "mlm", "t5", "bart")}


@pytest.mark.parametrize("objective, documents", [("clm", "packed"), ("clm", "separate"), ("mlm", "packed"),
                                                  ("t5", "packed"), ("bart", "packed")])
def test_loss_falls_clearly_within_40_steps(prose, objective, documents):
    result = train(prose[objective], steps=40, batch_size=16, document_masking=documents, seed=0, log_every=40)
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert len(result.losses) == 40 and result.final_step == 40
    assert first > 6.5  # starts near ln(vocab): the model was not handed the answer
    assert last < 0.8 * first, result.losses
    assert result.tokens_per_s > 0 and 0 <= result.data_wait_fraction < 1


def test_model_is_sized_by_the_manifest_vocabulary(prose, trained_tokenizer):
    result = train(prose["mlm"], steps=1, batch_size=2, d_model=32, num_heads=2, d_ff=64, num_layers=1)
    embedding = trained_tokenizer.vocab.size * 32
    assert trained_tokenizer.vocab.size >= 2000
    assert embedding < result.num_parameters < embedding + 20_000
