"""A total deadline on Beam's storage retries, so a dead object store ends a build with one line.

Beam's S3 and GCS clients retry each failed request with growing waits (5, 10, 20 … s, seven times:
about ten minutes per request), and botocore retries underneath. A build whose S3 server died kept
retrying for minutes, logging tracebacks. Beam offers no setting for this, but its retry decorator
looks up ``retry.FuzzedExponentialIntervals`` (the waits) each time a decorated request starts, so
:func:`install` swaps in a bounded version: the waits of one request add up to at most
``--io-deadline-s``, and once one request has used that up the storage is taken as gone: every later
request in this process fails at its first error instead of waiting again (the build then stops,
and its clean-up gives up at once rather than retrying for minutes). :func:`gave_up` tells the build
so it can report one line naming the error and the setting.

Installed in the driver and in every worker process (``BuildSplitFn.setup``); requests that succeed
are unaffected, and so is a store that recovers within the deadline.
"""
from __future__ import annotations

import logging
import re
import threading
import time

from apache_beam.utils import retry

from lmpairs.pipeline.errors import BuildError

DEFAULT_IO_DEADLINE_S = 60.0
"""Long enough to ride out a store's brief outage (Beam's first three waits: 5 + 10 + 20 s)."""

_ORIGINAL = getattr(retry.FuzzedExponentialIntervals, "_lmpairs_original", retry.FuzzedExponentialIntervals)
_state: dict = {"deadline": None, "gave_up": None}
_lock = threading.Lock()


class BoundedIntervals(_ORIGINAL):
    """Beam's retry waits with their sum capped at the deadline; none at all once storage gave up."""

    _lmpairs_original = _ORIGINAL

    def __init__(self, initial_delay_secs, num_retries, factor=2, fuzz=0.5, max_delay_secs=60 * 60,
                 stop_after_secs=None):
        deadline = _state["deadline"]
        if deadline is not None:
            stop_after_secs = deadline if stop_after_secs is None else min(stop_after_secs, deadline)
            if _state["gave_up"] is not None:
                num_retries = 0
        super().__init__(initial_delay_secs, num_retries, factor, fuzz, max_delay_secs, stop_after_secs)

    def __iter__(self):
        yield from super().__iter__()
        if _state["deadline"] is not None:  # the request's retries are used up: its error is final
            with _lock:
                if _state["gave_up"] is None:
                    _state["gave_up"] = time.time()


def install(deadline_s: float | None) -> None:
    """Bound Beam's retries in this process to ``deadline_s`` seconds per request (None: Beam's own)."""
    with _lock:
        _state["deadline"] = deadline_s
        if deadline_s is None:
            retry.FuzzedExponentialIntervals = _ORIGINAL
            return
        retry.FuzzedExponentialIntervals = BoundedIntervals
    log = logging.getLogger(retry.__name__)
    if log.getEffectiveLevel() > logging.INFO:  # each retry's warning carries a traceback: -v shows them
        log.setLevel(logging.ERROR)


def reset() -> None:
    """Forget a previous build's give-up (a new build in the same process starts trusting storage again)."""
    with _lock:
        _state["gave_up"] = None


def gave_up() -> bool:
    """Whether a storage request in this process used up its retry deadline."""
    return _state["gave_up"] is not None


def storage_gave_up(output: str, deadline_s: float, err: BaseException) -> BuildError:
    """The one line of a build whose storage stopped answering for ``--io-deadline-s``; its temp files stay
    (deleting them would wait on the same storage): the next build into the output removes or resumes them."""
    chain: list[BaseException] = []
    while err is not None and len(chain) < 10:
        chain.append(err)
        err = err.__cause__ or err.__context__
    found = [e for e in chain if not isinstance(e, StopIteration) and str(e).strip()] or chain
    lines = [line.strip() for line in str(found[-1]).splitlines() if line.strip()]  # runners wrap text tracebacks
    text = (lines[-1] if lines else type(found[-1]).__name__)[:300]
    text = re.sub(r"^\(['\"](.*)['\"], None\)$", r"\1", text)  # Beam's S3ClientError: (message, code)
    return BuildError(f"--output {output}: remote storage stopped answering ({text}); gave up after "
                      f"retrying for --io-deadline-s {deadline_s:g} s. Nothing was published; check the "
                      "endpoint and credentials, then rerun the same command (it resumes the finished splits).")
