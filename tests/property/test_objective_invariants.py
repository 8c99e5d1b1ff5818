"""One invariant checker run over every registered objective (STYLE.md "Tests").

For any documents split into any batches: the packer gives the same rows and keys; corruption is
reproducible, seed-sensitive, int32, never mutates its input, rebuilds the clean rows through
``clean``, and gives each row the same example whatever batch it is corrupted in.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vocabs import toy_vocab

from lmpairs.config import BartConfig, ClmConfig, MlmConfig, T5Config
from lmpairs.objectives import make_objective, objective_names
from lmpairs.transforms.batch import concat_rows
from lmpairs.transforms.fim import FimConfig
from lmpairs.transforms.prefix_lm import PrefixLmConfig
from lmpairs.transforms.testing import check_invariants, document_batch, examples_as_lists, rows_as_lists
from lmpairs.transforms.ul2 import Ul2Config

VOCAB = toy_vocab(500).with_named({p: None for p in ("[NLU]", "[NLG]", "[S2S]", "<fim_prefix>", "<fim_middle>",
                                                      "<fim_suffix>")})
CONFIGS = {
    "clm": [ClmConfig(seq_len=24), ClmConfig(seq_len=7, add_bos=False, final_row="drop"),
            ClmConfig(seq_len=11, packing="best_fit"),
            ClmConfig(seq_len=9, packing="best_fit", long_documents="truncate")],
    "mlm": [MlmConfig(seq_len=24, copies=2), MlmConfig(seq_len=9, whole_word=True, selection="bernoulli"),
            MlmConfig(seq_len=30, whole_word=True, mask_prob=0.4)],
    "t5": [T5Config(seq_len=16), T5Config(seq_len=40, noise_density=0.5, mean_noise_span_length=1.0)],
    "bart": [BartConfig(seq_len=24), BartConfig(seq_len=12, rotate_ratio=0.5, insert_ratio=0.1,
                                                token_delete_ratio=0.05, token_mask_ratio=0.1,
                                                permute_sentence_ratio=0.5, mask_whole_words=False)],
    "prefix_lm": [PrefixLmConfig(seq_len=20), PrefixLmConfig(seq_len=5, add_bos=False, final_row="drop")],
    "ul2": [Ul2Config(seq_len=24), Ul2Config(seq_len=40, denoisers=("X:3:0.5", "S"), weights=(1.0, 3.0))],
    "fim": [FimConfig(seq_len=16)],
}


def test_every_registered_objective_is_checked():
    assert set(CONFIGS) >= set(objective_names()) - {n for n in objective_names() if n.startswith("test-")}


@st.composite
def corpora(draw):
    """Documents ``(key, ids, sentence_ends)`` with ordinary ids and a few specials inside."""
    num = draw(st.integers(1, 12))
    docs = []
    for i in range(num):
        sentences = draw(st.lists(st.integers(1, 15), min_size=0, max_size=5))
        n = sum(sentences)
        ids = np.array(draw(st.lists(st.integers(105, 604), min_size=n, max_size=n)), dtype=np.int32)
        if n and draw(st.booleans()):
            ids[draw(st.integers(0, n - 1))] = VOCAB.unk_id
        docs.append((draw(st.integers(0, 2**56 - 1)) * 256 + i if i % 3 else f"doc-{i}", ids,  # keys unique
                     np.cumsum(sentences).astype(np.int32)))
    return docs


def splits(draw, n: int) -> list[int]:
    return sorted(set(draw(st.lists(st.integers(0, n), max_size=4))))


def packed(objective, docs, cuts) -> tuple[list, int]:
    packer = objective.packer()
    parts, bounds = [], [0, *cuts, len(docs)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        parts.append(packer.add(document_batch(docs[a:b])))
    last, dropped = packer.finish()
    return concat_rows(parts + [last]), dropped


@pytest.mark.parametrize("name,index", [(n, i) for n in sorted(CONFIGS) for i in range(len(CONFIGS[n]))])
@settings(max_examples=25, deadline=None)
@given(data=st.data(), docs=corpora(), seed=st.integers(0, 2**64 - 1))
def test_invariants(name, index, data, docs, seed):
    objective = make_objective(name, CONFIGS[name][index], VOCAB)
    rows, dropped = packed(objective, docs, [])
    again, dropped_again = packed(objective, docs, data.draw(st.lists(st.integers(0, len(docs)), max_size=4)
                                                             .map(lambda c: sorted(set(c)))))
    assert rows_as_lists(rows) == rows_as_lists(again) and dropped == dropped_again
    assert rows.ids.values.dtype == np.int32 and rows.keys.dtype == np.uint64
    assert len(set(rows.keys.tolist())) == rows.num_rows, "row keys collide"
    lengths = rows.ids.lengths
    seg_sums = np.array([rows.segments.row(i).sum() for i in range(rows.num_rows)])
    assert (seg_sums == lengths).all() and (lengths <= objective.full_row_length).all()
    if rows.num_rows == 0:
        return
    cuts = data.draw(st.lists(st.integers(1, rows.num_rows), max_size=4))
    for copy in range(objective.num_copies):
        check_invariants(objective, rows, seed=seed, splits=cuts) if copy == 0 else None
    measured = objective.measure(objective.corrupt(rows, seed=seed))
    assert measured["tokens"] >= 1 and all(isinstance(v, int) for v in measured.values())


@pytest.mark.parametrize("name,config", [("mlm", MlmConfig(seq_len=24)), ("t5", T5Config(seq_len=64)),
                                         ("bart", BartConfig(seq_len=24))])
def test_seed_and_copy_sensitivity(name, config):
    objective = make_objective(name, config, VOCAB)
    rng = np.random.default_rng(0)
    docs = [(i, rng.integers(105, 605, 60).astype(np.int32), np.array([20, 40, 60])) for i in range(6)]
    rows, _ = packed(objective, docs, [2])
    base = examples_as_lists(objective.corrupt(rows, seed=1))
    other_seed = examples_as_lists(objective.corrupt(rows, seed=2))
    other_copy = objective.corrupt(rows, seed=1, copy=1)
    assert sum(a[1:] != b[1:] for a, b in zip(base, other_seed)) >= rows.num_rows * 3 // 4
    assert sum(a[1:] != b[1:] for a, b in zip(base, examples_as_lists(other_copy))) >= rows.num_rows * 3 // 4
    assert not set(other_copy.keys.tolist()) & set(rows.keys.tolist())
