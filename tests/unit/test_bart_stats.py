"""BART's applied noise rates on real text, through real tokenizers (trained 2k unigram and LLaMA 2).

Generated English the trained tokenizer never saw (BOM + CRLF) is split into 60-line documents,
sentence-split and encoded by ``Tokenizer.encode_documents``, cut into rows by the BART packer and
noised as one batch with BART-large's defaults. Bounds are several standard deviations wide.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from lmpairs.config import BartConfig
from lmpairs.objectives import make_objective
from lmpairs.transforms.bart_noise import ceil_counts
from lmpairs.transforms.testing import rows_in_memory

TOKENIZERS = ("trained_tokenizer", "llama_tokenizer")


@pytest.fixture(scope="module", params=TOKENIZERS)
def corpus(request, bom_crlf_corpus):
    tokenizer = request.getfixturevalue(request.param)
    lines = bom_crlf_corpus.read_text(encoding="utf-8").splitlines()
    documents = ["\n".join(lines[i:i + 60]) for i in range(0, len(lines), 60)]
    bart = make_objective("bart", BartConfig(), tokenizer.vocab)
    encoded = tokenizer.encode_documents(documents)
    rows = rows_in_memory(bart, [(f"novel.txt:{d}", ids, ends) for d, (ids, ends) in enumerate(encoded)])
    assert rows.num_rows > 100
    return tokenizer, rows


def totals(tokenizer, rows, seed: int = 0, **config) -> dict[str, int]:
    bart = make_objective("bart", BartConfig(**config), tokenizer.vocab)
    return bart.measure(bart.corrupt(rows, seed=seed))


def expected_num_spans(budget: int, poisson_lambda: float) -> float:
    """E[number of Poisson draws until their sum reaches ``budget``] = sum_n P(Poisson(n λ) < budget):
    the spans (zero-length ones included) fairseq's trimming yields, from theory, not from code."""
    total, n = 0.0, 0
    while True:
        mean = n * poisson_lambda
        below = sum(math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) if mean else float(k == 0)
                    for k in range(budget))
        if below < 1e-12:
            return total
        total += below
        n += 1


def test_rows_are_sentence_aligned_and_fit(corpus):
    _, rows = corpus
    assert rows.ids.lengths.max() <= 512
    assert rows.ids.lengths.mean() > 300  # greedy filling leaves little room unused


def test_infilling_masks_thirty_percent_of_body_tokens(corpus):
    tokenizer, rows = corpus
    counts = totals(tokenizer, rows)
    assert abs(counts["removed"] / counts["body_tokens"] - 0.3) < 0.03
    random_share = counts["added"] / (counts["added"] + counts["masks"])
    assert abs(random_share - 0.1) < 0.02
    assert counts["tokens"] < 0.8 * counts["label_tokens"]  # 30% of tokens -> one token per ~3.5 words


def test_span_lengths_follow_poisson(corpus):
    tokenizer, rows = corpus
    counts = totals(tokenizer, rows, random_ratio=0.0)
    words = [int(tokenizer.vocab.word_start[rows.ids.row(i)[1:-1]].sum()) for i in range(rows.num_rows)]
    budgets = ceil_counts(np.array(words), 0.3).tolist()
    expected = sum(expected_num_spans(b, 3.5) for b in budgets)
    assert abs(counts["masks"] / expected - 1) < 0.03  # each span (zero-length ones too) is one mask
    mean_words_per_span = sum(budgets) / counts["masks"]
    assert 3.0 < mean_words_per_span < 3.5  # λ=3.5, shortened by the trimmed last span of each row


def test_token_masking_and_deletion_rates(corpus):
    tokenizer, rows = corpus
    base = dict(mask_ratio=0.0, permute_sentence_ratio=0.0)
    masked = totals(tokenizer, rows, token_mask_ratio=0.15, **base)
    deleted = totals(tokenizer, rows, token_delete_ratio=0.15, **base)
    assert abs(masked["masks"] / masked["body_tokens"] - 0.15) < 0.005  # ceil per row: slightly above
    assert masked["removed"] == masked["masks"] and deleted["masks"] == 0
    assert abs(deleted["removed"] / deleted["body_tokens"] - 0.15) < 0.005


def test_sentence_permutation_reorders_real_sentences(corpus):
    tokenizer, rows = corpus
    bart = make_objective("bart", BartConfig(mask_ratio=0.0), tokenizer.vocab)
    ex = bart.corrupt(rows, seed=3)
    inputs, labels = ex.columns["input_ids"], ex.columns["labels"]
    multi = np.diff(rows.segments.offsets) > 1
    changed = np.array([not np.array_equal(inputs.row(i), labels.row(i)) for i in range(rows.num_rows)])
    assert changed[multi].mean() > 0.9 and not changed[~multi].any()
    assert all(sorted(inputs.row(i).tolist()) == sorted(labels.row(i).tolist()) for i in range(rows.num_rows))
