"""Transforms: tokens/s of each objective's transforms on one core, against SentencePiece and HF masking.

Question: does building and corrupting examples cost a small fraction of tokenization? The process
pins itself to one core (torch to one thread); the corpus is tokenized once with
``Tokenizer.encode_documents`` (sentence ends included, for BART) into ``DocumentBatch``es of
``DOC_BATCH`` documents, as the pipeline hands them over. Each round then times, side by side:

- ``spm``: ``SentencePieceProcessor.encode(texts)`` with one thread (the reference rate);
- ``transform <name>`` (default configs): one packer over the document batches, ``corrupt`` of
  every row batch it returns (``num_copies`` copies) and ``measure``: what the pipeline runs;
- ``corrupt <name>``: corruption alone, on the same rows already packed, in batches of
  ``ROW_BATCH`` rows;
- MLM masking against HF ``DataCollatorForLanguageModeling.torch_mask_tokens`` on the same full
  512-token rows in the same batches (128 rows, the build's; 64 reported beside, no target),
  (the special-token mask is computed vectorized and
  counted in HF's time), in exact (BERT) and bernoulli (HF's own) selection; the collator is built
  offline around a WordLevel tokenizer holding the benchmark model's pieces.

Times are the process's CPU seconds (one pinned core, so CPU time is the time the work took on
that core), which other load on a shared machine does not inflate as it does wall time.

Targets: transforms >= 10x the SentencePiece rate for MLM and T5, >= 4x for BART,
>= 40x for CLM; MLM masking >= 2.5x HF in exact mode and >= 4x in bernoulli mode::

    python -m bench.transforms [--quick] [--repeats N] [--json out.json]
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import numpy as np

from bench.common import (
    Metric,
    at_least,
    interleaved,
    median,
    paired_ratio,
    ratio_metric,
    run_script,
)
from bench.corpus import read_documents, tiled_corpus, tokenizer_model
from lmpairs.config import OBJECTIVE_CONFIGS, OBJECTIVES
from lmpairs.objectives import make_objective
from lmpairs.tokenizers import Tokenizer
from lmpairs.transforms.batch import RowBatch, concat_rows, take_rows
from lmpairs.transforms.testing import document_batch

FULL_MB, QUICK_MB = 4.0, 0.2
DOC_BATCH = 128
"""Documents per DocumentBatch (~64k tokens of 2,000-character documents)."""
ROW_BATCH = 128
"""Rows per ``corrupt`` call: the build's ``CORRUPT_ROWS`` (lmpairs/pipeline/splitjob.py)."""
HF_BATCHES = (128, 64)
"""MLM vs HF batch sizes: the build's (targets apply there) and a smaller one, reported beside it."""
TARGETS = {"clm": 40, "mlm": 10, "t5": 10, "bart": 4}


@contextmanager
def one_core() -> Iterator[int]:
    """Pin this process to one CPU (and torch to one thread); restored on exit for later benchmarks."""
    import torch

    cpus, threads = os.sched_getaffinity(0), torch.get_num_threads()
    cpu = min(cpus)
    os.sched_setaffinity(0, {cpu})
    torch.set_num_threads(1)
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, cpus)
        torch.set_num_threads(threads)


def build_examples(objective, batches: list, *, seed: int = 0) -> int:
    """The pipeline's transform path for one stream; returns the number of examples."""
    packer, count = objective.packer(), 0
    for docs in [*batches, None]:
        rows = packer.add(docs) if docs is not None else packer.finish()[0]
        for copy in range(objective.num_copies):
            examples = objective.corrupt(rows, seed=seed, copy=copy)
            objective.measure(examples)
            count += examples.num_examples
    return count


def packed_rows(objective, batches: list) -> RowBatch:
    packer = objective.packer()
    return concat_rows([packer.add(docs) for docs in batches] + [packer.finish()[0]])


def row_batches(rows: RowBatch, size: int) -> list[RowBatch]:
    return [take_rows(rows, np.arange(i, min(i + size, rows.num_rows))) for i in range(0, rows.num_rows, size)]


