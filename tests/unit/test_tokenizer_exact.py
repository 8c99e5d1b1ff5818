"""Exact encoding (format version 3): every whole document inside CLM rows is the framed ``encode(text)``
for every tokenizer kind, and BART's sentence ends from offsets follow the sentence rule on the text.

Kinds: SentencePiece (Mistral 7B's v1 BPE with byte fallback; a unigram trained in fixtures), tokenizer.json
(byte-level BPE; Metaspace), tekken.json and a tiktoken rank file. Texts: code with blank lines and
indentation, poetry, prose with two spaces or a line break after sentences, CRLF, a BOM, Japanese.
"""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from hf_tokenizers import write_gpt2_style, write_t5_style
from tiktoken_files import tekken_file, write_rank_file

from lmpairs.config import ClmConfig
from lmpairs.pipeline.splitjob import TRAIN, SplitJob, process_split
from lmpairs.reading import LocalFiles, plan_splits
from lmpairs.sentences import normalize_text, split_sentences
from lmpairs.tokenizers import Tokenizer

CODE = ('"""Module docstring."""\n\nimport os\n\n\n__all__ = ["a", "b"]\n\n\ndef f(x):\n    if x:\n'
        '        return 1\n\n    return 2  # two  spaces\n\tTabbed\n')
POETRY = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n\n  Rough winds do shake\n"
PROSE = "It was late.  The lamps were lit.\nNobody came. She waited\nuntil dawn.\n\nThen she left!"
DOCUMENTS = [CODE, POETRY, PROSE, "Windows line one.\r\nLine two.\r\n\r\nNew paragraph.\rOld Mac.",
             "\ufeffA BOM opens this file. It is dropped.",
             "吾輩は猫である。名前はまだ無い。\n\nどこで生れたかとんと見当がつかぬ。",
             "   leading spaces and trailing   ", "mixed 日本語 and English. Done."]
KINDS = ["llama", "unigram", "gpt2", "t5", "tekken", "tiktoken"]


@pytest.fixture(scope="module")
def kinds(tmp_path_factory, llama_tokenizer, trained_tokenizer):
    root = tmp_path_factory.mktemp("kinds")
    return {"llama": llama_tokenizer, "unigram": trained_tokenizer,
            "gpt2": Tokenizer.load(write_gpt2_style(root)), "t5": Tokenizer.load(write_t5_style(root)),
            "tekken": Tokenizer.load(tekken_file()), "tiktoken": Tokenizer.load(write_rank_file(root / "ranks.model"))}


@pytest.fixture(params=KINDS)
def tokenizer(request, kinds):
    return kinds[request.param]


def build_clm(tokenizer, tmp_path, documents, seq_len=31):
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"text": d}) + "\n" for d in documents), encoding="utf-8")
    job = SplitJob(objectives=(("clm", ClmConfig(seq_len=seq_len)),), vocab=tokenizer.vocab, seed=0,
                   validation_fraction=0.0, documents="paragraph", text_field="text", max_document_bytes=1 << 20,
                   tmp_root=str(tmp_path / "tmp"), row_group_mb=0.01, shard_mb=None, encode_characters=100)
    plan = plan_splits([str(corpus)], input_format="jsonl", split_bytes=1 << 20, documents="paragraph")
    [result] = [process_split(i, s, job, tokenizer, files=LocalFiles()) for i, s in enumerate(plan.splits)]
    tables = [pq.read_table(f"{job.tmp_root}/clm/{s.path}") for s in result["objectives"]["clm"]["shards"]
              if s.path.startswith(TRAIN + "/")]
    return [row for t in tables for row in t.column("input_ids").to_pylist()], \
        [row for t in tables for row in t.column("doc_lengths").to_pylist()]


def framed(tokenizer, text):
    vocab = tokenizer.vocab
    return [*([vocab.bos_id] if vocab.bos_id is not None else []), *tokenizer.encode(normalize_text(text)).tolist(),
            vocab.eos_id]


