"""The reference trainer: tiny ``torch.nn`` models fed by ``PairStream``, with exact loss normalization and resume.

Names load on first use, so the ``lmpairs`` CLI can list ``train``'s flags without importing torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {"CheckpointError": "checkpoint", "TrainConfig": "config", "MODELS": "models", "ModelConfig": "models",
          "build_model": "models", "StepLoss": "step", "accumulate_gradients": "step", "TrainResult": "loop",
          "Trainer": "loop", "train": "loop"}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
