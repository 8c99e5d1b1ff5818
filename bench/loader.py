"""Loader: ``PairStream`` tokens/s delivered as torch batches, against a plain pyarrow read and HF datasets.

Question: what does the loader's planning, shuffling and collation cost over reading the shards,
and what does verifying them cost? CLM shards (rows of 1,024 + 1 tokens, zstd, row groups of
``GROUP_ROWS`` rows, the pipeline's layout) are written once with :mod:`lmpairs.schemas` (random ids
in a 16,000-piece vocabulary, a short row every ``SHORT_EVERY``; the loader's cost does not depend on
how the ids were made, and the bench does not wait on a Beam build) and cached. Each round reads
the whole train split once per case, round-robin, batches of ``BATCH`` rows:

- ``pyarrow``: each shard's row groups read (``input_ids`` only) into a numpy ``(rows, 1025)``
  array (short rows padded), sliced into batches (the ceiling: no shuffle, no tensors);
- ``pyarrow + int64 tensors``: the same plus the int64 torch inputs/targets a trainer needs, made
  as nanoGPT makes them (what any loader must at least add to the ceiling);
- ``pairstream 0w``: iterating ``PairStream(path, batch_size=BATCH, shuffle=False)`` in-process,
  and again with its default shuffle; batches are torch ``input_ids``/``target_ids``/``attention_mask``;
- ``pairstream 2w``: ``stream.make_loader(num_workers=2, persistent_workers=True)``, one epoch per
  round (workers started in a warm-up epoch, as in training);
- ``hf datasets``: ``load_dataset("parquet", data_files=shards, streaming=True)`` with
  ``with_format("torch")`` and a ``DataLoader(batch_size=BATCH)`` whose collate pads the few short
  rows (the peer a user would reach for).

Each timed call reads the split ``PASSES`` times (one pass takes tens of milliseconds). Tokens/s
count ``seq_len`` tokens per delivered row, the same for every case. Targets: PairStream
0 workers >= 0.8x pyarrow and >= 5x HF datasets streaming. (The steady-state cases run after a
warm-up, so their shards are already hashed: they include the per-window id range check only.)

Verification: a fresh ``PairStream`` plus its first epoch (0 workers, no shuffle), with
``verify="sha256"`` (every shard hashed on its first open), ``"size"`` and ``"none"``; reported as
time against ``"none"``::

    python -m bench.loader [--quick] [--repeats N] [--json out.json]
"""
from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.common import (
    Metric,
    at_least,
    interleaved,
    median,
    paired_ratio,
    ratio_metric,
    run_script,
)
from bench.corpus import cache_dir

FULL_MB, QUICK_MB = 16.0, 0.2
SEQ_LEN = 1024
BATCH = 8
VOCAB = 16_000
GROUP_ROWS = 512
SHORT_EVERY = 97
ROWS_PER_MB = 250
"""About 4 MB of int32 ids per 1,000 rows; a corpus MB tokenizes to roughly 250 rows of 1,025 ids."""
PASSES = 5
"""Epochs per timed call: one epoch of the 16 MB build reads in ~40 ms, too short to time alone."""

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # never reach for the network
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def clm_shards(mb: float, num_shards: int = 4) -> Path:
    """``OUT/clm`` with about ``mb`` corpus-MB of CLM rows (seq_len 1024, zstd), written once."""
    import hashlib

    from lmpairs.schemas import FORMAT_VERSION, Manifest, ShardInfo, rows_to_table, write_manifest

    out = cache_dir() / f"shards-clm-{mb:g}MB-v{FORMAT_VERSION}" / "clm"
    if (out / "manifest.json").exists():
        return out
    rng = np.random.default_rng(0)
    num_rows = max(num_shards * 4, int(mb * ROWS_PER_MB))
    lengths = np.full(num_rows, SEQ_LEN + 1)
    lengths[SHORT_EVERY - 1::SHORT_EVERY] = SEQ_LEN // 3
    bounds = np.linspace(0, num_rows, num_shards + 1).astype(int)
    shards = []
    (out / "train").mkdir(parents=True, exist_ok=True)
    for i in range(num_shards):
        a, b = bounds[i], bounds[i + 1]
        ids = [rng.integers(10, VOCAB, size=n, dtype=np.int32) for n in lengths[a:b]]
        table = rows_to_table("clm", np.arange(a, b, dtype=np.uint64),
                              {"input_ids": ids, "doc_lengths": [np.array([len(r)], np.int32) for r in ids]})
        rel = f"train/part-{i:05d}.parquet"
        pq.write_table(table, out / rel, compression="zstd", row_group_size=GROUP_ROWS)
        data = (out / rel).read_bytes()
        groups = [pq.ParquetFile(out / rel).metadata.row_group(g).num_rows
                  for g in range(pq.ParquetFile(out / rel).metadata.num_row_groups)]
        shards.append(ShardInfo(path=rel, num_rows=int(b - a), num_bytes=len(data), num_row_groups=len(groups),
                                row_group_rows=groups, sha256=hashlib.sha256(data).hexdigest()))
    special = {"pad": 0, "unk": 1, "bos": 2, "eos": 3, "mask": None, "extra_id_0": None, "num_sentinels": 0}
    write_manifest(Manifest(objective="clm", config={"seq_len": SEQ_LEN}, seed=0,
                            tokenizer={"file": "bench.model", "sha256": "0" * 64, "vocab_size": VOCAB,
                                       "special_ids": special},
                            inputs=[], counters={}, splits={"train": shards}, lmpairs_version="bench"), str(out))
    return out


