"""One declaration per objective: the registry, and a test-only objective registered in one place.

The extra objective (``test-reverse``: an encoder-decoder whose input is the row reversed) gets a
schema, Parquet round trip, collation, loss, model, applied rates and an inspection view from its
declaration alone: no table anywhere else names it.
"""
from __future__ import annotations

import numpy as np
import pytest
from reverse_objective import SPEC
from vocabs import toy_vocab

from lmpairs.config import BartConfig, ClmConfig, MlmConfig, T5Config
from lmpairs.objectives import (
    FAMILIES,
    IGNORE_INDEX,
    ObjectiveSpec,
    get_spec,
    make_objective,
    objective_names,
    register,
    unregister,
)
from lmpairs.schemas.rates import RATIOS, applied_rates
from lmpairs.schemas.rows import FORMAT_VERSION, batch_to_table, check_schema, list_columns, list_to_numpy, row_schema
from lmpairs.transforms.testing import check_invariants, rows_in_memory

VOCAB = toy_vocab()


@pytest.fixture
def reverse():
    register(SPEC)
    yield make_objective("test-reverse", ClmConfig(seq_len=6), VOCAB)
    unregister("test-reverse")


def test_the_four_objectives_are_declared_once():
    assert objective_names()[:4] == ("clm", "mlm", "t5", "bart")
    for name in ("clm", "mlm", "t5", "bart"):
        unregister(name)  # built-in objectives stay
    assert objective_names()[:4] == ("clm", "mlm", "t5", "bart")
    expected = {"clm": (1, ClmConfig, "decoder", ("input_ids", "doc_lengths")),
                "mlm": (2, MlmConfig, "encoder", ("input_ids", "labels")),
                "t5": (3, T5Config, "encoder-decoder", ("input_ids", "labels")),
                "bart": (4, BartConfig, "encoder-decoder", ("input_ids", "labels", "doc_lengths", "sentence_ends"))}
    for name, (oid, config, family, columns) in expected.items():
        spec = get_spec(name)
        assert (spec.objective_id, spec.config, spec.family, spec.columns) == (oid, config, family, columns)
        assert make_objective(name, config(), VOCAB).spec is spec
    assert get_spec("clm").target_key == "target_ids" and get_spec("mlm").target_key == "labels"
    assert get_spec("mlm").rate_names == ("selected_per_maskable", "masked_per_selected", "random_per_selected",
                                          "kept_per_selected")
    assert IGNORE_INDEX == -100 and set(FAMILIES) == {"decoder", "encoder", "encoder-decoder",
                                                                 "prefix-decoder"}


def test_register_rejects_taken_names_ids_and_bad_declarations():
    with pytest.raises(ValueError, match="already registered"):
        register(get_spec("mlm"))
    with pytest.raises(ValueError, match="id 2 is taken"):
        register(ObjectiveSpec(name="x", objective_id=2, config=MlmConfig, columns=("input_ids",),
                               family="encoder", transform="m:C"))
    with pytest.raises(ValueError, match="family"):
        ObjectiveSpec(name="x", objective_id=50, config=MlmConfig, columns=("input_ids",), family="rnn",
                      transform="m:C")
    with pytest.raises(ValueError, match="decoder_start"):
        ObjectiveSpec(name="x", objective_id=50, config=MlmConfig, columns=("input_ids",),
                      family="encoder-decoder", transform="m:C")
    with pytest.raises(ValueError, match="unknown objective 'gpt'"):
        get_spec("gpt")


