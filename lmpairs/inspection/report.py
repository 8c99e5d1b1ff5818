"""``lmpairs inspect``'s work: find the objective directories, their tokenizer and a few rows, render all.

Reads only the manifest and the first rows of the first shards (pyarrow), so it is instant on any
build size and never needs Beam or torch. Local paths and URLs (``s3://``, ``gs://``) work for the
build and the tokenizer; ``storage_options`` are the pyarrow filesystem's keyword arguments (an
S3-compatible endpoint, credentials). Shard paths are confined to the objective directory as in
the loader.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import InitVar, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lmpairs.deprecation import renamed
from lmpairs.errors import UserError
from lmpairs.inspection.examples import RENDERERS
from lmpairs.inspection.render import PieceRenderer
from lmpairs.inspection.summary import summary_lines
from lmpairs.objectives import objective_names
from lmpairs.schemas import MANIFEST_NAME, Manifest, list_columns, list_to_numpy, read_manifest, resolve
from lmpairs.schemas.storage import file_info, is_url, local_copy, shard_paths
from lmpairs.tokenizers import Tokenizer


class InspectError(UserError):
    """The path holds no finished build, or its tokenizer cannot be found or does not match."""


@dataclass(frozen=True, kw_only=True)
class InspectOptions:
    """What to show: ``num_examples`` rows of ``side`` (train/validation), rendered ``width`` columns
    wide, each cut to ``max_tokens`` tokens (0 shows whole rows); ``tokenizer`` overrides the lookup.
    ``split=`` is ``side``'s deprecated name (one release)."""

    side: str = "train"
    num_examples: int = 2
    tokenizer: str | None = None
    width: int = 100
    max_tokens: int = 96
    storage_options: dict[str, Any] | None = None
    split: InitVar[str | None] = None

    def __post_init__(self, split: str | None) -> None:
        object.__setattr__(self, "side", renamed("InspectOptions", "split", split, "side", self.side, "train",
                                                 stacklevel=4))


