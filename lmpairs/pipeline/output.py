"""Prepare the output directory: one build at a time, never touching what lmpairs did not write.

Rules: ``/`` and the home directory are refused outright. Without ``--overwrite`` OUT must be
empty apart from an interrupted build's leftovers (its marked temp dir and a stale lock), which
are removed. With ``--overwrite`` OUT may also hold lmpairs datasets (real directories with a
``manifest.json``): they stay in place until the new build commits and replaces the objectives it
builds. Anything else is refused before the build starts, naming the path, and never followed nor
deleted: a user's file or symlink at the top of OUT, a file inside a replaced objective directory
that its manifest does not name (``OUT/clm/README.md``), and any file in ``OUT/_lmpairs_tmp`` that
lmpairs did not write or that sits in a temp dir without lmpairs' marker (see
:mod:`lmpairs.pipeline.ownership`). The build lock is :mod:`lmpairs.pipeline.lock`.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath

from apache_beam.io.filesystems import FileSystems

from lmpairs.objectives import objective_names
from lmpairs.pipeline.commit import JOURNAL, TMP_NAME, apply_commit, read_journal
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.lock import (  # noqa: F401  (re-exported: the lock's public names)
    HEARTBEAT_SECONDS,
    LOCK_NAME,
    SETTLE_SECONDS,
    STALE_SECONDS,
    OutputLock,
    unreachable_output,
)
from lmpairs.pipeline.ownership import (
    MADE_BY,
    MARKER,
    foreign_in_dataset,
    foreign_in_temp,
    is_partial,
    orphan_shards,
)
from lmpairs.pipeline.paths import delete_tree, is_remote, read_bytes
from lmpairs.schemas import MANIFEST_NAME

logger = logging.getLogger(__name__)


def check_output_path(output: str) -> None:
    """Refuse ``/``, the home directory and a path that is a file (on object stores: an object)."""
    if is_remote(output):
        path = output.rstrip("/")
        try:
            is_object = path.count("/") > 2 and FileSystems.exists(path)
        except OSError as err:
            raise unreachable_output(output, err) from err
        if is_object:
            raise BuildError(f"--output {output}: is an object (a file), expected a prefix (a directory); "
                             "choose another --output.")
        return
    real = os.path.realpath(output)
    home = os.path.realpath(os.path.expanduser("~"))
    if real == os.path.realpath("/") or real == home:
        raise BuildError(f"--output {output}: is {'/' if real == '/' else 'your home directory'}; lmpairs "
                         "writes a directory per objective there: choose a dedicated --output such as ./out.")
    if os.path.exists(output) and not os.path.isdir(output):
        raise BuildError(f"--output {output}: is a file, expected a directory; choose another --output.")


def is_lock_name(name: str) -> bool:
    return name == LOCK_NAME or name.startswith(LOCK_NAME + ".")  # the lock, a takeover marker, a staged lock


def top_entries(output: str) -> dict[str, str]:
    """Top-level entries of ``output`` (never recursing) -> ``lock``, ``tmp``, ``dataset`` or ``foreign``."""
    if is_remote(output):
        return _remote_entries(output)
    if not os.path.isdir(output):
        return {}
    kinds = {}
    for entry in sorted(os.scandir(output), key=lambda e: e.name):
        if is_lock_name(entry.name) and entry.is_file(follow_symlinks=False):
            kinds[entry.name] = "lock"
        elif entry.name == TMP_NAME and entry.is_dir(follow_symlinks=False):
            kinds[entry.name] = "tmp"
        elif (entry.name in objective_names() and entry.is_dir(follow_symlinks=False)
              and os.path.isfile(os.path.join(entry.path, MANIFEST_NAME))
              and not os.path.islink(os.path.join(entry.path, MANIFEST_NAME))):
            kinds[entry.name] = "dataset"
        else:
            kinds[entry.name] = "symlink" if entry.is_symlink() else "foreign"
    return kinds


def _remote_entries(output: str) -> dict[str, str]:
    try:
        matched = FileSystems.match([posixpath.join(output, "**")])[0].metadata_list
    except OSError as err:
        raise unreachable_output(output, err) from err
    root = output.rstrip("/") + "/"
    files = [m.path[len(root):] for m in matched if m.path.startswith(root)]
    kinds = {}
    for name in sorted({f.split("/", 1)[0] for f in files}):
        if is_lock_name(name):
            kinds[name] = "lock"
        elif name == TMP_NAME:
            kinds[name] = "tmp"
        elif name in objective_names() and f"{name}/{MANIFEST_NAME}" in files:
            kinds[name] = "dataset"
        elif name in objective_names() and is_partial(posixpath.join(output, name)):
            kinds[name] = "partial"  # in-place shards of a build that did not commit: lmpairs' own leftovers
        else:
            kinds[name] = "foreign"
    return kinds


def finish_interrupted_commit(output: str) -> dict | None:
    """Complete a commit that an earlier build decided but did not finish; return its journal."""
    journal = read_journal(output)
    if journal is None:
        return None
    paths = apply_commit(output)
    logger.info("%s: finished the commit of an interrupted build (%s)", output, ", ".join(paths))
    return journal


def shown(paths: list[str], limit: int = 3) -> str:
    return ", ".join(paths[:limit]) + (f", … ({len(paths)} in all)" if len(paths) > limit else "")


def check_temp_dir(output: str) -> None:
    """Refuse a temp dir holding anything lmpairs did not write there (or without its marker), naming it."""
    root = posixpath.join(output, TMP_NAME)
    foreign = foreign_in_temp(root)
    if foreign:
        raise BuildError(f"--output {output}: {TMP_NAME} holds files lmpairs did not write there: "
                         f"{shown([posixpath.join(TMP_NAME, f) for f in foreign])}; lmpairs deletes only its own "
                         f"temporary files: move those away (or delete {root} if it is an lmpairs leftover), "
                         "or choose another --output.")


def check_output(output: str, objectives: tuple[str, ...], *, overwrite: bool) -> dict[str, str]:
    """Check ``output`` per the module rules without writing anything; return its top entries' kinds."""
    check_output_path(output)
    kinds = top_entries(output)
    others = {name: kind for name, kind in kinds.items() if kind not in ("lock", "tmp", "partial")}
    if others and not overwrite:
        raise BuildError(f"--output {output}: not empty ({len(others)} entries: {shown(list(others))}); pass "
                         f"--overwrite to replace {','.join(objectives)} there, or choose an empty --output.")
    foreign = [name for name, kind in others.items() if kind != "dataset"]
    if foreign:
        listed = [f"{n} ({'a symlink' if others[n] == 'symlink' else 'not an lmpairs dataset'})" for n in foreign]
        raise BuildError(f"--output {output}: holds entries lmpairs did not write: {shown(listed)}; --overwrite only "
                         "replaces lmpairs datasets (objective directories with a manifest.json): choose an "
                         "empty --output or move those away yourself.")
    for name in objectives:
        if others.get(name) == "dataset":
            strays = foreign_in_dataset(posixpath.join(output, name))
            if strays:
                raise BuildError(f"--output {output}: {name}/ holds files its manifest does not name: "
                                 f"{shown([posixpath.join(name, f) for f in strays])}; --overwrite replaces "
                                 f"only what lmpairs wrote: move those out of {posixpath.join(output, name)} "
                                 "first, or choose another --output.")
    if "tmp" in kinds.values():
        check_temp_dir(output)
    return kinds


