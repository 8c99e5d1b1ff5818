"""Read the rows of a shuffle window: whole row groups, only the needed columns, straight to numpy.

Local paths and URLs (``s3://``, ``gs://``, ``file://``) go through pyarrow filesystems
(:func:`lmpairs.schemas.resolve`), opened lazily in each process: DataLoader workers never share a
file handle. A shard is checked against the manifest (schema, row groups) the first time a process
opens it, and a damaged file fails with its name and the fix instead of a bare Arrow error.

Verification (``verify``): ``"sha256"`` hashes each shard the first time any process of the stream
opens it (one sequential read; a shared flag per shard spares the other workers and later epochs)
and refuses a file whose digest differs from the manifest's, so a flipped byte never reaches a
batch. The shard's size and modification time at that hash are kept too (shared the same way);
a later open that finds either changed (the file was replaced after it was verified) hashes it
again, at the cost of one ``get_file_info`` per shard open (a HEAD request on object stores).
``"size"`` skips the hash and runs Arrow's full validation of each row group read instead
(offsets in bounds), which catches structural damage but not every changed value: a shard
replaced by another file of the same size (another build's, a damaged copy) is served silently;
``"none"`` checks neither (nor the file sizes, :mod:`lmpairs.loader.validate`). Cost (bench/loader.py: a
fresh stream and its first epoch over 7.5 MB of CLM shards, 4M tokens, local disk, page cache
warm): ``"sha256"`` runs at 0.86-0.97x the throughput of ``"none"`` across runs (one extra
sequential read and hash of each shard, once per stream); later epochs cost the same in every
mode. In every mode each piece of a window is range-checked: token ids must lie in
``[0, vocab_size)`` (``labels`` may also hold -100), one min and one max pass over int32 values
(~2.5 ms per 4M ids, within the noise of a whole epoch), so a damaged or foreign file cannot feed
an out-of-range id to an embedding (a device-side assert on CUDA).
"""
from __future__ import annotations

import hashlib
import os
import pickle
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import torch

from lmpairs.errors import UserError, one_line
from lmpairs.loader.units import Units
from lmpairs.ragged import Ragged, concat
from lmpairs.schemas import ShardInfo, check_schema, list_to_numpy, resolve
from lmpairs.schemas.storage import FileSystemArg
from lmpairs.transforms.spec import IGNORE_INDEX


class ShardError(UserError):
    """A shard is missing, truncated or not what the manifest says; the message names the file."""


REBUILD = "copy the shard again from the original output, or rebuild with `lmpairs build --overwrite`"
VERIFY_MODES = ("sha256", "size", "none")
_HASH_CHUNK = 8 << 20


@dataclass(frozen=True, eq=False)
class WindowRows:
    """A window's rows in stream order: uint64 keys (None when not read) and one :class:`Ragged` per
    list column."""

    keys: np.ndarray | None
    columns: dict[str, Ragged]

    def __len__(self) -> int:
        if self.keys is not None:
            return int(self.keys.shape[0])
        return len(next(iter(self.columns.values())))


