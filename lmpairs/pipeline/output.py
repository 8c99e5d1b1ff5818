"""Prepare the output directory: one build at a time, never touching what lmpairs did not write.

Rules: ``/`` and the home directory are refused outright. Without ``--overwrite`` OUT
must be empty apart from an interrupted build's leftovers (its temp dir and a stale lock), which
are removed. With ``--overwrite`` OUT may also hold lmpairs datasets (real directories with a
``manifest.json``): they stay in place until the new build commits and replaces the objectives it
builds. Anything else (a user's file, a symlink, a directory without a manifest) is refused, never
followed, never deleted. A lock file with pid, host and start time makes builds exclusive; a lock
whose process is gone, or that has not been refreshed for :data:`STALE_SECONDS`, is taken over.

Object stores (``s3://``, ``gs://``) have no symlinks and no directories (a "directory" is a key
prefix; a dataset is a prefix holding ``manifest.json``), and Beam's FileSystems offer no atomic
create-if-absent. There the lock is a lease: a build refuses a lock object refreshed within
:data:`STALE_SECONDS` (or whose process on this host is gone: taken over), writes its own with a
random token, waits :data:`SETTLE_SECONDS` and reads it back; if another build's token is there,
the later writer won and this build stops. Two builds can both proceed only if one takes longer
than ``SETTLE_SECONDS`` between finding no lock and writing its own (a stalled process); so run one
build per output, as locally. The lock is refreshed every :data:`HEARTBEAT_SECONDS` (its update
time is the age) and deleted at the end if it is still this build's.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import socket
import threading
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from lmpairs.objectives import objective_names
from lmpairs.pipeline.commit import JOURNAL, TMP_NAME, apply_commit, read_journal
from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.paths import delete_tree, is_remote, read_bytes, write_bytes
from lmpairs.schemas import MANIFEST_NAME

logger = logging.getLogger(__name__)

MARKER = "BUILDING.json"
LOCK_NAME = "_lmpairs_lock.json"
STALE_SECONDS = 600.0
"""A lock not refreshed for this long belongs to a dead build (a live one refreshes it every minute)."""
HEARTBEAT_SECONDS = 60.0
SETTLE_SECONDS = 2.0
"""Object stores: the wait between writing the lock and reading it back (see the module docstring)."""


def unreachable_output(output: str, err: BaseException) -> BuildError:
    detail = " ".join(str(err).split())[:300]
    return BuildError(f"--output {output}: cannot reach it ({detail}); check the URL and the storage flags "
                      "(--s3_endpoint_url, --s3_access_key_id, --s3_secret_access_key, --s3_region_name for "
                      "S3-compatible stores; --project and Google credentials for gs://).")


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


def top_entries(output: str) -> dict[str, str]:
    """Top-level entries of ``output`` (never recursing) -> ``lock``, ``tmp``, ``dataset`` or ``foreign``."""
    if is_remote(output):
        return _remote_entries(output)
    if not os.path.isdir(output):
        return {}
    kinds = {}
    for entry in sorted(os.scandir(output), key=lambda e: e.name):
        if entry.name == LOCK_NAME and entry.is_file(follow_symlinks=False):
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
        if name == LOCK_NAME:
            kinds[name] = "lock"
        elif name == TMP_NAME:
            kinds[name] = "tmp"
        elif name in objective_names() and f"{name}/{MANIFEST_NAME}" in files:
            kinds[name] = "dataset"
        else:
            kinds[name] = "foreign"
    return kinds


class OutputLock:
    """``OUT/_lmpairs_lock.json``, created exclusively; refreshed by a heartbeat thread while held."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.path = posixpath.join(output, LOCK_NAME)
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> OutputLock:
        if is_remote(self.output):
            return self._acquire_lease()
        try:
            os.makedirs(self.output, exist_ok=True)
        except OSError as err:
            raise BuildError(f"--output {self.output}: cannot write there ({err}); choose a writable --output "
                             "or fix its permissions.") from err
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None:
                    raise BuildError(
                        f"--output {self.output}: another lmpairs build is writing there (pid {holder.get('pid')} "
                        f"on {holder.get('host')}, started {holder.get('started')}); wait for it to finish or "
                        f"choose another --output. If that build is gone, delete {self.path}.") from None
                logger.info("%s: taking over the stale lock of a build that is gone", self.output)
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            except OSError as err:
                raise BuildError(f"--output {self.output}: cannot write there ({err}); choose a writable --output "
                                 "or fix its permissions.") from err
            with os.fdopen(fd, "w") as out:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "token": self.token,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, out)
            self._thread = threading.Thread(target=self._beat, name="lmpairs-lock", daemon=True)
            self._thread.start()
            return self
        raise BuildError(f"--output {self.output}: could not take the build lock {self.path}; another build "
                         "keeps taking it: run one build at a time into one output.")

    def _payload(self) -> bytes:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "token": self.token,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()

    def _busy(self, holder: dict) -> BuildError:
        return BuildError(
            f"--output {self.output}: another lmpairs build is writing there (pid {holder.get('pid')} "
            f"on {holder.get('host')}, started {holder.get('started')}); wait for it to finish or "
            f"choose another --output. If that build is gone, delete {self.path}.")

    def _acquire_lease(self) -> OutputLock:
        """Object stores: write, settle, read back (see the module docstring)."""
        holder = self._remote_holder()
        if holder is not None:
            raise self._busy(holder)
        try:
            write_bytes(self.path, self._payload())
            time.sleep(SETTLE_SECONDS)
            winner = json.loads(read_bytes(self.path).decode("utf-8"))
        except (OSError, ValueError) as err:
            raise unreachable_output(self.output, err) from err
        if winner.get("token") != self.token:
            raise self._busy(winner)
        self._start_heartbeat()
        return self

    def _remote_holder(self) -> dict | None:
        """The live holder of an existing lock object, or None when there is none or it is stale."""
        try:
            found = [m for m in FileSystems.match([self.path])[0].metadata_list if m.path == self.path]
            if not found:
                return None
            age = time.time() - float(found[0].last_updated_in_seconds or 0)
            holder = json.loads(read_bytes(self.path).decode("utf-8"))
        except ValueError:
            holder = {"pid": "?", "host": "?", "started": "?"}
        except OSError as err:
            raise unreachable_output(self.output, err) from err
        if holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid")):
            logger.info("%s: taking over the lock of a build that is gone", self.output)
            return None
        if age >= STALE_SECONDS:
            logger.info("%s: taking over a lock not refreshed for %.0f s", self.output, age)
            return None
        return holder

    def _start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="lmpairs-lock", daemon=True)
        self._thread.start()

    def _holder(self) -> dict | None:
        """The live holder of an existing lock, or None when it is stale."""
        try:
            with open(self.path) as f:
                holder = json.load(f)
            age = time.time() - os.path.getmtime(self.path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"pid": "?", "host": "?", "started": "?"} if self._fresh() else None
        if holder.get("host") == socket.gethostname() and not _pid_alive(holder.get("pid")):
            return None
        return holder if age < STALE_SECONDS else None

    def _fresh(self) -> bool:
        try:
            return time.time() - os.path.getmtime(self.path) < STALE_SECONDS
        except OSError:
            return False

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                if not is_remote(self.output):
                    os.utime(self.path)
                elif self._mine():
                    write_bytes(self.path, self._payload())  # a new object: its update time is the heartbeat
                else:
                    return
            except OSError:
                return

    def _mine(self) -> bool:
        try:
            return json.loads(read_bytes(self.path).decode("utf-8")).get("token") == self.token
        except (OSError, ValueError):
            return False

    def release(self) -> None:
        self._stop.set()
        if is_remote(self.output):
            try:
                if self._mine():
                    FileSystems.delete([self.path])
            except OSError as err:
                logger.warning("%s: could not delete the build lock (%s); delete it yourself", self.path, err)
            return
        try:
            with open(self.path) as f:
                mine = json.load(f).get("token") == self.token
        except (OSError, ValueError):
            return
        if mine:
            os.remove(self.path)


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True


