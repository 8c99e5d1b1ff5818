"""The build lock ``OUT/_lmpairs_lock.json``: one build per output, taken over atomically when stale.

Local disks: the lock is created exclusively (``O_CREAT | O_EXCL``) and holds pid, host, start
time and a random token; a heartbeat refreshes its mtime every :data:`HEARTBEAT_SECONDS`. It is
stale when its process on this host is gone or it has not been refreshed for :data:`STALE_SECONDS`.
Taking over a stale lock must not be read -> remove -> create (two builds could both remove the
stale file, the second removing the first one's fresh lock): the taker first creates, exclusively,
``_lmpairs_lock.json.takeover-<K>`` where ``K`` identifies the stale lock (its token). Only that
marker's creator may remove a lock whose key is ``K``; it re-reads the lock under the marker and
removes it only if the key is still ``K``. Keys are never reused, so a slow process that creates
the marker after the takeover finds another key and gives up. The taker then competes for the
lock by exclusive create like any new build: exactly one build wins; the others read the winner
and stop with its pid and host. Release uses the same marker, so it never removes another's lock.

Object stores have no exclusive create through Beam's FileSystems: there the lock is a lease. A
build refuses a lock object refreshed within :data:`STALE_SECONDS` (one whose process on this
host is gone is taken over), writes its own with a random token, waits :data:`SETTLE_SECONDS` and
reads it back; if another build's token is there, that build won and this one stops.

Before a build publishes, :func:`check_holder` re-reads the lock: a build that lost its lock (it
stalled past :data:`STALE_SECONDS` and another took over) publishes nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import socket
import threading
import time
import uuid

from apache_beam.io.filesystems import FileSystems

from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.paths import is_remote, read_bytes, write_bytes

logger = logging.getLogger(__name__)

LOCK_NAME = "_lmpairs_lock.json"
TAKEOVER = ".takeover-"
"""``LOCK_NAME + TAKEOVER + key``: the marker whose exclusive creation entitles one build to remove a stale lock."""
STALE_SECONDS = 600.0
"""A lock not refreshed for this long belongs to a dead build (a live one refreshes it every minute)."""
HEARTBEAT_SECONDS = 60.0
SETTLE_SECONDS = 2.0
"""Object stores: the wait between writing the lock and reading it back (see the module docstring)."""
CONTEND_SECONDS = 10.0
"""How long a build keeps contending for a lock that other builds are taking over at the same time."""


class LockLost(BuildError):
    """The build no longer holds the output lock (another build took it over); nothing was published."""


def unreachable_output(output: str, err: BaseException) -> BuildError:
    detail = " ".join(str(err).split())[:300]
    return BuildError(f"--output {output}: cannot reach it ({detail}); check the URL and the storage flags "
                      "(--s3_endpoint_url, --s3_access_key_id, --s3_secret_access_key, --s3_region_name for "
                      "S3-compatible stores; --project and Google credentials for gs://).")


def parse_holder(data: bytes) -> dict:
    """A lock's content as a dict with string pid/host/started/token; anything malformed gives '?' fields."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raw = None
    raw = raw if isinstance(raw, dict) else {}
    return {k: str(raw[k]) if isinstance(raw.get(k), (str, int)) and not isinstance(raw.get(k), bool) else "?"
            for k in ("pid", "host", "started", "token")}


def describe(holder: dict) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"


def pid_alive(pid: object) -> bool:
    """Whether process ``pid`` exists on this host; a pid no process can have (huge, negative) is dead."""
    try:
        number = int(str(pid))
    except ValueError:
        return True  # unknown: do not take over
    if number <= 0 or number > 2**22:  # Linux's pid_max limit; 0 and negatives address process groups
        return False
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


