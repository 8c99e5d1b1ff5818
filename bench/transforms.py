"""Transforms: tokens/s of each objective's transform on one core, against SentencePiece and HF masking.

Question: does building and corrupting examples cost a small fraction of tokenization? The process
pins itself to one core (torch to one thread); the corpus is tokenized once with
``Tokenizer.encode_documents`` (sentence ends included, for BART). Each round then times, side by
side on the same documents:

- ``spm``: ``SentencePieceProcessor.encode(texts)`` with one thread (the reference rate);
- each objective (default configs): ``document_rows`` per document, ``pack_leftovers`` of the
  remainders sorted by key, and ``examples(row, seed=0)`` per row, so per-example seeding counts;
- MLM against HF ``DataCollatorForLanguageModeling.torch_mask_tokens`` on the same full 512-token
  rows (batches of 32; the special-token mask is computed vectorized and counted in HF's time),
  the collator built offline around a WordLevel tokenizer holding the benchmark model's pieces.

Times are the process's CPU seconds (one pinned core, so CPU time is the time the work took on
that core), which other load on a shared machine does not inflate as it does wall time.

Targets: every objective >= 10x the SentencePiece rate per token; MLM masking >= 3x HF's::

    python -m bench.transforms [--quick] [--repeats N] [--json out.json]
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from functools import partial
from typing import Iterator

import numpy as np

from bench.common import Metric, at_least, finish, interleaved, median, paired_ratio, ratio_metric, script_args
from bench.corpus import read_documents, tiled_corpus, tokenizer_model
from lmpairs.config import OBJECTIVE_CONFIGS, OBJECTIVES
from lmpairs.tokenizer import Tokenizer
from lmpairs.transforms import make_objective

FULL_MB, QUICK_MB = 4.0, 0.2
HF_BATCH = 32


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


def build_examples(objective, documents: list[tuple[str, np.ndarray, np.ndarray]], *, seed: int = 0) -> int:
    """The transform path of one objective over tokenized documents; returns the number of examples."""
    leftovers, count = [], 0
    for key, ids, ends in documents:
        rows, rest = objective.document_rows(key, ids, ends)
        for row in rows:
            count += len(objective.examples(row, seed=seed))
        leftovers.append(rest)
    rows, _ = objective.pack_leftovers("bench", leftovers)  # documents are already in key order
    for row in rows:
        count += len(objective.examples(row, seed=seed))
    return count


def corrupt_rows(objective, rows, *, seed: int = 0) -> None:
    for row in rows:
        objective.examples(row, seed=seed)


def all_rows(objective, documents) -> list:
    rows, leftovers = [], []
    for key, ids, ends in documents:
        full, rest = objective.document_rows(key, ids, ends)
        rows.extend(full)
        leftovers.append(rest)
    return rows + objective.pack_leftovers("bench", leftovers)[0]


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
    num_tokens = sum(int(ids.shape[0]) for _, ids, _ in documents)
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model()))  # the reference: raw encode
    objectives = {name: make_objective(name, OBJECTIVE_CONFIGS[name](), tokenizer.vocab) for name in OBJECTIVES}
    cases = {"spm": partial(sp.encode, texts, num_threads=1)}
    cases.update({name: partial(build_examples, obj, documents) for name, obj in objectives.items()})
    times = interleaved(cases, repeats, warmup=not quick, clock=time.process_time)
    metrics = []
    for name in OBJECTIVES:
        rate = num_tokens / median(times[name])
        metrics.append(ratio_metric(f"transform {name} (rows + examples)", rate, "tok/s",
                                    paired_ratio(times["spm"], times[name]), "spm encode, 1 core",
                                    at_least(10), seconds=times[name], spm_seconds=times["spm"],
                                    tokens=num_tokens, cpu=cpu))
    metrics.append(mlm_versus_hf(objectives["mlm"], tokenizer, documents, repeats, quick=quick))
    return metrics


def mlm_versus_hf(mlm, tokenizer: Tokenizer, documents, repeats: int, *, quick: bool) -> Metric:
    """MLM masking of full rows: lmpairs' per-example seeded ``examples`` versus HF's batch collator."""
    try:
        collator = hf_collator(tokenizer)
    except ImportError as err:
        return Metric(name="mlm masking vs HF collator", value=float("nan"), unit="tok/s",
                      detail={"skipped": f"transformers not installed ({err}); pip install -e '.[bench]'"})
    seq_len = mlm.config.seq_len
    rows = [r for r in all_rows(mlm, documents) if r.ids.shape[0] == seq_len]
    stacked = np.stack([r.ids for r in rows])
    batches = [stacked[i:i + HF_BATCH] for i in range(0, len(rows), HF_BATCH)]
    cases = {"lmpairs": partial(corrupt_rows, mlm, rows),
             "hf": partial(hf_mask, collator, batches, tokenizer.vocab.special)}
    times = interleaved(cases, repeats, warmup=not quick, clock=time.process_time)
    num_tokens = stacked.size
    return ratio_metric("mlm masking (512-token rows)", num_tokens / median(times["lmpairs"]), "tok/s",
                        paired_ratio(times["hf"], times["lmpairs"]), "HF DataCollatorForLM masking",
                        at_least(3), seconds=times["lmpairs"], hf_seconds=times["hf"], rows=len(rows))


def main() -> None:
    args = script_args(__doc__.splitlines()[0])
    finish(run(quick=args.quick, repeats=args.repeats), args.json)


if __name__ == "__main__":
    main()
