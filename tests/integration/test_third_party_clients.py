"""Real third-party clients read what lmpairs writes: HF datasets and DuckDB read the shards, and
Hugging Face models take PairStream batches as ``model(**batch)`` with the same loss as ours."""
from __future__ import annotations

from pathlib import Path

import datasets  # noqa: E402  (test extra)
import duckdb
import pytest
import torch
import transformers  # noqa: E402  (test extra)

from lmpairs.loader import PairStream, loss_for
from lmpairs.schemas import read_manifest


@pytest.fixture(scope="module")
def built(build, corpus_slices: Path, llama_model_path: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("third-party") / "out"
    build([str(corpus_slices / "en" / "*.txt*")], out, str(llama_model_path),
          objectives=("clm", "mlm", "t5", "bart"), validation_fraction=0.02, seq_len=48)
    return out


@pytest.mark.parametrize("objective", ["clm", "mlm", "t5", "bart"])
def test_hf_datasets_and_duckdb_read_every_split(built: Path, objective: str):
    manifest = read_manifest(str(built / objective))
    for split, shards in manifest.splits.items():
        files = [str(built / objective / s.path) for s in shards]
        table = datasets.load_dataset("parquet", data_files={split: files}, split=split)
        assert table.num_rows == manifest.num_rows(split)
        assert set(table.column_names) == {"example_key", "input_ids", *read_columns(objective)}
        streamed = datasets.load_dataset("parquet", data_files={split: files}, split=split, streaming=True)
        assert sum(1 for _ in streamed) == manifest.num_rows(split)
        count = duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r})").fetchall()[0][0]
        assert count == manifest.num_rows(split)


def read_columns(objective: str) -> tuple[str, ...]:
    return {"clm": ("doc_lengths",), "bart": ("labels", "doc_lengths", "sentence_ends")}.get(objective, ("labels",))


def first_batch(path: Path, **options) -> dict[str, torch.Tensor]:
    return next(iter(PairStream(str(path), batch_size=4, shuffle=False, **options)))


def tiny(config_class, vocab_size: int, **extra):
    return config_class(vocab_size=vocab_size, **extra)


def test_bert_takes_mlm_batches_and_agrees_on_the_loss(built: Path):
    manifest = read_manifest(str(built / "mlm"))
    vocab = manifest.tokenizer["vocab_size"]
    config = transformers.BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=64,
                                     pad_token_id=manifest.tokenizer["special_ids"]["pad"])
    torch.manual_seed(0)
    model = transformers.BertForMaskedLM(config).eval()
    batch = first_batch(built / "mlm")
    out = model(**batch)
    assert torch.allclose(out.loss, loss_for("mlm")(out.logits, batch["labels"]), atol=1e-5)


@pytest.mark.parametrize("objective, model_class, config_class", [
    ("t5", "T5ForConditionalGeneration", "T5Config"),
    ("bart", "BartForConditionalGeneration", "BartConfig"),
])
def test_seq2seq_models_take_batches_and_agree_on_the_loss(built: Path, objective, model_class, config_class):
    manifest = read_manifest(str(built / objective))
    special = manifest.tokenizer["special_ids"]
    vocab = manifest.tokenizer["vocab_size"]
    if objective == "t5":
        config = transformers.T5Config(vocab_size=vocab, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2,
                                       pad_token_id=special["pad"], eos_token_id=special["eos"],
                                       decoder_start_token_id=special["pad"])
    else:
        config = transformers.BartConfig(vocab_size=vocab, d_model=32, encoder_layers=1, decoder_layers=1,
                                         encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                                         decoder_ffn_dim=64, max_position_embeddings=128,
                                         pad_token_id=special["pad"], bos_token_id=special["bos"],
                                         eos_token_id=special["eos"], decoder_start_token_id=special["eos"])
    torch.manual_seed(0)
    model = getattr(transformers, model_class)(config).eval()
    batch = first_batch(built / objective)
    # HF builds decoder inputs from labels the same way PairStream does.
    shifted = model.prepare_decoder_input_ids_from_labels(labels=batch["labels"])
    assert torch.equal(shifted, batch["decoder_input_ids"])
    out = model(**batch)
    assert torch.allclose(out.loss, loss_for(objective)(out.logits, batch["labels"]), atol=1e-5)


def test_llama_takes_clm_inputs_and_its_shifted_loss_equals_ours(built: Path):
    manifest = read_manifest(str(built / "clm"))
    vocab = manifest.tokenizer["vocab_size"]
    config = transformers.LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                                      pad_token_id=manifest.tokenizer["special_ids"]["pad"])
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    batch = first_batch(built / "clm", position_ids=True)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ours = loss_for("clm")(logits, batch["target_ids"])
    # HF shifts labels itself: hand it the unshifted row (inputs + the last target) to compare.
    row = torch.cat([batch["input_ids"], batch["target_ids"][:, -1:]], dim=1)
    labels = torch.where(torch.cat([batch["attention_mask"][:, :1], batch["target_ids"] != -100], dim=1).bool(),
                         row, torch.full_like(row, -100))
    hf = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
               labels=labels[:, :-1].contiguous()).loss
    shifted_ours = loss_for("clm")(logits[:, :-1], batch["target_ids"][:, :-1])
    assert torch.allclose(hf, shifted_ours, rtol=1e-4)
    assert torch.isfinite(ours)
    assert "position_ids" in batch and batch["position_ids"].shape == batch["input_ids"].shape