def prepare_output(output: str, objectives: tuple[str, ...], *, overwrite: bool, key: str | None = None,
                   restart: bool = False) -> bool:
    """Check ``output`` (the caller holds the lock), write the marker; return whether the temp dir of an
    interrupted run of the same build (fingerprint ``key``) is kept for reuse (otherwise it is cleared)."""
    kinds = check_output(output, objectives, overwrite=overwrite)
    resumed = False
    if "tmp" in kinds.values():
        resumed = key is not None and not restart and marker_key(output) == key
        if not resumed:
            logger.info("%s: removing the temporary files of an interrupted build%s", output,
                        " (--restart)" if restart else "")
            delete_tree(posixpath.join(output, TMP_NAME))
    replaced = [n for n in objectives if kinds.get(n) == "dataset"]
    if replaced:
        logger.info("--overwrite: %s in %s will be replaced when this build commits", ",".join(replaced), output)
    write_marker(output, objectives, key)
    return resumed


def marker_key(output: str) -> str | None:
    """The build fingerprint in the temp dir's marker (None: none, or an earlier lmpairs' marker)."""
    try:
        marker = json.loads(read_bytes(posixpath.join(output, TMP_NAME, MARKER)).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return marker.get("build_key") if isinstance(marker, dict) else None


def write_marker(output: str, objectives: tuple[str, ...], key: str | None = None) -> None:
    """Create ``OUT/_lmpairs_tmp/BUILDING.json``: proves OUT is writable and that lmpairs made the temp dir."""
    path = posixpath.join(output, TMP_NAME, MARKER)
    try:
        if not is_remote(output):
            os.makedirs(posixpath.join(output, TMP_NAME), exist_ok=True)
        with FileSystems.create(path) as out:
            marker = {"made_by": MADE_BY, "objectives": list(objectives)}
            out.write(json.dumps(dict(marker, build_key=key) if key else marker).encode())
    except OSError as err:
        raise BuildError(f"--output {output}: cannot write there ({err}); choose a writable --output or fix "
                         "its permissions.") from err


def discard_temp(output: str, objectives: tuple[str, ...] = ()) -> None:
    """Remove the temp dir after a failed build, unless its commit was already decided (a journal); on
    object stores also the shards it wrote in place that no manifest names."""
    root = posixpath.join(output, TMP_NAME)
    try:
        if FileSystems.exists(posixpath.join(root, JOURNAL)):
            return
        delete_tree(root)
        if is_remote(output):
            for name in objectives:
                orphans = orphan_shards(posixpath.join(output, name))
                if orphans:
                    FileSystems.delete(orphans)
    except OSError as err:
        logger.warning("%s: could not remove the temporary files (%s)", root, err)
