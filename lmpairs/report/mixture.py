"""A ``PairMixture`` description (``--data PATH:WEIGHT ...``): each source's planned and realised share.

Planned is the weight's share; realised is what the mixture's epoch plan actually draws (whole
examples, largest remainders, quanta dropped to divide among ranks), taken from ``PairMixture``
itself, so the page shows exactly what a trainer would read. This is the one part of the report
that needs torch (the loader), imported only when ``--data`` is given.
"""
from __future__ import annotations

from typing import Any


def mixture_figures(sources: list[str], *, mode: str = "proportion", num_examples: int | None = None,
                    side: str = "train", storage_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per source: path, weight, planned share, realised share, rows, examples per epoch and passes."""
    from lmpairs.loader.mixture import PairMixture, parse_source

    parsed = [parse_source(s) for s in sources]
    options = {"filesystem": storage_options} if storage_options else {}
    mix = PairMixture(parsed, side, batch_size=1, mode=mode, num_examples=num_examples, shuffle=False,
                      rank=0, world_size=1, **options)
    total = sum(w for _, w in parsed) or 1.0
    return [{"path": c["path"], "weight": c["weight"], "planned_share": round(c["weight"] / total, 6),
             "share": round(c["share"], 6), "rows": c["rows"], "examples": c["examples"],
             "passes": round(c["passes"], 4)} for c in mix.source_counts()]
