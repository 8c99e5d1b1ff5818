"""Build counters as pipeline data (deterministic, stored in the manifest) and as Beam metrics.

Steps emit small ``{name: int}`` dicts on a ``counts`` output; :class:`SumCountsFn` adds them up
(lifted into per-bundle partial sums by the runner, so one dict per element stays cheap). Sums do
not depend on bundling or worker count, unlike metrics, which a runner may count twice on retries;
the same numbers also go to ``Metrics.counter("lmpairs", name)`` for live monitoring.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from lmpairs.schemas.rates import applied_rates
from lmpairs.pipeline.records import REJECTION_REASONS

NAMESPACE = "lmpairs"
COUNTS = "counts"
"""The tag of every step's counts output."""
REJECTED_PREFIX = "documents_rejected."
MEASURED_PREFIX = "measured."
EXAMPLES_PREFIX = "examples."


class CountingFn(beam.DoFn):
    """A DoFn whose :meth:`report` adds counts to Beam metrics once per bundle, not per element
    (a metric update costs tens of microseconds; an objective reports several per row)."""

    metrics_prefix = ""
    _metrics: Counter | None = None

    def report(self, counts: dict[str, int]) -> dict[str, int]:
        """Queue ``counts`` for the metrics and return them (for the ``counts`` output)."""
        if self._metrics is None:
            self._metrics = Counter()
        self._metrics.update(counts)
        return counts

    def finish_bundle(self) -> None:
        for name, value in sorted((self._metrics or {}).items()):
            if value:
                Metrics.counter(NAMESPACE, self.metrics_prefix + name).inc(value)
        self._metrics = None


class SumCountsFn(beam.CombineFn):
    """Sum ``{name: int}`` dicts key by key."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, acc: Counter, counts: dict[str, int]) -> Counter:
        acc.update(counts)
        return acc

    def merge_accumulators(self, accs: Iterable[Counter]) -> Counter:
        total: Counter = Counter()
        for acc in accs:
            total.update(acc)
        return total

    def extract_output(self, acc: Counter) -> dict[str, int]:
        return {name: int(acc[name]) for name in sorted(acc)}


def _strip(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {name[len(prefix):]: value for name, value in counts.items() if name.startswith(prefix)}


def manifest_counters(name: str, documents: dict[str, int], objective: dict[str, int], splits: tuple[str, ...],
                      files_rejected: list[dict[str, str]]) -> dict[str, Any]:
    """The ``counters`` of one objective's manifest, from the document and the objective sums.

    ``documents_read == documents_used + sum(documents_rejected.values())`` always holds.
    """
    rejected = _strip(documents, REJECTED_PREFIX)
    measured = _strip(objective, MEASURED_PREFIX)
    return {
        "files_read": documents.get("files_read", 0),
        "files_rejected": files_rejected,
        "documents_read": documents.get("documents_read", 0),
        "documents_used": documents.get("documents_used", 0),
        "documents_rejected": {reason: rejected.get(reason, 0) for reason in REJECTION_REASONS},
        "tokens": documents.get("tokens", 0),
        "rows": objective.get("rows", 0),
        "examples": {split: objective.get(EXAMPLES_PREFIX + split, 0) for split in splits},
        "padding_tokens": objective.get("padding_tokens", 0),
        "dropped_tokens": objective.get("dropped_tokens", 0),
        "measured": measured,
        "rates": applied_rates(name, measured),
    }


def summarize(manifests: dict) -> str:
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
