"""Where readers find files: local paths and URLs through pyarrow filesystems, confined shard paths.

``filesystem`` is a ``pyarrow.fs.FileSystem`` (endpoints and credentials already set), a dict of
that filesystem's constructor options for the URL's scheme (``{"endpoint_override":
"127.0.0.1:9000", "scheme": "http", "access_key": …, "secret_key": …}`` for an S3-compatible
server), or ``None`` (pyarrow's defaults: the environment's credentials). Readers of a dataset
(loader, ``inspect``) resolve every shard through :func:`shard_paths`, which refuses paths that
leave the dataset directory and returns the one path that is then both checked and opened.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Union
from urllib.parse import urlparse

import pyarrow.fs as pafs

from lmpairs.errors import UserError, one_line

FileSystemArg = Union[pafs.FileSystem, Mapping[str, Any], None]  # noqa: UP007 (a runtime alias on 3.10)

_BY_SCHEME = {"s3": "S3FileSystem", "gs": "GcsFileSystem", "gcs": "GcsFileSystem", "hdfs": "HadoopFileSystem"}


class StorageError(UserError):
    """A URL or storage option cannot be used or reached; the message names the URL and the fix."""


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``s3://``, ``gs://``, ``file://``…) rather than a plain path."""
    return "://" in str(path)


def is_remote(path: str) -> bool:
    """Whether ``path`` names remote storage: a URL other than ``file://`` (the pipeline's test for
    "no local directories here")."""
    return is_url(path) and not str(path).startswith("file://")


def unreachable(url: str, err: BaseException) -> StorageError:
    return StorageError(f"{url}: cannot reach storage ({one_line(err)[:300]}); check the URL, the endpoint and "
                        "the credentials (PairStream(..., filesystem=pyarrow.fs.S3FileSystem(endpoint_override=…, "
                        "access_key=…, secret_key=…)) or a dict of those options; AWS_*/GOOGLE_* environment "
                        "variables otherwise).")


def resolve(path: str, filesystem: FileSystemArg = None) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path on it for a local path or a URL (``s3://``, ``gs://``, ``file://``)."""
    path = str(path)
    if isinstance(filesystem, pafs.FileSystem):
        if is_url(path):
            parsed = urlparse(path)
            return filesystem, (parsed.netloc + parsed.path) if parsed.scheme != "file" else parsed.path
        return filesystem, os.path.abspath(path) if isinstance(filesystem, pafs.LocalFileSystem) else path
    if filesystem is not None:
        if not isinstance(filesystem, Mapping):
            raise StorageError(f"filesystem={filesystem!r}: expected a pyarrow.fs.FileSystem or a dict of its "
                               "options; pass one of those or None.")
        scheme = urlparse(path).scheme if is_url(path) else ""
        name = _BY_SCHEME.get(scheme)
        if name is None:
            raise StorageError(f"{path}: storage options apply to s3://, gs:// or hdfs:// URLs, not "
                               f"{scheme or 'a local path'}; leave filesystem=None for local paths.")
        try:
            fs = getattr(pafs, name)(**dict(filesystem))
        except (TypeError, ValueError, OSError, ImportError) as err:
            raise StorageError(f"{path}: cannot build a pyarrow {name} from the storage options "
                               f"{sorted(filesystem)} ({one_line(err)}); pass {name}'s keyword arguments.") from err
        return resolve(path, fs)
    if is_url(path):
        try:
            return pafs.FileSystem.from_uri(path)
        except (ValueError, OSError, ImportError) as err:
            raise StorageError(f"{path}: pyarrow cannot open this URL ({one_line(err)}); use file://, s3:// or "
                               "gs://, or pass filesystem= for other storage.") from err
    return pafs.LocalFileSystem(), os.path.abspath(path)


def file_info(fs: pafs.FileSystem, path: str, url: str) -> pafs.FileInfo:
    """``fs.get_file_info(path)``; an unreachable store is a :class:`StorageError` naming ``url``."""
    try:
        return fs.get_file_info(path)
    except OSError as err:
        raise unreachable(url, err) from err


def read_bytes(path: str, filesystem: FileSystemArg = None) -> bytes:
    """The whole file at ``path`` (local or URL); a missing file or unreachable storage is a
    :class:`StorageError` naming ``path`` and the fix."""
    fs, where = resolve(path, filesystem)
    try:
        with fs.open_input_stream(where) as src:
            return src.read()
    except OSError as err:
        text = str(err).lower()
        if isinstance(err, FileNotFoundError) or "not found" in text or "does not exist" in text or "nosuchkey" in text:
            raise StorageError(f"{path}: no such file; check the path (and for a URL the bucket and "
                               "the credentials' access to it).") from err
        raise unreachable(path, err) from err


@contextmanager
def local_copy(path: str, filesystem: FileSystemArg = None) -> Iterator[str]:
    """A local path holding ``path``'s bytes: ``path`` itself when local, else a temporary copy
    (same file name, removed on exit), for libraries that only open local files."""
    if not is_url(path) or urlparse(path).scheme == "file":
        yield urlparse(path).path if is_url(path) else path
        return
    data = read_bytes(path, filesystem)
    folder = tempfile.mkdtemp(prefix="lmpairs-")
    try:
        local = os.path.join(folder, posixpath.basename(urlparse(path).path) or "file")
        with open(local, "wb") as out:
            out.write(data)
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def shard_paths(fs: pafs.FileSystem, root: str, relative: Sequence[str], where: str) -> list[str]:
    """The path to open for each shard ``relative`` to ``root``, confined to ``root``.

    The manifest's paths are already relative and free of ``..`` (:func:`check_shard_path`); on a
    local filesystem symlinks are resolved too, so a link pointing out of the dataset is refused
    and the resolved path is the one both checked and read.
    """
    base = root.rstrip("/") or "/"
    joined = [posixpath.join(base, p) for p in relative]
    if not isinstance(fs, pafs.LocalFileSystem):
        return joined
    real_root = os.path.realpath(base)
    out = []
    for rel, path in zip(relative, joined):
        real = os.path.realpath(path)
        if not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise UnsafePath(f"{where}: shard {rel!r} resolves to {real}, outside the dataset directory "
                             f"{real_root} (a symlink out of it); copy the shard into the dataset instead of "
                             "linking it, or rebuild with `lmpairs build --overwrite`.")
        out.append(real)
    return out


class UnsafePath(StorageError):
    """A shard path that would read outside the dataset directory."""


def check_shard_path(path: Any, where: str) -> str:
    """A manifest's shard path must be a plain relative POSIX path inside the dataset directory."""
    fix = "the manifest was edited or damaged: rebuild with `lmpairs build --overwrite`"
    if not isinstance(path, str) or not path or "\x00" in path:
        raise UnsafePath(f"{where}: shard path {path!r} is not a file name; {fix}.")
    parts = path.split("/")
    if (path.startswith("/") or "\\" in path or is_url(path) or (len(path) > 1 and path[1] == ":")
            or any(p in ("", ".", "..") for p in parts)):
        raise UnsafePath(f"{where}: shard path {path!r} is absolute or leaves the dataset directory ('..'); "
                         f"shard paths are relative to the manifest's directory; {fix}.")
    return path
