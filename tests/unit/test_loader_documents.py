"""Document-aware CLM inputs: cu_seqlens, positions and block masks follow doc_lengths, and attention
built on them never crosses a document boundary."""
import numpy as np
import pytest
import torch

from lmpairs.loader.collate import (
    CollateSpec,
    batch_tensors,
    document_positions,
)
from lmpairs.loader.documents import (
    additive_mask,
    check_document_attention,
    document_inputs,
)
from lmpairs.loader.formats import COLLATORS
from lmpairs.loader.ragged import Ragged
from lmpairs.trainer.attention import varlen_attention, varlen_layout
from lmpairs.trainer.models import DecoderOnly, ModelConfig

PAD, EOS = 0, 3


def ragged(*rows):
    return Ragged.from_rows([np.array(r, dtype=np.int32) for r in rows])


def random_rows(rng, num_rows, seq_len):
    """CLM rows of up to ``seq_len + 1`` tokens, each split into 1-4 documents (some of one token)."""
    ids, docs = [], []
    for _ in range(num_rows):
        n = int(rng.integers(2, seq_len + 2))
        cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 4))), replace=False))
        ids.append(rng.integers(10, 90, size=n))
        docs.append(np.diff(np.concatenate([[0], cuts, [n]])))
    return {"input_ids": ragged(*ids), "doc_lengths": ragged(*docs)}, docs


def collate(columns, rows, mode, multiple=None):
    spec = CollateSpec(pad_id=PAD, eos_id=EOS, document_attention=mode, pad_to_multiple_of=multiple)
    return COLLATORS["clm"](columns, np.asarray(rows), spec)


def expected_pieces(docs, rows):
    """Per row, the document lengths over its ``n - 1`` input positions (a reference loop)."""
    out = []
    for r in rows:
        left = int(docs[r].sum()) - 1
        for length in docs[r]:
            take = min(int(length), left)
            if take > 0:
                out.append(take)
            left -= take
    return out


@pytest.mark.parametrize("seed", range(5))
def test_cu_seqlens_match_doc_lengths_and_cover_the_real_tokens(seed):
    rng = np.random.default_rng(seed)
    columns, docs = random_rows(rng, 12, seq_len=16)
    rows = rng.permutation(12)[:7]
    batch = collate(columns, rows, "cu_seqlens", multiple=8 if seed % 2 else None)
    cu = batch["cu_seqlens"]
    assert cu.dtype == np.int32 and cu[0] == 0
    assert np.diff(cu).tolist() == expected_pieces(docs, rows)
    assert int(cu[-1]) == int(batch["attention_mask"].sum())
    assert int(batch["max_seqlen"][0]) == int(np.diff(cu).max())


def test_the_flattened_layout_of_a_small_batch():
    columns = {"input_ids": ragged([10, 11, 12, 13], [20, 21], [30, 31, 32, 33, 34]),
               "doc_lengths": ragged([2, 2], [2], [1, 3, 1])}
    batch = collate(columns, [0, 1, 2], "cu_seqlens")
    assert batch["cu_seqlens"].tolist() == [0, 2, 3, 4, 5, 8]  # [10 11][12] [20] [30][31 32 33]; 34 only a target
    assert batch["max_seqlen"].tolist() == [3]
    assert batch["position_ids"].tolist() == [[0, 1, 0, 1], [0, 1, 2, 3], [0, 0, 1, 2]]


@pytest.mark.parametrize("seed", range(3))
def test_positions_equal_the_collators_document_positions(seed):
    rng = np.random.default_rng(10 + seed)
    columns, _ = random_rows(rng, 9, seq_len=12)
    rows = np.arange(9)
    for mode in ("position_ids", "cu_seqlens", "block_mask"):
        batch = collate(columns, rows, mode)
        width = batch["input_ids"].shape[1]
        assert batch["position_ids"].tolist() == document_positions(columns["doc_lengths"], rows, width).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_block_mask_is_zero_across_documents_and_causal_within(seed):
    rng = np.random.default_rng(20 + seed)
    columns, docs = random_rows(rng, 8, seq_len=10)
    batch = collate(columns, np.arange(8), "block_mask")
    mask = batch["block_mask"]
    b, width = batch["input_ids"].shape
    assert mask.shape == (b, 1, width, width) and mask.dtype == np.bool_
    for row in range(b):
        real = int(batch["attention_mask"][row].sum())
        doc = np.repeat(np.arange(len(docs[row])), docs[row])[:real]
        for i in range(width):
            assert mask[row, 0, i].any()  # no empty row: softmax stays finite on padding
            for j in range(width):
                if i < real and j < real:
                    assert mask[row, 0, i, j] == (doc[i] == doc[j] and j <= i)
                elif i < real or j < real:
                    assert not mask[row, 0, i, j]  # real tokens and padding never see each other