def corrupt_all(objective, batches: list[RowBatch], *, seed: int = 0) -> None:
    for rows in batches:
        objective.corrupt(rows, seed=seed)


def hf_collator(tokenizer: Tokenizer):
    """``DataCollatorForLanguageModeling`` over a local WordLevel tokenizer with the model's pieces."""
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers.models import WordLevel
    from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

    vocab = {tokenizer.id_to_piece(i): i for i in range(tokenizer.vocab.size)}
    fast = PreTrainedTokenizerFast(tokenizer_object=HfTokenizer(WordLevel(vocab, unk_token="<unk>")),
                                   unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                   bos_token="<s>", eos_token="</s>")
    assert fast.mask_token_id == tokenizer.vocab.mask_id, "HF tokenizer mask id differs from lmpairs'"
    return DataCollatorForLanguageModeling(tokenizer=fast, mlm=True, mlm_probability=0.15)


def hf_mask(collator, batches: list[np.ndarray], special: np.ndarray) -> None:
    import torch

    for batch in batches:
        special_mask = torch.from_numpy(special[batch])
        collator.torch_mask_tokens(torch.from_numpy(batch).long(), special_tokens_mask=special_mask)


def run(*, quick: bool = False, repeats: int | None = None) -> list[Metric]:
    with one_core() as cpu:
        return measure(cpu, quick=quick, repeats=repeats or (1 if quick else 5))


def measure(cpu: int, *, quick: bool, repeats: int) -> list[Metric]:
    import sentencepiece as spm

    tokenizer = Tokenizer.load(tokenizer_model())
    texts = read_documents(tiled_corpus(QUICK_MB if quick else FULL_MB))
    encoded = tokenizer.encode_documents(texts)
    documents = [(f"doc-{i:08d}", ids, ends) for i, (ids, ends) in enumerate(encoded)]
    batches = [document_batch(documents[i:i + DOC_BATCH]) for i in range(0, len(documents), DOC_BATCH)]
    num_tokens = sum(int(ids.shape[0]) for _, ids, _ in documents)
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model()))  # the reference: raw encode
    objectives = {name: make_objective(name, OBJECTIVE_CONFIGS[name](), tokenizer.vocab) for name in OBJECTIVES}
    rows = {name: row_batches(packed_rows(obj, batches), ROW_BATCH) for name, obj in objectives.items()}
    cases = {"spm": partial(sp.encode, texts, num_threads=1)}
    cases.update({name: partial(build_examples, obj, batches) for name, obj in objectives.items()})
    cases.update({f"corrupt {name}": partial(corrupt_all, obj, rows[name]) for name, obj in objectives.items()})
    times = interleaved(cases, repeats, warmup=not quick, clock=time.process_time)
    metrics = []
    for name in OBJECTIVES:
        metrics.append(ratio_metric(f"transform {name} (rows + examples)", num_tokens / median(times[name]), "tok/s",
                                    paired_ratio(times["spm"], times[name]), "spm encode, 1 core",
                                    at_least(TARGETS[name]), seconds=times[name], spm_seconds=times["spm"],
                                    tokens=num_tokens, cpu=cpu))
    for name in OBJECTIVES:
        row_tokens = sum(int(b.ids.values.shape[0]) for b in rows[name])
        key = f"corrupt {name}"
        metrics.append(ratio_metric(f"corrupt {name} alone ({ROW_BATCH}-row batches)",
                                    row_tokens / median(times[key]), "tok/s",
                                    paired_ratio([row_tokens / t for t in times[key]],
                                                 [num_tokens / t for t in times["spm"]]),
                                    "spm encode, 1 core", seconds=times[key], tokens=row_tokens))
    metrics += mlm_versus_hf(objectives["mlm"], tokenizer, batches, repeats, quick=quick)
    metrics += clm_packing(tokenizer, batches, num_tokens, times["spm"], repeats, quick=quick)
    return metrics


