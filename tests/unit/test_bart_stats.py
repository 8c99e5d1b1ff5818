"""BART's applied noise rates on real text, through real tokenizers (trained 2k unigram and LLaMA 2).

Generated English the trained tokenizer never saw (BOM + CRLF, as Botchan) is split into 60-line documents, sentence-split
and encoded by ``Tokenizer.encode_documents``, cut into rows by ``document_rows`` and noised with
BART-large's defaults. Bounds are several standard deviations wide for these sample sizes.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lmpairs.config import BartConfig
from lmpairs.transforms import example_rng
from lmpairs.transforms.bart import BartObjective
from lmpairs.transforms.bart_noise import infill_text, noise_count

TOKENIZERS = ("trained_tokenizer", "llama_tokenizer")


@pytest.fixture(scope="module", params=TOKENIZERS)
def corpus(request, bom_crlf_corpus):
    tokenizer = request.getfixturevalue(request.param)
    text = bom_crlf_corpus.read_text(encoding="utf-8")
    lines = text.splitlines()
    documents = ["\n".join(lines[i:i + 60]) for i in range(0, len(lines), 60)]
    objective = BartObjective(BartConfig(), tokenizer.vocab)
    rows = [row for d, (ids, ends) in enumerate(tokenizer.encode_documents(documents))
            for row in objective.document_rows(f"novel.txt:{d}", ids, ends)[0]]
    assert len(rows) > 100
    return tokenizer, rows


def totals(objective: BartObjective, rows, seed: int = 0) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        for key, value in objective.measure(objective.corrupt(row, rng=example_rng(seed, "bart", row.key, 0))).items():
            out[key] = out.get(key, 0) + value
    return out


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
    assert max(len(r.ids) for r in rows) <= 512
    assert np.mean([len(r.ids) for r in rows]) > 300  # greedy filling leaves little room unused


def test_infilling_masks_thirty_percent_of_body_tokens(corpus):
    tokenizer, rows = corpus
    objective = BartObjective(BartConfig(), tokenizer.vocab)
    counts = totals(objective, rows)
    assert abs(counts["removed"] / counts["body_tokens"] - 0.3) < 0.03
    random_share = counts["added"] / (counts["added"] + counts["masks"])
    assert abs(random_share - 0.1) < 0.02
    assert counts["tokens"] < 0.8 * counts["label_tokens"]  # 30% of tokens -> one token per ~3.5 words


def test_span_lengths_follow_poisson(corpus):
    tokenizer, rows = corpus
    objective = BartObjective(BartConfig(random_ratio=0.0), tokenizer.vocab)
    counts = totals(objective, rows)
    budgets = [noise_count(int(tokenizer.vocab.word_start[r.ids[1:-1]].sum()), 0.3) for r in rows]
    expected = sum(expected_num_spans(b, 3.5) for b in budgets)
    assert abs(counts["masks"] / expected - 1) < 0.03  # each span (zero-length ones too) is one mask
    mean_words_per_span = sum(budgets) / counts["masks"]
    assert 3.0 < mean_words_per_span < 3.5  # λ=3.5, shortened by the trimmed last span of each row


def test_fairseq_overlapping_placement_realizes_less(corpus):
    """Why spans are disjoint by default: fairseq's independent starts merge into ~1-exp(-0.3)."""
    tokenizer, rows = corpus
    removed = {True: 0, False: 0}
    for disjoint in removed:
        for row in rows:
            body = row.ids[1:-1]
            out = infill_text(body, mask_ratio=0.3, random_ratio=0.0, poisson_lambda=3.5, whole_words=True,
                              vocab=tokenizer.vocab, rng=example_rng(1, "bart", row.key, 0), disjoint=disjoint)
            removed[disjoint] += len(body) - int((out != tokenizer.vocab.mask_id).sum())
    body_tokens = sum(len(r.ids) - 2 for r in rows)
    assert abs(removed[True] / body_tokens - 0.3) < 0.03
    assert abs(removed[False] / body_tokens - (1 - math.exp(-0.3))) < 0.03


def test_token_masking_and_deletion_rates(corpus):
    tokenizer, rows = corpus
    base = BartConfig(mask_ratio=0.0, permute_sentence_ratio=0.0)
    masked = totals(BartObjective(dataclasses.replace(base, token_mask_ratio=0.15), tokenizer.vocab), rows)
    deleted = totals(BartObjective(dataclasses.replace(base, token_delete_ratio=0.15), tokenizer.vocab), rows)
    assert abs(masked["masks"] / masked["body_tokens"] - 0.15) < 0.005  # ceil per row: slightly above
    assert masked["removed"] == masked["masks"] and deleted["masks"] == 0
    assert abs(deleted["removed"] / deleted["body_tokens"] - 0.15) < 0.005
