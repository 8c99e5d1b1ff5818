"""Work units: every (shard, row group) of a split, with row counts taken from the manifest.

The manifest records each shard's ``row_group_rows``, so a loader plans an epoch without opening a
single Parquet footer. Units with no rows are left out; they would only cost a read.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmpairs.schemas import ManifestError, ShardInfo


@dataclass(frozen=True, eq=False, kw_only=True)
class Units:
    """Parallel arrays over units: ``shard[u]``, ``row_group[u]`` and ``num_rows[u]`` (int64)."""

    shard_paths: tuple[str, ...]
    shard: np.ndarray
    row_group: np.ndarray
    num_rows: np.ndarray

    def __len__(self) -> int:
        return int(self.num_rows.shape[0])

    @property
    def total_rows(self) -> int:
        return int(self.num_rows.sum())


def list_units(shards: Sequence[ShardInfo], *, paths: Sequence[str], where: str) -> Units:
    """Units of ``shards`` (opened at ``paths``, already resolved and confined), in manifest order.

    ``where`` names the manifest in errors: a shard whose row-group counts disagree with its row
    count means the manifest is damaged, and no plan built on it could be trusted.
    """
    shard_index, row_group, num_rows = [], [], []
    for i, shard in enumerate(shards):
        rows = np.asarray(shard.row_group_rows, dtype=np.int64)
        if rows.shape[0] != shard.num_row_groups or int(rows.sum()) != shard.num_rows or (rows < 0).any():
            raise ManifestError(
                f"{where}: shard {shard.path} lists row groups {shard.row_group_rows} "
                f"({rows.shape[0]} groups, {int(rows.sum())} rows) but num_row_groups={shard.num_row_groups}, "
                f"num_rows={shard.num_rows}; the manifest is damaged: rebuild with --overwrite.")
        keep = np.flatnonzero(rows > 0)
        shard_index.append(np.full(keep.shape[0], i, dtype=np.int64))
        row_group.append(keep.astype(np.int64))
        num_rows.append(rows[keep])
    empty = np.zeros(0, dtype=np.int64)
    return Units(
        shard_paths=tuple(paths),
        shard=np.concatenate(shard_index) if shard_index else empty,
        row_group=np.concatenate(row_group) if row_group else empty,
        num_rows=np.concatenate(num_rows) if num_rows else empty,
    )
