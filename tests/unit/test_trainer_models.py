"""Reference models: shapes per objective, causality, padding invariance, document blocking, the name table."""
import pytest
import torch

from lmpairs.config import OBJECTIVES, ConfigError
from lmpairs.objectives import objective_names
from lmpairs.trainer.models import MODELS, ModelConfig, build_model, document_mask

VOCAB = 97


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def model_for(objective: str, **sizes) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(objective, ModelConfig(vocab_size=VOCAB, d_model=32, num_layers=2, num_heads=4, d_ff=64,
                                              **sizes)).eval()


def ids(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(5, VOCAB, shape, generator=torch.Generator().manual_seed(seed))


def seq2seq_batch(enc_len: int = 9, dec_len: int = 6) -> dict:
    return {"input_ids": ids(2, enc_len), "attention_mask": torch.ones(2, enc_len, dtype=torch.long),
            "decoder_input_ids": ids(2, dec_len, seed=1),
            "decoder_attention_mask": torch.ones(2, dec_len, dtype=torch.long)}


def test_every_objective_has_a_model_in_the_table():
    assert set(MODELS) == set(objective_names()) and set(OBJECTIVES) <= set(MODELS)
    with pytest.raises(ValueError, match="choose from"):
        build_model("gpt", ModelConfig(vocab_size=VOCAB))


@pytest.mark.parametrize("objective", ["clm", "mlm"])
def test_single_stack_logits_match_the_inputs(objective):
    batch = {"input_ids": ids(3, 11), "attention_mask": torch.ones(3, 11, dtype=torch.long)}
    assert model_for(objective)(batch).shape == (3, 11, VOCAB)


@pytest.mark.parametrize("objective", ["t5", "bart"])
def test_seq2seq_logits_follow_the_decoder_inputs(objective):
    assert model_for(objective)(seq2seq_batch()).shape == (2, 6, VOCAB)


def test_decoder_only_is_causal():
    model, x = model_for("clm"), ids(2, 12)
    changed = x.clone()
    changed[:, 7:] = ids(2, 5, seed=3)
    a, b = model({"input_ids": x}), model({"input_ids": changed})
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_encoder_sees_both_directions_and_ignores_padding():
    model, x = model_for("mlm"), ids(2, 10)
    changed = x.clone()
    changed[:, 9] = (x[:, 9] + 1) % VOCAB
    full = torch.ones(2, 10, dtype=torch.long)
    assert not torch.allclose(model({"input_ids": x, "attention_mask": full})[:, 0],
                              model({"input_ids": changed, "attention_mask": full})[:, 0])
    padded = torch.cat([x, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    mask = torch.cat([full, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    torch.testing.assert_close(model({"input_ids": padded, "attention_mask": mask})[:, :10],
                               model({"input_ids": x, "attention_mask": full}), atol=1e-5, rtol=1e-5)


def test_seq2seq_decoder_is_causal_and_encoder_padding_is_ignored():
    model, batch = model_for("t5"), seq2seq_batch()
    base = model(batch)
    later = dict(batch, decoder_input_ids=batch["decoder_input_ids"].clone())
    later["decoder_input_ids"][:, 4:] = 1
    torch.testing.assert_close(model(later)[:, :4], base[:, :4])
    padded = dict(batch, input_ids=torch.cat([batch["input_ids"], torch.zeros(2, 3, dtype=torch.long)], 1),
                  attention_mask=torch.cat([batch["attention_mask"], torch.zeros(2, 3, dtype=torch.long)], 1))
    torch.testing.assert_close(model(padded), base, atol=1e-5, rtol=1e-5)
    other_source = dict(batch, input_ids=ids(2, 9, seed=7))
    assert not torch.allclose(model(other_source), base)


def test_document_mask_is_causal_within_documents_only():
    positions = torch.tensor([[0, 1, 2, 0, 1]])
    mask = document_mask(positions)[0, 0]
    expected = torch.tensor([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 1]])
    assert torch.equal(mask, expected.bool())


def test_blocked_documents_do_not_see_each_other():
    x = ids(1, 10)
    positions = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3, 4, 5]])
    other_first_doc = x.clone()
    other_first_doc[:, :4] = ids(1, 4, seed=5)
    blocked = model_for("clm", block_documents=True)
    a = blocked({"input_ids": x, "position_ids": positions})
    b = blocked({"input_ids": other_first_doc, "position_ids": positions})
    torch.testing.assert_close(a[:, 4:], b[:, 4:])
    packed = model_for("clm")
    assert not torch.allclose(packed({"input_ids": x, "position_ids": positions})[:, 4:],
                              packed({"input_ids": other_first_doc, "position_ids": positions})[:, 4:])


def test_positions_reset_per_document_change_the_output():
    model, x = model_for("clm"), ids(1, 8)
    reset = model({"input_ids": x, "position_ids": torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3]])})
    assert not torch.allclose(reset, model({"input_ids": x}))


def test_blocking_without_positions_names_the_fix():
    with pytest.raises(ValueError, match="position_ids=True"):
        model_for("clm", block_documents=True)({"input_ids": ids(1, 4)})


@pytest.mark.parametrize("sizes, message", [({"d_model": 30, "num_heads": 4}, "head size"),
                                            ({"num_layers": 0}, "num_layers"), ({"dropout": 1.0}, "dropout")])
def test_model_config_errors(sizes, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(vocab_size=VOCAB, **sizes)


def test_head_is_tied_to_the_embedding():
    model = model_for("bart")
    names = [n for n, _ in model.named_parameters()]
    assert sum("embedding" in n for n in names) == 1
    assert not any(n.startswith("head") for n in names)