def test_every_whole_document_in_clm_rows_is_the_framed_encoding(tokenizer, tmp_path):
    rows, doc_lengths = build_clm(tokenizer, tmp_path, DOCUMENTS * 3)
    want = [framed(tokenizer, text) for text in DOCUMENTS * 3]
    assert [t for row in rows for t in row] == [t for doc in want for t in doc]
    whole = []  # documents that start and end inside one row, read back through doc_lengths
    stream_pos, starts = 0, np.cumsum([0] + [len(d) for d in want])
    for row, lengths in zip(rows, doc_lengths):
        at = 0
        for n in lengths:
            if stream_pos + at in starts and stream_pos + at + n in starts:
                whole.append(row[at:at + n])
            at += n
        stream_pos += len(row)
    assert whole and all(piece in want for piece in whole)


@pytest.mark.parametrize("kind", ["llama", "gpt2", "tekken", "tiktoken"])
def test_lossless_kinds_decode_every_document_back_to_its_text(kinds, kind):
    tokenizer = kinds[kind]
    for text in DOCUMENTS:
        clean = normalize_text(text)
        decoded = tokenizer.decode(tokenizer.encode(clean))
        assert decoded == clean  # byte-level BPE and byte fallback spell the text exactly


def test_sentence_ends_from_offsets_follow_the_sentence_rule(tokenizer):
    texts = [normalize_text(t) for t in DOCUMENTS]
    ids, ends = tokenizer.encode_columns(texts, sentence_ends=True)
    plain, whole = tokenizer.encode_columns(texts)
    assert np.array_equal(ids.values, plain.values) and np.array_equal(ids.offsets, plain.offsets)
    assert whole.values.tolist() == ids.lengths.tolist()
    checked = set()
    for d, text in enumerate(texts):
        row, cut = ids.row(d), ends.row(d)
        assert cut[-1] == row.shape[0] and (np.diff(cut) > 0).all()
        sentences = [tokenizer.decode(part).strip() for part in np.split(row, cut[:-1])]
        if tokenizer.decode(row).strip() == text.strip():  # the tokenizer spells this text back
            assert sentences == split_sentences(text), (tokenizer.kind, text)
            checked.add(tokenizer.kind)
        else:  # lossy (unk pieces, normalization): still one span per sentence at most
            assert len(sentences) <= len(split_sentences(text))
    assert tokenizer.kind in checked


@pytest.mark.parametrize("kind", ["llama", "gpt2", "tekken"])
def test_bart_permutation_moves_whole_sentences_from_offsets(kinds, kind):
    from lmpairs.config import BartConfig
    from lmpairs.objectives import make_objective
    from lmpairs.transforms.batch import DocumentBatch

    tokenizer = kinds[kind]
    texts = [normalize_text(t) for t in (PROSE, POETRY, DOCUMENTS[3], DOCUMENTS[5], "One. Two. Three. Four.")]
    ids, ends = tokenizer.encode_columns(texts, sentence_ends=True)
    docs = DocumentBatch(np.arange(1, len(texts) + 1, dtype=np.uint64), ids, ends)
    bart = make_objective("bart", BartConfig(seq_len=256, mask_ratio=0.0, permute_sentence_ratio=1.0), tokenizer.vocab)
    packer = bart.packer()
    packer.add(docs)  # BART packs best-fit over a pool: the rows come out at finish
    rows, _ = packer.finish()
    examples = bart.corrupt(rows, seed=0, copy=0)
    found = bart.documents(rows)  # each row's framed documents, in order: <s>? body </s>
    moved, ends = 0, {}
    for d in range(found.row.shape[0]):
        r = int(found.row[d])
        clean, noisy = rows.ids.row(r).tolist(), examples.columns["input_ids"].row(r).tolist()
        body = found.body[found.body_offsets[d]:found.body_offsets[d + 1]].tolist()
        start = ends.get(r, 0) + bart.head
        ends[r] = start + len(body) + 1
        cuts = np.cumsum([0, *found.sentences[found.sentence_offsets[d]:found.sentence_offsets[d + 1]].tolist()])
        rest, at = [tuple(body[a:b]) for a, b in zip(cuts[:-1], cuts[1:])], start
        while rest:  # the noisy body is the same sentences, each whole, in some order, in its own place
            hit = next(s for s in rest if tuple(noisy[at:at + len(s)]) == s)
            rest.remove(hit)
            at += len(hit)
        assert at == start + len(body) and sorted(noisy) == sorted(clean)
        moved += noisy[start:at] != body
    assert moved > 0
