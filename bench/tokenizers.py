"""Tokenizers: encode rate of a Hugging Face tokenizer.json (byte-level BPE) beside SentencePiece, same text.

Question: what does taking a tokenizer.json cost against the SentencePiece fast path? Both models
are BPE with the same number of pieces, trained once on the same text (the embedded pydoc corpus
plus the English corpora in ``../shared/data`` when present) and cached. The text is cut into
documents of about 2,000 characters and tiled to the requested size. The process pins itself to
one core (SentencePiece and the ``tokenizers`` Rust pool get one thread), and each round times,
side by side, in CPU seconds (other load on a shared machine does not inflate them):

- ``spm raw``: ``SentencePieceProcessor.encode(docs)`` on whole documents;
- ``hf raw``: ``tokenizers.Tokenizer.encode_batch_fast(docs)`` (no offsets);
- ``spm encode_documents`` / ``hf encode_documents``: the facade's call the build makes
  (normalization, sentence split, sentence ends, int32 arrays; SentencePiece encodes each
  sentence, tokenizer.json each whole document and maps the ends through its offsets).

Rates are tokens/s per core (each model's own token count) and MB/s of text. A Beam worker gets
``cores / worker processes`` Rust threads (:func:`lmpairs.tokenizers.threads.encode_threads`), so the
per-core rate times a worker's threads is its rate. Run as a module (the file name shadows the
``tokenizers`` package when run as a script)::

    python -m bench.tokenizers [--quick] [--repeats N] [--json out.json]
"""
from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before the Rust pool starts
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench.common import Metric, interleaved, median, paired_ratio, ratio_metric, run_script  # noqa: E402
from bench.corpus import SHARED_DATA, cache_dir, split_documents  # noqa: E402

FULL_MB, QUICK_MB = 8.0, 0.3
VOCAB_SIZE, QUICK_VOCAB_SIZE = 16_000, 2_000
SOURCES = ("tinyshakespeare.txt", "pride_and_prejudice.txt", "botchan.txt")


def source_documents() -> list[str]:
    """The pydoc corpus and whichever shared English corpora exist, as ~2,000-character documents."""
    from lmpairs.embedded_corpus import corpus_documents

    docs = [d.text for d in corpus_documents()]
    for name in SOURCES:
        path = SHARED_DATA / "corpora" / name
        if path.is_file():
            with open(path, encoding="utf-8-sig", newline=None) as f:
                docs.extend(split_documents(f.read()))
    return docs


def tiled(docs: list[str], mb: float) -> list[str]:
    out, total, i = [], 0, 0
    while total < mb * 1e6:
        out.append(docs[i % len(docs)])
        total += len(out[-1].encode("utf-8"))
        i += 1
    return out


def trained_models(docs: list[str], vocab_size: int) -> tuple[Path, Path]:
    """The SentencePiece BPE ``.model`` and byte-level BPE ``tokenizer.json``, trained once and cached."""
    from lmpairs.tokenizers import train_tokenizer
    from lmpairs.tokenizers.training import lmpairs_special_tokens, train_tokenizer_json

    folder = cache_dir() / f"tokenizers-bench-{vocab_size}"
    folder.mkdir(parents=True, exist_ok=True)
    spm_path, hf_path = folder / "bpe.model", folder / "tokenizer.json"
    if not spm_path.exists():
        text = folder / "source.txt"
        text.write_text("\n".join(docs), encoding="utf-8")
        train_tokenizer([text], spm_path, vocab_size, model_type="bpe", num_threads=2)
    if not hf_path.exists():
        hf_path.write_bytes(train_tokenizer_json(docs, "bpe-bytelevel", vocab_size,
                                                 special_tokens=lmpairs_special_tokens(), unk_token="<unk>"))
    return spm_path, hf_path


def run(*, quick: bool = False, repeats: int | None = None) -> list[Metric]:
    from lmpairs.tokenizers import Tokenizer

    repeats = repeats or (1 if quick else 3)
    source = source_documents()
    spm_path, hf_path = trained_models(source, QUICK_VOCAB_SIZE if quick else VOCAB_SIZE)
    docs = tiled(source, QUICK_MB if quick else FULL_MB)
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    spm, hf = Tokenizer.load(spm_path), Tokenizer.load(hf_path)
    sp, raw_hf = spm._model.processor, hf._model._tok
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cases = {
        "spm raw": lambda: sp.encode(docs, out_type=int, num_threads=1),
        "hf raw": lambda: raw_hf.encode_batch_fast(docs, add_special_tokens=False),
        "spm encode_documents": lambda: spm.encode_documents(docs),
        "hf encode_documents": lambda: hf.encode_documents(docs),
    }
    tokens = {  # each case's own count: whole documents (raw) and sentences (spm encode_documents) differ
        "spm raw": sum(map(len, sp.encode(docs, out_type=int))),
        "hf raw": sum(len(e.ids) for e in raw_hf.encode_batch_fast(docs, add_special_tokens=False)),
        "spm encode_documents": sum(int(ids.shape[0]) for ids, _ in spm.encode_documents(docs)),
        "hf encode_documents": sum(int(ids.shape[0]) for ids, _ in hf.encode_documents(docs)),
    }
    times = interleaved(cases, repeats, warmup=not quick, clock=time.process_time)
    metrics = []
    for name, seconds in times.items():
        rate = tokens[name] / median(seconds)
        reference = "spm raw" if "raw" in name else "spm encode_documents"
        ratio = paired_ratio([tokens[name] / s for s in seconds], [tokens[reference] / s for s in times[reference]])
        metrics.append(ratio_metric(f"{name} tok/s/core", rate, "tok/s", ratio, reference,
                                    mb_per_s=round(mb / median(seconds), 3), tokens=tokens[name], mb=round(mb, 2),
                                    cpu_seconds=seconds))
    metrics.append(Metric(name="hf/spm tokens per MB", value=tokens["hf raw"] / tokens["spm raw"], unit="x",
                          detail={"spm_tokens": tokens["spm raw"], "hf_tokens": tokens["hf raw"],
                                  "spm_vocab": spm.model_vocab_size, "hf_vocab": hf.model_vocab_size}))
    return metrics


def main() -> None:
    run_script(run, __doc__)


if __name__ == "__main__":
    main()
