"""``lmpairs train``: one flag per :class:`~lmpairs.trainer.config.TrainConfig` field, then :func:`train`.

``lmpairs.cli`` wires these two functions as the ``train`` subcommand; the flags are generated from
the config's fields (``--batch-size`` for ``batch_size``), so each is declared and documented once.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import sys
import types
import typing
from typing import TYPE_CHECKING, Any

from tqdm.contrib.logging import logging_redirect_tqdm

from lmpairs.deprecation import DeprecatedFlag
from lmpairs.errors import UserError
from lmpairs.trainer.config import RENAMED, TrainConfig

if TYPE_CHECKING:  # torch loads only when a run starts, so `lmpairs build` never pays for it
    from lmpairs.trainer.loop import TrainResult

logger = logging.getLogger(__name__)

DESCRIPTION = """Train a tiny reference model on one built objective (OUT/<objective>): decoder-only for clm,
encoder-only for mlm, encoder-decoder for t5 and bart, sized by the manifest's vocabulary. Streams the shards
with PairStream, normalizes the loss by the global number of target tokens, uses bf16 autocast on CUDA, and
logs loss, tokens/s and the fraction of step time spent waiting for data. With --checkpoint it saves model,
optimizer, step, RNG and loader position; --resume continues with exactly the data order of an uninterrupted
run."""


def _flag_type(hint: Any) -> tuple[type, bool]:
    """``(base type, optional)`` of a field annotation such as ``int | None``."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(a for a in args if a is not type(None)), True
    return hint, False


class AppendTuple(argparse.Action):
    """A repeatable flag (``--data``) collected into the tuple its config field holds."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, (*getattr(namespace, self.dest), values))


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` arguments: the objective directory and one flag per config field."""
    parser.description = parser.description or DESCRIPTION
    parser.add_argument("objective_dir", metavar="OUT/OBJECTIVE", nargs="?", default=None,
                        help="a built objective directory (holding manifest.json), local path or URL; "
                             "or leave it out and pass --data once per mixture source")
    hints = typing.get_type_hints(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        base, optional = _flag_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        default_text = "" if field.default is None else f" (default: {field.default})"
        kwargs: dict[str, Any] = {"dest": field.name, "default": field.default,
                                  "help": field.metadata["help"] + default_text}
        if base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(base) is tuple:  # a repeatable flag (--data)
            kwargs.update(action=AppendTuple, type=str, metavar=field.metadata.get("metavar", "VALUE"),
                          help=field.metadata["help"] + " (default: none)")
        else:
            kwargs["type"] = base
            kwargs["metavar"] = field.metadata.get("metavar") or {int: "N", float: "X"}.get(base, "VALUE")
            if "choices" in field.metadata:
                kwargs["choices"] = field.metadata["choices"]
                del kwargs["metavar"]
        if optional and base is not bool:
            kwargs["help"] += " (default: unset)"
        parser.add_argument(flag, **kwargs)
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for old, new in RENAMED.items():  # hidden: --help shows only the new names
        parser.add_argument("--" + old, dest=new, action=DeprecatedFlag, choices=fields[new].metadata.get("choices"),
                            default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})


def train_result_line(result: TrainResult) -> str:
    """One line for the terminal: the loss at the start and end of the run, throughput, data wait."""
    losses = result.losses
    if not losses:
        return f"{result.objective}: nothing to do (already at step {result.final_step})"
    k = max(1, min(10, len(losses) // 4))
    first, last = statistics.fmean(losses[:k]), statistics.fmean(losses[-k:])
    text = (f"{result.objective}: steps {result.start_step} -> {result.final_step} on {result.device}, "
            f"loss {first:.3f} -> {last:.3f} (mean of first/last {k}), {result.tokens_per_s:,.0f} tokens/s, "
            f"data wait {100 * result.data_wait_fraction:.1f}% of step time, {result.num_parameters:,} parameters")
    return text + (f"; checkpoint {result.checkpoint}" if result.checkpoint else "")


def run_train(args: argparse.Namespace) -> int:
    """Run ``lmpairs train``; 0 on success, 2 when the input or settings are unusable (message on stderr)."""
    try:
        config = config_from_args(args)
        with logging_redirect_tqdm():
            from lmpairs.trainer.loop import train

            result = train(args.objective_dir, config)
    except UserError as err:
        print(f"lmpairs train: error: {err}", file=sys.stderr)
        return 2
    print(train_result_line(result))
    return 0
