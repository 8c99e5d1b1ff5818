"""Golden batches and states of single-source streams and mixtures, recorded from the loader before
``PairStream`` became a mixture of one (issue 21), so the refactor is held to the same bytes.

:func:`record` builds small shard sets with :mod:`loader_fixtures` (seeded, no Beam), iterates a
set of scenarios and returns, per scenario, a sha256 of every batch, the state after a few batches
and a digest of what follows once that state is loaded. ``python tests/integration/loader_golden.py``
rewrites ``golden/loader_single_source.json`` (only do that when a change of batches is intended).
"""
from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from loader_fixtures import clm_rows, epoch_signatures, mlm_rows, seq2seq_rows, write_dataset

GOLDEN = Path(__file__).parent / "golden" / "loader_single_source.json"


def datasets(root: Path) -> dict[str, str]:
    keys, columns = clm_rows(101, seq_len=8, short_every=9)
    clm = write_dataset(root / "clm", "clm", {"train": (keys, columns)}, num_shards=4, row_group_rows=7)
    keys, columns = seq2seq_rows(90, max_len=30, seed=5)
    t5 = write_dataset(root / "t5", "t5", {"train": (keys, columns)}, num_shards=2, row_group_rows=16)
    keys, columns = mlm_rows(50, seq_len=12)
    mlm = write_dataset(root / "mlm", "mlm", {"train": (keys, columns), "validation": (keys[:10] + 9000,
                        {k: v[:10] for k, v in columns.items()})}, num_shards=2, row_group_rows=9)
    keys, columns = clm_rows(40, seq_len=8, first_key=50_000, seed=3)
    clm2 = write_dataset(root / "clm2", "clm", {"train": (keys, columns)}, num_shards=1, row_group_rows=10)
    return {"clm": clm, "t5": t5, "mlm": mlm, "clm2": clm2}


STREAMS: dict[str, tuple[str, dict]] = {
    "clm_shuffled": ("clm", {"batch_size": 4, "shuffle_buffer": 12, "return_keys": True}),
    "clm_rank1of3_pad": ("clm", {"batch_size": 4, "shuffle_buffer": 10, "remainder": "pad", "rank": 1,
                                 "world_size": 3, "return_keys": True}),
    "clm_rank1of2_ordered_drop_last": ("clm", {"batch_size": 5, "shuffle": False, "rank": 1, "world_size": 2,
                                               "drop_last": True, "return_keys": True}),
    "clm_position_ids": ("clm", {"batch_size": 6, "position_ids": True, "seed": 7}),
    "clm_cu_seqlens": ("clm", {"batch_size": 6, "document_attention": "cu_seqlens", "pad_to_multiple_of": 8}),
    "clm_block_mask": ("clm", {"batch_size": 6, "document_attention": "block_mask", "shuffle_buffer": 30}),
    "t5_max_tokens": ("t5", {"max_tokens": 160, "shuffle_buffer": 20, "return_keys": True}),
    "t5_max_tokens_rank0of2": ("t5", {"max_tokens": 120, "batch_size": 6, "rank": 0, "world_size": 2}),
    "t5_batches": ("t5", {"batch_size": 7, "shuffle_buffer": 20, "return_keys": True}),
    "mlm_validation_padded": ("mlm", {"side": "validation", "batch_size": 3, "pad_to_multiple_of": 8}),
}

MIXTURES: dict[str, tuple[list[tuple[str, float]], dict]] = {
    "mix_proportion": ([("clm", 0.7), ("clm2", 0.3)], {"batch_size": 8, "shuffle_buffer": 24, "return_keys": True,
                                                        "return_source": True}),
    "mix_count_per_source": ([("clm", 101), ("clm2", 40)], {"mode": "count", "batch_size": 8, "per_source": True,
                                                           "shuffle_buffer": 16, "return_keys": True}),
}


def digest(batch) -> str:
    h = hashlib.sha256()
    for name in sorted(batch):
        t = batch[name]
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return h.hexdigest()[:20]


def epoch_digests(dataset, epoch: int, limit: int | None = None) -> list[str]:
    return epoch_signatures(dataset, epoch, limit, summary=digest)


def scenario(make, golden: dict | None = None) -> dict:
    """Epochs 0 and 1, the state after 3 batches of epoch 1 and the batches after loading it.

    With ``golden`` (a recorded scenario), the state loaded is the recorded one: an old state must
    resume the new loader. A state's ``dataset`` is stored as ``"@"`` (the shards' sha256 depend on
    the pyarrow that wrote them) and put back here.
    """
    full0, full1 = epoch_digests(make(), 0), epoch_digests(make(), 1)
    first = make()
    epoch_digests(first, 1, limit=3)
    state = json.loads(json.dumps(first.state_dict()))
    identity, state["dataset"] = state["dataset"], "@"
    resumed = make()
    resumed.load_state_dict(dict(golden["state"] if golden else state, dataset=identity))
    return {"epoch0": full0, "epoch1": full1, "state": state, "resumed": epoch_digests(resumed, 1)}


def record(root: Path, golden: dict | None = None, *, workers: bool = True) -> dict:
    """Every scenario's :func:`scenario`; with ``golden``, resumed from the recorded states."""
    from lmpairs.loader import PairMixture, PairStream

    paths = datasets(Path(root))
    out: dict = {}
    old = golden or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name, (data, kwargs) in STREAMS.items():
            out[name] = scenario(lambda d=data, k=kwargs: PairStream(paths[d], **k), old.get(name))
        for name, (sources, kwargs) in MIXTURES.items():
            out[name] = scenario(lambda s=sources, k=kwargs: PairMixture([(paths[p], w) for p, w in s], **k),
                                 old.get(name))
        if workers:
            out["clm_two_workers"] = scenario(lambda: PairStream(paths["clm"], batch_size=4, shuffle_buffer=12,
                                                                 return_keys=True).make_loader(
                num_workers=2, multiprocessing_context="fork"), old.get("clm_two_workers"))
    return out


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).parents[1]))
    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(record(Path(tmp)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
