"""Build warnings: data that wastes compute or will surprise a trainer, found in a manifest's counters.

The build records them in each objective's manifest (``warnings``) and logs them; ``lmpairs inspect``
and ``lmpairs report`` show them. They are plain functions of the counters and the build settings,
so an old manifest (without ``warnings``) gets the same list recomputed, and a test can craft each
one. Thresholds are module constants, named in each message.
"""
from __future__ import annotations

from typing import Any

PADDING_SHARE = 0.20
"""Warn when padding fills more than this share of the stored row slots."""
UNKNOWN_SHARE = 0.01
"""Warn when unknown pieces are more than this share of the tokens."""
REJECTED_SHARE = 0.5
"""Warn about a file when more than this share of its documents were rejected."""
ONE_DOCUMENT_BYTES = 1024
"""A text file of at least this size that gave one paragraph is probably not paragraph-separated."""

Warning = dict[str, Any]
"""``{"code", "message"}`` plus ``objective`` or ``file`` where the warning is about one."""


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def file_warnings(build: dict[str, Any], files: list[dict[str, Any]]) -> list[Warning]:
    """Per input file: one document under ``--documents paragraph``; most documents rejected."""
    found: list[Warning] = []
    for f in files:
        path, read = f.get("path", "?"), int(f.get("documents_read", 0))
        if (build.get("documents") == "paragraph" and f.get("format") == "text" and read == 1
                and int(f.get("bytes", 0)) >= ONE_DOCUMENT_BYTES):
            found.append({"code": "one_document_file", "file": path,
                          "message": f"{path}: the whole file ({int(f.get('bytes', 0)):,} bytes) became one document "
                                     "under --documents paragraph (it has no blank lines); pass --documents line "
                                     "(one document per line) or --documents file if that is what you meant."})
        rejected = sum(int(v) for v in f.get("rejected", {}).values())
        if read and _share(rejected, read) > REJECTED_SHARE:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(f.get("rejected", {}).items()))
            found.append({"code": "mostly_rejected", "file": path,
                          "message": f"{path}: {rejected} of {read} documents rejected ({reasons}); check "
                                     "--input-format, --text-field and --max-document-bytes for this file."})
    return found


def objective_warnings(objective: str, build: dict[str, Any], counters: dict[str, Any]) -> list[Warning]:
    """Per objective: an empty validation split, too much padding."""
    found: list[Warning] = []
    fraction = float(build.get("validation_fraction", 0) or 0)
    if fraction > 0 and counters.get("examples", {}).get("validation", 0) == 0:
        found.append({"code": "empty_validation", "objective": objective,
                      "message": f"{objective}: the validation split is empty ({counters.get('documents_used', 0)} "
                                 f"documents at --validation-fraction {fraction}); raise --validation-fraction or "
                                 "add documents, or pass --validation-fraction 0 to build no validation split."})
    padding, slots = int(counters.get("padding_tokens", 0)), int(counters.get("slots", 0))
    if _share(padding, slots) > PADDING_SHARE:
        found.append({"code": "padding", "objective": objective,
                      "message": f"{objective}: padding fills {_share(padding, slots):.0%} of the row slots "
                                 f"({padding:,} of {slots:,}, above {PADDING_SHARE:.0%}); lower --seq-len toward "
                                 "the document lengths, or pack more documents per row."})
    return found


def token_warnings(counters: dict[str, Any]) -> list[Warning]:
    """Unknown pieces above :data:`UNKNOWN_SHARE` of the tokens."""
    unknown, tokens = int(counters.get("unknown_tokens", 0)), int(counters.get("tokens", 0))
    if _share(unknown, tokens) <= UNKNOWN_SHARE:
        return []
    return [{"code": "unknown_pieces",
             "message": f"unknown pieces are {_share(unknown, tokens):.1%} of the tokens ({unknown:,} of {tokens:,}, "
                        f"above {UNKNOWN_SHARE:.0%}): the tokenizer does not cover this text; train one on it "
                        "(`lmpairs train-tokenizer`, --byte-fallback) or use a tokenizer made for its language."}]


def build_warnings(objective: str, build: dict[str, Any], counters: dict[str, Any]) -> list[Warning]:
    """Every warning of one objective's manifest: the inputs' (shared by all objectives), then its own."""
    return (file_warnings(build, counters.get("files", [])) + token_warnings(counters)
            + objective_warnings(objective, build, counters))
