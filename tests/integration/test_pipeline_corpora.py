"""All four objectives built from small corpora in every layout (English, Japanese, BOM+CRLF, gzip, JSONL), read back.

The CLM check is exact: each document, tokenized on its own here, framed ``[bos] ids [eos]`` and
cut into rows, must equal the stored rows with its key, and each bucket's packed rows must equal
its documents' remainders in key order; the only tokens allowed to be missing are the counted
``dropped_tokens``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from lmpairs.config import T5Config
from lmpairs.pipeline.examples import assign_split, pack_bucket
from lmpairs.schemas import check_schema, list_to_numpy, read_manifest
from lmpairs.transforms import stable_hash64

pytestmark = pytest.mark.slow
OBJECTIVES = ("clm", "mlm", "t5", "bart")
SEQ_LEN = 64
FRACTION = 0.1
BUCKETS = 16


def text_documents(path: Path, key_prefix: str) -> dict[str, str]:
    """Line documents of a (possibly gzipped) text file, read independently of the pipeline."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    lines = data.decode("utf-8-sig").replace("\r\n", "\n").split("\n")
    return {f"{key_prefix}:{i}": line for i, line in enumerate(lines) if line.strip()}


def jsonl_documents(path: Path, key_prefix: str) -> dict[str, str]:
    return {f"{key_prefix}:{i}": json.loads(line)["text"] for i, line in enumerate(path.read_text().splitlines())}


def expected_documents(root: Path) -> dict[str, str]:
    docs = {}
    for name in ("en/shakespeare.txt", "en/botchan.txt.gz", "ja.txt"):
        docs.update(text_documents(root / name, name))
    docs.update(jsonl_documents(root / "arxiv.jsonl", "arxiv.jsonl"))
    return docs


@pytest.fixture(scope="module")
def trained_build(build, corpus_slices, trained_tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "out"
    manifests = build([f"{corpus_slices}/**"], out, trained_tokenizer.name, seq_len=SEQ_LEN, num_shards=3,
                      validation_fraction=FRACTION)
    return out, manifests


@pytest.fixture(scope="module")
def llama_build(build, corpus_slices, llama_tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("llama") / "out"
    manifests = build([f"{corpus_slices}/ja.txt", f"{corpus_slices}/en/botchan.txt.gz"], out, llama_tokenizer.name,
                      seq_len=SEQ_LEN, num_shards=2, validation_fraction=FRACTION)
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
    inputs = {f["key_prefix"]: (f["format"], f["compression"]) for f in manifests["clm"].inputs}
    assert inputs == {"arxiv.jsonl": ("jsonl", "uncompressed"), "en/botchan.txt.gz": ("text", "gzip"),
                      "en/shakespeare.txt": ("text", "uncompressed"), "ja.txt": ("text", "uncompressed")}


def framed(tokenizer, text: str) -> np.ndarray:
    ids = tokenizer.encode_documents([text])[0][0]
    return np.concatenate([[tokenizer.vocab.bos_id], ids, [tokenizer.vocab.eos_id]]).astype(np.int32)


def check_clm_reproduces_documents(out: Path, manifest, tokenizer, documents: dict[str, str]) -> None:
    rows = read_rows(out / "clm", manifest)
    length = SEQ_LEN + 1
    seen, missing = set(), 0
    remainders = defaultdict(list)
    for key in sorted(documents):
        ids = framed(tokenizer, documents[key])
        split = assign_split(key, FRACTION)
        for i in range(len(ids) // length):
            row = rows[stable_hash64("clm", "doc", key, i)]
            assert row["split"] == split and np.array_equal(row["input_ids"], ids[i * length:(i + 1) * length])
            assert row["doc_lengths"].tolist() == [length]
            seen.add(stable_hash64("clm", "doc", key, i))
        if len(ids) % length:
            remainders[f"{split}/{pack_bucket(key, BUCKETS)}"].append(ids[len(ids) // length * length:])
    for group, parts in remainders.items():
        expected = np.concatenate(parts)
        stream, lengths, i = [], [], 0
        while (key := stable_hash64("clm", "pack", group, i)) in rows:
            assert rows[key]["split"] == group.split("/")[0]
            stream.append(rows[key]["input_ids"])
            lengths.append(rows[key]["doc_lengths"])
            seen.add(key)
            i += 1
        stream = np.concatenate(stream) if stream else np.zeros(0, np.int32)
        assert np.array_equal(stream, expected[:len(stream)]), group
        assert np.concatenate(lengths).sum() == len(stream)
        missing += len(expected) - len(stream)
    assert seen == set(rows), "rows the documents do not explain"
    assert missing == manifest.counters["dropped_tokens"]


def test_clm_rows_reproduce_the_tokenized_corpus(trained_build, trained_tokenizer, corpus_slices):
    out, manifests = trained_build
    documents = expected_documents(corpus_slices)
    assert manifests["clm"].counters["documents_used"] == len(documents)
    check_clm_reproduces_documents(out, manifests["clm"], trained_tokenizer, documents)


def test_clm_rows_reproduce_japanese_and_bom_crlf_text_with_llama(llama_build, llama_tokenizer, corpus_slices):
    out, manifests = llama_build
    documents = text_documents(corpus_slices / "ja.txt", "ja.txt")
    documents.update(text_documents(corpus_slices / "en/botchan.txt.gz", "botchan.txt.gz"))
    assert manifests["clm"].counters["documents_used"] == len(documents)
    check_clm_reproduces_documents(out, manifests["clm"], llama_tokenizer, documents)
    text = "".join(llama_tokenizer.decode(r["input_ids"]) for r in read_rows(out / "clm", manifests["clm"]).values())
    assert documents["ja.txt:0"][:12] in text and documents["botchan.txt.gz:0"][:12] in text  # starts of first lines
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
