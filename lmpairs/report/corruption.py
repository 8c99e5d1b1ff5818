"""Applied corruption against configured, per objective view: histograms recounted from the stored rows.

``SECTIONS[view]`` (the objective's declared ``ObjectiveSpec.view``) makes a collector that sees
every batch the recount reads (stored examples and their clean rows) and returns plots and a
table in one generic shape, so the page draws them without knowing the objective. An objective
whose view has no entry (a plug-in's) gets the generic sections only.
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lmpairs.objectives import IGNORE_INDEX
from lmpairs.transforms import ExampleBatch, Objective, Ragged, RowBatch

ALIGNED_ROWS = 48
"""BART rows aligned (difflib) for span lengths and reordering: a sample, as the alignment is quadratic."""
SHARE_BINS = 40


def histogram(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """Counts of ``values`` in ``edges`` bins, the last bin closed, values past the ends clipped in."""
    clipped = np.clip(values, edges[0], edges[-1])
    return np.histogram(clipped, bins=edges)[0].astype(int).tolist()


def nice(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value`` (round axis ends)."""
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value * (1 - 1e-9))


def share_plot(title: str, values: list[float], target: float, xlabel: str) -> dict[str, Any]:
    top = nice(max(2.5 * target, max(values, default=0.0), 1e-6))
    edges = np.linspace(0.0, top, SHARE_BINS + 1)
    return {"title": title, "edges": edges.round(4).tolist(), "counts": histogram(np.asarray(values), edges),
            "target": target, "target_label": f"configured {target:g}", "xlabel": xlabel, "ylabel": "rows"}


def length_plot(title: str, lengths: list[int], expected: dict[int, float], target: float,
                target_label: str) -> dict[str, Any]:
    """Integer lengths 1..K, with the expected distribution (probabilities) drawn over the bars."""
    top = max([*lengths, *expected, 1])
    top = min(top, 60)
    edges = np.arange(0.5, top + 1.5)
    counts = histogram(np.asarray(lengths, dtype=float), edges)
    total = max(1, len(lengths))
    return {"title": title, "edges": edges.tolist(), "counts": counts, "target": target, "target_label": target_label,
            "expected": [expected.get(k, 0.0) * total for k in range(1, top + 1)], "xlabel": "tokens",
            "ylabel": "spans", "integers": True}


class Collector:
    """Sees every recounted batch; ``figures()`` returns ``{"plots": [...], "table": [[label, value, configured]]}``."""

    def __init__(self, objective: Objective) -> None:
        self.objective, self.config = objective, objective.config

    def __call__(self, examples: ExampleBatch, rows: RowBatch) -> None:
        raise NotImplementedError

    def figures(self) -> dict[str, Any]:
        raise NotImplementedError


def _rows(column: Ragged) -> list[np.ndarray]:
    return [column.row(i) for i in range(column.num_rows)]


class MaskedCollector(Collector):
    """MLM: the share of maskable positions selected in each row, and [MASK]/random/kept per row."""

    def __init__(self, objective: Objective) -> None:
        super().__init__(objective)
        self.shares: list[float] = []

    def __call__(self, examples: ExampleBatch, rows: RowBatch) -> None:
        labels, inputs = examples.columns["labels"], examples.columns["input_ids"]
        selected = labels.values != IGNORE_INDEX
        clean = np.where(selected, labels.values, inputs.values)
        maskable = ~self.objective.vocab.special[clean]
        row = np.repeat(np.arange(labels.num_rows), labels.lengths)
        num_selected = np.bincount(row, weights=selected, minlength=labels.num_rows)
        num_maskable = np.bincount(row, weights=maskable, minlength=labels.num_rows)
        self.shares += (num_selected / np.maximum(num_maskable, 1)).tolist()

    def figures(self) -> dict[str, Any]:
        p = float(self.config.mask_prob)
        return {"plots": [share_plot("selected share of maskable tokens, per row", self.shares, p, "share")],
                "table": [["rows", len(self.shares), ""],
                          ["mean selected share per row", round(float(np.mean(self.shares or [0])), 4), p]]}


