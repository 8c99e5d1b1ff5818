"""Read a tokenizer path into bytes with bounds: a regular file (or a model directory's tokenizer file)
of at most :data:`MAX_TOKENIZER_BYTES`, so a FIFO, ``/dev/zero`` or a huge file is a one-line error.

A Hugging Face model directory holds ``tokenizer.json`` (preferred: it carries the pre-tokenizer and
the specials) or ``tokenizer.model`` (SentencePiece, or tiktoken ranks for Llama 3); Mistral's
directories may hold ``tekken.json``. The tokenizer is always one file's bytes, so its sha256 is
the fingerprint whatever path it came from.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from lmpairs.tokenizers.errors import FIX, TokenizerError

MAX_TOKENIZER_BYTES = 1 << 30
"""The largest tokenizer file read (1 GiB): the biggest real ones (tekken) are ~20 MB."""
DIRECTORY_FILES = ("tokenizer.json", "tekken.json", "tokenizer.model")
"""What a model directory is searched for, in order."""


def resolve_tokenizer_path(path: str | os.PathLike) -> Path:
    """``path`` itself, or the tokenizer file inside a model directory; errors name the fix."""
    path = Path(path)
    if not path.exists():
        raise TokenizerError(f"{path}: no such tokenizer file or directory; {FIX}")
    if path.is_dir():
        for name in DIRECTORY_FILES:
            if (path / name).exists():
                return path / name
        raise TokenizerError(f"{path}: a directory without {', '.join(DIRECTORY_FILES)}; pass a model directory "
                             f"that holds one of them, or the file itself; {FIX}")
    return path


def read_tokenizer_bytes(path: str | os.PathLike, *, limit: int | None = None) -> tuple[Path, bytes]:
    """``(resolved path, its bytes)`` of a regular tokenizer file of at most ``limit`` bytes.

    Special files are refused before they are opened for reading (a FIFO blocks, ``/dev/zero``
    never ends), and at most ``limit + 1`` bytes are read, so a file that grows meanwhile is
    still bounded.
    """
    limit = MAX_TOKENIZER_BYTES if limit is None else limit
    path = resolve_tokenizer_path(path)
    try:
        info = path.stat()
    except OSError as err:
        raise TokenizerError(f"{path}: cannot read the tokenizer file ({err.strerror}); "
                             "check its permissions.") from err
    if not stat.S_ISREG(info.st_mode):
        raise TokenizerError(f"{path}: not a regular file (a device, FIFO or socket); pass the tokenizer file itself.")
    if info.st_size > limit:
        raise TokenizerError(f"{path}: {info.st_size} bytes, over the {limit} bytes a tokenizer file may have; "
                             f"is this really a tokenizer? {FIX}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise TokenizerError(f"{path}: cannot read the tokenizer file ({err.strerror}); "
                             "check its permissions.") from err
    if len(data) > limit:
        raise TokenizerError(f"{path}: over the {limit} bytes a tokenizer file may have; {FIX}")
    if not data:
        raise TokenizerError(f"{path}: the tokenizer file is empty (0 bytes); {FIX}")
    return path, data
