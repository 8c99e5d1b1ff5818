"""The baseline a user would write by hand: read JSONL → SentencePiece encode → pack → one Parquet file.

Single process: documents are encoded in batches (``encode(list, num_threads=N)``, so ``--threads 2``
uses both cores inside SentencePiece), framed ``<s> ids </s>``, concatenated and cut into rows of
``seq_len + 1`` tokens (the final partial row is dropped), and written as ``list<int32>`` with zstd
in row groups of ~4 MB. No sentence splitting, keys, validation split, counters or determinism
guarantees across workers: it is the floor of what packing CLM rows costs in Python::

    python -m bench.plain_baseline --input bench/.cache/corpus-16MB --tokenizer bench/.cache/bpe32k.model \\
        --output /tmp/plain.parquet --threads 2
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sentencepiece as spm


def read_texts(files: Iterable[Path], field: str = "text") -> Iterator[str]:
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)[field]


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def rows_table(rows: np.ndarray) -> pa.Table:
    """A ``(n, row_length)`` int32 array as a table with one ``list<int32>`` column."""
    offsets = np.arange(0, rows.size + 1, rows.shape[1], dtype=np.int32)
    column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(rows.reshape(-1)))
    return pa.table({"input_ids": column})


def build_plain(files: list[Path], tokenizer: Path, output: Path, *, threads: int = 1, seq_len: int = 1024,
                batch_docs: int = 1000, rows_per_group: int = 1024) -> dict:
    """Write CLM rows of ``files`` to ``output``; returns token and row counts."""
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer))
    bos, eos = sp.bos_id(), sp.eos_id()
    row_length = seq_len + 1
    carry = np.zeros(0, dtype=np.int32)
    pending: list[np.ndarray] = []
    num_tokens = num_rows = 0
    with pq.ParquetWriter(output, pa.schema([("input_ids", pa.list_(pa.int32()))]), compression="zstd") as writer:
        for batch in batched(read_texts(files), batch_docs):
            encoded = sp.encode(batch, num_threads=threads)
            count = sum(map(len, encoded))
            num_tokens += count
            framed = np.fromiter(chain.from_iterable(chain((bos,), ids, (eos,)) for ids in encoded),
                                 dtype=np.int32, count=count + 2 * len(encoded))
            stream = np.concatenate([carry, framed])
            full = stream.shape[0] // row_length
            pending.append(stream[: full * row_length].reshape(full, row_length))
            carry = stream[full * row_length:]
            if sum(map(len, pending)) >= rows_per_group:
                rows = np.concatenate(pending)
                writer.write_table(rows_table(rows), row_group_size=rows_per_group)
                num_rows += rows.shape[0]
                pending = []
        if pending:
            rows = np.concatenate(pending)
            writer.write_table(rows_table(rows), row_group_size=rows_per_group)
            num_rows += rows.shape[0]
    return {"tokens": num_tokens, "rows": num_rows, "dropped_tokens": int(carry.shape[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="folder of JSONL files (bench.corpus)")
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True, help="the Parquet file to write")
    parser.add_argument("--threads", type=int, default=1, help="SentencePiece encode threads")
    parser.add_argument("--seq-len", type=int, default=1024)
    args = parser.parse_args()
    start = time.perf_counter()
    counts = build_plain(sorted(args.input.glob("*.jsonl")), args.tokenizer, args.output,
                         threads=args.threads, seq_len=args.seq_len)
    seconds = time.perf_counter() - start
    print(json.dumps({**counts, "seconds": round(seconds, 3), "tokens_per_s": round(counts["tokens"] / seconds)}))


if __name__ == "__main__":
    main()
