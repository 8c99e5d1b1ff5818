"""Dynamic corruption on real text: epoch 0 gives back the stored examples, later epochs redraw the noise
of the same clean rows, and rows too long for the objective pass through unchanged and are counted."""
from pathlib import Path

import numpy as np
import pytest
from loader_fixtures import write_dataset

from lmpairs.config import BartConfig, MlmConfig, T5Config
from lmpairs.loader import PairStream
from lmpairs.objectives import make_objective
from lmpairs.tokenizers import Tokenizer
from lmpairs.transforms import ExampleBatch, RowBatch
from lmpairs.transforms.batch import DocumentBatch, Ragged, concat_rows

MODEL: Path  # the 1,000-piece default-layout model (tests/conftest.py), set by _hermetic_inputs
TEXT: Path  # generated English (tests/conftest.py)
SEED = 7


@pytest.fixture(autouse=True)
def _hermetic_inputs(spm_test_model_path, english_corpus):
    global MODEL, TEXT
    MODEL, TEXT = spm_test_model_path, english_corpus


def build(tmp_path, name, config, *, extra_long=False, with_rows=False):
    """Encode real text, pack it into the objective's clean rows and store copy 0 of each."""
    tokenizer = Tokenizer.load(MODEL)
    objective = make_objective(name, config, tokenizer.vocab)
    paragraphs = [p for p in TEXT.read_text().split("\n\n") if p.strip()][:120]
    encoded = [(ids, ends) for ids, ends in tokenizer.encode_documents(paragraphs) if len(ids)]
    docs = DocumentBatch(np.arange(1, len(encoded) + 1, dtype=np.uint64), Ragged.from_rows([i for i, _ in encoded]),
                         Ragged.from_rows([e for _, e in encoded]))
    packer = objective.packer()
    rows = concat_rows([packer.add(docs), packer.finish()[0]])
    if extra_long:  # a clean row longer than the objective builds: dynamic mode must pass it through
        long_ids = np.concatenate([rows.ids.row(0), rows.ids.row(1)])
        extra = RowBatch(np.array([12345], dtype=np.uint64), Ragged.from_rows([long_ids]),
                         Ragged.from_rows([np.array([len(long_ids)], dtype=np.int32)]))
        rows = concat_rows([rows, extra])
    examples = objective.corrupt(rows, seed=SEED, copy=0)
    columns = {c: [examples.columns[c].row(i) for i in range(examples.num_examples)] for c in objective.columns}
    path = write_dataset(tmp_path / name, name, {"train": (examples.keys, columns)}, num_shards=2,
                         row_group_rows=16, config=config.to_dict(), seed=SEED, tokenizer=tokenizer.describe())
    return (path, objective, rows) if with_rows else (path, objective)


def batches(path, *, dynamic, epoch=0, num_workers=0):
    ds = PairStream(path, batch_size=8, shuffle_buffer=32, return_keys=True, dynamic=dynamic,
                    tokenizer=str(MODEL) if dynamic else None)
    loader = ds.make_loader(num_workers=num_workers)
    loader.set_epoch(epoch)
    return [{k: v.numpy() for k, v in b.items()} for b in loader], ds


def clean_rows(objective, batch_list):
    """Clean row per key, rebuilt from each batch row with padding stripped."""
    out = {}
    for b in batch_list:
        for i, key in enumerate(b["example_key"].tolist()):
            inputs = b["input_ids"][i][b["attention_mask"][i] == 1]
            labels = b["labels"][i][:inputs.shape[0]] if "decoder_input_ids" not in b else \
                b["labels"][i][b["decoder_attention_mask"][i] == 1]
            stored = ExampleBatch(np.array([key], dtype=np.int64).view(np.uint64),
                                  {"input_ids": Ragged.from_rows([inputs]), "labels": Ragged.from_rows([labels])})
            out[key] = objective.clean(stored).ids.row(0).tolist()
    return out


