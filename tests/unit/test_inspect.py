"""``lmpairs inspect``: summaries and decoded examples on small generated shards, markers per objective."""
from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from lmpairs.config import OBJECTIVE_CONFIGS, OBJECTIVES
from lmpairs.embedded_corpus import corpus_documents
from lmpairs.inspection import InspectError, InspectOptions, add_inspect_arguments, inspect_build, run_inspect
from lmpairs.inspection.examples import _matched, frame_ends, render_bart, render_mlm, sentinel_spans
from lmpairs.inspection.render import PieceRenderer, side_by_side
from lmpairs.objectives import make_objective
from lmpairs.schemas import Manifest, ShardInfo, rows_to_table, write_manifest
from lmpairs.tokenizers import Tokenizer
from lmpairs.transforms.batch import DocumentBatch, Ragged

SEQ_LEN = 32
SHARD = "train/part-00000-of-00001.parquet"
COUNTERS = {"files_read": 1, "files_rejected": [], "documents_read": 41, "documents_used": 40,
            "documents_rejected": {"empty": 1, "too_long": 0}, "tokens": 5000, "padding_tokens": 7,
            "slots": 7000, "dropped_tokens": 3}


def build_objective(out: Path, name: str, tokenizer: Tokenizer, texts: list[str]) -> None:
    """Rows of ``texts`` for objective ``name`` (packed in document order), one shard plus a manifest."""
    config = OBJECTIVE_CONFIGS[name](seq_len=SEQ_LEN)
    objective = make_objective(name, config, tokenizer.vocab)
    encoded = [(ids, ends) for ids, ends in tokenizer.encode_documents(texts) if len(ids)]
    docs = DocumentBatch(keys=np.arange(1, len(encoded) + 1, dtype=np.uint64),
                         ids=Ragged.from_rows([ids for ids, _ in encoded]),
                         sentence_ends=Ragged.from_rows([ends for _, ends in encoded]))
    packer = objective.packer()
    row_batches = [packer.add(docs), packer.finish()[0]]
    keys, columns, measured, num_rows = [], {c: [] for c in objective.columns}, {}, 0
    for rows in row_batches:
        num_rows += rows.num_rows
        for example in (objective.examples(rows, seed=0) if rows.num_rows else []):
            keys.append(example.keys)
            for column in objective.columns:
                ragged = example.columns[column]
                columns[column] += [ragged.row(i) for i in range(example.num_examples)]
            for field, value in objective.measure(example).items():
                measured[field] = measured.get(field, 0) + value
    keys = np.concatenate(keys)
    (out / name / "train").mkdir(parents=True)
    pq.write_table(rows_to_table(name, keys, columns), out / name / SHARD)
    data = (out / name / SHARD).read_bytes()
    shard = ShardInfo(path=SHARD, num_rows=len(keys), num_bytes=len(data), num_row_groups=1,
                      row_group_rows=[len(keys)], sha256=hashlib.sha256(data).hexdigest())
    counters = dict(COUNTERS, rows=num_rows, examples={"train": len(keys)}, measured=measured)
    write_manifest(Manifest(objective=name, config=config.to_dict(), seed=0, tokenizer=tokenizer.describe(),
                            inputs=[{"path": "corpus.jsonl"}], counters=counters, splits={"train": [shard]},
                            lmpairs_version="test"), str(out / name))


