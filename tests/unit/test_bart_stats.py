"""BART's applied noise rates on real text, through real tokenizers (trained 2k unigram and LLaMA 2).

Generated English the trained tokenizer never saw (BOM + CRLF) is split into documents of 1 to 60
lines, sentence-split and encoded by ``Tokenizer.encode_documents``, packed into rows by the BART
packer and noised as one batch with BART-large's defaults. Bounds are several standard deviations
wide.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from textgen import english_paragraphs

from lmpairs.config import BartConfig
from lmpairs.objectives import make_objective
from lmpairs.transforms import ExampleBatch
from lmpairs.transforms.testing import rows_in_memory

TOKENIZERS = ("trained_tokenizer", "llama_tokenizer")


@pytest.fixture(scope="module", params=TOKENIZERS)
def corpus(request, bom_crlf_corpus):
    tokenizer = request.getfixturevalue(request.param)
    lines = bom_crlf_corpus.read_text(encoding="utf-8").splitlines()
    sizes = np.random.default_rng(0).integers(1, 61, len(lines))
    cuts = np.cumsum(sizes)
    cuts = [0, *cuts[cuts < len(lines)].tolist(), len(lines)]
    documents = ["\n".join(lines[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
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


def document_words(tokenizer, rows) -> np.ndarray:
    """Words (word starts) in the body of every document of every row, in row order."""
    ends = np.cumsum(rows.segments.values)
    starts = ends - rows.segments.values
    body = np.ones(rows.ids.values.shape[0], dtype=bool)
    body[starts], body[ends - 1] = False, False  # <s> and </s>
    words = tokenizer.vocab.word_start[rows.ids.values] & body
    return np.add.reduceat(words.astype(np.int64), starts)


def test_rows_hold_whole_documents_and_fit(corpus):
    tokenizer, rows = corpus
    assert rows.ids.lengths.max() <= 512
    assert rows.ids.lengths.mean() > 0.9 * 512  # best fit leaves under 10% of the slots empty
    assert (rows.segments.lengths > 1).sum() >= 10  # short documents and long ones' last pieces share rows


def test_infilling_masks_thirty_percent_of_body_tokens(corpus):
    tokenizer, rows = corpus
    counts = totals(tokenizer, rows)
    assert abs(counts["removed"] / counts["body_tokens"] - 0.3) < 0.01
    random_share = counts["added"] / (counts["added"] + counts["masks"])
    assert abs(random_share - 0.1) < 0.02
    assert counts["tokens"] < 0.8 * counts["label_tokens"]  # 30% of tokens -> one token per ~3.5 words


def test_span_lengths_follow_poisson(corpus):
    tokenizer, rows = corpus
    counts = totals(tokenizer, rows, random_ratio=0.0)
    exact = document_words(tokenizer, rows) * 0.3  # each document's budget: this, rounded up or down at random
    low = np.floor(exact + 1e-9).astype(int)
    up = exact - low
    spans = {b: expected_num_spans(b, 3.5) for b in range(int(low.max()) + 2)}
    expected = sum((1 - f) * spans[b] + f * spans[b + 1] for b, f in zip(low.tolist(), up.tolist()))
    assert abs(counts["masks"] / expected - 1) < 0.03  # each span (zero-length ones too) is one mask
    mean_words_per_span = exact.sum() / counts["masks"]
    assert 2.5 < mean_words_per_span < 3.5  # λ=3.5, shortened by the trimmed last span of each document


def test_token_masking_and_deletion_rates(corpus):
    tokenizer, rows = corpus
    base = dict(mask_ratio=0.0, permute_sentence_ratio=0.0)
    masked = totals(tokenizer, rows, token_mask_ratio=0.15, **base)
    deleted = totals(tokenizer, rows, token_delete_ratio=0.15, **base)
    assert abs(masked["masks"] / masked["body_tokens"] - 0.15) < 0.005
    assert masked["removed"] == masked["masks"] and deleted["masks"] == 0
    assert abs(deleted["removed"] / deleted["body_tokens"] - 0.15) < 0.005


def test_sentence_permutation_reorders_each_documents_sentences(corpus):
    tokenizer, rows = corpus
    bart = make_objective("bart", BartConfig(mask_ratio=0.0), tokenizer.vocab)
    ex = bart.corrupt(rows, seed=3)
    docs = bart.documents(rows)
    noisy = bart.documents(bart.clean(ExampleBatch(ex.keys, {**ex.columns, "labels": ex.columns["input_ids"]})))
    multi = np.diff(docs.sentence_offsets) > 1
    before = np.split(docs.body, docs.body_offsets[1:-1])
    after = np.split(noisy.body, noisy.body_offsets[1:-1])
    changed = np.array([not np.array_equal(a, b) for a, b in zip(before, after)])
    assert multi.sum() > 100 and changed[multi].mean() > 0.9 and not changed[~multi].any()
    assert all(sorted(a.tolist()) == sorted(b.tolist()) for a, b in zip(before, after))


def padding_share(tokenizer, paragraphs: list[str], seq_len: int = 512) -> float:
    """Padding as a share of the row slots when ``paragraphs`` are one stream of BART documents."""
    bart = make_objective("bart", BartConfig(seq_len=seq_len), tokenizer.vocab)
    encoded = tokenizer.encode_documents(paragraphs)
    rows = rows_in_memory(bart, [(i, ids, ends) for i, (ids, ends) in enumerate(encoded) if len(ids)])
    frames = 2 * rows.segments.values.shape[0]  # <s> and </s> of each document or piece of one
    assert rows.ids.values.shape[0] - frames == sum(len(ids) for ids, _ in encoded)  # nothing dropped
    return 1 - rows.ids.values.shape[0] / (rows.num_rows * seq_len)


def test_paragraph_documents_fill_rows(trained_tokenizer):
    """Rows of one paragraph each padded about two thirds of their slots; packed ones under 10%."""
    assert padding_share(trained_tokenizer, english_paragraphs(1500, seed=3)) <= 0.10


def test_pride_and_prejudice_paragraphs_fill_rows(shared_data, trained_tokenizer):
    text = (shared_data / "corpora" / "pride_and_prejudice.txt").read_text(encoding="utf-8-sig")
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if p.strip()]
    assert len(paragraphs) > 1000 and padding_share(trained_tokenizer, paragraphs) <= 0.10