def test_batch_tensors_keep_int32_and_bool():
    columns, _ = random_rows(np.random.default_rng(1), 4, seq_len=6)
    for mode in ("cu_seqlens", "block_mask"):
        for pack in (True, False):
            batch = batch_tensors(collate(columns, np.arange(4), mode), pack=pack)
            assert batch["input_ids"].dtype == batch["position_ids"].dtype == torch.int64
            if mode == "cu_seqlens":
                assert batch["cu_seqlens"].dtype == torch.int32 and batch["max_seqlen"].shape == (1,)
            else:
                assert batch["block_mask"].dtype == torch.bool


def test_unknown_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="document_attention='flash'"):
        check_document_attention("flash")
    assert document_inputs(ragged([2]), np.array([0]), np.ones((1, 1), dtype=np.int64), None) == {}


def test_additive_mask_is_zero_where_allowed():
    mask = torch.tensor([[True, False]])
    out = additive_mask(mask, torch.bfloat16)
    assert out.dtype == torch.bfloat16 and out[0, 0] == 0 and out[0, 1] == torch.finfo(torch.bfloat16).min


# -- the reference model: a token never attends across a document boundary --------------------------------

def model_batch(mode):
    """Two rows: row 0 packs documents A (5 tokens), B (4) and C (3); row 1 one short document."""
    columns = {"input_ids": ragged(list(range(40, 53)), [60, 61, 62, 63, 64]),
               "doc_lengths": ragged([5, 4, 4], [5])}
    return batch_tensors(collate(columns, [0, 1], mode), pack=False)


@pytest.fixture(scope="module")
def decoder():
    torch.manual_seed(0)
    return DecoderOnly(ModelConfig(vocab_size=100, d_model=32, num_layers=2, num_heads=4, d_ff=64)).eval()


@pytest.mark.parametrize("mode", ["cu_seqlens", "block_mask"])
def test_perturbing_one_document_leaves_the_others_unchanged(decoder, mode):
    batch = model_batch(mode)
    changed = dict(batch, input_ids=batch["input_ids"].clone())
    changed["input_ids"][0, :5] = torch.tensor([90, 91, 92, 93, 94])  # document A only
    with torch.no_grad():
        before, after = decoder(batch), decoder(changed)
    assert not torch.allclose(before[0, :5], after[0, :5])  # A itself changed
    torch.testing.assert_close(before[0, 5:], after[0, 5:], rtol=0, atol=1e-5)  # B and C did not move
    torch.testing.assert_close(before[1], after[1], rtol=0, atol=1e-5)


def test_without_document_attention_the_perturbation_leaks(decoder):
    batch = model_batch(None)
    changed = dict(batch, input_ids=batch["input_ids"].clone())
    changed["input_ids"][0, :5] = torch.tensor([90, 91, 92, 93, 94])
    with torch.no_grad():
        assert not torch.allclose(decoder(batch)[0, 5:], decoder(changed)[0, 5:], atol=1e-5)


def test_varlen_and_block_mask_models_agree(decoder):
    with torch.no_grad():
        varlen, block = decoder(model_batch("cu_seqlens")), decoder(model_batch("block_mask"))
    real = model_batch("cu_seqlens")["attention_mask"].bool()
    torch.testing.assert_close(varlen[real], block[real], rtol=1e-5, atol=1e-5)


def test_varlen_attention_equals_per_document_attention():
    batch = model_batch("cu_seqlens")
    layout = varlen_layout(batch)
    q, k, v = torch.randn(3, 2, 2, 12, 8).unbind(0)
    out = varlen_attention(q, k, v, layout)
    for start, stop in [(0, 5), (5, 9), (9, 12)]:  # row 0's documents, each attended on its own
        alone = torch.nn.functional.scaled_dot_product_attention(
            q[:1, :, start:stop], k[:1, :, start:stop], v[:1, :, start:stop], is_causal=True)
        torch.testing.assert_close(out[:1, :, start:stop], alone, rtol=1e-5, atol=1e-5)
    assert out[1, :, 4:].abs().sum() == 0  # row 1's padding