@pytest.fixture(scope="module")
def build(trained_tokenizer: Tokenizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT with all four objectives built from 40 short documents, the tokenizer next to it."""
    out = tmp_path_factory.mktemp("inspect") / "out"
    texts = [d.text[:150] for d in corpus_documents(max_documents=40)]
    for name in OBJECTIVES:
        build_objective(out, name, trained_tokenizer, texts)
    shutil.copy(trained_tokenizer.name, out / Path(trained_tokenizer.name).name)
    return out


def inspect(path: Path, **options) -> str:
    return inspect_build(str(path), InspectOptions(**{"width": 120, "max_tokens": 0, **options}))


def blocks(text: str) -> dict[str, str]:
    """The output split into objective blocks by their ``== name`` headers."""
    parts = re.split(r"^== (\w+) ", text, flags=re.M)[1:]
    return dict(zip(parts[0::2], parts[1::2]))


def test_out_without_objective_shows_every_objective_and_one_directory_shows_one(build: Path):
    assert list(blocks(inspect(build, num_examples=0))) == list(OBJECTIVES)
    assert list(blocks(inspect(build / "t5", num_examples=0))) == ["t5"]


def test_summary_names_documents_rejections_examples_and_shards(build: Path):
    text = blocks(inspect(build, num_examples=0))["mlm"]
    assert "documents    read 41, used 40, rejected 1 (empty 1); files read 1" in text
    assert "too_long" not in text  # reasons with zero documents are left out
    assert "padding      7 tokens (0.1% of row slots); dropped 3 tokens" in text
    assert re.search(r"train\s+\d+ rows in 1 shard\(s\)", text)
    assert f"    {SHARD}  " in text and "1 row group(s)" in text
    assert "config       copies=1 " in text and "seq_len=32" in text


@pytest.mark.parametrize("objective,labels", [
    ("mlm", ["selected / maskable", "[MASK] / selected", "random / selected", "kept / selected"]),
    ("t5", ["noise tokens / tokens", "noise tokens / span"]),
    ("bart", ["removed / body tokens", "added / masks"]),
])
def test_applied_rates_are_printed_beside_their_config_values(build: Path, objective: str, labels: list[str]):
    text = blocks(inspect(build, num_examples=0))[objective]
    for label in labels:
        assert re.search(rf"{re.escape(label)}\s+\d+\.\d{{4}}", text), label
    if objective == "mlm":
        rate = float(re.search(r"selected / maskable\s+(\S+)", text).group(1))
        assert abs(rate - 0.15) < 0.03 and "(config mask_prob = 0.15)" in text


def test_clm_marks_document_boundaries_and_the_next_token_shift(build: Path):
    text = blocks(inspect(build / "clm", num_examples=6))["clm"]
    assert "input_ids = row[:-1]" in text and "target_ids = row[1:] (next token)" in text
    assert re.search(r"next-token shift: '[^']+'\u2192'[^']+'", text)
    counts = [int(n) for n in re.findall(r"; (\d+) document\(s\)", text)]
    assert len(counts) == 6 and max(counts) > 1  # short documents get packed together
    columns = [line.split("\u2502") for line in text.splitlines() if "\u2502" in line]
    assert sum(left.count("\u2551") for left, _ in columns) == sum(counts) - len(counts)
    left = re.sub(r"\s+", " ", " ".join(left for left, _ in columns))
    assert "</s> \u2551 " in left  # the boundary follows a document's eos


def test_mlm_marks_masked_random_and_kept_positions(build: Path):
    text = blocks(inspect(build / "mlm", num_examples=40))["mlm"]
    assert " [MASK]" in text or "[MASK]" in text
    assert re.search(r"\{[^{}\s]+\u2192[^{}\s]+\}", text)  # {random→orig}
    assert re.search(r"\([^()\s]+\)", text)  # (kept)
    assert "\u00ab" in text and "labels are -100 elsewhere" in text


def test_mlm_renderer_puts_each_mark_at_its_position(trained_tokenizer: Tokenizer):
    pieces = PieceRenderer(trained_tokenizer)
    vocab = trained_tokenizer.vocab
    ids = np.concatenate([[vocab.bos_id], trained_tokenizer.encode_batch(["the king said to the queen"])[0]])
    masked, randomized, kept = 1, 3, 5
    random_id = int(vocab.ordinary_ids[7])
    input_ids = ids.copy()
    input_ids[masked], input_ids[randomized] = vocab.mask_id, random_id
    labels = np.full(ids.shape, -100)
    labels[[masked, randomized, kept]] = ids[[masked, randomized, kept]]
    text = "\n".join(render_mlm({"input_ids": input_ids, "labels": labels}, pieces, 200, 0))
    assert "3 of " in text and "1 [MASK], 1 {random\u2192orig}, 1 (kept)" in text
    assert f"{{{pieces.bare(random_id)}\u2192{pieces.bare(int(ids[randomized]))}}}" in text
    assert f"({pieces.bare(int(ids[kept]))})" in text
    assert f"\u00ab{pieces.bare(int(ids[masked]))}\u00bb" in text


def test_t5_aligns_each_sentinel_with_its_span(build: Path, trained_tokenizer: Tokenizer):
    text = blocks(inspect(build / "t5", num_examples=3))["t5"]
    pairs = re.findall(r"<extra_id_(\d+)> \u2194 '(.*)'", text)
    assert pairs and pairs[0][0] == "0"
    first = pq.read_table(build / "t5" / SHARD).slice(0, 1).to_pylist()[0]
    sentinel_index = {sid: n for n, sid in enumerate(trained_tokenizer.vocab.sentinel_ids)}
    spans = sentinel_spans(np.asarray(first["labels"]), sentinel_index)
    pieces = PieceRenderer(trained_tokenizer)
    expected = [(str(n), pieces.text(span)) for n, span in spans]
    assert pairs[:len(expected)] == expected
    inputs_side = " ".join(line.split("\u2502")[0] for line in text.split("-- train example 2")[0].splitlines()
                           if "\u2502" in line)
    assert all(f"<extra_id_{n}>" in inputs_side for n, _ in expected)


def test_bart_shows_masks_in_the_input_and_removed_text_in_the_original(build: Path):
    text = blocks(inspect(build / "bart", num_examples=4))["bart"]
    assert "input_ids (noised)" in text and "labels (original)" in text
    left = " ".join(line.split("\u2502")[0] for line in text.splitlines() if "\u2502" in line)
    right = " ".join(line.split("\u2502")[1] for line in text.splitlines() if "\u2502" in line)
    assert "[MASK]" in left and "\u00ab" in right and "[MASK]" not in right
    assert "\u00ab\u00bb" not in text and "{}" not in text  # a mark always shows what it marks


def test_bart_shows_each_document_of_a_row_apart(trained_tokenizer: Tokenizer):
    vocab = trained_tokenizer.vocab
    bos, eos, mask = vocab.bos_id, vocab.eos_id, vocab.mask_id
    first, second = trained_tokenizer.encode_documents(["The cat sat on the mat.", "A dog ran far away."])
    first, second = first[0], second[0]
    labels = np.concatenate([[bos], first, [eos, bos], second, [eos]])
    noised = np.concatenate([[bos], first[:2], [mask, eos, bos], second, [eos]])
    assert frame_ends(noised, eos, bos).tolist() == [5, noised.shape[0]]
    lines = render_bart({"input_ids": noised, "labels": labels, "doc_lengths": np.array([len(first) + 2,
                                                                                         len(second) + 2])},
                        PieceRenderer(trained_tokenizer), 120, 0)
    text = "\n".join(lines)
    assert lines[0].startswith(f"  2 document(s) of {len(first) + 2}, {len(second) + 2} tokens")
    assert "document 1: input" in text and "document 2: input" in text
    second_block = text.split("document 2:")[1]
    assert "0 [MASK], 0 {added}; original" in second_block and "\u00ab" not in second_block.split("\n", 1)[1]


def test_bart_matching_follows_permuted_sentences():
    first, second = np.arange(10, 20), np.arange(30, 40)
    original = np.concatenate([[2], first, second, [3]])
    noised = np.concatenate([[2], second, [4], first[5:], [3]])  # permuted, first half of `first` masked
    in_noised, in_original = _matched(noised, original)
    assert in_noised.tolist() == [True] * 11 + [False] + [True] * 6
    assert (~in_original).nonzero()[0].tolist() == list(range(1, 6))


def test_max_tokens_cuts_rows_and_says_how_much_is_left(build: Path):
    text = inspect(build / "mlm", num_examples=1, max_tokens=8)
    assert re.search(r"\u2026 \(\+\d+ tokens\)", text)


def test_side_by_side_wraps_both_columns_to_the_width():
    lines = side_by_side("left", "word " * 40, "right", "other " * 10, width=60)
    assert all(len(line) <= 60 for line in lines)
    assert all("\u2502" in line for line in lines)


def test_tokenizer_is_found_next_to_out_or_refused_with_the_fix(build: Path, tmp_path: Path):
    lonely = tmp_path / "out"
    shutil.copytree(build / "bart", lonely / "bart")
    with pytest.raises(InspectError, match="pass --tokenizer PATH"):
        inspect(lonely, num_examples=1)
    model = next(build.glob("*.model"))
    assert "-- train example 1" in inspect(lonely, num_examples=1, tokenizer=str(model))


def test_a_different_tokenizer_is_refused_by_its_fingerprint(build: Path, spm_test_model_path: Path):
    other = spm_test_model_path
    with pytest.raises(InspectError, match="was built with .* sha256"):
        inspect(build / "clm", num_examples=1, tokenizer=str(other))


def test_cli_prints_examples_and_reports_errors_as_one_line(build: Path, tmp_path: Path, capsys):
    parser = add_inspect_arguments(argparse.ArgumentParser())
    assert run_inspect(parser.parse_args([str(build / "t5"), "-n", "1", "--width", "90"])) == 0
    assert "<extra_id_0>" in capsys.readouterr().out
    assert run_inspect(parser.parse_args([str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert err.startswith("lmpairs inspect: error: ") and "point at the --output" in err
    assert run_inspect(parser.parse_args([str(tmp_path / "missing")])) == 2
    assert "no such directory" in capsys.readouterr().err
    assert run_inspect(parser.parse_args([str(build / "t5"), "--side", "validation"])) == 2
    assert "pass --side" in capsys.readouterr().err


def test_every_option_has_help():
    parser = add_inspect_arguments(argparse.ArgumentParser())
    assert all(action.help for action in parser._actions)


def test_inspect_loads_neither_torch_nor_beam():
    code = ("import sys, lmpairs.inspection.cli; "
            "print(sorted(m for m in ('torch', 'apache_beam') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("max_tokens", [1, 3, 8])
def test_every_objective_renders_rows_cut_before_their_first_mark(build: Path, max_tokens: int):
    text = inspect(build, num_examples=3, max_tokens=max_tokens)
    assert text.count("-- train example") == 12
    assert "t5" in blocks(text) and "(+" in blocks(text)["t5"]
