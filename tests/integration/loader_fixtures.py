"""Write lmpairs shard sets directly with the schemas (no Beam) for loader tests and benchmarks.

Shards look exactly like the pipeline's: ``OUT/<objective>/<split>/part-0000i-of-0000n.parquet``,
zstd, several row groups, and ``manifest.json`` written last with each shard's rows per row group.
Keys are ``first_key + i`` so a test can tell which examples a batch holds.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from vocabs import toy_vocab

from lmpairs.config import OBJECTIVE_CONFIGS
from lmpairs.schemas import Manifest, ShardInfo, rows_to_table, write_manifest

TOY_SHA = "ab" * 32
"""The fingerprint synthetic sets record for their (toy) tokenizer."""


def toy_tokenizer_entry(sha256: str = TOY_SHA) -> dict:
    vocab = toy_vocab()
    return {"file": "toy.model", "sha256": sha256, "vocab_size": vocab.size, "special_ids": vocab.special_ids()}


def write_split(objective_dir: Path, objective: str, split: str, keys: np.ndarray, columns: dict[str, list],
                *, num_shards: int, row_group_rows: int) -> list[ShardInfo]:
    """Write rows as ``num_shards`` contiguous shards of ``row_group_rows``-row groups."""
    (objective_dir / split).mkdir(parents=True, exist_ok=True)
    shards = []
    bounds = np.linspace(0, len(keys), num_shards + 1).astype(int)
    for i in range(num_shards):
        a, b = bounds[i], bounds[i + 1]
        rel = f"{split}/part-{i:05d}-of-{num_shards:05d}.parquet"
        table = rows_to_table(objective, keys[a:b], {name: rows[a:b] for name, rows in columns.items()})
        pq.write_table(table, objective_dir / rel, compression="zstd", row_group_size=row_group_rows)
        meta = pq.ParquetFile(objective_dir / rel).metadata
        data = (objective_dir / rel).read_bytes()
        shards.append(ShardInfo(path=rel, num_rows=int(b - a), num_bytes=len(data),
                                num_row_groups=meta.num_row_groups,
                                row_group_rows=[meta.row_group(g).num_rows for g in range(meta.num_row_groups)],
                                sha256=hashlib.sha256(data).hexdigest()))
    return shards


def write_dataset(objective_dir: Path, objective: str, splits: dict[str, tuple[np.ndarray, dict[str, list]]], *,
                  num_shards: int = 3, row_group_rows: int = 7, config: dict | None = None, seed: int = 0,
                  tokenizer: dict | None = None) -> str:
    """A complete ``OUT/<objective>`` directory; returns its path as a string."""
    objective_dir = Path(objective_dir)
    written = {name: write_split(objective_dir, objective, name, keys, columns, num_shards=num_shards,
                                 row_group_rows=row_group_rows) for name, (keys, columns) in splits.items()}
    manifest = Manifest(objective=objective, config=config or OBJECTIVE_CONFIGS[objective]().to_dict(), seed=seed,
                        tokenizer=tokenizer or toy_tokenizer_entry(), inputs=[], counters={}, splits=written,
                        lmpairs_version="test")
    write_manifest(manifest, str(objective_dir))
    return str(objective_dir)


def objective_examples(objective, tokenizer, documents: list[str], *, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Copy 0 of every row ``objective`` (a built Objective) packs from ``documents`` in document
    order, as ``(keys, {column: [rows]})`` for :func:`write_dataset` (the pipeline's rows, no Beam)."""
    from lmpairs.transforms.batch import DocumentBatch, Ragged

    encoded = [(ids, ends) for ids, ends in tokenizer.encode_documents(documents) if len(ids)]
    docs = DocumentBatch(np.arange(1, len(encoded) + 1, dtype=np.uint64), Ragged.from_rows([i for i, _ in encoded]),
                         Ragged.from_rows([e for _, e in encoded]))
    packer = objective.packer()
    keys, columns = [], {name: [] for name in objective.columns}
    for rows in (packer.add(docs), packer.finish()[0]):
        if not rows.num_rows:
            continue
        examples = objective.corrupt(rows, seed=seed, copy=0)
        keys.append(examples.keys)
        for name in objective.columns:
            columns[name] += [examples.columns[name].row(i) for i in range(examples.num_examples)]
    return np.concatenate(keys).astype(np.uint64), columns


def clm_rows(num_rows: int, *, seq_len: int, first_key: int = 1000, short_every: int = 0,
             seed: int = 0) -> tuple[np.ndarray, dict[str, list]]:
    """Rows of ``seq_len + 1`` ids (every ``short_every``-th shorter) with 1-3 documents each."""
    rng = np.random.default_rng(seed)
    ids, docs = [], []
    for i in range(num_rows):
        n = seq_len + 1 if not short_every or (i + 1) % short_every else int(rng.integers(2, seq_len + 1))
        ids.append(rng.integers(105, 1105, size=n, dtype=np.int32))
        cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 3))), replace=False))
        docs.append(np.diff(np.concatenate([[0], cuts, [n]])).astype(np.int32))
    return np.arange(num_rows, dtype=np.uint64) + first_key, {"input_ids": ids, "doc_lengths": docs}