@pytest.mark.parametrize("name, config", [("mlm", MlmConfig(seq_len=48)), ("t5", T5Config(seq_len=40))])
def test_epoch_zero_is_the_stored_data_and_later_epochs_redraw_the_noise(tmp_path, name, config):
    path, objective = build(tmp_path, name, config)
    stored, _ = batches(path, dynamic=False)
    again, _ = batches(path, dynamic=True, epoch=0)
    assert len(stored) > 10
    assert all(set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a) for a, b in zip(stored, again))
    static_next, _ = batches(path, dynamic=False, epoch=1)
    redrawn, _ = batches(path, dynamic=True, epoch=1, num_workers=2)
    assert clean_rows(objective, redrawn) == clean_rows(objective, static_next)  # same clean rows ...
    by_key = {k: r for b in static_next for k, r in zip(b["example_key"].tolist(), b["input_ids"].tolist())}
    differ = [k for b in redrawn for k, r in zip(b["example_key"].tolist(), b["input_ids"].tolist())
              if r != by_key[k]]
    assert len(differ) > 0.8 * len(by_key)  # ... with new noise on nearly every row


def test_rows_too_long_for_the_objective_pass_through_and_are_counted(tmp_path):
    path, _ = build(tmp_path, "t5", T5Config(seq_len=40), extra_long=True)
    stored, _ = batches(path, dynamic=False, epoch=1)
    redrawn, ds = batches(path, dynamic=True, epoch=1, num_workers=2)
    assert ds.dynamic_passed_through == 1  # counted in a worker, seen by the main process
    def row(batch_list, key):
        for b in batch_list:
            hit = np.flatnonzero(b["example_key"] == key)
            if hit.size:
                return b["input_ids"][hit[0]][b["attention_mask"][hit[0]] == 1].tolist()
    assert row(redrawn, 12345) == row(stored, 12345)


def unpadded(batch_list, key: str, mask: str) -> dict[int, list[int]]:
    """Unpadded rows of column ``key`` by (unsigned) example key."""
    return {k: b[key][i][b[mask][i] == 1].tolist() for b in batch_list
            for i, k in enumerate(b["example_key"].astype(np.int64).view(np.uint64).tolist())}


def test_dynamic_bart_is_static_copy_e_sentence_permutation_included(tmp_path):
    config = BartConfig(seq_len=96, rotate_ratio=0.3)
    path, objective, rows = build(tmp_path, "bart", config, with_rows=True)
    assert (rows.segments.lengths > 1).any() and (rows.sentence_ends.lengths > 1).mean() > 0.3
    index = {int(k): i for i, k in enumerate(rows.keys)}
    for epoch in (0, 3, int(np.random.default_rng().integers(4, 1000))):
        redrawn, _ = batches(path, dynamic=True, epoch=epoch, num_workers=2 if epoch == 3 else 0)
        static = objective.corrupt(rows, seed=SEED, copy=epoch).columns
        got = unpadded(redrawn, "input_ids", "attention_mask")
        assert len(got) == rows.num_rows
        assert all(got[k] == static["input_ids"].row(index[k]).tolist() for k in got), epoch
    quiet = BartConfig(seq_len=96, mask_ratio=0.0)  # only sentence permutation left: epochs still differ
    path, objective, rows = build(tmp_path / "quiet", "bart", quiet, with_rows=True)
    first = unpadded(batches(path, dynamic=True, epoch=1)[0], "input_ids", "attention_mask")
    second = unpadded(batches(path, dynamic=True, epoch=2)[0], "input_ids", "attention_mask")
    several = {int(k) for k, n, d in zip(rows.keys, rows.sentence_ends.lengths, rows.segments.lengths) if n > d}
    assert len(several) > 100  # rows with a document of several sentences: permuted anew each epoch
    assert sum(first[k] != second[k] for k in several) > 0.5 * len(several)  # two sentences: same order 1 in 2
    assert all(first[k] == second[k] for k in first if k not in several)


def test_dynamic_needs_the_tokenizer_the_shards_were_built_with(tmp_path, spm_test_tokenizer, japanese_tokenizer):
    path, _ = build(tmp_path, "mlm", MlmConfig(seq_len=48))
    other = japanese_tokenizer.name
    want = spm_test_tokenizer.sha256[:12]
    with pytest.raises(ValueError, match=rf"manifest\.json: written with tokenizer {want}, but tokenizer={other} is"):
        PairStream(path, batch_size=4, dynamic=True, tokenizer=str(other))
