"""Errors a build reports (bad setup before the job, or a failure the user can act on after it)."""
import errno
from collections.abc import Callable

from lmpairs.errors import UserError


class BuildError(UserError):
    """Bad input globs, output directory or runner options, or a failed job; the message names the fix."""


class OutOfSpace(BuildError):
    """The disk holding the output filled up; the temporary files were removed."""


def in_chain(err: BaseException | None, found: Callable[[BaseException], bool]) -> bool:
    """Whether ``found`` holds for ``err`` or an error it wraps (``__cause__``/``__context__``, ten deep):
    runners re-raise a worker's error wrapped, often as text."""
    for _ in range(10):
        if err is None:
            return False
        if found(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def is_out_of_space(err: BaseException | None) -> bool:
    """Whether ``err`` (or what it wraps) is a full disk: the one test, asked by a worker's write
    (:mod:`lmpairs.pipeline.splitjob`) and by the driver about the failed job (:mod:`lmpairs.pipeline.build`)."""
    return in_chain(err, lambda e: isinstance(e, OutOfSpace) or getattr(e, "errno", None) == errno.ENOSPC
                    or "No space left" in str(e) or "out of disk space" in str(e))


def is_interrupt(err: BaseException | None) -> bool:
    """Whether ``err`` is Ctrl-C, possibly re-raised by the runner as ``RuntimeError('KeyboardInterrupt …')``."""
    return in_chain(err, lambda e: isinstance(e, KeyboardInterrupt) or str(e).startswith("KeyboardInterrupt"))
