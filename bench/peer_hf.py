"""The HF datasets peer: what a user writes with ``datasets`` instead of ``lmpairs build`` for CLM.

``load_dataset("text", sample_by=...)`` -> ``map(encode, batched=True, num_proc=N)`` -> run_clm's
``group_texts`` (concatenate, cut into ``block_size`` rows, drop the remainder) -> ``to_parquet``.
Documents are framed ``[bos] ids [eos]`` as lmpairs frames them. A fresh cache folder per run, so
no run reuses another's map results::

    python -m bench.peer_hf --input corpus.txt --tokenizer tokenizer.model.v1 --output out.parquet \\
        --sample-by paragraph --num-proc 2
"""
from __future__ import annotations

import argparse
import tempfile
from itertools import chain

ENCODER = None


def encoder(path: str):
    global ENCODER
    if ENCODER is None:
        if path.endswith(".json"):
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(path)
            ENCODER = lambda texts: [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]  # noqa: E731
        else:
            import sentencepiece as spm

            sp = spm.SentencePieceProcessor(model_file=path)
            ENCODER = lambda texts: sp.encode(texts)  # noqa: E731
    return ENCODER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--sample-by", default="paragraph", choices=("paragraph", "line"))
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=1025)
    args = parser.parse_args()
    from datasets import disable_progress_bars, load_dataset

    disable_progress_bars()
    bos, eos = 1, 2

    def tokenize(batch):
        return {"input_ids": [[bos, *ids, eos] for ids in encoder(args.tokenizer)(batch["text"])]}

    def group_texts(examples):  # run_clm.py's
        concatenated = list(chain.from_iterable(examples["input_ids"]))
        total = (len(concatenated) // args.block_size) * args.block_size
        return {"input_ids": [concatenated[i:i + args.block_size] for i in range(0, total, args.block_size)]}

    with tempfile.TemporaryDirectory() as cache:
        ds = load_dataset("text", data_files=args.input, sample_by=args.sample_by, split="train", cache_dir=cache)
        ds = ds.map(tokenize, batched=True, num_proc=args.num_proc, remove_columns=["text"])
        ds = ds.map(group_texts, batched=True, num_proc=args.num_proc)
        ds.to_parquet(args.output)


if __name__ == "__main__":
    main()
