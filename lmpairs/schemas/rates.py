"""The applied rates a manifest reports: each objective's defining ratios over its measured counts.

Shared by the pipeline (which stores them) and ``lmpairs inspect`` (which prints them beside the
config value they should match), so the two never disagree on what a rate means.
"""
from __future__ import annotations

RatioSpec = tuple[str, str, str, str | None]
"""``(label, numerator, denominator, config field it should match)`` over ``counters.measured``."""

RATIOS: dict[str, list[RatioSpec]] = {
    "clm": [],
    "mlm": [("selected / maskable", "selected", "maskable", "mask_prob"),
            ("[MASK] / selected", "masked", "selected", "mask_fraction"),
            ("random / selected", "random", "selected", "random_fraction"),
            ("kept / selected", "kept", "selected", None)],
    "t5": [("noise tokens / tokens", "noise_tokens", "tokens", "noise_density"),
           ("noise tokens / span", "noise_tokens", "noise_spans", "mean_noise_span_length")],
    "bart": [("removed / body tokens", "removed", "body_tokens", "mask_ratio"),
             ("added / masks", "added", "masks", "random_ratio")],
}


def applied_rates(objective: str, measured: dict[str, int]) -> dict[str, float]:
    """``{numerator}_per_{denominator}`` for each defining ratio; a zero denominator gives 0."""
    rates = {}
    for _, numerator, denominator, _ in RATIOS.get(objective, []):
        total = measured.get(denominator, 0)
        rates[f"{numerator}_per_{denominator}"] = round(measured.get(numerator, 0) / total, 6) if total else 0.0
    return rates
