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


class Differences(dict):
    """``{key: (saved, now)}`` for the entries two records disagree on; falsy when they agree."""

    labels: tuple[str, str] = ("saved", "now")

    @property
    def detail(self) -> str:
        """``"key: saved A, now B, ..."`` in key order, for one-line messages."""
        a, b = self.labels
        return ", ".join(f"{k}: {a} {x!r}, {b} {y!r}" for k, (x, y) in sorted(self.items()))


def differences(saved: dict, expected: dict, saved_label: str = "saved", now_label: str = "now") -> Differences:
    """The entries of ``expected`` that ``saved`` holds otherwise (the one fingerprint-differs check
    of loader states and trainer checkpoints)."""
    out = Differences({k: (saved.get(k), v) for k, v in expected.items() if saved.get(k) != v})
    out.labels = (saved_label, now_label)
    return out
