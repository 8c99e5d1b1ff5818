"""One invariant checker run over every objective in the table (STYLE.md "Tests").

For any document: rows built by the objective, corrupted with a seeded generator, are
reproducible, depend on the seed, keep int32 dtypes, never mutate their input, and can be turned
back into the clean row (T5 inputs+targets rebuild it; BART targets and MLM labels restore it).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.config import BartConfig, ClmConfig, MlmConfig, T5Config
from lmpairs.transforms import OBJECTIVE_TABLE, example_rng, make_objective
from lmpairs.vocab import toy_vocab

VOCAB = toy_vocab(500)
CONFIGS = {
    "clm": ClmConfig(seq_len=48),
    "mlm": MlmConfig(seq_len=48, copies=2),
    "t5": T5Config(seq_len=48),
    "bart": BartConfig(seq_len=48, rotate_ratio=0.5, insert_ratio=0.1, token_delete_ratio=0.05),
}
RANDOM = {"mlm", "t5", "bart"}


def test_every_registered_objective_is_checked():
    assert set(CONFIGS) == set(OBJECTIVE_TABLE)


documents = st.lists(st.integers(1, 40), min_size=1, max_size=8).flatmap(
    lambda sentence_lengths: st.tuples(
        st.just(sentence_lengths),
        st.lists(st.sampled_from(VOCAB.ordinary_ids.tolist()), min_size=sum(sentence_lengths),
                 max_size=sum(sentence_lengths))))


def rows_of(objective, sentence_lengths, ids, key="doc.txt:0"):
    ids = np.array(ids, dtype=np.int32)
    ends = np.cumsum(sentence_lengths).astype(np.int32)
    rows, rest = objective.document_rows(key, ids, ends)
    packed, _ = objective.pack_leftovers("train/0", [rest])
    return rows + packed


@pytest.mark.parametrize("name", sorted(CONFIGS))
@settings(max_examples=60, deadline=None)
@given(doc=documents, seed=st.integers(0, 2**32 - 1))
def test_invariants(name, doc, seed):
    objective = make_objective(name, CONFIGS[name], VOCAB)
    sentence_lengths, ids = doc
    rows = rows_of(objective, sentence_lengths, ids)
    for row in rows:
        assert row.ids.dtype == np.int32 and int(row.segment_lengths.sum()) == len(row.ids)
        before = row.ids.copy()
        first = objective.corrupt(row, rng=example_rng(seed, name, row.key, 0))
        again = objective.corrupt(row, rng=example_rng(seed, name, row.key, 0))
        assert (row.ids == before).all(), "corrupt mutated its input"
        assert set(first) == set(objective.columns)
        for column in objective.columns:
            assert first[column].dtype == np.int32, column
            assert first[column].tolist() == again[column].tolist(), "same seed, different output"
        assert objective.clean_ids(first).tolist() == row.ids.tolist()
        assert objective.measure(first)["tokens"] >= 1
        copies = objective.examples(row, seed=seed)
        assert len(copies) == objective.num_copies and len({k for k, _ in copies}) == objective.num_copies


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_different_seeds_give_different_examples(name):
    objective = make_objective(name, CONFIGS[name], VOCAB)
    ids = np.random.default_rng(0).choice(VOCAB.ordinary_ids, 400).astype(np.int32)
    row = rows_of(objective, [40] * 10, ids)[0]
    outputs = {tuple(objective.corrupt(row, rng=example_rng(s, name, row.key, 0))["input_ids"].tolist())
               for s in range(4)}
    assert len(outputs) > 1


def test_clm_has_no_randomness_to_differ():
    objective = make_objective("clm", CONFIGS["clm"], VOCAB)
    row = rows_of(objective, [100], VOCAB.ordinary_ids[:100].tolist())[0]
    a = objective.corrupt(row, rng=example_rng(0, "clm", row.key, 0))
    b = objective.corrupt(row, rng=example_rng(1, "clm", row.key, 0))
    assert a["input_ids"].tolist() == b["input_ids"].tolist() == row.ids.tolist()
