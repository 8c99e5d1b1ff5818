"""All four objectives built from small corpora in every layout (English, Japanese, BOM+CRLF, gzip, JSONL), read back.

The CLM check is exact: the documents of each input file, read here independently of the
pipeline (their keys are byte offsets), tokenized on their own, framed ``[bos] ids [eos]`` and
concatenated in file order per train/validation side, must equal that file's stored rows
concatenated in shard order; the only tokens allowed to be missing are the counted
``dropped_tokens``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from lmpairs.config import T5Config
from lmpairs.pipeline.splitjob import is_validation
from lmpairs.schemas import check_schema, list_to_numpy, read_manifest

pytestmark = pytest.mark.slow
OBJECTIVES = ("clm", "mlm", "t5", "bart")
SEQ_LEN = 64
FRACTION = 0.1


def line_documents(path: Path, key_prefix: str) -> list[tuple[str, str]]:
    """(key, text) of each non-blank line of a (possibly gzipped) file, keyed by its byte offset."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    docs = []
    for line in data[offset:].split(b"\n"):
        text = line.decode("utf-8").rstrip("\r")
        if path.name.endswith(".jsonl") and text:
            text = json.loads(text)["text"]
        if text.strip():
            docs.append((f"{key_prefix}:{offset}", text))
        offset += len(line) + 1
    return docs


def expected_documents(root: Path, names=("arxiv.jsonl", "en/botchan.txt.gz", "en/shakespeare.txt", "ja.txt")):
    return {name: line_documents(root / name, name) for name in names}


