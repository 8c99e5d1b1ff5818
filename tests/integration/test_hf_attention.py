"""Which Hugging Face attention honours which document-attention input (the table in docs/loader.md).

Each row: a tiny randomly initialised ``LlamaForCausalLM`` (no download) runs a CLM batch of
packed rows twice, once with a token of the first document of row 0 changed; the documents after
it keep their logits exactly when the inputs keep documents apart ("isolates"), else they move
("leaks"). ``flash_attention_2`` needs a GPU and the flash-attn package: its rows are not run here.
"""
import functools

import numpy as np
import pytest
import torch
import transformers
from loader_fixtures import clm_rows, write_dataset

from lmpairs.loader import PairStream
from lmpairs.loader.documents import additive_mask, hf_flattened


def with_cache_off(inputs):
    return {**inputs, "use_cache": False}


def flash_kwargs(batch):
    return {k: v for k, v in hf_flattened(batch).items() if k.startswith(("cu_", "max_"))}


INPUTS = {
    "attention_mask": lambda b: {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]},
    "position_ids + attention_mask": lambda b: {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"],
                                                "position_ids": b["position_ids"]},
    "position_ids (no attention_mask)": lambda b: {"input_ids": b["input_ids"], "position_ids": b["position_ids"]},
    "position_ids (no attention_mask), use_cache=False": lambda b: with_cache_off(
        {"input_ids": b["input_ids"], "position_ids": b["position_ids"]}),
    "hf_flattened(batch), use_cache=False": lambda b: with_cache_off(
        {k: v for k, v in hf_flattened(b).items() if k != "target_ids"}),
    "flash kwargs + attention_mask": lambda b: {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"],
                                                "position_ids": b["position_ids"],
                                                **flash_kwargs(b)},
    "4-D additive block mask": lambda b: {"input_ids": b["input_ids"], "position_ids": b["position_ids"],
                                          "attention_mask": additive_mask(b["block_mask"])},
    "4-D bool block_mask": lambda b: {"input_ids": b["input_ids"], "position_ids": b["position_ids"],
                                      "attention_mask": b["block_mask"]},
}

TABLE = {  # (inputs, attn_implementation) -> isolates documents? measured with transformers 5.25, torch 2.13 CPU
    ("attention_mask", "eager"): False, ("attention_mask", "sdpa"): False,
    ("position_ids + attention_mask", "eager"): False, ("position_ids + attention_mask", "sdpa"): False,
    ("position_ids (no attention_mask)", "eager"): False, ("position_ids (no attention_mask)", "sdpa"): False,
    ("position_ids (no attention_mask), use_cache=False", "eager"): True,
    ("position_ids (no attention_mask), use_cache=False", "sdpa"): True,
    ("hf_flattened(batch), use_cache=False", "eager"): True, ("hf_flattened(batch), use_cache=False", "sdpa"): True,
    ("flash kwargs + attention_mask", "eager"): False, ("flash kwargs + attention_mask", "sdpa"): False,
    ("4-D additive block mask", "eager"): True, ("4-D additive block mask", "sdpa"): True,
    ("4-D bool block_mask", "eager"): False, ("4-D bool block_mask", "sdpa"): True,
}


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    keys, columns = clm_rows(8, seq_len=24, seed=1)
    columns["doc_lengths"] = [np.array([8, 8, len(r) - 16], np.int32) for r in columns["input_ids"]]
    path = write_dataset(tmp_path_factory.mktemp("hf") / "clm", "clm", {"train": (keys, columns)}, num_shards=1)
    out = {}
    for mode in ("flash_kwargs", "block_mask"):
        out[mode] = next(iter(PairStream(path, batch_size=8, shuffle=False, document_attention=mode)))
    return {**out["flash_kwargs"], "block_mask": out["block_mask"]["block_mask"]}


@functools.cache
def tiny_llama(attn_implementation):
    config = transformers.LlamaConfig(vocab_size=1200, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                                      attn_implementation=attn_implementation)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


def later_documents_moved(model, batch, inputs) -> float:
    changed = {k: v.clone() for k, v in batch.items()}
    changed["input_ids"][0, 1] = 7  # inside row 0's first document (positions 0..7)
    with torch.no_grad():
        before, after = model(**inputs(batch)).logits, model(**inputs(changed)).logits
    real = int(batch["attention_mask"][0].sum())
    return float((before - after)[0, 8:real].abs().max())  # flattened or not, row 0 comes first


@pytest.mark.parametrize("inputs, implementation", sorted(TABLE))
def test_attention_table_row(batches, inputs, implementation):
    moved = later_documents_moved(tiny_llama(implementation), batches, INPUTS[inputs])
    assert (moved == 0.0) == TABLE[inputs, implementation], f"later documents moved by {moved}"


def test_first_document_itself_does_move(batches):
    changed = {k: v.clone() for k, v in batches.items()}
    changed["input_ids"][0, 1] = 7
    model = tiny_llama("sdpa")
    with torch.no_grad():
        a = model(**INPUTS["4-D additive block mask"](batches)).logits[0, 1:8]
        b = model(**INPUTS["4-D additive block mask"](changed)).logits[0, 1:8]
    assert float((a - b).abs().max()) > 1e-4  # the perturbation is real, so "isolates" means something


def test_flash_kwargs_are_what_hf_flattening_collator_emits(batches):
    """The same documents through ``DataCollatorWithFlattening`` give the same names, values and types."""
    flat = hf_flattened(batches)
    pieces = np.split(flat["input_ids"][0].numpy(), batches["cu_seq_lens_q"][1:-1].numpy())
    collator = transformers.DataCollatorWithFlattening(return_flash_attn_kwargs=True, return_position_ids=True)
    theirs = collator([{"input_ids": p.tolist()} for p in pieces], return_tensors="pt")
    for name in ("input_ids", "position_ids"):
        assert torch.equal(theirs[name], flat[name]), name
    for name in ("cu_seq_lens_q", "cu_seq_lens_k"):
        assert theirs[name].tolist() == flat[name].tolist() and flat[name].dtype == torch.int32, name
    for name in ("max_length_q", "max_length_k"):
        assert theirs[name] == flat[name] and isinstance(flat[name], int), name
