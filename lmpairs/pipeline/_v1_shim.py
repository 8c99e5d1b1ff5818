"""TEMPORARY: the v2 reading API (TEAM.md) over the v1 readers, until R lands ``lmpairs.reading``.

Deleted once ``lmpairs.reading`` exists; only ``pipeline.api`` imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple



@dataclass(frozen=True)
class InputSplit:
    path: str
    key_prefix: str
    format: str
    compression: str
    start: int
    end: int
    file_bytes: int

    def describe(self) -> dict:
        return {"path": self.path, "key_prefix": self.key_prefix, "format": self.format,
                "compression": self.compression, "start": self.start, "end": self.end, "bytes": self.file_bytes}

    @property
    def name(self) -> str:
        return f"{self.key_prefix}[{self.start}:{self.end}]"


class Record(NamedTuple):
    key: str
    text: str | None
    reason: str | None


class UnreadableInput(Exception):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path, self.detail = path, detail


class SplitPlan(NamedTuple):
    splits: list
    rejected_files: list


def plan_splits(globs, *, input_format: str, split_bytes: int, files=None, exclude=()) -> SplitPlan:
    from lmpairs.pipeline.sources import expand_inputs

    found = expand_inputs(list(globs), input_format=input_format)
    return SplitPlan([InputSplit(f.path, f.key_prefix, f.format, f.compression, 0, f.num_bytes, f.num_bytes)
                      for f in found], [])


def read_split(split, *, documents: str, text_field: str, max_document_bytes: int, files=None) -> Iterator[Record]:
    from lmpairs.pipeline.compression import read_file_bytes
    from lmpairs.pipeline.formats import parse_records

    try:
        records = parse_records(read_file_bytes(split.path, split.compression), input_format=split.format,
                                documents=documents, text_field=text_field, max_document_bytes=max_document_bytes)
    except (OSError, ValueError) as err:
        raise UnreadableInput(split.path, str(err)) from err
    for index, text, reason in records:
        yield Record(f"{split.key_prefix}:{index}", text, reason)
