"""Errors a build reports before any work starts; the CLI prints their message and exits 2."""

from lmpairs.errors import UserError


class BuildError(UserError):
    """Bad input globs, output directory or runner options; the message names the path and the fix."""
