"""Collation: exact batch tensors per objective, padding, shifts, positions and token budgets."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmpairs.loader.budget import token_batches
from lmpairs.loader.collate import CollateSpec, batch_tensors, document_positions, shift_right
from lmpairs.loader.formats import COLLATORS
from lmpairs.loader.ragged import Ragged, pad_rows

PAD, EOS = 0, 3
SPEC = CollateSpec(pad_id=PAD, eos_id=EOS)


def ragged(*rows):
    return Ragged.from_rows([np.array(r, dtype=np.int32) for r in rows])


def test_pad_rows_gathers_selected_rows_with_head_and_tail_trimmed():
    r = ragged([1, 2, 3], [4], [5, 6, 7, 8])
    out, lengths = pad_rows(r, np.array([2, 0, 1]), fill=-1, tail=1)
    assert out.tolist() == [[5, 6, 7], [1, 2, -1], [-1, -1, -1]] and lengths.tolist() == [3, 2, 0]
    out, _ = pad_rows(r, np.array([0]), fill=9, head=1, multiple=8)
    assert out.tolist() == [[2, 3] + [9] * 6] and out.dtype == np.int64


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.lists(st.integers(-5, 99), max_size=12), min_size=1, max_size=8), data=st.data(),
       head=st.integers(0, 2), tail=st.integers(0, 2), multiple=st.sampled_from([None, 1, 4]))
def test_pad_rows_equals_a_row_by_row_reference(rows, data, head, tail, multiple):
    r = ragged(*rows)
    picked = np.array(data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=6)))
    kept = [rows[i][head:len(rows[i]) - tail] if len(rows[i]) > tail else [] for i in picked]
    width = max(map(len, kept))
    width = -(-width // multiple) * multiple if multiple else width
    out, lengths = pad_rows(r, picked, fill=-7, head=head, tail=tail, multiple=multiple)
    assert out.tolist() == [k + [-7] * (width - len(k)) for k in kept]
    assert lengths.tolist() == list(map(len, kept)) and out.dtype == np.int64


def test_clm_batch_shifts_targets_and_masks_padding():
    columns = {"input_ids": ragged([10, 11, 12, 13], [20, 21]), "doc_lengths": ragged([2, 2], [2])}
    batch = batch_tensors(COLLATORS["clm"](columns, np.array([0, 1]),
                                           CollateSpec(pad_id=PAD, eos_id=EOS, position_ids=True)))
    assert batch["input_ids"].tolist() == [[10, 11, 12], [20, PAD, PAD]]
    assert batch["target_ids"].tolist() == [[11, 12, 13], [21, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 0], [0, 1, 2]]
    assert all(t.dtype == torch.int64 for t in batch.values())


def test_clm_rounds_to_a_multiple_with_positions_and_masks():
    columns = {"input_ids": ragged([10, 11, 12, 13, 14, 15], [20, 21]), "doc_lengths": ragged([2, 4], [2])}
    spec = CollateSpec(pad_id=PAD, eos_id=EOS, position_ids=True, pad_to_multiple_of=4)
    batch = COLLATORS["clm"](columns, np.array([0, 1]), spec)
    assert batch["input_ids"].tolist() == [[10, 11, 12, 13, 14, PAD, PAD, PAD], [20] + [PAD] * 7]
    assert batch["target_ids"].tolist() == [[11, 12, 13, 14, 15, -100, -100, -100], [21] + [-100] * 7]
    assert batch["attention_mask"].sum(axis=1).tolist() == [5, 1]
    assert batch["position_ids"][0, :5].tolist() == [0, 1, 0, 1, 2]


def test_batch_tensors_are_int64_views_of_one_storage():
    batch = batch_tensors({"a": np.arange(6).reshape(2, 3), "b": np.array([[7], [8]], dtype=np.int32)})
    assert batch["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and batch["b"].tolist() == [[7], [8]]
    assert batch["b"].dtype == torch.int64
    assert batch["a"].untyped_storage().data_ptr() == batch["b"].untyped_storage().data_ptr()


def test_document_positions_restart_at_every_document():
    docs = ragged([3, 1, 4], [8])
    assert document_positions(docs, np.array([0, 1]), 8).tolist() == [
        [0, 1, 2, 0, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7]]


def test_mlm_batch_keeps_stored_labels_and_pads_them_with_ignore():
    columns = {"input_ids": ragged([5, 4, 7], [8, 9]), "labels": ragged([-100, 6, -100], [8, -100])}
    batch = COLLATORS["mlm"](columns, np.array([1, 0]), SPEC)
    assert batch["input_ids"].tolist() == [[8, 9, PAD], [5, 4, 7]]
    assert batch["labels"].tolist() == [[8, -100, -100], [-100, 6, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]


@pytest.mark.parametrize("objective, start", [("t5", PAD), ("bart", EOS)])
def test_seq2seq_decoder_inputs_are_labels_shifted_right_behind_the_start_id(objective, start):
    columns = {"input_ids": ragged([7, 8, EOS], [9, EOS]), "labels": ragged([50, 51, EOS], [52, EOS])}
    batch = COLLATORS[objective](columns, np.array([0, 1]), SPEC)
    assert batch["labels"].tolist() == [[50, 51, EOS], [52, EOS, -100]]
    assert batch["decoder_input_ids"].tolist() == [[start, 50, 51], [start, 52, EOS]]
    assert batch["decoder_attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["input_ids"].tolist() == [[7, 8, EOS], [9, EOS, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_seq2seq_matches_hugging_face_shift_tokens_right():
    labels = torch.tensor([[50, 51, EOS], [52, EOS, -100]])
    hf = torch.cat([torch.full((2, 1), EOS), labels[:, :-1]], dim=1)  # transformers' shift_tokens_right
    hf = hf.masked_fill(hf == -100, PAD)
    ours = shift_right(labels.numpy(), np.array([3, 2]), start_id=EOS, pad_id=PAD)
    assert ours.tolist() == hf.tolist()


def test_pad_to_multiple_rounds_every_width():
    columns = {"input_ids": ragged([7, EOS]), "labels": ragged([5, 6, 7, EOS, 1])}
    batch = COLLATORS["bart"](columns, np.array([0]), CollateSpec(pad_id=PAD, eos_id=EOS, pad_to_multiple_of=4))
    assert batch["input_ids"].shape == (1, 4) and batch["labels"].shape == (1, 8)
    assert batch["labels"][0, 5:].tolist() == [-100] * 3


def test_token_batches_respect_the_budget_and_cover_every_row_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=500)
    order = rng.permutation(500)
    batches = token_batches(lengths, order, max_tokens=256, max_rows=16, rng=np.random.default_rng(1))
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(500))
    assert all(len(b) * lengths[b].max() <= 256 and len(b) <= 16 for b in batches)
    again = token_batches(lengths, order, max_tokens=256, max_rows=16, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_token_batches_put_an_oversized_row_alone_and_round_to_multiples():
    batches = token_batches(np.array([3, 100, 3, 3]), np.arange(4), max_tokens=8, multiple=4)
    assert [b.tolist() for b in batches] == [[0, 2], [3], [1]]