class OutputLock:
    """``OUT/_lmpairs_lock.json`` (see the module docstring); refreshed by a heartbeat thread while held."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.path = posixpath.join(output, LOCK_NAME)
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _payload(self) -> bytes:
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "token": self.token,
                           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()

    def _busy(self, holder: dict) -> BuildError:
        return BuildError(f"--output {self.output}: another lmpairs build is writing there ({describe(holder)}); "
                          f"wait for it to finish or choose another --output. If that build is gone, delete "
                          f"{self.path}.")

    def acquire(self) -> OutputLock:
        if is_remote(self.output):
            return self._acquire_lease()
        try:
            os.makedirs(self.output, exist_ok=True)
        except OSError as err:
            raise BuildError(f"--output {self.output}: cannot write there ({err}); choose a writable --output "
                             "or fix its permissions.") from err
        deadline = time.monotonic() + CONTEND_SECONDS
        while time.monotonic() < deadline:
            if self._create():
                self._start_heartbeat()
                return self
            found = self._read_local()
            if found is None:
                continue  # released in between: try again
            holder, key, age = found
            if _live(holder, age):
                raise self._busy(holder)
            logger.info("%s: taking over the stale lock of a build that is gone (%s)", self.output, describe(holder))
            if not self._remove_if(key, stale=True):
                time.sleep(0.01)  # another build is taking it over: its lock appears in a moment
        raise BuildError(f"--output {self.output}: could not take the build lock {self.path}; other builds keep "
                         "taking it: run one build at a time into one output.")

    def _create(self) -> bool:
        """Create the lock exclusively, content included: a hard link of a complete file (readers never see
        an empty lock); where the filesystem has no hard links, ``O_EXCL`` and a write."""
        staged = f"{self.path}.{self.token}.part"
        try:
            with open(staged, "wb") as out:
                out.write(self._payload())
            try:
                os.link(staged, self.path)
                return True
            except FileExistsError:
                return False
            except OSError:
                pass  # no hard links here
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as out:
                out.write(self._payload())
            return True
        except OSError as err:
            raise BuildError(f"--output {self.output}: cannot write there ({err}); choose a writable --output "
                             "or fix its permissions.") from err
        finally:
            try:
                os.remove(staged)
            except OSError:
                pass

    def _read_local(self) -> tuple[dict, str, float] | None:
        """(holder, key, age in seconds) of the lock file, or None when there is none."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
                st = os.fstat(f.fileno())
        except FileNotFoundError:
            return None
        except OSError as err:
            raise BuildError(f"{self.path}: cannot read the build lock ({err}); fix its permissions or delete "
                             "it if no build is running.") from err
        holder = parse_holder(data)
        return holder, lock_key(holder, data, st.st_ino), time.time() - st.st_mtime

    def _remove_if(self, key: str, *, stale: bool) -> bool:
        """Remove the lock if its key is still ``key``, holding the takeover marker of ``key`` meanwhile."""
        marker = self.path + TAKEOVER + key
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if stale and _age(marker) > STALE_SECONDS:
                raise BuildError(f"--output {self.output}: a takeover of the stale lock {self.path} was interrupted; "
                                 f"if no build is running there, delete {self.path} and {marker}.") from None
            return False  # another build is taking it over right now
        except OSError as err:
            raise BuildError(f"--output {self.output}: cannot write there ({err}); choose a writable --output "
                             "or fix its permissions.") from err
        try:
            os.close(fd)
            found = self._read_local()
            if found is None or found[1] != key:
                return False
            os.remove(self.path)
            return True
        finally:
            try:
                os.remove(marker)
            except FileNotFoundError:
                pass

    def holds(self) -> bool:
        """Whether the lock at ``self.path`` is still this build's."""
        return check_token(self.output, self.token) is None

    def _acquire_lease(self) -> OutputLock:
        """Object stores: write, settle, read back (see the module docstring)."""
        holder = self._remote_holder()
        if holder is not None:
            raise self._busy(holder)
        try:
            write_bytes(self.path, self._payload())
            time.sleep(SETTLE_SECONDS)
            winner = parse_holder(read_bytes(self.path))
        except OSError as err:
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
            holder = parse_holder(read_bytes(self.path))
        except OSError as err:
            raise unreachable_output(self.output, err) from err
        if not _live(holder, age):
            logger.info("%s: taking over the lock of a build that is gone (%s)", self.output, describe(holder))
            return None
        return holder

    def _start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="lmpairs-lock", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                if not self.holds():
                    logger.warning("%s: this build no longer holds the lock; it will not publish", self.path)
                    return
                if not is_remote(self.output):
                    os.utime(self.path)
                else:
                    write_bytes(self.path, self._payload())  # a new object: its update time is the heartbeat
            except (OSError, BuildError):
                return

    def release(self) -> None:
        self._stop.set()
        if is_remote(self.output):
            try:
                if self.holds():
                    FileSystems.delete([self.path])
            except Exception as err:  # noqa: BLE001 - Beam's S3ClientError is no OSError; a dead store is one line
                logger.warning("%s: could not delete the build lock (%s); delete it yourself", self.path,
                               " ".join(str(err).split())[:300])
            return
        try:
            self._remove_if(self.token, stale=False)
        except BuildError as err:
            logger.warning("%s: could not delete the build lock (%s); delete it yourself", self.path, err)


def lock_key(holder: dict, data: bytes, inode: int = 0) -> str:
    """What identifies one lock file for good: its token, or for a malformed one its inode and content."""
    token = holder.get("token", "?")
    if token != "?" and token.isalnum():
        return token
    return f"x{inode}-{hashlib.sha256(data).hexdigest()[:16]}"


def _live(holder: dict, age: float) -> bool:
    if holder.get("host") == socket.gethostname() and not pid_alive(holder.get("pid")):
        return False
    return age < STALE_SECONDS


def _age(path: str) -> float:
    try:
        return time.time() - os.path.getmtime(path)
    except OSError:
        return 0.0


def check_token(output: str, token: str) -> dict | None:
    """None when ``OUT``'s lock holds ``token``; else the holder found there (``{}`` for no lock)."""
    path = posixpath.join(output, LOCK_NAME)
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return {}
    except OSError as err:
        if not FileSystems.exists(path):
            return {}
        raise unreachable_output(output, err) from err
    holder = parse_holder(data)
    return None if holder.get("token") == token else holder


def check_holder(output: str, token: str | None) -> None:
    """Raise :class:`LockLost` unless this build (``token``) still holds ``output``'s lock (None: unchecked)."""
    if token is None:
        return
    holder = check_token(output, token)
    if holder is not None:
        who = describe(holder) if holder else "no lock at all"
        raise LockLost(f"--output {output}: this build lost the build lock (now {who}), so it published nothing; "
                       "run one build at a time into one output, then rerun this one.")
