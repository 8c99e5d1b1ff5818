"""Whole builds with Hugging Face tokenizer.json files: all four objectives with a GPT-2-style byte-level
BPE and a T5-style Metaspace Unigram (both trained here, see ``tests/hf_tokenizers.py``).

Checks, per tokenizer: CLM rows decode back to the corpus text (English and Japanese); MLM selects
15% ± 0.5% and whole-word masks cover whole words; T5's sentinels and BART's mask are the ids
appended past the model; BART infills 30% ± 1%; the loader re-corrupts dynamically and ``inspect``
renders text with the same file; the build is byte-identical across the local runners.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from build_fingerprints import fingerprint
from hf_tokenizers import japanese_documents, write_gpt2_style, write_t5_style

from lmpairs.config import MlmConfig
from lmpairs.embedded_corpus import write_corpus
from lmpairs.schemas.rows import list_to_numpy
from lmpairs.sentences import normalize_text
from lmpairs.tokenizers import Tokenizer

pytestmark = pytest.mark.slow
pytest.importorskip("tokenizers")

SEQ_LEN = 128
RUNNERS = {
    "in_process": (),
    "two_workers": ("--direct_num_workers=2", "--direct_running_mode=multi_processing"),
    "portable": ("--runner=PortableRunner", "--job_endpoint=embed"),
}
WRITERS = {"gpt2": write_gpt2_style, "t5": write_t5_style}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[str]]:
    """The embedded corpus and generated Japanese, both JSONL; the normalized texts."""
    root = tmp_path_factory.mktemp("hf_corpus")
    paths = write_corpus(root, max_documents=200)
    japanese = japanese_documents(60, seed=11)
    lines = (json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in japanese)
    (root / "japanese.jsonl").write_text("".join(lines), encoding="utf-8")
    texts = [normalize_text(json.loads(line)["text"]) for p in paths for line in p.read_text("utf-8").splitlines()]
    return root, texts + japanese


@pytest.fixture(scope="module", params=sorted(WRITERS))
def built(request, build, corpus, tmp_path_factory):
    """``(out, manifests, tokenizer, tokenizer path)`` of one in-process build of all four objectives,
    MLM with whole-word masking."""
    root = tmp_path_factory.mktemp(f"hf_build_{request.param}")
    path = WRITERS[request.param](root)
    out = root / "out"
    manifests = build([str(corpus[0] / "*")], out, str(path), seq_len=SEQ_LEN, mlm=MlmConfig(whole_word=True))
    return out, manifests, Tokenizer.load(path), path


def read_rows(objective_dir: Path, manifest) -> list[dict[str, np.ndarray]]:
    """Every row of every shard, in manifest order, as ``{column: int array}``."""
    rows = []
    for shards in manifest.splits.values():
        for shard in shards:
            table = pq.read_table(objective_dir / shard.path)
            columns = {name: list_to_numpy(table.column(name)) for name in table.column_names if name != "example_key"}
            for i in range(table.num_rows):
                rows.append({n: v[o[i]:o[i + 1]] for n, (v, o) in columns.items()})
    return rows


def word_numbers(ids: np.ndarray, vocab) -> np.ndarray:
    """Each position's whole-word number (-1 on specials): a word starts at a word-start piece, at
    the row start or after a special; DESIGN's whole-word rule, written out independently here."""
    maskable = ~vocab.special[ids]
    after_special = np.ones_like(maskable)
    after_special[1:] = ~maskable[:-1]
    starts = maskable & (vocab.word_start[ids] | after_special)
    words = np.cumsum(starts) - 1
    words[~maskable] = -1
    return words


def test_manifest_records_the_tokenizer_json(built):
    out, manifests, tok, path = built
    entry = manifests["clm"].tokenizer
    assert entry["kind"] == "tokenizer.json" and entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["vocab_size"] == tok.vocab.size and entry["special_ids"] == tok.vocab.special_ids()


def test_clm_rows_decode_back_to_the_corpus_text(built, corpus):
    """Each shard's rows, read in order, are its packer's document stream: cut at eos, the pieces
    decode to exactly the corpus documents (English and Japanese), each once (byte-level BPE is
    lossless; Metaspace loses only a document's first space)."""
    out, manifests, tok, _ = built
    vocab = tok.vocab
    decoded = []
    for shards in manifests["clm"].splits.values():
        for shard in shards:
            values, offsets = list_to_numpy(pq.read_table(out / "clm" / shard.path).column("input_ids"))
            ids = values[:offsets[-1]]
            assert vocab.unk_id is None or not (ids == vocab.unk_id).any()
            ids = ids[ids != vocab.pad_id]
            decoded += [tok.decode(part) for part in np.split(ids, np.flatnonzero(ids == vocab.eos_id) + 1)]
    expected = corpus[1]
    if tok._model.scheme == "metaspace":  # its decoder drops a text's first space (the ▁ it may prepend)
        expected = [text[1:] if text.startswith(" ") else text for text in expected]
    assert sorted(text for text in decoded if text) == sorted(expected)
    counters = manifests["clm"].counters
    assert counters["measured"]["tokens"] == counters["tokens"] + counters["documents_used"]  # eos per document


