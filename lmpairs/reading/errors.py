"""Errors of corpus reading: a user-fixable input problem, or one input split that cannot be read."""
from __future__ import annotations

from lmpairs.errors import UserError


class InputError(UserError):
    """An input glob matches nothing, cannot be listed, or two inputs clash; the message names the fix."""


class UnreadableInput(Exception):
    """One input split cannot be read to its end (truncated archive, I/O error, no text column...).

    Not a :class:`UserError`: the build goes on without the split, discards whatever the split had
    produced, and lists ``path`` and ``detail`` under ``files_rejected`` in the manifest.
    """

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail

    def __reduce__(self):  # picklable across Beam workers with both fields
        return type(self), (self.path, self.detail)
