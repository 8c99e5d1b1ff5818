"""Small inline SVG plots (histograms and horizontal bars) written by hand: no plotting library, no script.

Each function returns one ``<svg>`` element with a fixed ``viewBox`` and ``width``/``height``, so the
page lays out the same in every browser and the plot is visible without JavaScript. Text is escaped.
"""
from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 26, 40
BAR = "#4e79a7"
TARGET = "#e15759"
EXPECTED = "#f28e2b"


def _number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.3g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.3g}k"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _frame(title: str, xlabel: str, ylabel: str, body: list[str], *, height: int = HEIGHT) -> str:
    return "\n".join([
        f'<svg class="plot" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f'<title>{escape(title)}</title>',
        f'<text x="{LEFT}" y="16" class="t">{escape(title)}</text>',
        *body,
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{height - 6}" text-anchor="middle" class="a">'
        f'{escape(xlabel)}</text>',
        f'<text x="12" y="{(TOP + height - BOTTOM) / 2:.0f}" text-anchor="middle" class="a" '
        f'transform="rotate(-90 12 {(TOP + height - BOTTOM) / 2:.0f})">{escape(ylabel)}</text>',
        "</svg>"])


def histogram(title: str, edges: Sequence[float], counts: Sequence[int], *, xlabel: str = "", ylabel: str = "count",
              target: float | None = None, target_label: str = "", expected: Sequence[float] | None = None,
              tick_labels: Sequence[str] | None = None, integers: bool = False) -> str:
    """Bars of ``counts`` over ``edges`` (len(counts) + 1), an optional vertical ``target`` line and an
    ``expected`` curve (one value per bar, same units as the counts). ``integers``: the bins are the
    whole numbers between the edges (``k ± 0.5``), labelled at their centres."""
    n = len(counts)
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    top = max([*counts, *(expected or []), 1])
    lo, hi = float(edges[0]), float(edges[-1])
    span = (hi - lo) or 1.0

    def x(value: float) -> float:
        return x0 + (value - lo) / span * (x1 - x0)

    def y(value: float) -> float:
        return y0 - value / top * (y0 - y1)

    body = [f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" class="ax"/>',
            f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" class="ax"/>',
            f'<text x="{x0 - 4}" y="{y1 + 4}" text-anchor="end" class="a">{_number(top)}</text>',
            f'<text x="{x0 - 4}" y="{y0}" text-anchor="end" class="a">0</text>']
    for i, count in enumerate(counts):
        left, right = x(float(edges[i])), x(float(edges[i + 1]))
        if count:
            body.append(f'<rect x="{left + 0.5:.1f}" y="{y(count):.1f}" width="{max(right - left - 1, 0.8):.1f}" '
                        f'height="{y0 - y(count):.1f}" fill="{BAR}"><title>{escape(_bin(edges, i))}: {count:,}'
                        '</title></rect>')
    if integers:
        ticks = [((float(edges[i]) + float(edges[i + 1])) / 2, _number(round((edges[i] + edges[i + 1]) / 2)))
                 for i in range(n)]
    else:
        labels = tick_labels if tick_labels is not None else [_number(float(e)) for e in edges]
        ticks = [(float(e), label) for e, label in zip(edges, labels)]
    step = max(1, (len(ticks) + 1) // 10)
    for value, label in ticks[::step]:
        body.append(f'<text x="{x(value):.1f}" y="{y0 + 14}" text-anchor="middle" class="a">{escape(label)}</text>')
    if expected:
        points = " ".join(f"{(x(float(edges[i])) + x(float(edges[i + 1]))) / 2:.1f},{y(v):.1f}"
                          for i, v in enumerate(expected[:n]))
        body.append(f'<polyline points="{points}" fill="none" stroke="{EXPECTED}" stroke-width="2"/>')
    if target is not None and lo <= target <= hi:
        body.append(f'<line x1="{x(target):.1f}" y1="{y0}" x2="{x(target):.1f}" y2="{y1}" stroke="{TARGET}" '
                    'stroke-width="2" stroke-dasharray="5 3"/>')
        anchor = "end" if x(target) > (x0 + x1) / 2 else "start"
        shift = -4 if anchor == "end" else 4
        body.append(f'<text x="{x(target) + shift:.1f}" y="{y1 + 12}" text-anchor="{anchor}" class="a" '
                    f'fill="{TARGET}">{escape(target_label)}</text>')
    return _frame(title, xlabel, ylabel, body)


def _bin(edges: Sequence[float], i: int) -> str:
    return f"[{_number(float(edges[i]))}, {_number(float(edges[i + 1]))})"


def bars(title: str, labels: Sequence[str], values: Sequence[float], *, xlabel: str = "", unit: str = "") -> str:
    """One horizontal bar per label (at most 20 shown), its value written after it."""
    labels, values = list(labels)[:20], list(values)[:20]
    row = 18
    height = TOP + row * max(1, len(labels)) + BOTTOM
    name_width = 170
    x0, x1 = name_width, WIDTH - 70
    top = max([*values, 1e-12])
    body = []
    for i, (label, value) in enumerate(zip(labels, values)):
        yy = TOP + i * row
        short = label if len(label) <= 28 else "\u2026" + label[-27:]
        width = max((x1 - x0) * value / top, 0.8 if value else 0)
        body += [f'<text x="{x0 - 6}" y="{yy + 13}" text-anchor="end" class="a"><title>{escape(label)}</title>'
                 f'{escape(short)}</text>',
                 f'<rect x="{x0}" y="{yy + 3}" width="{width:.1f}" height="{row - 6}" fill="{BAR}"/>',
                 f'<text x="{x0 + width + 4:.1f}" y="{yy + 13}" class="a">{_number(value)}{escape(unit)}</text>']
    return _frame(title, xlabel, "", body, height=height)