def test_mlm_selects_15_percent_in_whole_words(built):
    out, manifests, tok, _ = built
    rate = manifests["mlm"].counters["rates"]["selected_per_maskable"]
    assert 0.145 <= rate <= 0.155, rate
    checked = 0
    for row in read_rows(out / "mlm", manifests["mlm"]):
        selected = row["labels"] != -100
        original = np.where(selected, row["labels"], row["input_ids"])
        words = word_numbers(original, tok.vocab)
        inside, num_words = words >= 0, int(words.max()) + 1
        per_word = np.bincount(words[inside], weights=selected[inside], minlength=num_words)
        sizes = np.bincount(words[inside], minlength=num_words)
        assert ((per_word == 0) | (per_word == sizes)).all()  # a word is selected whole or not at all
        checked += int(selected.any())
    assert checked > 50


def test_t5_sentinels_and_bart_mask_are_the_appended_ids(built):
    out, manifests, tok, _ = built
    n, vocab = tok.model_vocab_size, tok.vocab
    assert vocab.sentinel_ids == tuple(range(n + 99, n - 1, -1)) and vocab.mask_id == n + 100
    allowed = set(vocab.sentinel_ids) | {vocab.pad_id, vocab.eos_id}
    first_sentinels = set()
    for row in read_rows(out / "t5", manifests["t5"]):
        for column in ("input_ids", "labels"):
            ids = row[column]
            assert set(ids[ids >= n].tolist()) <= allowed
        first_sentinels.add(int(row["input_ids"][row["input_ids"] >= n][0]))
    assert first_sentinels == {n + 99}  # <extra_id_0> opens every row's first span
    masks = sum(int((row["input_ids"] == vocab.mask_id).sum()) for row in read_rows(out / "bart", manifests["bart"]))
    assert masks == manifests["bart"].counters["measured"]["masks"] > 0


def test_bart_infills_30_percent(built):
    rate = built[1]["bart"].counters["rates"]["removed_per_body_tokens"]
    assert 0.29 <= rate <= 0.31, rate


def test_loader_recorrupts_dynamically_with_the_tokenizer_json(built):
    from lmpairs.loader import PairStream

    out, _, _, path = built
    stream = PairStream(str(out / "mlm"), batch_size=4, shuffle=False, dynamic=True, tokenizer=str(path))
    batch = next(iter(stream))
    assert batch["input_ids"].shape[0] == 4 and (batch["labels"] != -100).any()


def test_inspect_renders_decoded_text_not_byte_level_pieces(built):
    from lmpairs.inspection.report import InspectOptions, inspect_build

    out, _, _, path = built
    report = inspect_build(str(out), InspectOptions(num_examples=1, tokenizer=str(path)))
    assert "<extra_id_0>" in report
    assert "\u0120" not in report and "\u010a" not in report  # Ġ (space) and Ċ (newline) pieces


@pytest.fixture(scope="module")
def runner_builds(build, corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_runners")
    path = write_gpt2_style(root)
    results = {}
    for runner, args in RUNNERS.items():
        out = root / runner
        manifests = build([str(corpus[0] / "*")], out, str(path), beam_args=args, seq_len=64, shard_size_mb=0.05,
                          validation_fraction=0.2)
        results[runner] = fingerprint(out, manifests)
    return results




@pytest.mark.parametrize("runner", ["two_workers", "portable"])
def test_byte_level_build_is_byte_identical_across_runners(runner_builds, runner):
    expected = runner_builds["in_process"]
    assert set(expected) == {"clm", "mlm", "t5", "bart"}
    for name in expected:
        assert runner_builds[runner][name]["files"] == expected[name]["files"], name
        manifest = dict(runner_builds[runner][name]["manifest"])
        want = dict(expected[name]["manifest"])
        for data in (manifest, want):  # the output path differs per runner, nothing else may
            data.get("extra", {}).get("build", {}).pop("output", None)
        assert manifest == want, name
