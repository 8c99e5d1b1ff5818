"""Config fields declared once: ``setting(...)`` carries a field's help, limits and CLI shape, and
:func:`check_fields` type- and range-checks every field of a config from its annotation and limits.

The CLI builds its flags from the same declarations (``lmpairs.cli``), so a field added to a config
gets its flag, its ``--help`` line, its type check and its bounds without another line elsewhere.
Every number must be finite: ``inf`` and ``nan`` pass a plain ``> 0`` test and fail much later.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lmpairs.errors import UserError


@dataclass(frozen=True)
class Limits:
    """A closed or half-open range for a number: ``low <= x <= high``; ``*_open`` makes that side strict."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return low_ok and high_ok

    def describe(self, symbol: str = "x") -> str:
        """``"2 <= N <= 1,048,576"``, ``"0 < X <= 1"`` or ``"X >= 1"``."""
        text = symbol
        if self.low is not None:
            text = f"{_number(self.low)} {'<' if self.low_open else '<='} {text}"
        if self.high is not None:
            text = f"{text} {'<' if self.high_open else '<='} {_number(self.high)}"
        return text


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def setting(default: Any = dataclasses.MISSING, help: str = "", *, limits: Limits | None = None,
            **cli: Any) -> Any:
    """A dataclass field with its help text and limits; ``cli`` shapes its flag (``flag``, ``metavar``,
    ``nargs``, ``group`` for mutually exclusive flags, ``hint`` for the fix an error suggests)."""
    return dataclasses.field(default=default, metadata={"help": help, "limits": limits, **cli})


def field_type(cls: type, name: str) -> tuple[Any, bool]:
    """``(type, optional)`` of a field: ``float | None`` gives ``(float, True)``."""
    hint = _hints(cls)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), len(rest) < len(typing.get_args(hint))
    return hint, False


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def describe_field(cls: type, field: dataclasses.Field) -> str:
    """The help text, the limits and the default of one field, as ``--help`` and the docs show them."""
    base, _ = field_type(cls, field.name)
    notes = []
    limits = field.metadata.get("limits")
    if limits is not None:
        notes.append(limits.describe("N" if base is int else "X"))
    if field.default is not dataclasses.MISSING:
        default = field.default
        shown = (",".join(map(str, default)) if isinstance(default, tuple) else "unset" if default is None
                 else str(default).lower() if isinstance(default, bool)
                 else f"{default:,}" if isinstance(default, int) else default)
        notes.append(f"default: {shown}")
    return field.metadata.get("help", "") + (f" ({'; '.join(notes)})" if notes else "")


def _expected(base: Any, limits: Limits | None) -> str | None:
    """What a value of ``base`` must be, for the error message; None for types not checked here."""
    if base is bool:
        return "true or false"
    if base is int:
        return "an integer" + (f" with {limits.describe('N')}" if limits else "")
    if base is float:
        return "a finite number" + (f" with {limits.describe('X')}" if limits else "")
    if base is str:
        return "a string"
    if typing.get_origin(base) is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(base))
    if typing.get_origin(base) is tuple:
        return "a list or tuple of numbers" if typing.get_args(base)[:1] == (float,) else "a list or tuple of strings"
    return None


def _accepts(base: Any, value: Any, limits: Limits | None) -> bool:
    if base is bool:
        return isinstance(value, bool)
    if base in (int, float):
        numeric = isinstance(value, numbers.Integral) or (base is float and isinstance(value, numbers.Real))
        if isinstance(value, bool) or not numeric or (not isinstance(value, numbers.Integral)
                                                      and not math.isfinite(value)):
            return False  # (math.isfinite of a huge int overflows; every int is finite)
        return limits is None or value in limits
    if base is str:
        return isinstance(value, str)
    if typing.get_origin(base) is Literal:
        return isinstance(value, str) and value in typing.get_args(base)
    if typing.get_origin(base) is tuple:
        if typing.get_args(base)[:1] == (float,):
            return isinstance(value, tuple) and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                    and math.isfinite(v) for v in value)
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    return True


def check_fields(config: Any, owner: str, fix: Callable[[dataclasses.Field], str],
                 error: type[UserError] = UserError) -> None:
    """Raise ``error`` naming ``owner.field``, the value, what it must be and ``fix(field)``.

    Numbers become plain ``int``/``float`` (an int given for a float field, numpy scalars), so the
    manifest records one JSON type per field.
    """
    cls = type(config)
    for f in dataclasses.fields(config):
        base, optional = field_type(cls, f.name)
        value = getattr(config, f.name)
        limits = f.metadata.get("limits")
        expected = _expected(base, limits)
        if expected is None or (optional and value is None):
            continue
        if typing.get_origin(base) is tuple and isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            value = tuple(value)  # any sequence (a list, a tuple) of strings; stored as a tuple
            object.__setattr__(config, f.name, value)
        if not _accepts(base, value, limits):
            unset = " (or unset)" if optional else ""
            raise error(f"{owner}.{f.name}={value!r}: must be {expected}{unset}; {fix(f)}.")
        if base in (int, float) and type(value) is not base:
            object.__setattr__(config, f.name, base(value))