def t5_span_probabilities(noise: int, spans: int) -> dict[int, float]:
    """P(a span has k tokens) when ``noise`` tokens are cut into ``spans`` non-empty parts uniformly (T5)."""
    if spans <= 1:
        return {noise: 1.0}
    total = math.comb(noise - 1, spans - 1)
    return {k: math.comb(noise - k - 1, spans - 2) / total for k in range(1, noise - spans + 2)}


class SentinelCollector(Collector):
    """T5: noise density per row and the noise span lengths, against T5's own partition distribution."""

    def __init__(self, objective: Objective) -> None:
        super().__init__(objective)
        vocab = objective.vocab
        self.is_sentinel = np.zeros(vocab.size, dtype=bool)
        self.is_sentinel[list(vocab.sentinel_ids)] = True
        self.densities: list[float] = []
        self.spans: list[int] = []

    def __call__(self, examples: ExampleBatch, rows: RowBatch) -> None:
        targets = examples.columns["labels"]
        sentinel = self.is_sentinel[targets.values]
        positions = np.flatnonzero(sentinel)
        ends = targets.offsets[1:] - 1  # each row's final eos
        bounds = np.sort(np.concatenate([positions, ends]))
        following = bounds[np.searchsorted(bounds, positions, side="right")]
        self.spans += (following - positions - 1).tolist()
        row = np.repeat(np.arange(targets.num_rows), targets.lengths)
        noise = np.bincount(row, weights=~sentinel, minlength=targets.num_rows) - 1  # minus the eos
        self.densities += (noise / np.maximum(rows.ids.lengths, 1)).tolist()

    def figures(self) -> dict[str, Any]:
        if not hasattr(self.config, "noise_density"):  # a mixture of denoisers (UL2): no single target
            return self.mixture_figures()
        d, mu = float(self.config.noise_density), float(self.config.mean_noise_span_length)
        length = self.objective.full_row_length
        noise = min(max(round(length * d), 1), length - 1)
        expected = t5_span_probabilities(noise, max(1, round(noise / mu)))
        return {"plots": [share_plot("noise density per row", self.densities, d, "noise tokens / row tokens"),
                          length_plot("noise span lengths (line: T5's partition of a full row)", self.spans,
                                      expected, mu, f"configured mean {mu:g}")],
                "table": [["rows", len(self.densities), ""],
                          ["mean noise density per row", round(float(np.mean(self.densities or [0])), 4), d],
                          ["mean noise span length", round(float(np.mean(self.spans or [0])), 3), mu]]}


    def mixture_figures(self) -> dict[str, Any]:
        """The applied noise of a mixture of denoisers (each row drew its own density and span length):
        the distributions as measured, the mean marked, the per-denoiser settings in the config line."""
        density = float(np.mean(self.densities or [0.0]))
        span = float(np.mean(self.spans or [0.0]))
        plot = share_plot("noise density per row (a mixture: each row's denoiser)", self.densities, density,
                          "noise tokens / row tokens")
        plot["target_label"] = f"mean {density:.3g}"
        return {"plots": [plot, length_plot("noise span lengths (a mixture of denoisers)", self.spans, {}, span,
                                            f"mean {span:.3g}")],
                "table": [["rows", len(self.densities), ""],
                          ["mean noise density per row", round(density, 4), "per denoiser"],
                          ["mean noise span length", round(span, 3), "per denoiser"]]}