def finish_interrupted_commit(output: str) -> dict | None:
    """Complete a commit that an earlier build decided but did not finish; return its journal."""
    journal = read_journal(output)
    if journal is None:
        return None
    paths = apply_commit(output)
    logger.info("%s: finished the commit of an interrupted build (%s)", output, ", ".join(paths))
    return journal


def prepare_output(output: str, objectives: tuple[str, ...], *, overwrite: bool) -> None:
    """Check ``output`` per the module rules (the caller holds the lock), clear leftovers, write the marker."""
    check_output_path(output)
    kinds = top_entries(output)
    others = {name: kind for name, kind in kinds.items() if kind not in ("lock", "tmp")}
    if others and not overwrite:
        shown = ", ".join(list(others)[:3]) + (", …" if len(others) > 3 else "")
        raise BuildError(f"--output {output}: not empty ({len(others)} entries: {shown}); pass --overwrite to "
                         f"replace {','.join(objectives)} there, or choose an empty --output.")
    foreign = [name for name, kind in others.items() if kind != "dataset"]
    if foreign:
        shown = ", ".join(f"{n} ({'a symlink' if others[n] == 'symlink' else 'not an lmpairs dataset'})"
                          for n in foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise BuildError(f"--output {output}: holds entries lmpairs did not write: {shown}; --overwrite only "
                         "replaces lmpairs datasets (objective directories with a manifest.json): choose an "
                         "empty --output or move those away yourself.")
    if "tmp" in kinds.values():
        logger.info("%s: removing the temporary files of an interrupted build", output)
        delete_tree(posixpath.join(output, TMP_NAME))
    replaced = [n for n in objectives if others.get(n) == "dataset"]
    if replaced:
        logger.info("--overwrite: %s in %s will be replaced when this build commits", ",".join(replaced), output)
    write_marker(output, objectives)


def write_marker(output: str, objectives: tuple[str, ...]) -> None:
    """Create ``OUT/_lmpairs_tmp/BUILDING.json``: proves OUT is writable and marks a build in progress."""
    path = posixpath.join(output, TMP_NAME, MARKER)
    try:
        if not is_remote(output):
            os.makedirs(posixpath.join(output, TMP_NAME), exist_ok=True)
        with FileSystems.create(path) as out:
            out.write(json.dumps({"objectives": list(objectives)}).encode())
    except OSError as err:
        raise BuildError(f"--output {output}: cannot write there ({err}); choose a writable --output or fix "
                         "its permissions.") from err


def discard_temp(output: str) -> None:
    """Remove the temp dir after a failed build, unless its commit was already decided (a journal)."""
    root = posixpath.join(output, TMP_NAME)
    try:
        if FileSystems.exists(posixpath.join(root, JOURNAL)):
            return
        delete_tree(root)
    except OSError as err:
        logger.warning("%s: could not remove the temporary files (%s)", root, err)
