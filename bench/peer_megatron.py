"""The Megatron-style peer: ``tools/preprocess_data.py``'s shape, a multiprocessing pool over JSONL lines.

Workers parse a line and encode its text (``[bos] ids [eos]``); the parent appends every document's
ids to one ``.bin`` file and its length to an index, in order. No packing, keys, validation split or
Parquet: the floor of a tokenize-to-disk job in plain Python::

    python -m bench.peer_megatron --input corpus.jsonl --tokenizer tokenizer.model.v1 --output out --workers 2
"""
from __future__ import annotations

import argparse
import json
import multiprocessing

import numpy as np

ENCODE = None


def init(path: str) -> None:
    global ENCODE
    if path.endswith(".json"):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(path)
        ENCODE = lambda text: tok.encode(text, add_special_tokens=False).ids  # noqa: E731
    else:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=path)
        ENCODE = sp.encode


def encode_line(line: str) -> bytes:
    ids = ENCODE(json.loads(line)["text"])
    return np.array([1, *ids, 2], dtype=np.int32).tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    lengths = []
    with open(args.input, encoding="utf-8") as f, open(args.output + ".bin", "wb") as out, \
            multiprocessing.Pool(args.workers, initializer=init, initargs=(args.tokenizer,)) as pool:
        for data in pool.imap(encode_line, f, chunksize=32):
            out.write(data)
            lengths.append(len(data) // 4)
    np.array(lengths, dtype=np.int64).tofile(args.output + ".idx")


if __name__ == "__main__":
    main()
