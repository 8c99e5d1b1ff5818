"""Errors a build reports (bad setup before the job, or a failure the user can act on after it)."""
import errno

from lmpairs.errors import UserError


class BuildError(UserError):
    """Bad input globs, output directory or runner options, or a failed job; the message names the fix."""


class OutOfSpace(BuildError):
    """The disk holding the output filled up; the temporary files were removed."""


def is_out_of_space(err: BaseException | None) -> bool:
    """Whether ``err`` (or what it wraps; runners re-raise workers' errors as text) is a full disk.

    The one test for it: a worker's write (:mod:`lmpairs.pipeline.splitjob`) and the driver's view of
    the failed job (:mod:`lmpairs.pipeline.build`) both ask here.
    """
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, OutOfSpace) or getattr(err, "errno", None) == errno.ENOSPC:
            return True
        text = str(err)
        if "No space left" in text or "out of disk space" in text:
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False
