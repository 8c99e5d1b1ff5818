"""Errors a build reports (bad setup before the job, or a failure the user can act on after it)."""
from lmpairs.errors import UserError


class BuildError(UserError):
    """Bad input globs, output directory or runner options, or a failed job; the message names the fix."""


class OutOfSpace(BuildError):
    """The disk holding the output filled up; the temporary files were removed."""
