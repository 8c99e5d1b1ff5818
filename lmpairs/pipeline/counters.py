"""Build counters as pipeline data (deterministic, stored in the manifest) and as Beam metrics.

Each split's worker returns its counts inside its small result record; the commit adds them up,
so the sums do not depend on bundling, retries or worker count (unlike metrics, which a runner may
count twice on retries). The same numbers go to ``Metrics.counter("lmpairs", name)`` for live
monitoring on runners that report metrics.
"""
from __future__ import annotations

from typing import Any

from apache_beam.metrics import Metrics

from lmpairs.reading import READ_REJECTION_REASONS as _READ_REASONS
from lmpairs.schemas.rates import applied_rates

NAMESPACE = "lmpairs"
REJECTED_PREFIX = "documents_rejected."
MEASURED_PREFIX = "measured."
EXAMPLES_PREFIX = "examples."
REJECTION_REASONS = tuple(dict.fromkeys((*_READ_REASONS, "no_tokens", "unencodable")))
"""Every reason a single document is left out; the manifest counts each one (zeros included)."""


def report_metrics(counts: dict[str, int], prefix: str = "") -> None:
    """Add ``counts`` to Beam's metrics (once per split, not per element: an update costs tens of µs)."""
    for name, value in sorted(counts.items()):
        if value:
            Metrics.counter(NAMESPACE, prefix + name).inc(int(value))


def _strip(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {name[len(prefix):]: value for name, value in counts.items() if name.startswith(prefix)}


def manifest_counters(name: str, documents: dict[str, int], objective: dict[str, int], splits: tuple[str, ...],
                      files_rejected: list[dict[str, str]]) -> dict[str, Any]:
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
        "rows": objective.get("rows", 0),
        "examples": {split: objective.get(EXAMPLES_PREFIX + split, 0) for split in splits},
        "padding_tokens": objective.get("padding_tokens", 0),
        "slots": objective.get("slots", 0),
        "dropped_tokens": objective.get("dropped_tokens", 0),
        "measured": measured,
        "rates": applied_rates(name, measured),
    }


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
