"""T5 span corruption on real text through real tokenizers: applied rates, span statistics, rebuild.

Rows are built the way the pipeline builds them (one packer, documents in order) from
the hermetic English corpus (pydoc text and generated prose), tokenized by the lmpairs-trained tokenizer
and by the LLaMA-layout pretrained model (sentinels
appended past its 32,000 pieces). The expected span-length law is exact: a uniform partition of
``n`` tokens into ``k`` non-empty spans gives a span ``j`` tokens long with probability
``C(n-j-1, k-2) / C(n-1, k-1)``.
"""
from __future__ import annotations

from math import comb

import numpy as np
import pytest

from lmpairs.config import ConfigError, T5Config
from lmpairs.transforms import Ragged, RowBatch
from lmpairs.transforms.t5 import T5Objective
from lmpairs.transforms.testing import document_batch, rows_in_memory

TOKENIZERS = ["trained_tokenizer", "llama_tokenizer"]
LITERAL = "A line that spells out <extra_id_0>, <extra_id_1> and <mask> as plain text."


@pytest.fixture(scope="module", params=TOKENIZERS)
def corpus(request, english_corpus):
    """(tokenizer, objective, clean rows as arrays, one example's columns per row) for the English corpus."""
    tokenizer = request.getfixturevalue(request.param)
    objective = T5Objective(T5Config(), tokenizer.vocab)
    text = english_corpus.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()] + [LITERAL]
    documents = [(f"english:{i:06d}", ids, ends) for i, (ids, ends) in enumerate(tokenizer.encode_documents(lines))]
    packer = objective.packer()
    packer.add(document_batch(documents))
    last, dropped = packer.finish()
    assert dropped == 0 and last.num_rows == 1  # T5 keeps the short final row
    rows = rows_in_memory(objective, documents)
    ex = objective.corrupt(rows, seed=0)
    examples = [{name: column.row(i) for name, column in ex.columns.items()} for i in range(rows.num_rows)]
    return tokenizer, objective, rows, [rows.ids.row(i) for i in range(rows.num_rows)], examples


def _span_lengths(objective: T5Objective, columns) -> tuple[np.ndarray, np.ndarray]:
    """(non-noise, noise) span lengths of one example, read back from its sentinels."""
    is_sentinel = np.zeros(objective.vocab.size, dtype=bool)
    is_sentinel[list(objective.vocab.sentinel_ids)] = True
    inputs, targets = columns["input_ids"][:-1], columns["labels"][:-1]
    in_at = np.flatnonzero(is_sentinel[inputs])
    tg_at = np.flatnonzero(is_sentinel[targets])
    nonnoise = np.diff(np.concatenate([[-1], in_at])) - 1
    noise = np.diff(np.append(tg_at, targets.shape[0])) - 1
    return nonnoise, noise


def test_real_rows_rebuild_exactly_and_full_rows_fit(corpus):
    tokenizer, objective, batch, rows, examples = corpus
    assert len(rows) > 400
    sentinels = np.asarray(tokenizer.vocab.sentinel_ids)
    assert not np.isin(batch.ids.values, sentinels).any()  # literal "<extra_id_0>" text is not a sentinel
    clean = objective.clean(objective.corrupt(batch, seed=0))
    assert np.array_equal(clean.ids.values, batch.ids.values) and np.array_equal(clean.ids.offsets, batch.ids.offsets)
    full = [columns for row, columns in zip(rows, examples) if row.shape[0] == 568]
    assert all(c["input_ids"].shape == (512,) and c["labels"].shape == (114,) for c in full)
    assert len(full) == len(rows) - 1  # only the stream's last row is short


def test_noise_density_and_mean_span_length_over_the_corpus(corpus):
    _, objective, batch, _, _ = corpus
    stats = objective.measure(objective.corrupt(batch, seed=0))
    tokens, noise, spans = stats["tokens"], stats["noise_tokens"], stats["noise_spans"]
    assert 0.145 <= noise / tokens <= 0.155, noise / tokens  # 85 / 568 = 0.1496 per full row
    assert 2.9 <= noise / spans <= 3.1, noise / spans  # 85 / 28 = 3.04 per full row


def test_span_lengths_follow_the_uniform_partition_law(corpus):
    _, objective, _, rows, examples = corpus
    full = [columns for row, columns in zip(rows, examples) if row.shape[0] == 568]
    lengths = [_span_lengths(objective, columns) for columns in full]
    for side, (n, k) in ((0, (483, 28)), (1, (85, 28))):
        pooled = np.concatenate([pair[side] for pair in lengths])
        assert pooled.shape[0] == k * len(full) and pooled.min() >= 1
        for j in (1, 2, 3, 5, 10):
            want = comb(n - j - 1, k - 2) / comb(n - 1, k - 1)
            got = float(np.mean(pooled == j))
            assert abs(got - want) < 0.02, (side, j, got, want)


def test_noise_is_spread_over_the_row(corpus):
    # T5's mask starts with non-noise and ends with noise; in between, no region is favoured.
    _, objective, _, rows, examples = corpus
    hits = np.zeros(568)
    full = 0
    for row, columns in zip(rows, examples):
        if row.shape[0] != 568:
            continue
        nonnoise, noise = _span_lengths(objective, columns)
        hits += np.repeat(np.tile([False, True], noise.shape[0]), np.stack([nonnoise, noise], 1).ravel())
        full += 1
    assert hits[0] == 0 and hits[-1] == full
    middle = hits[71:497].reshape(6, 71).mean(axis=1) / full
    assert np.all(np.abs(middle - 0.15) < 0.02), middle


def test_sentinels_decode_as_extra_ids(corpus):
    tokenizer, _, _, _, examples = corpus
    inputs, targets = examples[0]["input_ids"], examples[0]["labels"]
    first = [tokenizer.id_to_piece(int(i)) for i in targets[:1]]
    assert first == ["<extra_id_0>"]
    pieces = [tokenizer.id_to_piece(int(i)) for i in inputs]
    assert [p for p in pieces if p.startswith("<extra_id_")] == [f"<extra_id_{i}>" for i in range(28)]
    assert inputs[-1] == tokenizer.vocab.eos_id == targets[-1]


def test_llama_sentinels_sit_past_its_vocabulary_in_t5_layout(llama_tokenizer):
    vocab = llama_tokenizer.vocab
    assert vocab.sentinel_ids[0] == 32099 and vocab.sentinel_ids[99] == 32000
    objective = T5Objective(T5Config(), vocab)
    ids = np.arange(1000, 1568, dtype=np.int32)
    rows = RowBatch(np.zeros(1, np.uint64), Ragged(ids, np.array([0, 568])), Ragged.from_rows([[568]]))
    assert objective.corrupt(rows, seed=0).columns["labels"].values[0] == 32099


@pytest.mark.parametrize("name", TOKENIZERS)
def test_too_many_spans_for_the_tokenizers_sentinels_is_a_config_error(request, name):
    tokenizer = request.getfixturevalue(name)
    assert len(tokenizer.vocab.sentinel_ids) == 100
    T5Objective(T5Config(seq_len=1024), tokenizer.vocab)  # 57 spans: fits
    with pytest.raises(ConfigError, match=r"t5\.seq_len=4096 .* up to 227 noise spans .* only 100 sentinel"):
        T5Objective(T5Config(seq_len=4096), tokenizer.vocab)
    with pytest.raises(ConfigError, match="only 100 sentinel ids"):
        T5Objective(T5Config(seq_len=512, noise_density=0.5, mean_noise_span_length=1.0), tokenizer.vocab)
