"""The one base class of every error a user can fix: the CLI prints its message and exits 2.

Messages say what failed, where (file, shard, field), expected versus got, and the fix; code that
raises one never needs a traceback to be understood.
"""
from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input, config, files or environment; the message names the fix."""


class UsageError(UserError):
    """A command line the parser cannot accept (unknown or misspelled flag, missing or bad argument).

    ``prog`` is the command it belongs to (``lmpairs build``), so the CLI can point at its ``--help``.
    """

    def __init__(self, message: str, *, prog: str = "lmpairs") -> None:
        super().__init__(message)
        self.prog = prog


def one_line(err: BaseException | str) -> str:
    """An error's text on one line (Arrow, OS and argparse messages often span several)."""
    return " ".join(str(err).split())
