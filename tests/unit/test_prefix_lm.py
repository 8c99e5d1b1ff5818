"""prefix_lm: uniform split points, prefix + target == the row, and both model-side layouts."""
import numpy as np
import torch
from vocabs import toy_vocab

from lmpairs.loader.collate import CollateSpec
from lmpairs.loader.formats import format_for
from lmpairs.loader.ragged import Ragged as LoaderRagged
from lmpairs.objectives import get_spec, make_objective
from lmpairs.trainer.models import DecoderOnly, ModelConfig, prefix_mask
from lmpairs.transforms import Ragged, RowBatch
from lmpairs.transforms.prefix_lm import PrefixLmConfig
from lmpairs.transforms.testing import check_invariants, rows_in_memory

VOCAB = toy_vocab()


def documents(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return [(f"d{i}", rng.integers(105, 1105, size=int(rng.integers(1, 60))), np.zeros(0, np.int32))
            for i in range(n)]


def rows_of_length(length: int, num_rows: int) -> RowBatch:
    ids = np.full(length * num_rows, 200, dtype=np.int32)
    offsets = np.arange(num_rows + 1, dtype=np.int64) * length
    segments = Ragged(np.full(num_rows, length, np.int32), np.arange(num_rows + 1, dtype=np.int64))
    return RowBatch(np.arange(num_rows, dtype=np.uint64) * 7919, Ragged(ids, offsets), segments)


def test_invariants_and_prefix_plus_target_is_the_row():
    objective = make_objective("prefix_lm", PrefixLmConfig(seq_len=32), VOCAB)
    rows = rows_in_memory(objective, documents())
    examples = check_invariants(objective, rows, seed=3, splits=(5, 9))
    inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
    for i in range(rows.num_rows):
        assert inputs.row(i).tolist() + labels.row(i).tolist() == rows.ids.row(i).tolist()
        assert inputs.lengths[i] >= 1 and (rows.ids.lengths[i] < 2 or labels.lengths[i] >= 1)
    assert objective.measure(examples)["tokens"] == rows.ids.values.shape[0]


def test_split_point_is_uniform_over_one_to_n_minus_one():
    objective = make_objective("prefix_lm", PrefixLmConfig(seq_len=11), VOCAB)
    num_rows = 20000
    examples = objective.corrupt(rows_of_length(11, num_rows), seed=0)
    counts = np.bincount(examples.columns["input_ids"].lengths, minlength=11)
    assert counts[0] == 0 and counts[11:].sum() == 0
    expected = num_rows / 10
    assert np.abs(counts[1:11] / expected - 1).max() < 0.06
    assert ((counts[1:11] - expected) ** 2 / expected).sum() < 40  # chi-square, 9 dof: p ~ 1e-5


def test_prefix_decoder_batch_has_loss_on_the_target_only():
    columns = {"input_ids": LoaderRagged(np.array([10, 11, 12, 20, 21], np.int32), np.array([0, 3, 5])),
               "labels": LoaderRagged(np.array([13, 14, 22, 23, 24], np.int32), np.array([0, 2, 5]))}
    fmt = format_for("prefix_lm")
    batch = fmt.collator(get_spec("prefix_lm"))(columns, np.array([0, 1]), CollateSpec(pad_id=0, eos_id=3))
    assert batch["input_ids"].tolist() == [[10, 11, 12, 13], [20, 21, 22, 23]]
    assert batch["target_ids"].tolist() == [[-100, -100, 13, 14], [-100, 22, 23, 24]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 1]]
    assert batch["prefix_lengths"].tolist() == [3, 2]
    short = fmt.collator(get_spec("prefix_lm"))(columns | {"labels": LoaderRagged(
        np.array([13, 22], np.int32), np.array([0, 1, 2]))}, np.array([0, 1]), CollateSpec(pad_id=0, eos_id=3))
    assert short["input_ids"].tolist() == [[10, 11, 12], [20, 21, 0]]
    assert short["target_ids"].tolist() == [[-100, -100, 13], [-100, 22, -100]]
    assert short["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert fmt.target_key == "target_ids" and fmt.loss is format_for("clm").loss


def test_encoder_decoder_layout_reads_the_same_rows():
    columns = {"input_ids": LoaderRagged(np.array([10, 11], np.int32), np.array([0, 2])),
               "labels": LoaderRagged(np.array([12, 13], np.int32), np.array([0, 2]))}
    fmt = format_for("prefix_lm", "encoder-decoder")
    batch = fmt.collator(get_spec("prefix_lm"))(columns, np.array([0]), CollateSpec(pad_id=0, eos_id=3))
    assert batch["input_ids"].tolist() == [[10, 11]] and batch["labels"].tolist() == [[12, 13]]
    assert batch["decoder_input_ids"].tolist() == [[0, 12]]


def test_prefix_mask_is_bidirectional_inside_the_prefix_only():
    mask = prefix_mask(torch.tensor([2]), 4)[0, 0]
    assert mask.tolist() == [[True, True, False, False], [True, True, False, False],
                             [True, True, True, False], [True, True, True, True]]
    model = DecoderOnly(ModelConfig(vocab_size=VOCAB.size, d_model=16, num_layers=1, num_heads=2, d_ff=32,
                                    dropout=0.0)).eval()
    ids = torch.tensor([[110, 111, 112, 113]])
    base = model({"input_ids": ids, "attention_mask": torch.ones_like(ids), "prefix_lengths": torch.tensor([2])})
    changed = ids.clone()
    changed[0, 1] = 500  # a later prefix token is visible to position 0 ...
    other = model({"input_ids": changed, "attention_mask": torch.ones_like(ids), "prefix_lengths": torch.tensor([2])})
    assert not torch.allclose(base[0, 0], other[0, 0])
    changed = ids.clone()
    changed[0, 3] = 500  # ... a target token is not visible to earlier positions
    other = model({"input_ids": changed, "attention_mask": torch.ones_like(ids), "prefix_lengths": torch.tensor([2])})
    assert torch.allclose(base[0, :3], other[0, :3], atol=1e-6)
