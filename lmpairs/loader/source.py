"""``Source``: one opened side (train/validation) that a dataset reads (a ``PairStream`` has one, a mixture several).

Opening a source validates its manifest against what the caller expects (objective, tokenizer
fingerprint), lists its work units from the manifest, sets up the shard reader for the columns
collation needs and, with ``dynamic=True``, the re-corruption. It holds no position and no plan:
those belong to the dataset (:mod:`lmpairs.loader.mixture`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lmpairs.loader.collate import CollateSpec
from lmpairs.loader.documents import check_document_attention
from lmpairs.loader.dynamic import DynamicCorruption
from lmpairs.loader.formats import format_for
from lmpairs.loader.shard_reader import VERIFY_MODES, ShardReader, WindowRows
from lmpairs.loader.units import list_units
from lmpairs.loader.validate import open_side, special_id
from lmpairs.objectives import get_spec
from lmpairs.schemas import list_columns
from lmpairs.schemas.storage import FileSystemArg, is_url, local_copy


def objective_config(manifest) -> dict[str, Any]:
    """The objective's config from the manifest (a full build config nests it under its name)."""
    nested = manifest.config.get(manifest.objective)
    return nested if isinstance(nested, dict) else manifest.config


class Source:
    """One side (``"train"``/``"validation"``) of ``OUT/<objective>``, validated and ready to read.

    Options as :class:`~lmpairs.loader.PairStream` documents them; ``keys``: read ``example_key``.
    """

    def __init__(self, path: str, side: str, *, keys: bool = False, pad_to_multiple_of: int | None = None,
                 position_ids: bool = False, document_attention: str | None = None, dynamic: bool = False,
                 tokenizer: str | None = None, objective: str | None = None, expected_tokenizer: str | None = None,
                 verify_footers: bool = True, verify: str = "sha256", filesystem: FileSystemArg = None,
                 batch_format: str | None = None) -> None:
        if verify not in VERIFY_MODES:
            raise ValueError(f"PairStream: verify={verify!r}; choose one of {', '.join(VERIFY_MODES)}.")
        found = open_side(path, side, objective=objective, expected_tokenizer=expected_tokenizer,
                          verify_footers=verify_footers, verify=verify, filesystem=filesystem)
        self.path, self.side, self.manifest, self.filesystem = path, side, found.manifest, filesystem
        self.identity = found.identity
        self.objective = found.manifest.objective
        check_document_attention(document_attention)
        self.objective_spec = get_spec(self.objective)
        self.format = format_for(self.objective_spec, batch_format)
        self.spec = CollateSpec(pad_id=special_id(found.manifest, "pad", found.where),
                                eos_id=special_id(found.manifest, "eos", found.where),
                                pad_to_multiple_of=pad_to_multiple_of, position_ids=position_ids,
                                document_attention=document_attention)
        self.format.check(self.objective_spec, self.spec, path)
        self.collate = self.format.collator(self.objective_spec)
        self.units = list_units(found.shards, paths=found.paths, where=found.where)
        self.reader = ShardReader(path, found.shards, self.units, objective=self.objective,
                                  columns=self.format.needed_columns(self.objective_spec, self.spec),
                                  keys=keys or dynamic,
                                  vocab_size=found.manifest.tokenizer["vocab_size"], verify=verify,
                                  filesystem=filesystem)
        self.dynamic = self._dynamic(tokenizer, found.where) if dynamic else None
        self._shards, self._verify, self._example_reader = found.shards, verify, None

    @property
    def num_rows(self) -> int:
        return self.units.total_rows

    def example(self, index: int) -> dict[str, Any]:
        """Row ``index`` of the side (manifest order: shard by shard, row group by row group), as stored.

        ``{"example_key": int, column: int32 array, ...}`` with every stored list column (the key's
        uint64 bits as a signed int, as batches carry it, so default collation takes it); reads the
        row group that holds it (the last one read is kept, so neighbouring rows cost no read).
        """
        n = self.num_rows
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"example index must be an integer, got {type(index).__name__}.")
        i = int(index) + n if index < 0 else int(index)
        if not 0 <= i < n:
            raise IndexError(f"example {index}: {self.path}[{self.side}] has {n} examples (0..{n - 1}).")
        if self._example_reader is None:  # every stored column and the keys, apart from the batch reader
            self._example_reader = ShardReader(self.path, self._shards, self.units, objective=self.objective,
                                               columns=list_columns(self.objective), keys=True,
                                               vocab_size=self.manifest.tokenizer["vocab_size"],
                                               verify=self._verify, filesystem=self.filesystem)
        starts = np.concatenate([[0], np.cumsum(self.units.num_rows)])
        unit = int(np.searchsorted(starts, i, side="right")) - 1
        first = i - int(starts[unit])
        rows = self._example_reader.read([(unit, first, first + 1)])
        return {"example_key": int(rows.keys[:1].view(np.int64)[0]), **{name: column.row(0).copy() for name, column in
                                                        rows.columns.items()}}

    def read(self, segments: list[tuple[int, int, int]], *, epoch: int) -> tuple[WindowRows, int]:
        """The rows of ``segments`` (re-corrupted for ``epoch`` if dynamic) and how many passed through."""
        rows = self.reader.read(segments)
        if self.dynamic is None:
            return rows, 0
        return self.dynamic.apply(rows, epoch=epoch)

    def _dynamic(self, tokenizer: str | None, where: str) -> DynamicCorruption:
        from lmpairs.tokenizers import Tokenizer  # sentencepiece only when re-corrupting

        if tokenizer is None:
            raise ValueError("dynamic=True needs tokenizer=PATH (the .model the shards were built with) to rebuild "
                             "the vocabulary the transforms use.")
        with local_copy(tokenizer, self.filesystem if is_url(tokenizer) else None) as local:
            loaded = Tokenizer.load(local)
        loaded.restore_named_specials(self.manifest.tokenizer.get("special_ids") or {})
        if loaded.sha256 != self.manifest.tokenizer.get("sha256"):
            raise ValueError(f"{where}: written with tokenizer {str(self.manifest.tokenizer.get('sha256'))[:12]}, "
                             f"but tokenizer={tokenizer} is {loaded.sha256[:12]}; pass the tokenizer the shards "
                             "were built with.")
        # the build's seed, from the manifest: PairStream's shuffle_seed orders batches, never redraws noise
        return DynamicCorruption(objective=self.objective, config=objective_config(self.manifest),
                                 vocab=loaded.vocab, seed=self.manifest.seed)
