"""Build counters as pipeline data (deterministic, stored in the manifest) and as Beam metrics.

Each split's worker returns its counts inside its small result record; the commit adds them up,
so the sums do not depend on bundling, retries or worker count (unlike metrics, which a runner may
count twice on retries). The same numbers go to ``Metrics.counter("lmpairs", name)`` for live
monitoring on runners that report metrics.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np
from apache_beam.metrics import Metrics

from lmpairs.reading import READ_REJECTION_REASONS as _READ_REASONS
from lmpairs.schemas.rates import applied_rates

logger = logging.getLogger(__name__)

NAMESPACE = "lmpairs"
REJECTED_PREFIX = "documents_rejected."
MEASURED_PREFIX = "measured."
EXAMPLES_PREFIX = "examples."
LENGTH_PREFIX = "document_lengths_log2."
"""Documents whose token count lies in ``[2**k, 2**(k+1))``, per ``k``: the length histogram of the report."""
FILE_COUNTS = ("documents_read", "documents_used", "tokens", "unknown_tokens")
MAX_FILES = 1000
"""Per-file entries a manifest keeps (the warnings see them all): a 100,000-file build keeps its manifest small."""
REJECTION_REASONS = tuple(dict.fromkeys((*_READ_REASONS, "no_tokens", "unencodable")))
"""Every reason a single document is left out; the manifest counts each one (zeros included)."""


def report_metrics(counts: dict[str, int], prefix: str = "") -> None:
    """Add ``counts`` to Beam's metrics (once per split, not per element: an update costs tens of µs)."""
    for name, value in sorted(counts.items()):
        if value:
            Metrics.counter(NAMESPACE, prefix + name).inc(int(value))


def count_documents(counts: Counter, ids: np.ndarray, lengths: np.ndarray, unk_id: int | None) -> None:
    """Add a batch of tokenized documents (flat ``ids``, per-document ``lengths`` >= 1) to ``counts``:
    documents used, tokens, unknown pieces and the log2 length histogram (vectorized, one batch at a time)."""
    counts["documents_used"] += int(lengths.shape[0])
    counts["tokens"] += int(ids.shape[0])
    if unk_id is not None and ids.shape[0]:
        counts["unknown_tokens"] += int(np.count_nonzero(ids == unk_id))
    if lengths.shape[0]:
        buckets = np.bincount(np.floor(np.log2(np.maximum(lengths, 1))).astype(np.int64))
        for k in np.flatnonzero(buckets).tolist():
            counts[f"{LENGTH_PREFIX}{k}"] += int(buckets[k])


def length_histogram(documents: dict[str, int]) -> list[int]:
    """The summed ``document_lengths_log2.k`` counters as a list indexed by ``k`` (trailing zeros cut)."""
    found = {int(name[len(LENGTH_PREFIX):]): v for name, v in documents.items() if name.startswith(LENGTH_PREFIX)}
    return [found.get(k, 0) for k in range(max(found) + 1)] if found else []


def file_counts(results: list[dict]) -> list[dict[str, Any]]:
    """Per input file (its splits added up, sorted by path): documents read and used, tokens, unknown
    pieces and rejected documents by reason (non-zero ones), for the report and the build warnings."""
    files: dict[str, dict[str, Any]] = {}
    for result in results:
        if result.get("rejected"):
            continue  # left out as a whole: listed in files_rejected
        split = result["split"]
        entry = files.setdefault(split["path"], {"path": split["path"], "format": split.get("format", ""),
                                                 "bytes": split.get("file_bytes", 0), "rejected": Counter(),
                                                 **{name: 0 for name in FILE_COUNTS}})
        for name in FILE_COUNTS:
            entry[name] += result["counts"].get(name, 0)
        entry["rejected"].update(_strip(result["counts"], REJECTED_PREFIX))
    for entry in files.values():
        entry["rejected"] = {k: v for k, v in sorted(entry["rejected"].items()) if v}
    return [files[path] for path in sorted(files)]


def kept_files(files: list[dict[str, Any]], limit: int = MAX_FILES) -> tuple[list[dict[str, Any]], int]:
    """At most ``limit`` per-file entries for the manifest: the files with the most rejected documents,
    then the most tokens, back in path order; and how many were left out."""
    if len(files) <= limit:
        return files, 0
    ranked = sorted(files, key=lambda f: (-sum(f["rejected"].values()), -f["tokens"], f["path"]))[:limit]
    return sorted(ranked, key=lambda f: f["path"]), len(files) - limit


def _strip(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {name[len(prefix):]: value for name, value in counts.items() if name.startswith(prefix)}


def manifest_counters(name: str, documents: dict[str, int], objective: dict[str, int], splits: tuple[str, ...],
                      files_rejected: list[dict[str, str]], files: list[dict[str, Any]] | None = None
                      ) -> dict[str, Any]:
    """The ``counters`` of one objective's manifest, from the document and the objective sums.

    ``documents_read == documents_used + sum(documents_rejected.values())`` always holds.
    """
    rejected = _strip(documents, REJECTED_PREFIX)
    reasons = tuple(dict.fromkeys((*REJECTION_REASONS, *sorted(rejected))))
    measured = _strip(objective, MEASURED_PREFIX)
    return {
        "files_read": documents.get("files_read", 0),
        "files_rejected": files_rejected,
        "documents_read": documents.get("documents_read", 0),
        "documents_used": documents.get("documents_used", 0),
        "documents_rejected": {reason: rejected.get(reason, 0) for reason in reasons},
        "tokens": documents.get("tokens", 0),
        "unknown_tokens": documents.get("unknown_tokens", 0),
        "document_lengths_log2": length_histogram(documents),
        "files": files or [],
        "rows": objective.get("rows", 0),
        "examples": {split: objective.get(EXAMPLES_PREFIX + split, 0) for split in splits},
        "padding_tokens": objective.get("padding_tokens", 0),
        "slots": objective.get("slots", 0),
        "dropped_tokens": objective.get("dropped_tokens", 0),
        "measured": measured,
        "rates": applied_rates(name, measured),
    }


def log_warnings(manifests: dict) -> None:
    """Log each build warning once (the inputs' warnings are in every objective's manifest), on the
    machine that ran ``lmpairs build`` rather than on the worker that committed."""
    seen: set[str] = set()
    for manifest in manifests.values():
        for warning in manifest.warnings:
            if warning["message"] not in seen:
                seen.add(warning["message"])
                logger.warning("%s", warning["message"])


def build_summary(manifests: dict) -> str:
    """A few human lines about a finished build: documents, tokens, and per objective examples and rates."""
    if not manifests:
        return "nothing was built"
    c = next(iter(manifests.values())).counters
    rejected = ", ".join(f"{k} {v}" for k, v in c["documents_rejected"].items() if v) or "none"
    lines = [f"documents: {c['documents_read']} read, {c['documents_used']} used, rejected: {rejected}; "
             f"files: {c['files_read']} read, {len(c['files_rejected'])} rejected; tokens: {c['tokens']}"]
    for name, manifest in manifests.items():
        oc = manifest.counters
        examples = ", ".join(f"{split} {n}" for split, n in oc["examples"].items())
        rates = ", ".join(f"{k} {v:.4f}" for k, v in oc["rates"].items())
        lines.append(f"{name}: examples {examples}; padding {oc['padding_tokens']}, dropped {oc['dropped_tokens']} "
                     f"tokens" + (f"; rates {rates}" if rates else ""))
    return "\n".join(lines)
