"""Path helpers over Beam's FileSystems that behave the same on local disks and object stores."""
from __future__ import annotations

import os
import posixpath
import shutil

from apache_beam.io.filesystems import FileSystems


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URL (``gs://``, ``s3://``…) rather than a local path."""
    return "://" in path and not path.startswith("file://")


def absolute(path: str) -> str:
    """Local paths (globs too) made absolute on the driver, so workers in another directory agree."""
    return path if "://" in path else os.path.abspath(os.path.expanduser(path))


def join(*parts: str) -> str:
    return posixpath.join(*parts)


def ensure_dir(path: str) -> None:
    """Create ``path`` and its parents where the filesystem has directories (object stores have none)."""
    if is_remote(path):
        return
    os.makedirs(path, exist_ok=True)


def delete_tree(path: str) -> None:
    """Remove ``path`` and everything under it; nothing there is fine."""
    if not is_remote(path):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        return
    files = [m.path for m in FileSystems.match([path.rstrip("/") + "/**"])[0].metadata_list]
    if files:
        FileSystems.delete(files)
