"""Every objective declared once: config, batch transform, stored columns, model family, rates, id.

Schemas, collation, losses, trainer models, inspection and the pipeline look an objective up here
and key on its :class:`ObjectiveSpec` or its ``family``, never on its name, so a new objective is
one transform module plus one :func:`register` line (seqio's ``Task`` registry, minus the global
re-import problem: the table is plain data, importable without Beam, torch or pyarrow).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lmpairs.config import OBJECTIVE_CONFIGS, BartConfig, ClmConfig, MlmConfig, T5Config

Family = Literal["decoder", "encoder", "encoder-decoder"]
FAMILIES: tuple[str, ...] = ("decoder", "encoder", "encoder-decoder")

IGNORE_INDEX = -100
"""Label of positions that carry no loss: the cross-entropy's ``ignore_index`` everywhere."""

RatioSpec = tuple[str, str, str, "str | None"]
"""``(label, numerator, denominator, config field it should match)`` over measured counts."""

TARGET_KEYS: dict[str, str] = {"decoder": "target_ids", "encoder": "labels", "encoder-decoder": "labels"}
"""Family -> the batch key holding the targets (CLM's are pre-shifted, so never called ``labels``)."""


@dataclass(frozen=True, kw_only=True)
class ObjectiveSpec:
    """The one declaration of an objective.

    ``columns``: stored ``list<int32>`` columns after ``example_key``, in schema order; ``family``
    picks collation, loss and model; ``rates``: the applied rates the manifest reports;
    ``transform``: ``"module:Class"`` of its :class:`lmpairs.transforms.objective.Objective`;
    ``decoder_start``: encoder-decoder only, the id that starts ``decoder_input_ids`` (``"pad"``
    for T5, ``"eos"`` for BART); ``view``: how ``lmpairs inspect`` shows an example;
    ``randomized``: False for objectives that draw nothing (no dynamic corruption);
    ``needs_sentence_ends``: True for objectives whose packer or noise uses sentence ends (BART):
    only then does the build compute them from the tokenizer's offsets.
    """

    name: str
    objective_id: int
    config: type
    columns: tuple[str, ...]
    family: Family
    transform: str | type
    rates: tuple[RatioSpec, ...] = ()
    decoder_start: Literal["pad", "eos"] | None = None
    view: str = "plain"
    randomized: bool = True
    needs_sentence_ends: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"objective {self.name!r}: family={self.family!r}, expected one of {FAMILIES}.")
        if not self.columns or self.columns[0] != "input_ids":
            raise ValueError(f"objective {self.name!r}: columns must start with 'input_ids', got {self.columns}.")
        if (self.family == "encoder-decoder") != (self.decoder_start is not None):
            raise ValueError(f"objective {self.name!r}: decoder_start is set exactly for encoder-decoder objectives.")

    @property
    def target_key(self) -> str:
        return TARGET_KEYS[self.family]

    @property
    def rate_names(self) -> tuple[str, ...]:
        """Keys of the manifest's applied rates: ``{numerator}_per_{denominator}``."""
        return tuple(f"{n}_per_{d}" for _, n, d, _ in self.rates)


_REGISTRY: dict[str, ObjectiveSpec] = {}


def register(spec: ObjectiveSpec) -> ObjectiveSpec:
    """Add ``spec`` (a new name and id); returns it. Tests use :func:`unregister` to clean up."""
    if spec.name in _REGISTRY:
        raise ValueError(f"objective {spec.name!r} is already registered.")
    taken = {s.objective_id: s.name for s in _REGISTRY.values()}
    if spec.objective_id in taken:
        raise ValueError(f"objective {spec.name!r}: id {spec.objective_id} is taken by {taken[spec.objective_id]!r}.")
    _REGISTRY[spec.name] = spec
    OBJECTIVE_CONFIGS.setdefault(spec.name, spec.config)  # builds and loaders find its config by name
    return spec


def unregister(name: str) -> None:
    spec = _REGISTRY.pop(name, None)
    if spec is not None and OBJECTIVE_CONFIGS.get(name) is spec.config and name not in ("clm", "mlm", "t5", "bart"):
        del OBJECTIVE_CONFIGS[name]


def get_spec(name: str) -> ObjectiveSpec:
    """The declaration of objective ``name``; a ``ValueError`` names the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(_REGISTRY)}.") from None


def objective_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


register(ObjectiveSpec(name="clm", objective_id=1, config=ClmConfig, columns=("input_ids", "doc_lengths"),
                       family="decoder", transform="lmpairs.transforms.clm:ClmObjective", view="next-token",
                       randomized=False))
register(ObjectiveSpec(name="mlm", objective_id=2, config=MlmConfig, columns=("input_ids", "labels"),
                       family="encoder", transform="lmpairs.transforms.mlm:MlmObjective", view="masked",
                       rates=(("selected / maskable", "selected", "maskable", "mask_prob"),
                              ("[MASK] / selected", "masked", "selected", "mask_fraction"),
                              ("random / selected", "random", "selected", "random_fraction"),
                              ("kept / selected", "kept", "selected", None))))
register(ObjectiveSpec(name="t5", objective_id=3, config=T5Config, columns=("input_ids", "labels"),
                       family="encoder-decoder", decoder_start="pad", transform="lmpairs.transforms.t5:T5Objective",
                       view="sentinels",
                       rates=(("noise tokens / tokens", "noise_tokens", "tokens", "noise_density"),
                              ("noise tokens / span", "noise_tokens", "noise_spans", "mean_noise_span_length"))))
register(ObjectiveSpec(name="bart", objective_id=4, config=BartConfig, columns=("input_ids", "labels"),
                       family="encoder-decoder", decoder_start="eos", transform="lmpairs.transforms.bart:BartObjective",
                       view="denoising", needs_sentence_ends=True,
                       rates=(("removed / body tokens", "removed", "body_tokens", "mask_ratio"),
                              ("added / masks", "added", "masks", "random_ratio"))))


class SpecTable(Mapping):
    """A read-only ``{objective name: value}`` view computed from each declaration when looked up.

    Modules keep their familiar tables (``COLLATORS[name]``, ``MODELS[name]``) while the value
    comes from the spec or its family, so an objective registered later (a test's) is found too.
    """

    def __init__(self, value_of: Callable[[ObjectiveSpec], Any]) -> None:
        self._value_of = value_of

    def __getitem__(self, name: str) -> Any:
        if name not in _REGISTRY:
            raise KeyError(name)
        return self._value_of(_REGISTRY[name])

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(_REGISTRY))

    def __len__(self) -> int:
        return len(_REGISTRY)