def train_files(path: Path) -> list[str]:
    """The train split's non-empty shards (HF's Parquet reader fails on a file without rows)."""
    files = sorted((path / "train").glob("*.parquet"))
    return [str(p) for p in files if pq.ParquetFile(p).metadata.num_rows > 0]


def read_pyarrow(files: list[str], *, tensors: bool = False) -> int:
    """Every row group into a padded numpy ``(rows, seq_len + 1)`` array, sliced in batches; returns rows.

    With ``tensors``, each batch also becomes int64 torch inputs and targets, as nanoGPT's
    ``get_batch`` makes them (``torch.from_numpy(x.astype(np.int64))``).
    """
    import torch

    rows = 0
    for name in files:
        parquet = pq.ParquetFile(name)
        for group in range(parquet.num_row_groups):
            column = parquet.read_row_group(group, columns=["input_ids"]).column(0).combine_chunks()
            values, offsets = column.values.to_numpy(), column.offsets.to_numpy()
            lengths = np.diff(offsets)
            if (lengths == SEQ_LEN + 1).all():
                block = values.reshape(-1, SEQ_LEN + 1)
            else:  # the few short final rows: pad like any loader must
                block = np.zeros((lengths.shape[0], SEQ_LEN + 1), dtype=values.dtype)
                block[np.arange(SEQ_LEN + 1) < lengths[:, None]] = values
            for start in range(0, block.shape[0], BATCH):
                batch = block[start:start + BATCH]
                if tensors:
                    torch.from_numpy(batch[:, :-1].astype(np.int64))
                    torch.from_numpy(batch[:, 1:].astype(np.int64))
                rows += batch.shape[0]
    return rows


def iterate(batches) -> int:
    rows = 0
    for batch in batches:
        rows += batch["input_ids"].shape[0]
    return rows


def hf_loader(files: list[str]):
    import torch
    from datasets import load_dataset
    from torch.nn.utils.rnn import pad_sequence
    from torch.utils.data import DataLoader

    dataset = load_dataset("parquet", data_files=files, split="train", streaming=True)
    dataset = dataset.select_columns(["input_ids"]).with_format("torch")

    def collate(examples):
        ids = pad_sequence([e["input_ids"] for e in examples], batch_first=True, padding_value=0)
        return {"input_ids": ids, "attention_mask": (ids != 0).to(torch.int64)}

    return DataLoader(dataset, batch_size=BATCH, num_workers=0, collate_fn=collate)


def repeat(fn, passes: int) -> None:
    for _ in range(passes):
        fn()


