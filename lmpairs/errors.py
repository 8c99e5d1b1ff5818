"""The one base class of every error a user can fix: the CLI prints its message and exits 2.

Messages say what failed, where (file, shard, field), expected versus got, and the fix; code that
raises one never needs a traceback to be understood.
"""
from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input, config, files or environment; the message names the fix."""