@pytest.fixture(scope="module")
def trained_build(build, corpus_slices, trained_tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "out"
    manifests = build([f"{corpus_slices}/**"], out, trained_tokenizer.name, seq_len=SEQ_LEN, documents="line",
                      validation_fraction=FRACTION)
    return out, manifests


@pytest.fixture(scope="module")
def llama_build(build, corpus_slices, llama_tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("llama") / "out"
    manifests = build([f"{corpus_slices}/ja.txt", f"{corpus_slices}/en/botchan.txt.gz"], out, llama_tokenizer.name,
                      seq_len=SEQ_LEN, documents="line", validation_fraction=FRACTION)
    return out, manifests


def read_rows(objective_dir: Path, manifest) -> dict[int, dict[str, np.ndarray]]:
    rows = {}
    for split, shards in manifest.splits.items():
        for shard in shards:
            table = pq.read_table(objective_dir / shard.path)
            columns = {name: list_to_numpy(table.column(name)) for name in table.column_names[1:]}
            for i, key in enumerate(table.column("example_key").to_pylist()):
                rows[key] = {n: v[o[i]:o[i + 1]] for n, (v, o) in columns.items()} | {"split": split}
    return rows


@pytest.mark.parametrize("which", ["trained_build", "llama_build"])
def test_every_objective_builds_and_every_shard_validates(which, request):
    out, manifests = request.getfixturevalue(which)
    assert sorted(manifests) == sorted(OBJECTIVES)
    for name in OBJECTIVES:
        manifest = read_manifest(str(out / name), objective=name)
        assert manifest.splits.keys() == {"train", "validation"}
        for shards in manifest.splits.values():
            for shard in shards:
                path = out / name / shard.path
                data = path.read_bytes()
                assert hashlib.sha256(data).hexdigest() == shard.sha256 and len(data) == shard.num_bytes
                meta = pq.ParquetFile(path).metadata
                check_schema(pq.read_schema(path), name, str(path))
                assert meta.num_rows == shard.num_rows == sum(shard.row_group_rows)
        c = manifest.counters
        assert c["documents_read"] == c["documents_used"] + sum(c["documents_rejected"].values())
        assert sum(c["examples"].values()) == sum(manifest.num_rows(s) for s in manifest.splits) > 0
    assert not (out / "_lmpairs_tmp").exists()


def test_duckdb_reads_the_shards_back(trained_build):
    out, manifests = trained_build
    for name in OBJECTIVES:
        [(total, distinct, tokens)] = duckdb.sql(
            f"select count(*), count(distinct example_key), sum(len(input_ids)) "
            f"from read_parquet('{out}/{name}/*/*.parquet')").fetchall()
        assert total == distinct == sum(manifests[name].num_rows(s) for s in ("train", "validation"))
        assert tokens > 0


def test_inputs_and_formats_are_recorded(trained_build):
    _, manifests = trained_build
    inputs = {f["key_prefix"]: (f["format"], f["compression"], f["index"]) for f in manifests["clm"].inputs}
    assert inputs == {"arxiv.jsonl": ("jsonl", "uncompressed", 0), "en/botchan.txt.gz": ("text", "gzip", 1),
                      "en/shakespeare.txt": ("text", "uncompressed", 2), "ja.txt": ("text", "uncompressed", 3)}
    assert manifests["clm"].format_version == 3


def framed(tokenizer, text: str) -> list[int]:
    ids = tokenizer.encode_documents([text])[0][0]
    return [tokenizer.vocab.bos_id, *ids.tolist(), tokenizer.vocab.eos_id]


def clm_streams(out: Path, manifest) -> dict[tuple[int, str], list[int]]:
    """Each (input split index, side)'s CLM tokens: its rows concatenated in shard order."""
    streams: dict[tuple[int, str], list[int]] = {}
    for side, shards in manifest.splits.items():
        for shard in sorted(shards, key=lambda s: s.path):
            index = int(re.match(r"[a-z]+/part-(\d+)-\d+\.parquet", shard.path).group(1))
            for row in pq.read_table(out / "clm" / shard.path).column("input_ids").to_pylist():
                assert len(row) <= SEQ_LEN + 1
                streams.setdefault((index, side), []).extend(row)
    return streams


def check_clm_reproduces_documents(out: Path, manifest, tokenizer, documents: dict[str, list]) -> None:
    streams = clm_streams(out, manifest)
    index = {f["key_prefix"]: f["index"] for f in manifest.inputs}
    expected = {}
    for name, docs in documents.items():
        for key, text in docs:
            side = "validation" if is_validation(key, FRACTION) else "train"
            expected.setdefault((index[name], side), []).extend(framed(tokenizer, text))
    assert streams.keys() <= expected.keys()
    missing = 0
    for stream, tokens in expected.items():
        got = streams.get(stream, [])
        assert got == tokens[:len(got)], stream  # only a split's final short row may be dropped
        missing += len(tokens) - len(got)
    assert missing == manifest.counters["dropped_tokens"]


def test_clm_rows_reproduce_the_tokenized_corpus(trained_build, trained_tokenizer, corpus_slices):
    out, manifests = trained_build
    documents = expected_documents(corpus_slices)
    assert manifests["clm"].counters["documents_used"] == sum(map(len, documents.values()))
    check_clm_reproduces_documents(out, manifests["clm"], trained_tokenizer, documents)


def test_clm_rows_reproduce_japanese_and_bom_crlf_text_with_llama(llama_build, llama_tokenizer, corpus_slices):
    out, manifests = llama_build
    documents = expected_documents(corpus_slices, ("en/botchan.txt.gz", "ja.txt"))
    documents = {name.rsplit("/", 1)[-1]: docs for name, docs in documents.items()}
    documents = {name: [(f"{name}:{key.split(':')[1]}", text) for key, text in docs]
                 for name, docs in documents.items()}
    assert manifests["clm"].counters["documents_used"] == sum(map(len, documents.values()))
    check_clm_reproduces_documents(out, manifests["clm"], llama_tokenizer, documents)
    text = "".join(llama_tokenizer.decode(r["input_ids"]) for r in read_rows(out / "clm", manifests["clm"]).values())
    assert documents["ja.txt"][0][1][:12] in text and documents["botchan.txt.gz"][0][1][:12] in text
    assert "\ufeff" not in text and "\r" not in text  # LLaMA's byte fallback would keep both


def test_objectives_respect_their_lengths(trained_build, trained_tokenizer):
    out, manifests = trained_build
    t5 = T5Config(seq_len=SEQ_LEN)
    eos = trained_tokenizer.vocab.eos_id
    for name, check in {
        "mlm": lambda r: len(r["input_ids"]) == len(r["labels"]) <= SEQ_LEN,
        "t5": lambda r: len(r["input_ids"]) <= SEQ_LEN and len(r["labels"]) <= t5.targets_length
        and r["input_ids"][-1] == r["labels"][-1] == eos,
        "bart": lambda r: len(r["labels"]) <= SEQ_LEN and r["labels"][-1] == eos,
    }.items():
        rows = read_rows(out / name, manifests[name])
        assert rows and all(check(r) for r in rows.values()), name
    assert 0.14 < manifests["mlm"].counters["rates"]["selected_per_maskable"] < 0.16
    assert 0.14 < manifests["t5"].counters["rates"]["noise_tokens_per_tokens"] < 0.16
    assert 0.25 < manifests["bart"].counters["rates"]["removed_per_body_tokens"] < 0.35


def test_clm_rows_reproduce_a_file_cut_into_many_byte_ranges(build, corpus_slices, trained_tokenizer, tmp_path):
    from lmpairs.reading import LocalFiles, plan_splits, read_split

    path = corpus_slices / "en" / "shakespeare.txt"
    manifests = build([str(path)], tmp_path / "out", trained_tokenizer.name, seq_len=SEQ_LEN, objectives="clm",
                      documents="paragraph", validation_fraction=FRACTION, split_mb=1000 / 2**20)
    manifest = manifests["clm"]
    assert len(manifest.inputs) == -(-path.stat().st_size // 1000)
    splits = plan_splits([str(path)], input_format="text", split_bytes=1000, documents="paragraph").splits
    per_split = [[(r.key, r.text) for r in read_split(s, documents="paragraph", files=LocalFiles()) if not r.reason]
                 for s in splits]
    straddling = [i for i, s in enumerate(splits[:-1]) if per_split[i] and
                  int(per_split[i][-1][0].split(":")[1]) + len(per_split[i][-1][1].encode()) > s.end]
    assert straddling  # some paragraph starts in one split and ends in the next
    assert [d for docs in per_split for d in docs] == line_paragraphs(path)
    documents = {f"split{i}": docs for i, docs in enumerate(per_split)}
    index = {f"split{i}": i for i in range(len(splits))}
    streams = clm_streams(tmp_path / "out", manifest)
    missing = 0
    for name, docs in documents.items():
        for side in ("train", "validation"):
            tokens = [t for key, text in docs if is_validation(key, FRACTION) == (side == "validation")
                      for t in framed(trained_tokenizer, text)]
            got = streams.get((index[name], side), [])
            assert got == tokens[:len(got)], (name, side)
            missing += len(tokens) - len(got)
    assert missing == manifest.counters["dropped_tokens"]


def line_paragraphs(path: Path) -> list[tuple[str, str]]:
    """(key, text) of each blank-line-separated paragraph, read here independently (LF text, no BOM)."""
    data, docs, offset = path.read_text(encoding="utf-8"), [], 0
    for block in data.split("\n\n"):
        text = block.strip("\n")
        if text.strip():
            docs.append((f"{path.name}:{offset + len(block) - len(block.lstrip(chr(10)))}", text))
        offset += len(block.encode()) + 2
    return docs
