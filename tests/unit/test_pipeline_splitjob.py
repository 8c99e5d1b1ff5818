"""process_split on its own (no runner): every token lands in a row, batch sizes change no byte, failures clean up."""
import errno
import json

import pyarrow.parquet as pq
import pytest
from textgen import english_paragraphs

from lmpairs.config import BartConfig, ClmConfig, MlmConfig, T5Config
from lmpairs.pipeline import splitjob
from lmpairs.pipeline.errors import OutOfSpace
from lmpairs.pipeline.splitjob import TRAIN, VALIDATION, SplitJob, is_validation, process_split
from lmpairs.reading import LocalFiles, UnreadableInput, plan_splits, read_split, read_split_columns

ALL = (("clm", ClmConfig(seq_len=63)), ("mlm", MlmConfig(seq_len=64, copies=2)), ("t5", T5Config(seq_len=32)),
       ("bart", BartConfig(seq_len=64)))


@pytest.fixture(scope="module")
def paragraphs():
    return english_paragraphs(120, seed=3)


@pytest.fixture(scope="module")
def corpus(paragraphs, tmp_path_factory):
    path = tmp_path_factory.mktemp("splitjob") / "novel.txt"
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


def make_job(tmp_path, vocab, objectives=ALL[:1], fraction=0.0, **kwargs) -> SplitJob:
    return SplitJob(objectives=objectives, vocab=vocab, seed=0, validation_fraction=fraction, documents="paragraph",
                    text_field="text", max_document_bytes=1 << 20, tmp_root=str(tmp_path / "tmp"),
                    row_group_mb=kwargs.pop("row_group_mb", 0.01), shard_mb=None, **kwargs)


def build(corpus, job, tokenizer, split_bytes=1 << 20):
    plan = plan_splits([str(corpus)], input_format="text", split_bytes=split_bytes, documents="paragraph")
    return plan, [process_split(i, s, job, tokenizer, files=LocalFiles()) for i, s in enumerate(plan.splits)]


def column(job, results, objective, side, name="input_ids"):
    """Every stored row of one stream, in split order then shard order."""
    rows = []
    for result in results:
        for shard in result["objectives"][objective]["shards"]:
            if shard.path.startswith(side + "/"):
                rows += pq.read_table(f"{job.tmp_root}/{objective}/{shard.path}").column(name).to_pylist()
    return rows


def framed_stream(tokenizer, texts):
    vocab = tokenizer.vocab
    return [t for ids, _ in tokenizer.encode_documents(texts) for t in [vocab.bos_id, *ids.tolist(), vocab.eos_id]]


@pytest.mark.parametrize("split_bytes", [1 << 20, 3000])
def test_clm_rows_without_framing_rebuild_every_document_exactly(corpus, paragraphs, trained_tokenizer, tmp_path,
                                                                 split_bytes):
    job = make_job(tmp_path, trained_tokenizer.vocab, fraction=0.25)
    plan, results = build(corpus, job, trained_tokenizer, split_bytes)
    assert len(plan.splits) == (1 if split_bytes > 3000 else pytest.approx(corpus.stat().st_size / 3000, abs=1))
    per_split = [list(read_split(s, documents="paragraph", files=LocalFiles())) for s in plan.splits]
    assert [r.text for records in per_split for r in records] == paragraphs  # each read once, straddling included
    missing = 0
    for records, result in zip(per_split, results):
        for side in (TRAIN, VALIDATION):
            texts = [r.text for r in records if is_validation(r.key, 0.25) == (side == VALIDATION)]
            rows = column(job, [result], "clm", side)
            stored, framed = [t for row in rows for t in row], framed_stream(trained_tokenizer, texts)
            # every token in order; a final row of one token (< min_row_tokens) is dropped and counted
            assert stored == framed[:len(stored)] and len(framed) - len(stored) in (0, 1)
            missing += len(framed) - len(stored)
            assert all(len(row) == 64 for row in rows[:-1])  # each split ends with at most one short row
    counts = [r["objectives"]["clm"]["counts"] for r in results]
    assert sum(c.get("dropped_tokens", 0) for c in counts) == missing
    assert sum(r["counts"]["documents_used"] for r in results) == len(paragraphs)


def test_bytes_do_not_depend_on_encode_or_corrupt_batch_sizes(corpus, trained_tokenizer, tmp_path):
    hashes = []
    for name, sizes in (("a", {}), ("b", {"encode_characters": 700, "corrupt_rows": 3})):
        job = make_job(tmp_path / name, trained_tokenizer.vocab, objectives=ALL, fraction=0.1, **sizes)
        _, results = build(corpus, job, trained_tokenizer, split_bytes=20_000)
        hashes.append(json.dumps([{k: [s.sha256 for s in v["shards"]] for k, v in r["objectives"].items()}
                                  for r in results]))
        counts = [r["objectives"] for r in results]
        hashes.append(json.dumps([{k: v["counts"] for k, v in c.items()} for c in counts], sort_keys=True))
    assert hashes[0] == hashes[2] and hashes[1] == hashes[3]


