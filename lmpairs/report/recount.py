"""Recount a build from its shards: the objective's own ``measure`` and ``clean`` over every stored example.

The manifest's counters are sums the build made as it wrote; summing the same functions over the
rows read back must give the same numbers, which is how the report (and its tests) check a build.
Rows are read one record batch at a time, so memory stays flat; ``max_rows`` bounds the work on a
large build (the figures then say they cover a prefix of each side).
"""
from __future__ import annotations

import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from lmpairs.objectives import get_spec, make_objective
from lmpairs.schemas import MANIFEST_NAME, Manifest, list_columns, list_to_numpy, resolve
from lmpairs.schemas.storage import shard_paths
from lmpairs.tokenizers import Tokenizer
from lmpairs.transforms import ExampleBatch, Objective, Ragged

BATCH_ROWS = 1024
FILL_BINS = 20
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def build_objective(manifest: Manifest, tokenizer: Tokenizer) -> Objective:
    """The objective that wrote ``manifest``'s shards, rebuilt from its recorded config."""
    spec = get_spec(manifest.objective)
    return make_objective(manifest.objective, spec.config.from_dict(manifest.config), tokenizer.vocab)


def byte_pieces(tokenizer: Tokenizer) -> np.ndarray:
    """``mask[id]``: the id is a byte-fallback piece (``<0x41>``), to count text the vocabulary lacks."""
    size = tokenizer.vocab.size
    mask = np.zeros(size, dtype=bool)
    for i in range(size):
        try:
            mask[i] = bool(_BYTE_PIECE.fullmatch(tokenizer.id_to_piece(i)))
        except (ValueError, IndexError, KeyError, RuntimeError):
            continue
    return mask


def example_batches(manifest: Manifest, objective_dir: str, side: str, max_rows: int,
                    storage: dict[str, Any] | None) -> Iterator[ExampleBatch]:
    """The stored examples of ``side`` (train/validation) in shard order, ``BATCH_ROWS`` at a time (at most
    ``max_rows``; 0: all)."""
    fs, root = resolve(objective_dir, storage)
    names = list_columns(manifest.objective)
    relative = [s.path for s in manifest.splits.get(side, [])]
    left = max_rows if max_rows > 0 else None
    for path in shard_paths(fs, root, relative, posixpath.join(objective_dir, MANIFEST_NAME)):
        with fs.open_input_file(path) as source:
            for batch in pq.ParquetFile(source).iter_batches(batch_size=BATCH_ROWS, columns=["example_key", *names]):
                if left is not None:
                    if left <= 0:
                        return
                    batch = batch.slice(0, left)
                    left -= batch.num_rows
                keys = _keys(batch.column("example_key"))
                columns = {name: Ragged(*list_to_numpy(batch.column(name))) for name in names}
                yield ExampleBatch(keys, columns)


def _keys(column) -> np.ndarray:
    """The uint64 key column viewed from its Arrow buffer (``to_numpy`` would import pandas: a second)."""
    return np.frombuffer(column.buffers()[1], dtype=np.uint64, count=len(column), offset=column.offset * 8).copy()


Accumulate = Callable[[ExampleBatch, Any], None]


@dataclass
class Recount:
    """Sums over the stored examples: ``measured`` as the build counts it, padding, row fill, byte pieces."""

    full_row_length: int
    examples: dict[str, int] = field(default_factory=dict)
    measured: Counter = field(default_factory=Counter)
    padding_tokens: int = 0
    slots: int = 0
    tokens: int = 0
    byte_tokens: int = 0
    segments: int = 0
    fill: np.ndarray = field(default_factory=lambda: np.zeros(FILL_BINS, dtype=np.int64))
    complete: bool = True

    def add(self, objective: Objective, examples: ExampleBatch, byte_mask: np.ndarray | None) -> Any:
        """Add one batch; returns the clean rows (for the per-objective sections)."""
        self.measured.update(objective.measure(examples))
        rows = objective.clean(examples)
        lengths = rows.ids.lengths
        self.padding_tokens += int((self.full_row_length - lengths).sum())
        self.slots += self.full_row_length * int(lengths.shape[0])
        self.tokens += int(rows.ids.values.shape[0])
        if "doc_lengths" in examples.columns:  # objectives that store each row's document pieces
            self.segments += int(examples.columns["doc_lengths"].values.shape[0])
        if byte_mask is not None and rows.ids.values.shape[0]:
            self.byte_tokens += int(byte_mask[rows.ids.values].sum())
        share = np.minimum(lengths / max(1, self.full_row_length), 1.0)
        self.fill += np.bincount(np.minimum((share * FILL_BINS).astype(np.int64), FILL_BINS - 1),
                                 minlength=FILL_BINS)
        return rows

    def figures(self) -> dict[str, Any]:
        return {"complete": self.complete, "examples": dict(self.examples),
                "measured": dict(sorted(self.measured.items())),
                "padding_tokens": self.padding_tokens, "slots": self.slots, "clean_tokens": self.tokens,
                "byte_fallback_tokens": self.byte_tokens, "document_pieces": self.segments,
                "row_fill": {"edges": np.linspace(0, 1, FILL_BINS + 1).round(3).tolist(), "counts": self.fill.tolist()}}


def recount(manifest: Manifest, objective_dir: str, objective: Objective, *, max_rows: int,
            storage: dict[str, Any] | None, byte_mask: np.ndarray | None,
            sections: list[Accumulate] = ()) -> Recount:
    """Read every side (each capped at ``max_rows``) and sum; ``sections`` see each batch and its clean rows."""
    total = Recount(full_row_length=objective.full_row_length)
    for side in manifest.splits:
        seen = 0
        for examples in example_batches(manifest, objective_dir, side, max_rows, storage):
            seen += examples.num_examples
            rows = total.add(objective, examples, byte_mask)
            for section in sections:
                section(examples, rows)
        total.examples[side] = seen
        total.complete &= seen == manifest.num_rows(side)
    return total