class ShardReader:
    """Reads units of one split; keeps a few files open and the last unit read (windows that share
    a row group, e.g. on a single worker, then read it once). ``keys=False`` skips the
    ``example_key`` column (batches need it only for ``return_keys`` and dynamic corruption)."""

    def __init__(self, root: str, shards: Sequence[ShardInfo], units: Units, *, objective: str,
                 columns: Sequence[str], vocab_size: int, keys: bool = True, verify: str = "sha256",
                 filesystem: FileSystemArg = None, max_open: int = 8) -> None:
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify={verify!r}: choose one of {', '.join(VERIFY_MODES)}.")
        self.root = root
        self.filesystem = filesystem
        self.verify = verify
        self.vocab_size = int(vocab_size)
        self.verified = torch.zeros(len(shards), dtype=torch.uint8).share_memory_()  # shared by workers
        self.verified_stat = torch.zeros((len(shards), 2), dtype=torch.int64).share_memory_()  # size, mtime_ns
        self.shards = list(shards)
        self.units = units
        self.objective = objective
        self.list_columns = list(columns)
        self.columns = ["example_key", *columns] if keys else list(columns)
        self.keys = keys
        self.max_open = max_open
        self._fs = None
        self._fs_pid = -1
        self._files: OrderedDict[int, pq.ParquetFile] = OrderedDict()
        self._checked: set[int] = set()  # shards already checked in this process (a reopen skips it)
        self._last: tuple[int, pa.Table] | None = None
        self._buffers: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_fs=None, _files=OrderedDict(), _checked=set(), _last=None,  # verified: shared memory
                     _buffers={})  # handles and checks stay in their process
        return state

    def _open(self, shard: int) -> pq.ParquetFile:
        if shard in self._files:
            self._files.move_to_end(shard)
            return self._files[shard]
        self._filesystem()
        path = self.units.shard_paths[shard]
        if self.verify == "sha256" and (not int(self.verified[shard]) or self._changed(shard, path)):
            self._check_sha256(shard, path)
        try:
            parquet = pq.ParquetFile(self._fs.open_input_file(path))
        except FileNotFoundError as err:
            raise ShardError(f"{path}: shard listed in the manifest is missing; {REBUILD}.") from err
        except pa.ArrowInvalid as err:
            raise ShardError(f"{path}: not a readable Parquet file ({one_line(err)[:200]}); it is truncated or "
                             f"damaged: {REBUILD}.") from err
        except OSError as err:
            raise cannot_read(path, err) from err
        if shard not in self._checked:
            check_schema(parquet.schema_arrow, self.objective, path)
            check_row_groups(parquet, self.shards[shard], path)
            self._checked.add(shard)
        self._files[shard] = parquet
        if len(self._files) > self.max_open:
            self._files.popitem(last=False)
        return parquet

    def _filesystem(self):
        """This process's filesystem: a client made before a fork (DataLoader workers) is rebuilt from
        its pickled settings, since HTTP clients and their threads do not survive a fork."""
        if self._fs is None or self._fs_pid != os.getpid():
            given = self.filesystem
            if isinstance(given, pafs.FileSystem) and not isinstance(given, pafs.LocalFileSystem):
                given = pickle.loads(pickle.dumps(given))
            self._fs, self._fs_pid = resolve(self.root, given)[0], os.getpid()
            self._files.clear()  # handles opened by another process
        return self._fs

    def _stat(self, path: str) -> tuple[int, int]:
        """(size, mtime in ns) of ``path``; 0 where the filesystem does not say."""
        try:
            info = self._fs.get_file_info(path)
        except OSError as err:
            raise cannot_read(path, err) from err
        return int(info.size or 0), int(info.mtime_ns or 0)

    def _changed(self, shard: int, path: str) -> bool:
        """Whether the verified shard's size or mtime differ from when it was hashed (replaced since)."""
        return self._stat(path) != tuple(int(v) for v in self.verified_stat[shard].tolist())

    def _check_sha256(self, shard: int, path: str) -> None:
        digest = hashlib.sha256()
        stat = self._stat(path)  # before reading: a replacement during the hash differs from it next time
        try:
            with self._fs.open_input_stream(path) as src:
                while chunk := src.read(_HASH_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError as err:
            raise ShardError(f"{path}: shard listed in the manifest is missing; {REBUILD}.") from err
        except OSError as err:
            raise cannot_read(path, err) from err
        want = self.shards[shard].sha256
        if digest.hexdigest() != want:
            raise ShardError(f"{path}: sha256 {digest.hexdigest()[:12]}, but the manifest records {want[:12]}: the "
                             f"file changed after the build (damaged or replaced); {REBUILD}. "
                             "(verify='size' skips this check.)")
        self.verified_stat[shard, 0], self.verified_stat[shard, 1] = stat
        self.verified[shard] = 1

    def read_unit(self, unit: int) -> pa.Table:
        """All rows of one unit, needed columns only."""
        if self._last is not None and self._last[0] == unit:
            return self._last[1]
        shard, group = int(self.units.shard[unit]), int(self.units.row_group[unit])
        path = self.units.shard_paths[shard]
        try:
            table = self._open(shard).read_row_group(group, columns=self.columns)
            if self.verify == "size":
                table.validate(full=True)
        except pa.ArrowInvalid as err:
            raise ShardError(f"{path}: row group {group} cannot be read ({one_line(err)[:200]}); the file is "
                             f"damaged: {REBUILD}.") from err
        except OSError as err:
            raise cannot_read(path, err) from err
        self._last = (unit, table)
        return table

    def read(self, segments: Sequence[tuple[int, int, int]]) -> WindowRows:
        """The rows ``segments`` name (``(unit, first, stop)`` pieces), concatenated in order.

        Token values are copied into a buffer this reader reuses, so the result is valid until the
        next ``read``: batches are copies, and a fresh window-sized allocation per window costs
        more in page faults than the copy itself.
        """
        pieces = [self.read_unit(u).slice(lo, hi - lo) for u, lo, hi in segments]
        units = [u for u, _, _ in segments]
        keys = np.concatenate([p.column("example_key").to_numpy() for p in pieces]) if self.keys else None
        return WindowRows(keys, {name: self._concat(name, [p.column(name) for p in pieces], units)
                                 for name in self.list_columns})

    def _check_ids(self, name: str, values: np.ndarray, unit: int) -> None:
        """Refuse ids outside ``[0, vocab_size)`` (``labels``: or -100); one min and one max pass."""
        if not values.shape[0] or name in ("doc_lengths", "sentence_ends"):
            return
        low, high = int(values.min()), int(values.max())
        ok = high < self.vocab_size and (low >= 0 or (name == "labels" and low == IGNORE_INDEX and not bool(
            ((values < 0) & (values != IGNORE_INDEX)).any())))
        if not ok:
            shard, group = int(self.units.shard[unit]), int(self.units.row_group[unit])
            raise ShardError(f"{self.units.shard_paths[shard]}: row group {group} column {name} holds ids in "
                             f"[{low}, {high}], outside the vocabulary [0, {self.vocab_size}) of the manifest: the "
                             f"file is damaged or from another build; {REBUILD}.")

    def _concat(self, name: str, chunks: list[pa.ChunkedArray], units: list[int]) -> Ragged:
        # a slice that starts a row group views its whole child array: keep only the slice's values
        parts = [(values[:int(offsets[-1])], offsets) for values, offsets in map(list_to_numpy, chunks)]
        for (values, _), unit in zip(parts, units):
            self._check_ids(name, values, unit)
        total = sum(values.shape[0] for values, _ in parts)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape[0] < total:
            buffer = self._buffers[name] = np.empty(total, dtype=np.int32)
        return concat([Ragged(values, offsets) for values, offsets in parts], out=buffer)


def cannot_read(path: str, err: OSError) -> ShardError:
    """An I/O failure that is not damage: permissions, or (remote) the endpoint, credentials, network."""
    return ShardError(f"{path}: cannot read the shard ({one_line(err)[:200]}); check that it is readable, and "
                      "for remote storage the endpoint, credentials and network (filesystem=...).")


def warm_arrow_to_numpy() -> None:
    """Run one Arrow -> numpy conversion now, in the main process.

    pyarrow imports pandas lazily on its first such conversion (about a second); done here once,
    forked DataLoader workers inherit it instead of each paying it on their first batch.
    """
    list_to_numpy(pa.array([[0]], type=pa.list_(pa.int32())))
    pa.chunked_array([pa.array([0], type=pa.uint64())]).to_numpy()


def check_row_groups(parquet: pq.ParquetFile, shard: ShardInfo, path: str) -> None:
    """Refuse a shard whose row groups differ from the manifest's (the plan was built from those)."""
    meta = parquet.metadata
    got = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    if got != list(shard.row_group_rows):
        raise ShardError(f"{path}: has row groups of {got[:8]}{'…' if len(got) > 8 else ''} rows "
                         f"({meta.num_rows} rows), the manifest says {list(shard.row_group_rows)[:8]} "
                         f"({shard.num_rows} rows); the shard was replaced after the build: {REBUILD}.")