def test_mlm_copies_sit_next_to_their_row(corpus, trained_tokenizer, tmp_path):
    job = make_job(tmp_path, trained_tokenizer.vocab, objectives=(ALL[1],))
    _, results = build(corpus, job, trained_tokenizer)
    labels = column(job, results, "mlm", TRAIN, "labels")
    inputs = column(job, results, "mlm", TRAIN)
    clean = [[lab if lab != -100 else tok for tok, lab in zip(i, la)] for i, la in zip(inputs, labels)]
    assert clean[0::2] == clean[1::2] and inputs[0::2] != inputs[1::2]


def test_a_split_failing_part_way_leaves_no_shard_and_is_a_rejected_file(corpus, trained_tokenizer, tmp_path,
                                                                         monkeypatch):
    def fails_late(split, **kwargs):
        block = next(read_split_columns(split, **kwargs))
        yield block._replace(positions=block.positions[:80], texts=block.texts[:80], reasons=block.reasons[:80])
        raise UnreadableInput(split.path, "truncated gzip stream")

    monkeypatch.setattr(splitjob, "read_split_columns", fails_late)
    job = make_job(tmp_path, trained_tokenizer.vocab, objectives=ALL, row_group_mb=0.001, encode_characters=500)
    _, [result] = build(corpus, job, trained_tokenizer)
    assert result["rejected"] == {"path": str(corpus), "reason": "unreadable_file", "detail": "truncated gzip stream"}
    assert result["objectives"] == {} and result["counts"] == {"files_rejected": 1}
    assert not list((tmp_path / "tmp").rglob("*.parquet"))


class _FullDisk:
    def __init__(self, limit):
        self.left = limit

    def write(self, data):
        self.left -= len(data)
        if self.left < 0:
            raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        pass

    def close(self):
        pass


def test_a_full_disk_is_out_of_space_and_removes_the_split_files(corpus, trained_tokenizer, tmp_path, monkeypatch):
    created = []

    def create(path):
        created.append(path)
        (tmp_path / "made").mkdir(exist_ok=True)
        return _FullDisk(3000)

    monkeypatch.setattr(splitjob.ShardWriter, "abort", lambda self, real=splitjob.ShardWriter.abort: (
        created.extend(["aborted"]), real(self)))
    monkeypatch.setattr("lmpairs.pipeline.shards.FileSystems.create", create)
    job = make_job(tmp_path, trained_tokenizer.vocab, row_group_mb=0.001)
    with pytest.raises(OutOfSpace, match="out of disk space while writing shards; free space"):
        build(corpus, job, trained_tokenizer)
    assert "aborted" in created


def test_documents_without_tokens_are_counted(trained_tokenizer, tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("A real paragraph here.\n\n\u200b\u200b\n\nAnother one.\n", encoding="utf-8")
    job = make_job(tmp_path, trained_tokenizer.vocab)
    _, [result] = build(path, job, trained_tokenizer)
    c = result["counts"]
    rejected = sum(v for k, v in c.items() if k.startswith("documents_rejected."))
    assert c["documents_read"] == c["documents_used"] + rejected
    assert (c["documents_read"], c["documents_used"], c["documents_rejected.no_tokens"]) == (3, 2, 1)


def test_bart_rows_keep_every_token_and_count_slots_and_cut_sentences(corpus, paragraphs, trained_tokenizer, tmp_path):
    job = make_job(tmp_path, trained_tokenizer.vocab, objectives=(("bart", BartConfig(seq_len=24)),))
    _, results = build(corpus, job, trained_tokenizer)
    labels = column(job, results, "bart", TRAIN, "labels")
    doc_lengths = column(job, results, "bart", TRAIN, "doc_lengths")
    counts = results[0]["objectives"]["bart"]["counts"]
    assert counts["slots"] == 24 * len(labels) and counts["padding_tokens"] == counts["slots"] - sum(map(len, labels))
    assert all(sum(d) == len(row) for d, row in zip(doc_lengths, labels))
    encoded = trained_tokenizer.encode_documents(paragraphs)
    body_tokens = sum(map(len, labels)) - 2 * sum(map(len, doc_lengths))
    assert body_tokens == sum(len(ids) for ids, _ in encoded)  # nothing dropped, however documents were cut
    longest = max(int(max(ends[0], *(ends[1:] - ends[:-1]))) for _, ends in encoded)  # longest sentence
    assert longest > 22 and counts["measured.sentences_cut"] > 0  # sentences over 22 tokens are cut, counted
