"""Old names kept one release: a keyword argument and a command-line flag, each with a warning.

One place for both so every renamed name (``split=`` -> ``side=``, ``seed=`` -> ``shuffle_seed=``,
``--split`` -> ``--side``, ``--documents`` -> ``--document-masking``) warns the same way: the old
name still works, says it goes in the next release, and names the new one.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any


def renamed(owner: str, old: str, old_value: Any, new: str, value: Any, default: Any, *, stacklevel: int = 3) -> Any:
    """``value``, or the deprecated keyword's ``old_value`` (with a DeprecationWarning) when given.

    ``stacklevel`` points the warning at the caller of ``owner`` (3: ``owner`` calls this directly).
    Passing both the old and the new name (the new one off its ``default``) is a TypeError.
    """
    if old_value is None:
        return value
    warnings.warn(f"{owner}({old}=...) is deprecated and goes in the next release; pass {new}= instead.",
                  DeprecationWarning, stacklevel=stacklevel)
    if value != default:
        raise TypeError(f"{owner}: pass {new}= only ({old}= is its deprecated name), not both.")
    return old_value


class DeprecatedFlag(argparse.Action):
    """An old flag name, hidden from ``--help``: sets the new flag's ``dest`` and says so on stderr."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        new = "--" + self.dest.replace("_", "-")
        print(f"{parser.prog}: warning: {option_string} is deprecated and goes in the next release; use {new}.",
              file=sys.stderr)
        setattr(namespace, self.dest, values)