def objective_dirs(path: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """``path`` itself when it holds a manifest, else each ``path/<objective>`` that does."""
    fs, root = resolve(path, storage_options)

    def kind(where: str) -> pafs.FileType:
        return file_info(fs, where, path).type

    if not is_url(path) and kind(root) == pafs.FileType.NotFound:
        raise InspectError(f"{path}: no such directory; pass the --output of a finished `lmpairs build` "
                           "(or OUT/<objective>).")
    if kind(posixpath.join(root, MANIFEST_NAME)) == pafs.FileType.File:
        return [path]
    found = [posixpath.join(path.rstrip("/"), name) for name in objective_names()
             if kind(posixpath.join(root, name, MANIFEST_NAME)) == pafs.FileType.File]
    if not found:
        raise InspectError(f"{path}: no manifest.json there nor in any of {', '.join(objective_names())}/ below it; "
                           "point at the --output of a finished `lmpairs build` (or OUT/<objective>).")
    return found


def find_tokenizer(manifest: Manifest, objective_dir: str, given: str | None,
                   storage_options: dict[str, Any] | None = None) -> str:
    """The tokenizer model the build used: ``given``, or the manifest's file name next to the build
    (in the objective directory, the output directory or the one above it; local or remote)."""
    name = manifest.tokenizer.get("file", "")
    if given is not None:
        return str(given)
    if not is_url(objective_dir):
        here = Path(objective_dir).resolve()
        candidates = [here / name, here.parent / name, here.parent.parent / name]
        found = next((c for c in candidates if name and c.is_file()), None)
        if found is not None:
            return str(found)
        looked = ", ".join(str(c.parent) for c in candidates)
    else:
        fs, root = resolve(objective_dir, storage_options)
        base = objective_dir.rstrip("/")
        urls = [f"{base}/{name}", f"{posixpath.dirname(base)}/{name}",
                f"{posixpath.dirname(posixpath.dirname(base))}/{name}"]
        paths = [posixpath.join(root, name), posixpath.join(posixpath.dirname(root), name),
                 posixpath.join(posixpath.dirname(posixpath.dirname(root)), name)]
        for url, path in zip(urls, paths):
            if name and file_info(fs, path, url).type == pafs.FileType.File:
                return url
        looked = ", ".join(posixpath.dirname(u) for u in urls)
    raise InspectError(f"{objective_dir}: built with tokenizer {name or '?'} (sha256 "
                       f"{str(manifest.tokenizer.get('sha256', '?'))[:12]}), not found in {looked}; "
                       "pass --tokenizer PATH to the .model file the build used.")


def check_build_tokenizer(tokenizer: Tokenizer, manifest: Manifest, objective_dir: str, path: str) -> None:
    """Refuse a tokenizer whose fingerprint differs from the one the shards were built with."""
    want = manifest.tokenizer.get("sha256")
    if tokenizer.sha256 != want:
        raise InspectError(f"{path}: sha256 {tokenizer.sha256[:12]}, but {objective_dir} was built with "
                           f"{manifest.tokenizer.get('file', '?')} sha256 {str(want)[:12]}; pass --tokenizer "
                           "with the model the build used, or rebuild with this one.")


def read_rows(manifest: Manifest, objective_dir: str, side: str, count: int,
              storage_options: dict[str, Any] | None = None) -> list[dict[str, np.ndarray]]:
    """The first ``count`` rows of ``side`` (train/validation) in shard order, as ``{column: ids}`` dicts."""
    if side not in manifest.splits:
        raise InspectError(f"{objective_dir}: no {side!r} side; it has {', '.join(manifest.splits) or 'none'}; "
                           "pass --side with one of them.")
    fs, root = resolve(objective_dir, storage_options)
    rows: list[dict[str, np.ndarray]] = []
    names = list_columns(manifest.objective)
    relative = [s.path for s in manifest.splits[side]]
    for path in shard_paths(fs, root, relative, posixpath.join(objective_dir, MANIFEST_NAME)):
        if len(rows) >= count:
            break
        with fs.open_input_file(path) as source:
            batches = pq.ParquetFile(source).iter_batches(batch_size=count - len(rows), columns=names)
            batch = next(batches, None)
        if batch is None:
            continue
        columns = {name: list_to_numpy(batch.column(name)) for name in names}
        for r in range(batch.num_rows):
            rows.append({name: values[offsets[r]:offsets[r + 1]] for name, (values, offsets) in columns.items()})
    return rows


def inspect_build(path: str, options: InspectOptions) -> str:
    """The summary and decoded examples of every objective under ``path``, as printable text."""
    blocks, tokenizers = [], {}
    storage = options.storage_options
    for objective_dir in objective_dirs(path, storage):
        manifest = read_manifest(objective_dir, filesystem=storage)
        lines = summary_lines(manifest, objective_dir)
        if options.num_examples > 0:
            model = find_tokenizer(manifest, objective_dir, options.tokenizer, storage)
            if model not in tokenizers:
                with local_copy(model, storage if is_url(model) else None) as local:
                    tokenizers[model] = PieceRenderer(Tokenizer.load(local))
            pieces = tokenizers[model]
            pieces.tokenizer.restore_named_specials(manifest.tokenizer.get("special_ids") or {})
            check_build_tokenizer(pieces.tokenizer, manifest, objective_dir, model)
            rows = read_rows(manifest, objective_dir, options.side, options.num_examples, storage)
            render = RENDERERS[manifest.objective]
            for n, row in enumerate(rows, 1):
                lines.append(f"  -- {options.side} example {n} of {len(rows)} "
                             f"({len(row['input_ids'])} input tokens)")
                lines += render(row, pieces, options.width, options.max_tokens)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def default_width() -> int:
    """The terminal's width clamped to 60..160 (100 when not a terminal and $COLUMNS is unset)."""
    columns = os.get_terminal_size().columns if os.isatty(1) else int(os.environ.get("COLUMNS", 100) or 100)
    return max(60, min(160, columns))