def aligned_blocks(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Common blocks of ``a`` and ``b``, longest first, allowed to cross (a permuted sentence still
    matches); each position is used once. ``(start in a, start in b, size)``."""
    a, b = list(a), list(b)
    blocks, fresh = [], -1
    while True:
        m = difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
        if m.size == 0:
            return blocks
        blocks.append((m.a, m.b, m.size))
        a[m.a:m.a + m.size] = range(fresh, fresh - 2 * m.size, -2)
        b[m.b:m.b + m.size] = range(fresh - 1, fresh - 1 - 2 * m.size, -2)
        fresh -= 2 * m.size


def poisson(lam: float, top: int) -> dict[int, float]:
    """Poisson(``lam``) probabilities of 1..top, conditioned on k >= 1 (empty spans remove nothing)."""
    p = {k: math.exp(-lam) * lam ** k / math.factorial(k) for k in range(1, top + 1)}
    total = 1 - math.exp(-lam)
    return {k: v / total for k, v in p.items()}


class DenoisingCollector(Collector):
    """BART: removed share per row (exact), removed runs and reordered rows (an aligned sample)."""

    def __init__(self, objective: Objective) -> None:
        super().__init__(objective)
        self.removed: list[float] = []
        self.spans: list[int] = []
        self.aligned = self.reordered = 0

    def __call__(self, examples: ExampleBatch, rows: RowBatch) -> None:
        from lmpairs.transforms.bart import shared_counts

        inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
        frame = self.objective.head + 1
        for i in range(labels.num_rows):
            one = np.asarray([i])
            shared = shared_counts(labels.take(one), inputs.take(one))
            body = max(1, int(labels.lengths[i]) - frame)
            self.removed.append((int(labels.lengths[i]) - shared) / body)
            if self.aligned < ALIGNED_ROWS:
                self._align(inputs.row(i).tolist(), labels.row(i).tolist())

    def _align(self, noised: list[int], clean: list[int]) -> None:
        blocks = sorted(aligned_blocks(noised, clean))
        in_clean = np.zeros(len(clean), dtype=bool)
        for _, start, size in blocks:
            in_clean[start:start + size] = True
        edges = np.diff(np.concatenate([[0], (~in_clean).astype(np.int8), [0]]))
        self.spans += (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()
        starts = [b for _, b, _ in blocks]
        self.reordered += starts != sorted(starts)
        self.aligned += 1

    def figures(self) -> dict[str, Any]:
        c = self.config
        lam = float(c.poisson_lambda)
        return {"plots": [share_plot("removed share of each row's text (masked or deleted)", self.removed,
                                     float(c.mask_ratio), "removed tokens / body tokens"),
                          length_plot(f"removed spans in {self.aligned} aligned rows (line: Poisson({lam:g}), k >= 1)",
                                      self.spans, poisson(lam, 30), lam, f"configured λ {lam:g}")],
                "table": [["rows", len(self.removed), ""],
                          ["mean removed share per row", round(float(np.mean(self.removed or [0])), 4), c.mask_ratio],
                          ["aligned rows with text reordered (permutation/rotation)",
                           round(self.reordered / max(1, self.aligned), 4),
                           f"permute {c.permute_sentence_ratio:g}, rotate {c.rotate_ratio:g}"]]}


class NextTokenCollector(Collector):
    """CLM: documents per row (segments) and how full the rows are."""

    def __init__(self, objective: Objective) -> None:
        super().__init__(objective)
        self.per_row: list[int] = []

    def __call__(self, examples: ExampleBatch, rows: RowBatch) -> None:
        self.per_row += rows.segments.lengths.tolist()

    def figures(self) -> dict[str, Any]:
        top = max(self.per_row, default=1)
        edges = np.arange(0.5, min(top, 60) + 1.5)
        return {"plots": [{"title": "document pieces per row", "edges": edges.tolist(),
                           "counts": histogram(np.asarray(self.per_row, dtype=float), edges), "xlabel": "documents",
                           "ylabel": "rows", "integers": True}],
                "table": [["rows", len(self.per_row), ""],
                          ["mean document pieces per row", round(float(np.mean(self.per_row or [0])), 3), ""]]}


SECTIONS: dict[str, Callable[[Objective], Collector]] = {
    "masked": MaskedCollector, "sentinels": SentinelCollector, "denoising": DenoisingCollector,
    "next-token": NextTokenCollector}
"""Declared view -> its corruption collector; views not listed get the generic sections only."""