class EpochRunner:
    """One epoch of a persistent-worker loader per call."""

    def __init__(self, loader) -> None:
        self.loader, self.epoch = loader, 0

    def __call__(self) -> int:
        self.loader.set_epoch(self.epoch)
        self.epoch += 1
        return iterate(self.loader)


def first_epoch(path: Path, verify: str) -> int:
    """A fresh stream (its shards not yet hashed) and one unshuffled epoch."""
    from lmpairs.loader import PairStream

    return iterate(PairStream(str(path), batch_size=BATCH, shuffle=False, shuffle_seed=0, verify=verify))


def verify_metrics(path: Path, repeats: int, num_tokens: int) -> list[Metric]:
    """First-epoch time with each ``verify`` mode, as a ratio to ``verify="none"``."""
    modes = ("sha256", "size", "none")
    times = interleaved({m: partial(first_epoch, path, m) for m in modes}, repeats, warmup=True)
    shard_bytes = sum(p.stat().st_size for p in (path / "train").glob("*.parquet"))
    metrics = []
    for mode in ("sha256", "size"):
        metrics.append(ratio_metric(f"first epoch, verify={mode} (fresh stream, 0w)",
                                    num_tokens / median(times[mode]), "tok/s",
                                    paired_ratio(times["none"], times[mode]), "verify=none", None,
                                    seconds=times[mode], ref_seconds=times["none"], tokens=num_tokens,
                                    shard_bytes=shard_bytes))
    return metrics


def run(*, quick: bool = False, repeats: int | None = None) -> list[Metric]:
    from lmpairs.loader import PairStream

    repeats = repeats or (1 if quick else 5)
    path = clm_shards(QUICK_MB if quick else FULL_MB)
    files = train_files(path)
    plain = PairStream(str(path), batch_size=BATCH, shuffle=False, shuffle_seed=0)
    shuffled = PairStream(str(path), batch_size=BATCH, shuffle=True, shuffle_seed=0)
    workers = PairStream(str(path), batch_size=BATCH, shuffle=True, shuffle_seed=0)
    loader = workers.make_loader(num_workers=2, persistent_workers=True)
    num_tokens = plain.num_rows * SEQ_LEN
    cases = {"pyarrow": partial(read_pyarrow, files),
             "pyarrow + int64 tensors": partial(read_pyarrow, files, tensors=True),
             "pairstream 0w": partial(iterate, plain),
             "pairstream 0w shuffle": lambda: iterate(shuffled),
             "pairstream 2w shuffle": EpochRunner(loader)}
    try:
        hf = hf_loader(files)
        cases["hf datasets"] = partial(iterate, hf)
    except ImportError as err:
        hf_missing = f"datasets not installed ({err}); pip install -e '.[bench]'"
    else:
        hf_missing = None
    passes = 1 if quick else PASSES
    times = interleaved({name: partial(repeat, fn, passes) for name, fn in cases.items()}, repeats, warmup=True)
    num_tokens *= passes
    rates = {name: num_tokens / median(t) for name, t in times.items()}

    def versus(name: str, ref: str, target=None) -> Metric:
        return ratio_metric(f"{name} (CLM {SEQ_LEN}, batch {BATCH})", rates[name], "tok/s",
                            paired_ratio(times[ref], times[name]), ref, target, seconds=times[name],
                            ref_seconds=times[ref], tokens=num_tokens)

    metrics = [versus("pyarrow + int64 tensors", "pyarrow"),
               versus("pairstream 0w", "pyarrow", at_least(0.8)),
               versus("pairstream 0w shuffle", "pyarrow", at_least(0.8)),
               versus("pairstream 2w shuffle", "pyarrow")]
    if hf_missing is None:
        metrics += [versus("pairstream 0w", "hf datasets", at_least(5)),
                    versus("pairstream 0w shuffle", "hf datasets", at_least(5))]
    else:
        metrics.append(Metric(name="pairstream vs hf datasets", value=float("nan"), unit="tok/s",
                              detail={"skipped": hf_missing}))
    metrics += verify_metrics(path, repeats, plain.num_rows * SEQ_LEN)
    return metrics


def main() -> None:
    run_script(run, __doc__)


if __name__ == "__main__":
    main()
