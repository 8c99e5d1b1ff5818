"""The applied rates a manifest reports: each objective's defining ratios over its measured counts.

Shared by the pipeline (which stores them) and ``lmpairs inspect`` (which prints them beside the
config value they should match), so the two never disagree on what a rate means.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

from lmpairs.objectives import RatioSpec, get_spec, objective_names


class _Ratios(Mapping):
    """Objective name -> its declared ratios (``ObjectiveSpec.rates``), read from the registry each time."""

    def __getitem__(self, objective: str) -> list[RatioSpec]:
        try:
            return list(get_spec(objective).rates)
        except ValueError:
            raise KeyError(objective) from None

    def __iter__(self) -> Iterator[str]:
        return iter(objective_names())

    def __len__(self) -> int:
        return len(objective_names())


RATIOS: Mapping[str, list[RatioSpec]] = _Ratios()
"""``(label, numerator, denominator, config field)`` per objective, as its declaration lists them."""


def applied_rates(objective: str, measured: dict[str, int]) -> dict[str, float]:
    """``{numerator}_per_{denominator}`` for each defining ratio; a zero denominator gives 0."""
    rates = {}
    for _, numerator, denominator, _ in RATIOS.get(objective, []):
        total = measured.get(denominator, 0)
        rates[f"{numerator}_per_{denominator}"] = round(measured.get(numerator, 0) / total, 6) if total else 0.0
    return rates
