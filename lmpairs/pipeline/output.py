"""Prepare the output directory before the job starts: empty, resumable, or replaced on request.

``OUT`` must be empty unless ``--overwrite``. One exception: what an interrupted build leaves
(its ``_lmpairs_tmp`` directory, and objective directories without a manifest) is removed and
the build goes on. A marker file written into the temp directory proves the output is writable
before any worker starts.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath

from apache_beam.io.filesystems import FileSystems

from lmpairs.config import OBJECTIVES
from lmpairs.pipeline.commit import TMP_NAME
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.paths import delete_tree, is_remote
from lmpairs.schemas import MANIFEST_NAME

logger = logging.getLogger(__name__)

MARKER = "BUILDING.json"


def list_output(output: str) -> list[str]:
    """Every file under ``output``, as sorted paths relative to it."""
    if not is_remote(output) and os.path.isfile(output):
        raise BuildError(f"--output {output}: is a file, expected a directory; choose another --output.")
    matched = FileSystems.match([posixpath.join(output, "**")])[0].metadata_list
    root = output.rstrip("/") + "/"
    return sorted(m.path[len(root):] for m in matched if m.path.startswith(root))


def is_resumable(files: list[str]) -> bool:
    """Only an interrupted lmpairs build is here: its temp dir, objective dirs, and no manifest."""
    tops = {f.split("/", 1)[0] for f in files}
    has_manifest = any(f.endswith("/" + MANIFEST_NAME) for f in files)
    return TMP_NAME in tops and tops <= {TMP_NAME, *OBJECTIVES} and not has_manifest


def remove_build(output: str, objectives: tuple[str, ...]) -> None:
    """Delete ``objectives``' directories (manifest first: the build is unfinished from then on) and the temp dir."""
    for name in objectives:
        manifest = posixpath.join(output, name, MANIFEST_NAME)
        if FileSystems.exists(manifest):
            FileSystems.delete([manifest])
    for name in (*objectives, TMP_NAME):
        delete_tree(posixpath.join(output, name))


def prepare_output(output: str, objectives: tuple[str, ...], *, overwrite: bool) -> None:
    """Check ``output`` is empty, resumable or ``overwrite`` is set; then mark it with the temp dir."""
    try:
        files = list_output(output)
    except OSError as err:
        raise BuildError(f"--output {output}: cannot list it ({err}); check the path and your access.") from err
    if files and overwrite:
        logger.info("--overwrite: removing %s of a previous build in %s", ",".join(objectives), output)
        remove_build(output, objectives)
    elif files and is_resumable(files):
        logger.info("%s: removing the temporary files of an interrupted build and starting again", output)
        remove_build(output, OBJECTIVES)
    elif files:
        shown = ", ".join(files[:3]) + (", …" if len(files) > 3 else "")
        raise BuildError(f"--output {output}: not empty ({len(files)} files: {shown}); pass --overwrite to "
                         f"replace {','.join(objectives)} there, or choose an empty --output.")
    write_marker(output, objectives)


def write_marker(output: str, objectives: tuple[str, ...]) -> None:
    """Create ``OUT/_lmpairs_tmp/BUILDING.json``: proves OUT is writable and marks a build in progress."""
    path = posixpath.join(output, TMP_NAME, MARKER)
    try:
        with FileSystems.create(path) as out:
            out.write(json.dumps({"objectives": list(objectives)}).encode())
    except OSError as err:
        raise BuildError(f"--output {output}: cannot write there ({err}); choose a writable --output or fix "
                         "its permissions.") from err