def clm_packing(tokenizer: Tokenizer, batches, num_tokens: int, spm_seconds, repeats: int, *,
                quick: bool) -> list[Metric]:
    """CLM ``concat`` versus ``best_fit``: rate, padding share, documents cut across rows."""
    base = OBJECTIVE_CONFIGS["clm"]()
    variants = {"concat": base, "best_fit": dataclasses.replace(base, packing="best_fit"),
                "best_fit truncate": dataclasses.replace(base, packing="best_fit", long_documents="truncate")}
    objectives = {name: make_objective("clm", config, tokenizer.vocab) for name, config in variants.items()}
    times = interleaved({name: partial(build_examples, obj, batches) for name, obj in objectives.items()},
                        repeats, warmup=not quick, clock=time.process_time)
    num_docs = sum(b.num_documents for b in batches)
    metrics = []
    for name, obj in objectives.items():
        rows = packed_rows(obj, batches)
        full = obj.full_row_length
        padding = rows.num_rows * full - rows.ids.values.shape[0]
        pieces = rows.segments.values.shape[0]
        kept = int(rows.ids.values.shape[0])
        metrics.append(ratio_metric(f"clm {name} (rows + examples)", num_tokens / median(times[name]), "tok/s",
                                    median(spm_seconds) / median(times[name]), "spm encode, 1 core",
                                    seconds=times[name]))
        metrics.append(Metric(name=f"clm {name} padding", value=100.0 * padding / (rows.num_rows * full), unit="%",
                              detail={"rows": rows.num_rows, "padding_tokens": padding}))
        metrics.append(Metric(name=f"clm {name} documents cut", value=100.0 * (pieces - num_docs) / num_docs,
                              unit="% (pieces beyond one per document)",
                              detail={"documents": num_docs, "pieces": pieces, "tokens_kept": kept}))
    return metrics


def mlm_versus_hf(mlm, tokenizer: Tokenizer, batches, repeats: int, *, quick: bool) -> list[Metric]:
    """MLM masking of full rows, same rows and batch size: lmpairs' ``corrupt`` versus HF's collator."""
    try:
        collator = hf_collator(tokenizer)
    except ImportError as err:
        return [Metric(name="mlm masking vs HF collator", value=float("nan"), unit="tok/s",
                       detail={"skipped": f"transformers not installed ({err}); pip install -e '.[bench]'"})]
    seq_len = mlm.config.seq_len
    rows = packed_rows(mlm, batches)
    rows = take_rows(rows, np.flatnonzero(rows.ids.lengths == seq_len))
    stacked = rows.ids.values.reshape(-1, seq_len)
    bernoulli = make_objective("mlm", dataclasses.replace(mlm.config, selection="bernoulli"), tokenizer.vocab)
    cases = {}
    for size in HF_BATCHES:
        ours = row_batches(rows, size)
        cases[f"exact {size}"] = partial(corrupt_all, mlm, ours)
        cases[f"bernoulli {size}"] = partial(corrupt_all, bernoulli, ours)
        hf_batches = [stacked[i:i + size] for i in range(0, stacked.shape[0], size)]
        cases[f"hf {size}"] = partial(hf_mask, collator, hf_batches, tokenizer.vocab.special)
    times = interleaved(cases, repeats, warmup=not quick, clock=time.process_time)
    metrics = []
    for size in HF_BATCHES:
        for mode, bound in (("exact", 2.5), ("bernoulli", 4.0)):
            key = f"{mode} {size}"
            metrics.append(ratio_metric(f"mlm masking {mode} ({seq_len}-token rows, batch {size})",
                                        stacked.size / median(times[key]), "tok/s",
                                        paired_ratio(times[f"hf {size}"], times[key]), "HF DataCollatorForLM masking",
                                        at_least(bound) if size == HF_BATCHES[0] else None, seconds=times[key],
                                        hf_seconds=times[f"hf {size}"], rows=int(stacked.shape[0])))
    return metrics


def main() -> None:
    run_script(run, __doc__)


if __name__ == "__main__":
    main()
