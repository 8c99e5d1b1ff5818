"""The registry of objectives: the built-in modules, the entry-point group ``lmpairs.objectives``, and
:func:`register` for objectives made at run time.

An objective is one module that declares its :class:`ObjectiveSpec` (config, parts, columns,
family, rates, id) with :func:`~lmpairs.transforms.objective.declare`. Schemas, collation, losses,
trainer models, inspection and the pipeline look the spec up here by name and key on it or its
``family``, never on the name. Another package adds objectives by naming them in its entry points::

    [project.entry-points."lmpairs.objectives"]
    reverse = "my_package.reverse:ReverseObjective"   # an Objective class, an ObjectiveSpec or a module with SPEC

Installed packages' entry points are read the first time a name is looked up, in every process,
so a Beam worker started fresh (``multi_processing``, Dask, Dataflow with ``--setup_file``) finds
the same objectives as the launching process.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from types import ModuleType
from typing import Any

from lmpairs.transforms import bart, clm, fim, mlm, prefix_lm, t5, ul2
from lmpairs.transforms.objective import Objective
from lmpairs.transforms.spec import FAMILIES, IGNORE_INDEX, TARGET_KEYS, Family, ObjectiveSpec, RatioSpec
from lmpairs.vocab import Vocab

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "lmpairs.objectives"
BUILT_IN: tuple[type[Objective], ...] = (clm.ClmObjective, mlm.MlmObjective, t5.T5Objective, bart.BartObjective,
                                         prefix_lm.PrefixLmObjective, ul2.Ul2Objective, fim.FimObjective)

_REGISTRY: dict[str, ObjectiveSpec] = {}
_BUILT_IN: frozenset[str] = frozenset()
_entry_points_read = False


def register(spec: ObjectiveSpec | type[Objective]) -> ObjectiveSpec:
    """Add an objective (its spec, or a class made with ``declare``): a new name and a new id."""
    spec = as_spec(spec)
    if spec.name in _REGISTRY:
        raise ValueError(f"objective {spec.name!r} is already registered.")
    taken = {s.objective_id: s.name for s in _REGISTRY.values()}
    if spec.objective_id in taken:
        raise ValueError(f"objective {spec.name!r}: id {spec.objective_id} is taken by {taken[spec.objective_id]!r}.")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove an objective registered at run time (tests); built-in objectives stay."""
    if name not in _BUILT_IN:
        _REGISTRY.pop(name, None)


def as_spec(value: Any) -> ObjectiveSpec:
    """An :class:`ObjectiveSpec` from a spec, a declared Objective class or a module holding ``SPEC``."""
    if isinstance(value, ModuleType):
        value = getattr(value, "SPEC", None)
    if isinstance(value, type) and issubclass(value, Objective) and isinstance(getattr(value, "spec", None),
                                                                              ObjectiveSpec):
        value = value.spec
    if not isinstance(value, ObjectiveSpec):
        raise TypeError(f"{value!r} is not an objective: expected an ObjectiveSpec, an Objective class made with "
                        "@declare(...), or a module with SPEC.")
    return value


def load_entry_points() -> None:
    """Register every installed package's ``lmpairs.objectives`` entry point (once per process)."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    for point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            spec = as_spec(point.load())
        except Exception as err:  # a broken plug-in must not stop the built-in objectives
            logger.warning("entry point %s = %s (group %s) failed to load: %s", point.name, point.value,
                           ENTRY_POINT_GROUP, err)
            continue
        if _REGISTRY.get(spec.name) is not spec:
            try:
                register(spec)
            except ValueError as err:
                logger.warning("entry point %s = %s (group %s) not registered: %s", point.name, point.value,
                               ENTRY_POINT_GROUP, err)


def get_spec(name: str) -> ObjectiveSpec:
    """The declaration of objective ``name``; a ``ValueError`` names the known ones."""
    if name not in _REGISTRY:
        load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(_REGISTRY)}.") from None


def objective_names() -> tuple[str, ...]:
    """Every known objective: built-in ones, installed packages' and run-time registrations."""
    load_entry_points()
    return tuple(_REGISTRY)


def objective_class(name: str) -> type[Objective]:
    """The :class:`Objective` subclass of objective ``name``'s declaration."""
    return transform_class(get_spec(name))


def transform_class(spec: ObjectiveSpec) -> type[Objective]:
    transform = spec.transform
    if isinstance(transform, str):
        import importlib

        module_name, class_name = transform.split(":")
        transform = getattr(importlib.import_module(module_name), class_name)
    if getattr(transform, "spec", None) is None:
        transform.spec = spec  # a spec made apart from its class (no @declare)
    return transform


def make_objective(name: str | ObjectiveSpec, config, vocab: Vocab) -> Objective:
    """Instantiate objective ``name`` (or a spec carried in a pickled job) with its config and vocabulary."""
    spec = name if isinstance(name, ObjectiveSpec) else get_spec(name)
    return transform_class(spec)(config, vocab)


for _cls in BUILT_IN:
    register(_cls)
_BUILT_IN = frozenset(_REGISTRY)


class SpecTable(Mapping):
    """A read-only ``{objective name: value}`` view computed from each declaration when looked up.

    Modules keep their familiar tables (``COLLATORS[name]``, ``MODELS[name]``) while the value
    comes from the spec or its family, so an objective registered later (a test's) is found too.
    """

    def __init__(self, value_of: Callable[[ObjectiveSpec], Any]) -> None:
        self._value_of = value_of

    def __getitem__(self, name: str) -> Any:
        try:
            spec = get_spec(name)
        except ValueError:
            raise KeyError(name) from None
        return self._value_of(spec)

    def __iter__(self) -> Iterator[str]:
        return iter(objective_names())

    def __len__(self) -> int:
        return len(objective_names())


OBJECTIVE_CONFIGS: SpecTable = SpecTable(lambda spec: spec.config)
"""Objective name -> its config class."""

__all__ = ["ENTRY_POINT_GROUP", "FAMILIES", "IGNORE_INDEX", "OBJECTIVE_CONFIGS", "TARGET_KEYS", "Family",
           "ObjectiveSpec", "RatioSpec", "SpecTable", "as_spec", "get_spec", "load_entry_points", "make_objective",
           "objective_class", "objective_names", "register", "unregister"]
