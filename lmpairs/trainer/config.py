"""``TrainConfig``: every setting of the reference trainer, each with the help text its CLI flag shows.

The CLI builds one ``--flag`` per field from this class (``lmpairs.trainer.cli``), so a setting is
declared, defaulted and documented once.
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from lmpairs.config import ConfigError
from lmpairs.transforms.spec import FAMILIES


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Reference-trainer settings; see each field's help (``lmpairs train --help``)."""

    steps: int = _opt(200, "total optimizer steps of the run (the learning-rate schedule spans them)")
    batch_size: int = _opt(16, "rows per micro-batch (with --max-tokens: the most rows per micro-batch)")
    max_tokens: int | None = _opt(None, "padded tokens per micro-batch instead of a fixed row count")
    grad_accum: int = _opt(1, "micro-batches per optimizer step; the loss is normalized by their total "
                              "target tokens (and over DDP ranks), not per micro-batch")
    lr: float = _opt(3e-3, "peak AdamW learning rate (3e-3 suits the tiny default model)")
    warmup_steps: int = _opt(10, "linear warm-up steps before cosine decay")
    min_lr_ratio: float = _opt(0.1, "final learning rate as a fraction of --lr (cosine decay ends there)")
    weight_decay: float = _opt(0.01, "AdamW weight decay on matrices (not on biases, norms)")
    grad_clip: float = _opt(1.0, "clip the gradient norm to this value (0: no clipping)")
    device: str = _opt("auto", "where to train: auto (CUDA when present), cpu or cuda[:N]", metavar="DEVICE")
    seed: int = _opt(0, "seed of model initialization, dropout and the loader's shuffle")
    side: str = _opt("train", "side of the built directory to train on", choices=("train", "validation"))
    shuffle_buffer: int = _opt(8192, "examples shuffled at a time by the loader")
    num_workers: int = _opt(0, "DataLoader worker processes (0: read in the training process)")
    document_masking: str = _opt(
        "packed", "CLM only: 'packed' attends across the documents packed in a row; 'separate' restarts positions "
        "and blocks attention at document boundaries (the model builds the mask from position_ids); 'varlen' does "
        "it over the loader's cu_seqlens (flash_attn when installed), 'block_mask' with the loader's (B, 1, L, L) "
        "mask", choices=("packed", "separate", "varlen", "block_mask"))
    batch_format: str | None = _opt(None, "the model-side layout the rows are read in: decoder, encoder, "
                                          "encoder-decoder or prefix-decoder (default: the objective's own; e.g. "
                                          "encoder-decoder for prefix_lm rows)", metavar="FORMAT")
    data: tuple[str, ...] = _opt((), "a mixture source PATH[:WEIGHT] instead of OUT/OBJECTIVE; repeat --data once per "
                                     "source (lmpairs.loader.PairMixture)", metavar="PATH:WEIGHT")
    mixture_mode: str = _opt("proportion", "--data weights: 'proportion' (shares of an epoch; small sources repeat) "
                                           "or 'count' (examples per source per epoch)",
                             choices=("proportion", "count"))
    mixture_batches: str = _opt("mixed", "mixture batches: 'mixed' (sources mixed in each batch) or 'per_source' "
                                         "(each batch from one source)", choices=("mixed", "per_source"))
    mixture_examples: int | None = _opt(None, "examples per mixture epoch with --mixture-mode proportion (default: "
                                              "the sources' rows together)")
    d_model: int = _opt(128, "model width")
    num_layers: int = _opt(2, "transformer blocks (encoder and decoder each, for T5/BART)")
    num_heads: int = _opt(4, "attention heads")
    d_ff: int = _opt(512, "MLP hidden width")
    dropout: float = _opt(0.0, "dropout probability")
    checkpoint: str | None = _opt(None, "checkpoint file to write (and to read with --resume)", metavar="FILE")
    checkpoint_every: int = _opt(0, "also save the checkpoint every N steps (0: only at the end of the run)")
    resume: bool = _opt(False, "continue from --checkpoint: model, optimizer, step, RNG and data position")
    stop_after: int | None = _opt(None, "end this run after step N as if interrupted (saving the checkpoint); "
                                        "the schedule still spans --steps, so a later --resume continues it")
    log_every: int = _opt(10, "log loss, tokens/s and data-wait fraction every N steps")
    progress: bool | None = _opt(None, "show a progress bar (default: when stderr is a terminal)")
    record_keys: bool = _opt(False, "record the example keys of every step in the result (tests, debugging)")
    expected_tokenizer: str | None = _opt(None, "refuse shards not built with this tokenizer (.model path or sha256)",
                                          metavar="MODEL")

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "grad_accum", "d_model", "num_layers", "num_heads", "d_ff",
                    "log_every", "shuffle_buffer")
        for name in positive:
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("warmup_steps", "num_workers", "checkpoint_every", "seed"):
            _check_int(name, getattr(self, name), minimum=0)
        for name in ("max_tokens", "stop_after"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), minimum=1)
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError(f"train: lr={self.lr}, min_lr_ratio={self.min_lr_ratio}, weight_decay="
                             f"{self.weight_decay}, grad_clip={self.grad_clip}: need lr > 0, 0 <= min_lr_ratio "
                             "<= 1, weight_decay >= 0 and grad_clip >= 0.")
        for name in ("side", "document_masking", "mixture_mode", "mixture_batches"):
            choices = fields_by_name()[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise ConfigError(f"train.{name}={getattr(self, name)!r}: choose from {', '.join(choices)}.")
        if self.batch_format is not None and self.batch_format not in FAMILIES:
            raise ConfigError(f"train.batch_format={self.batch_format!r}: choose from {', '.join(FAMILIES)}.")
        if (self.resume or self.checkpoint_every) and not self.checkpoint:
            raise ConfigError("train: --resume and --checkpoint-every need --checkpoint FILE (where the state lives).")
        if self.checkpoint and os.path.isdir(self.checkpoint):
            raise ConfigError(f"--checkpoint {self.checkpoint}: is a directory; pass a file path, e.g. "
                              f"{os.path.join(self.checkpoint, 'ckpt.pt')}.")
        for text in self.data:
            _check_weight(text)

    def replace(self, **changes: Any) -> TrainConfig:
        changes = renamed_settings(changes)
        unknown = sorted(set(changes) - set(fields_by_name()))
        if unknown:
            raise ConfigError(f"train: unknown settings {unknown}; known: {', '.join(fields_by_name())}.")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RENAMED = {"split": "side", "documents": "document_masking"}
"""Settings renamed in 0.x with their new names; the old ones work one more release, with a warning."""


def renamed_settings(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with deprecated names (:data:`RENAMED`) replaced by the new ones (DeprecationWarning)."""
    out = dict(changes)
    for old, new in RENAMED.items():
        if old in out:
            warnings.warn(f"train setting {old!r} is deprecated and goes in the next release; use {new!r} "
                          f"(--{new.replace('_', '-')}).", DeprecationWarning, stacklevel=3)
            if new in out:
                raise ConfigError(f"train: pass {new!r} only ({old!r} is its deprecated name), not both.")
            out[new] = out.pop(old)
    return out


def _check_weight(text: str) -> None:
    """``--data PATH:WEIGHT``: a weight that is no finite number >= 0 (``nan``, ``inf``) is refused here."""
    path, sep, weight = text.rpartition(":")
    if not (sep and path and "/" not in weight):
        return
    try:
        value = float(weight)
    except ValueError:
        return  # the loader's own message names the PATH:WEIGHT form
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"--data {text!r}: weight {weight} is not a finite number >= 0; write PATH:WEIGHT, "
                          "e.g. out/web/clm:0.7.")


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"train.{name}={value!r}: must be an integer >= {minimum}.")


def fields_by_name() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainConfig)}
