"""Two builds taking over one stale lock at the same instant: exactly one wins, 200 times in a row.

Two worker processes (forked once) meet at a barrier before each trial, then both call
``OutputLock.acquire()`` on a directory holding the lock of a dead build. The loser must get the
one-line "another lmpairs build is writing there (pid <winner's pid> …)", never a second lock.
"""
import json
import multiprocessing
import socket

import pytest

from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.lock import LOCK_NAME, OutputLock

pytestmark = pytest.mark.slow  # 400 aligned trials in two processes: about 6 s

TRIALS = 200


def contend(barrier, jobs, results):
    import os

    while True:
        path = jobs.get()
        if path is None:
            return
        barrier.wait()
        try:
            lock = OutputLock(path).acquire()
            results.put((os.getpid(), "won", lock.token))
        except BuildError as err:
            results.put((os.getpid(), "lost", str(err)))


@pytest.mark.parametrize("stale", ["dead_pid", "none"])
def test_exactly_one_of_two_aligned_acquisitions_wins(tmp_path, stale):
    ctx = multiprocessing.get_context("fork")
    barrier, jobs, results = ctx.Barrier(2), ctx.Queue(), ctx.Queue()
    workers = [ctx.Process(target=contend, args=(barrier, jobs, results), daemon=True) for _ in range(2)]
    for w in workers:
        w.start()
    dead = {"pid": 2**22 + 12345, "host": socket.gethostname(), "started": "then", "token": "dead"}
    try:
        for trial in range(TRIALS):
            out = tmp_path / str(trial)
            out.mkdir()
            if stale == "dead_pid":
                (out / LOCK_NAME).write_text(json.dumps(dead))
            jobs.put(str(out))
            jobs.put(str(out))
            got = sorted([results.get(timeout=30), results.get(timeout=30)], key=lambda r: r[1])
            assert [g[1] for g in got] == ["lost", "won"], (trial, got)
            (winner_pid, _, token), (_, _, message) = got[1], got[0]
            assert json.loads((out / LOCK_NAME).read_text())["token"] == token
            assert f"another lmpairs build is writing there (pid {winner_pid} on" in message, (trial, message)
            assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME], trial  # no takeover marker left
    finally:
        for _ in workers:
            jobs.put(None)
        for w in workers:
            w.join(timeout=10)
