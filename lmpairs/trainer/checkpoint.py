"""Checkpoints as one small plain dict: model, optimizer, step, and each rank's loader and RNG state.

Everything needed to continue exactly: the learning rate is a pure function of the step, the data
position is the loader's ``state_dict`` (one per rank, since token-budget batches make ranks
differ), and torch's RNG state (dropout; one per rank) is restored after the model is built,
because building it draws from the same generator. Files are written to a temporary name and renamed, so a run killed
while saving leaves the previous checkpoint intact. They load with ``weights_only=True``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from lmpairs.errors import UserError, differences, one_line

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


class CheckpointError(UserError):
    """A checkpoint is missing or does not belong to this run; the message names the file and the fix."""


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (temporary file, then rename)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"--checkpoint {path}: is a directory; pass a file path, e.g. {path / 'ckpt.pt'}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)  # a failed save (full disk, Ctrl-C) leaves no half-written file beside it
        if isinstance(err, OSError):
            raise CheckpointError(f"--checkpoint {path}: cannot save there ({one_line(err)}); free space or "
                                  "choose another --checkpoint.") from err
        raise
    logger.info("saved checkpoint %s at step %d", path, state["step"])


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` onto the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from; run without --resume to start a new run, "
                              "or pass the --checkpoint file an earlier run wrote.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any failure to unpickle means "not a checkpoint"; torch's text suggests unsafe loads
        raise CheckpointError(f"{path}: not a checkpoint lmpairs can read ({type(err).__name__}); pass the file "
                              "that `lmpairs train --checkpoint FILE` wrote, or start a new run without --resume."
                              ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: checkpoint format {got!r}, this lmpairs reads {CHECKPOINT_FORMAT}; "
                              "start a new run without --resume.")
    return state


def check_compatible(state: dict[str, Any], expected: dict[str, Any], path: str | os.PathLike) -> None:
    """Refuse a checkpoint of another model, objective, tokenizer or world size."""
    differ = differences(state, expected, "checkpoint", "this run")
    if differ:
        raise CheckpointError(f"{path}: the checkpoint belongs to another run ({differ.detail}); resume with the "
                              "settings it was saved with, or start a new run with another --checkpoint.")