def test_a_registered_objective_builds_writes_collates_and_inspects(reverse, tmp_path):
    import pyarrow.parquet as pq

    from lmpairs.inspection.examples import RENDERERS, render_plain
    from lmpairs.loader.collate import CollateSpec
    from lmpairs.loader.formats import COLLATORS, TARGET_KEYS, example_lengths, loss_for, needed_columns
    from lmpairs.loader.losses import seq2seq_loss
    from lmpairs.loader.ragged import Ragged as LoaderRagged

    rows = rows_in_memory(reverse, [("a", np.arange(105, 112), np.array([7])), ("b", np.arange(300, 302), [2])])
    assert rows.ids.values.tolist() == [105, 106, 107, 108, 109, 110, 111, 3, 300, 301, 3]
    ex = check_invariants(reverse, rows, seed=0, splits=[1])
    assert ex.columns["input_ids"].row(0).tolist() == [110, 109, 108, 107, 106, 105]
    # schema and Parquet
    assert list_columns("test-reverse") == ("input_ids", "labels")
    table = batch_to_table("test-reverse", ex.keys, ex.columns)
    check_schema(table.schema, "test-reverse", "x.parquet")
    pq.write_table(table, tmp_path / "x.parquet")
    back = pq.read_table(tmp_path / "x.parquet")
    values, offsets = list_to_numpy(back.column("labels"))
    assert values.tolist() == rows.ids.values.tolist() and offsets.tolist() == rows.ids.offsets.tolist()
    assert row_schema("test-reverse").metadata[b"lmpairs.format_version"] == str(FORMAT_VERSION).encode()
    # rates
    assert RATIOS["test-reverse"] == [("reversed / tokens", "reversed", "tokens", None)]
    assert applied_rates("test-reverse", reverse.measure(ex)) == {"reversed_per_tokens": 1.0}
    # collation and loss, by family
    spec = CollateSpec(pad_id=VOCAB.pad_id, eos_id=VOCAB.eos_id)
    columns = {n: LoaderRagged(c.values, c.offsets) for n, c in ex.columns.items()}
    assert needed_columns("test-reverse", spec) == ("input_ids", "labels")
    batch = COLLATORS["test-reverse"](columns, np.arange(ex.num_examples), spec)
    assert batch["decoder_input_ids"][:, 0].tolist() == [VOCAB.eos_id] * ex.num_examples  # declared start
    assert batch["labels"].tolist() == [[105, 106, 107, 108, 109, 110], [111, 3, 300, 301, 3, IGNORE_INDEX]]
    assert example_lengths("test-reverse", columns).tolist() == [6, 5]
    assert loss_for("test-reverse") is seq2seq_loss and TARGET_KEYS["test-reverse"] == "labels"
    assert RENDERERS["test-reverse"] is render_plain
    assert "test-reverse" in COLLATORS


def test_reference_model_by_family(reverse):
    torch = pytest.importorskip("torch")
    from lmpairs.trainer.models import MODELS, EncoderDecoder, ModelConfig, build_model

    assert MODELS["test-reverse"] is EncoderDecoder
    model = build_model("test-reverse", ModelConfig(vocab_size=VOCAB.size, d_model=16, num_layers=1, num_heads=2,
                                                    d_ff=32))
    ids = torch.tensor([[105, 106, 3]])
    out = model({"input_ids": ids, "attention_mask": torch.ones_like(ids), "decoder_input_ids": ids})
    assert out.shape == (1, 3, VOCAB.size)


def test_plain_view_decodes_every_column(reverse, trained_tokenizer):
    from lmpairs.inspection.examples import RENDERERS
    from lmpairs.inspection.render import PieceRenderer

    vocab = trained_tokenizer.vocab
    ids = np.array(trained_tokenizer.encode_batch(["hello there, my friend"])[0], dtype=np.int32)
    ex = make_objective("test-reverse", ClmConfig(seq_len=64), vocab).corrupt(
        rows_in_memory(make_objective("test-reverse", ClmConfig(seq_len=64), vocab), [("d", ids, [ids.size])]),
        seed=0)
    lines = RENDERERS["test-reverse"]({n: c.row(0) for n, c in ex.columns.items()},
                                      PieceRenderer(trained_tokenizer), 100, 50)
    assert lines[0].startswith("  input_ids (") and "friend" in lines[1]


NAME_BRANCH = r"[=!]=\s*[\"']{name}[\"']|[\"']{name}[\"']\s*[=!]=|\bin\s*[\(\[\{{][^)\]}}]*[\"']{name}[\"']"


def test_no_code_outside_an_objective_module_branches_on_its_name():
    """``== "clm"``, ``!= "t5"``, ``in ("bart", ...)``: the model side keys on the spec and its BatchFormat."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lmpairs"
    found = []
    for name in objective_names():
        pattern = re.compile(NAME_BRANCH.format(name=re.escape(name)))
        home = get_spec(name).transform.__module__
        for path in sorted(root.rglob("*.py")):
            module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
            if module != home:
                found += [f"{path.relative_to(root.parent)}:{i}: {line.strip()}"
                          for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []
    assert re.search(NAME_BRANCH.format(name="clm"), 'if objective != "clm":')
    assert re.search(NAME_BRANCH.format(name="t5"), 'if name in ("t5", "bart"):')