def seq2seq_rows(num_rows: int, *, max_len: int = 40, first_key: int = 1000,
                 seed: int = 0) -> tuple[np.ndarray, dict[str, list]]:
    """Variable-length inputs and labels (each ending in eos=3), like BART or T5 rows; BART's
    ``doc_lengths`` and ``sentence_ends`` say each row is one document of one sentence."""
    rng = np.random.default_rng(seed)
    def row(n):
        return np.append(rng.integers(105, 1105, size=n - 1, dtype=np.int32), np.int32(3))
    inputs = [row(int(rng.integers(2, max_len + 1))) for _ in range(num_rows)]
    labels = [row(int(rng.integers(2, max_len + 1))) for _ in range(num_rows)]
    doc_lengths = [np.array([len(r)], np.int32) for r in labels]
    sentence_ends = [np.array([len(r) - 1], np.int32) for r in labels]
    return np.arange(num_rows, dtype=np.uint64) + first_key, {"input_ids": inputs, "labels": labels,
                                                              "doc_lengths": doc_lengths,
                                                              "sentence_ends": sentence_ends}


def mlm_rows(num_rows: int, *, seq_len: int = 16, first_key: int = 1000,
             seed: int = 0) -> tuple[np.ndarray, dict[str, list]]:
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for _ in range(num_rows):
        ids = rng.integers(105, 1105, size=seq_len, dtype=np.int32)
        chosen = rng.random(seq_len) < 0.15
        labels.append(np.where(chosen, ids, -100).astype(np.int32))
        inputs.append(np.where(chosen, 4, ids).astype(np.int32))
    return np.arange(num_rows, dtype=np.uint64) + first_key, {"input_ids": inputs, "labels": labels}


def signature(batch) -> tuple:
    """Everything a batch holds, as comparable plain values."""
    return tuple((name, tuple(batch[name].shape), tuple(batch[name].flatten().tolist())) for name in sorted(batch))


def epoch_signatures(loader, epoch: int = 1, limit: int | None = None, *, summary=signature) -> list:
    """The ``summary`` (:func:`signature` by default) of each batch ``loader`` yields in ``epoch``; only
    the first ``limit`` if given."""
    loader.set_epoch(epoch)
    out = []
    for batch in loader:
        out.append(summary(batch))
        if len(out) == limit:
            break
    return out


def truncate(path: str | os.PathLike, keep_fraction: float = 0.5) -> None:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:int(len(data) * keep_fraction)])


def ddp_rank(rank: int, world_size: int, init_file: str, out_dir: str, clm_path: str, bart_path: str) -> None:
    """One DDP rank (spawned by tests/integration/test_loader_ddp.py): iterate and save what it saw."""
    import datetime

    import torch
    import torch.distributed as dist

    from lmpairs.loader import PairStream

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    # A spawned rank inherits the "spawn" start method; workers forked as under torchrun start in
    # milliseconds instead of re-importing torch (seconds each on a 2-core machine).
    workers = {"num_workers": 2, "multiprocessing_context": "fork"}
    try:
        seen: dict = {}
        loader = PairStream(clm_path, batch_size=4, shuffle_buffer=12, return_keys=True).make_loader(**workers)
        seen["len"] = len(loader)
        for epoch in (0, 1):
            loader.set_epoch(epoch)
            seen[f"clm{epoch}"] = [b["example_key"].tolist() for b in loader]
        budget = PairStream(bart_path, max_tokens=160, shuffle=False, shuffle_buffer=20, return_keys=True)
        seen["natural"] = sum(1 for _ in budget)  # the dataset alone: this rank's own count
        seen["lockstep"] = [b["example_key"].tolist() for b in budget.make_loader(**workers)]
        torch.save(seen, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def write_small_clm_build(root: Path, model_path: Path, *, seed: int, doc_lengths: list[int], num_shards: int) -> Path:
    """``root/clm``: six CLM rows of 13 random ids (documents of ``doc_lengths``) written directly, the
    SentencePiece model beside it under the manifest's file name, as a build leaves it. Returns ``root``."""
    from lmpairs.tokenizers import Tokenizer

    entry = Tokenizer.load(model_path).describe()
    rng = np.random.default_rng(seed)
    ids = [rng.integers(10, 900, size=13, dtype=np.int32) for _ in range(6)]
    rows = (np.arange(6, dtype=np.uint64) + 1, {"input_ids": ids, "doc_lengths": [np.array(doc_lengths, np.int32)] * 6})
    write_dataset(root / "clm", "clm", {"train": rows}, num_shards=num_shards, tokenizer=entry)
    (root / entry["file"]).write_bytes(model_path.read_bytes())
    return root
