"""Split, bucket and example steps of one objective, called directly (no runner needed)."""
import numpy as np
import pytest
from apache_beam import pvalue

from lmpairs.config import OBJECTIVE_CONFIGS, ClmConfig
from lmpairs.pipeline.examples import (LEFTOVERS, CutDocumentsFn, MakeExamplesFn, PackLeftoversFn, assign_split,
                                       full_row_length, pack_bucket)
from lmpairs.pipeline.records import Example, TokenizedDocument
from lmpairs.transforms import Row, make_objective
from lmpairs.vocab import toy_vocab

VOCAB = toy_vocab()


def doc(key: str, n: int) -> TokenizedDocument:
    ids = np.arange(200, 200 + n, dtype=np.int32)
    return TokenizedDocument(key, ids, np.array([n], dtype=np.int32))


def split_outputs(outputs):
    main = [o for o in outputs if not isinstance(o, pvalue.TaggedOutput)]
    tagged = [(o.tag, o.value) for o in outputs if isinstance(o, pvalue.TaggedOutput)]
    return main, tagged


def test_split_is_a_stable_fraction_of_keys_and_ignores_the_seed():
    keys = [f"corpus.txt:{i}" for i in range(20000)]
    validation = {k for k in keys if assign_split(k, 0.1) == "validation"}
    assert 0.09 < len(validation) / len(keys) < 0.11
    assert validation == {k for k in keys if assign_split(k, 0.1) == "validation"}
    assert validation <= {k for k in keys if assign_split(k, 0.2) == "validation"}  # nested as the fraction grows
    assert not any(assign_split(k, 0.0) == "validation" for k in keys)


def test_buckets_cover_all_values():
    assert {pack_bucket(f"f:{i}", 8) for i in range(1000)} == set(range(8))


@pytest.mark.parametrize("name, length", [("clm", 17), ("mlm", 16), ("t5", 17), ("bart", 16)])
def test_full_row_length_includes_framing(name, length):
    objective = make_objective(name, OBJECTIVE_CONFIGS[name](seq_len=16), VOCAB)
    assert full_row_length(objective) == length


def test_cut_documents_emits_whole_rows_and_the_remainders_grouped_by_split_and_bucket():
    fn = CutDocumentsFn("clm", ClmConfig(seq_len=7), VOCAB, validation_fraction=0.0, pack_buckets=4)
    fn.setup()
    # framed: 20 tokens = 2 rows of 8 + 4 left; and a 3-token document, all left
    [rows], tagged = split_outputs(list(fn.process([doc("a.txt:3", 18), doc("a.txt:4", 1)])))
    assert [split for split, _ in rows] == ["train", "train"]
    assert rows[0][1].ids.tolist() == [VOCAB.bos_id, *range(200, 207)]
    groups = {group: items for tag, (group, items) in tagged if tag == LEFTOVERS}
    assert len(tagged) == len(groups) == len({pack_bucket("a.txt:3", 4), pack_bucket("a.txt:4", 4)})
    items = dict(item for chunk in groups.values() for item in chunk)
    assert np.frombuffer(items["a.txt:3"], np.int32).tolist() == [215, 216, 217, VOCAB.eos_id]
    assert np.frombuffer(items["a.txt:4"], np.int32).tolist() == [VOCAB.bos_id, 200, VOCAB.eos_id]
    assert ("train", pack_bucket("a.txt:3", 4)) in groups


def test_pack_leftovers_sorts_by_document_key_whatever_the_arrival_order():
    fn = PackLeftoversFn("clm", ClmConfig(seq_len=3), VOCAB)
    fn.setup()
    items = [(key, np.array(ids, np.int32).tobytes()) for key, ids in (("k:2", [7, 8]), ("k:1", [5, 6]), ("k:3", [9]))]
    [first], counts = split_outputs(list(fn.process((("train", 0), [items[:1], items[1:]]))))
    [second], _ = split_outputs(list(fn.process((("train", 0), [items[::-1]]))))
    assert [r.ids.tolist() for _, r in first] == [[5, 6, 7, 8]]
    assert [r.key for _, r in first] == [r.key for _, r in second]
    assert counts == [("counts", {"dropped_tokens": 1})]  # the final 1-token row carries no target


def test_make_examples_counts_examples_padding_and_measures():
    fn = MakeExamplesFn("mlm", OBJECTIVE_CONFIGS["mlm"](seq_len=8, copies=2), VOCAB, seed=0)
    fn.setup()
    row = Row(11, np.array([VOCAB.bos_id, 300, 301, 302, VOCAB.eos_id], np.int32), np.array([5], np.int32))
    examples, [(_, counts)] = split_outputs(list(fn.process([("validation", row)])))
    assert all(isinstance(e, Example) and e.split == "validation" for e in examples) and len(examples) == 2
    assert counts["examples.validation"] == 2 and counts["rows"] == 1
    assert counts["padding_tokens"] == 2 * (8 - 5)
    assert counts["measured.tokens"] == 10 and counts["measured.selected"] >= 2
