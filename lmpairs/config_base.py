"""The base of every config: frozen keyword-only dataclasses whose fields check themselves.

Every field is keyword-only and declared once with :func:`~lmpairs.fields.setting`: its help text
(``lmpairs build --help`` shows it), its limits and its default. ``__post_init__`` checks each
value's type and range (numbers must be finite) and the rules between fields; errors name the
field, what was given and how to fix it. ``to_dict``/``from_dict`` round-trip through the manifest.
Objective modules subclass :class:`Config` for their own config (``lmpairs.transforms.clm``), so
this module imports nothing of lmpairs but the field helpers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from lmpairs.errors import UserError
from lmpairs.fields import Limits, check_fields, setting


class ConfigError(UserError):
    """A configuration value is out of range; the message names the field and the fix."""


MAX_SEQ_LEN = 1 << 20
"""The longest sequence any objective takes (1,048,576 tokens): rows are int32 arrays whose lengths
and offsets must stay far from overflow, and MLM/T5 keep per-row work arrays of this size."""

FRACTION = Limits(0.0, 1.0)
SPAN_LENGTH = Limits(1.0, float(MAX_SEQ_LEN))


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def seq_len_setting(default: int, minimum: int, help: str) -> Any:
    return setting(default, help, limits=Limits(minimum, MAX_SEQ_LEN), hint=f"pass e.g. --seq-len {default}")


class Config:
    """Field checks on construction and to_dict/from_dict for flat or nested frozen dataclasses."""

    owner: ClassVar[str]
    """The prefix of this config's fields in messages (``mlm`` in ``mlm.mask_prob``)."""

    def __post_init__(self) -> None:
        check_fields(self, self.owner, self._fix, ConfigError)

    def _fix(self, f: dataclasses.Field) -> str:
        if "hint" in f.metadata:
            return f.metadata["hint"]
        value = f.default if f.default is not dataclasses.MISSING else "VALUE"
        return f"pass e.g. --set {self.owner}.{f.name}={json_value(value)}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Config):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def _nested_config(cls, key: str) -> type | None:
        """The config class of a nested field stored as a dict (none in a flat config)."""
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        check(not unknown, f"{cls.__name__}: unknown fields {unknown}; this manifest was written by a "
               "newer lmpairs, upgrade lmpairs to read it.")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            sub = cls._nested_config(key)
            if sub is not None and isinstance(value, dict):
                value = sub.from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)


def json_value(value: Any) -> str:
    """A value as ``--set`` reads it: ``true``, ``0.15``, plain strings unquoted."""
    return value if isinstance(value, str) else "true" if value is True else "false" if value is False else str(value)


FINAL_ROW = "what to do with the short last row of each input split: 'pad' it to full length or 'drop' it"


@dataclass(frozen=True, kw_only=True)
class FramedDocumentsConfig(Config):
    """The fields of objectives that frame each document ``[bos] ids [eos]`` and cut the packed
    documents into rows of ``seq_len`` tokens (CLM, prefix-LM). A subclass redeclares ``seq_len``
    with its own default and help; the field keeps its place, first."""

    seq_len: int = seq_len_setting(1024, 2, "tokens per row")
    add_bos: bool = setting(True, "start each document with the tokenizer's bos id")
    add_eos: bool = setting(True, "end each document with the tokenizer's eos id")
    final_row: Literal["pad", "drop"] = setting("pad", FINAL_ROW)
