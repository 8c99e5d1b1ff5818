"""The pure-encode ceiling: the tokenizer alone over documents already in memory, on N threads.

Prints one JSON line: wall and CPU seconds of the encode only (reading excluded), documents, tokens::

    python -m bench.peer_encode --input corpus.txt --tokenizer tokenizer.model.v1 --sample-by paragraph --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--sample-by", default="paragraph", choices=("paragraph", "line"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    with open(args.input, encoding="utf-8") as f:
        text = f.read()
    docs = [d for d in (text.split("\n\n") if args.sample_by == "paragraph" else text.split("\n")) if d.strip()]
    batches, batch, size = [], [], 0
    for d in docs:  # ~1 MB per call, as the build encodes
        batch.append(d)
        size += len(d)
        if size >= 1 << 20:
            batches.append(batch)
            batch, size = [], 0
    batches.append(batch)
    if args.tokenizer.endswith(".json"):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(args.tokenizer)
        encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
        count = lambda b: sum(len(e.ids) for e in encode(b, add_special_tokens=False))  # noqa: E731
    else:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
        count = lambda b: sum(map(len, sp.encode(b, num_threads=args.threads)))  # noqa: E731
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = sum(count(b) for b in batches if b)
    print(json.dumps({"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
                      "documents": len(docs), "tokens": tokens}))


if __name__ == "__main__":
    main()
