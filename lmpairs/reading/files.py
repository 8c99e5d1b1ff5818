"""File access behind corpus reading: match a glob to files with sizes, open a file for reading.

:class:`LocalFiles` serves local paths without Beam; ``lmpairs.pipeline.filesystems.BeamFiles``
serves the same protocol through Beam's ``FileSystems`` (``gs://``, ``s3://``, ``hdfs://``). Both
match globs the way Beam does (:func:`glob_to_regex`), so ``train-tokenizer`` and ``build`` read
the same files for the same glob.
"""
from __future__ import annotations

import os
import re
import stat
from typing import BinaryIO, NamedTuple, Protocol

WILDCARDS = "*?["


class FileMatch(NamedTuple):
    """A matched path, its size in bytes, and whether it is a regular file (FIFOs, devices are not)."""

    path: str
    size: int
    is_regular: bool


class FileAccess(Protocol):
    """What reading needs from a filesystem: list a glob, open one file."""

    def match(self, glob: str) -> list[FileMatch]:
        """Files (never directories) that ``glob`` matches, in any order; OSError if listing fails."""

    def open(self, path: str) -> BinaryIO:
        """``path`` opened for binary reading, seekable, with no decompression applied."""


def has_wildcards(glob: str) -> bool:
    return any(c in glob for c in WILDCARDS)


def glob_to_regex(glob: str) -> re.Pattern:
    """Beam's glob syntax (``FileSystem.translate_pattern``): ``*`` stays inside one directory,
    ``**`` crosses directories, ``?`` is any character, ``[...]`` a class (``[!...]`` negated);
    an unclosed ``[`` is a literal."""
    i, n, out = 0, len(glob), []
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            if i < n and glob[i] == "*":
                out.append(".*")
                i += 1
            else:
                out.append(r"[^/\\]*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(r"\[")
            else:
                members = glob[i:j].replace("\\", "\\\\").replace("[", "\\[")
                i = j + 1
                if members[0] == "!":
                    members = "^" + members[1:]
                elif members[0] == "^":
                    members = "\\" + members
                out.append(f"[{members}]")
        else:
            out.append(re.escape(c))
    return re.compile(r"(?ms)" + "".join(out) + r"\Z")


class LocalFiles:
    """:class:`FileAccess` for local paths, without Beam.

    ``stat`` follows symlinks (a link to a regular file is a regular file) and never opens
    anything, so a FIFO matched by a glob is reported, not read (opening one would block).
    """

    def match(self, glob: str) -> list[FileMatch]:
        if not has_wildcards(glob):
            found = _stat(glob)
            return [found] if found is not None else []
        prefix = re.match(r"^[^[*?]*", glob).group(0)
        root = prefix if prefix.endswith("/") else os.path.dirname(prefix)
        pattern = glob_to_regex(glob)
        depth = _max_depth(glob[len(root):])
        matches = []
        for dirpath, dirnames, names in os.walk(root or ".", onerror=_raise_unless_missing):
            level = len([part for part in dirpath[len(root):].split(os.sep) if part])
            if depth is not None and level + 1 >= depth:
                dirnames.clear()  # files below cannot match: do not walk there
            for name in names:
                path = os.path.join(dirpath, name)
                if pattern.match(path):
                    found = _stat(path)
                    if found is not None:
                        matches.append(found)
        return matches

    def open(self, path: str) -> BinaryIO:
        return open(path, "rb")


def _stat(path: str) -> FileMatch | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None  # a dangling link, or gone since listing
    if stat.S_ISDIR(st.st_mode):
        return None
    return FileMatch(path, st.st_size, stat.S_ISREG(st.st_mode))


def _max_depth(rest: str) -> int | None:
    """How many path components below the root a glob's remainder can match (None: any, for ``**``).

    ``?`` and ``[...]`` may match a ``/`` in Beam's syntax, so each may add a level.
    """
    if "**" in rest:
        return None
    return rest.strip("/").count("/") + rest.count("?") + rest.count("[") + 1


def _raise_unless_missing(err: OSError) -> None:
    if not isinstance(err, FileNotFoundError):
        raise err
