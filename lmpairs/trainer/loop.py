"""The reference trainer: stream an lmpairs objective through ``PairStream`` into a tiny model.

It shows how the pieces fit, not how to train at scale: the manifest picks the model
(:data:`~lmpairs.trainer.models.MODELS`) and the loss (its batch format's); each step sums the losses of
``grad_accum`` micro-batches and divides by the global number of target tokens
(:mod:`~lmpairs.trainer.step`); AdamW with warm-up and cosine decay (a pure function of the step);
bf16 autocast on CUDA only. Checkpoints hold the loader's state, so a resumed run sees exactly
the batches the uninterrupted run would have seen. Under ``torch.distributed`` (``torchrun``) the
model is wrapped in DDP and each rank streams its own part of the data.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from lmpairs.config import ConfigError
from lmpairs.errors import UserError
from lmpairs.loader import PairStream
from lmpairs.loader.formats import format_for
from lmpairs.loader.mixture import PairMixture, parse_source
from lmpairs.schemas import ManifestError, read_manifest
from lmpairs.trainer import checkpoint as ckpt
from lmpairs.trainer.config import TrainConfig
from lmpairs.trainer.meter import Meter, Rates, Stopwatch, progress_bar
from lmpairs.trainer.models import ModelConfig, build_model, num_parameters
from lmpairs.trainer.step import accumulate_gradients, distributed, world_size

logger = logging.getLogger(__name__)

LOG_SECONDS = 30.0
"""A log line at least this often (besides every ``log_every`` steps), so a slow CPU run is never silent."""


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """What one run did. ``losses[i]`` is the mean loss per target token of step ``start_step + i + 1``;
    ``example_keys[i]`` that step's example keys (this rank's, all micro-batches) when recorded."""

    objective: str
    device: str
    start_step: int
    final_step: int
    losses: list[float]
    tokens_per_s: float
    data_wait_fraction: float
    num_parameters: int
    example_keys: list[list[int]] | None
    checkpoint: str | None


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when present (this rank's ``LOCAL_RANK`` under torchrun), else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}, but torch sees no CUDA device (torch {torch.__version__}); pass "
                         "--device cpu, or install a CUDA build of torch on a GPU machine.")
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate of ``step`` (1-based): linear warm-up, then cosine down to ``min_lr_ratio · lr``."""
    if step <= config.warmup_steps:
        return config.lr * step / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.lr * config.min_lr_ratio
    return floor + 0.5 * (config.lr - floor) * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; matrices (and the tied embedding) decay, biases and norm weights do not."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95))


DOCUMENT_OPTIONS = {"packed": {}, "separate": {"position_ids": True}, "varlen": {"document_attention": "cu_seqlens"},
                    "block_mask": {"document_attention": "block_mask"}}
"""``--document-masking`` -> the loader options that give CLM batches their per-document inputs."""


def open_mixture(objective_dir: str | None, config: TrainConfig) -> PairMixture:
    """The ``--data PATH:WEIGHT`` sources as one :class:`~lmpairs.loader.mixture.PairMixture`."""
    if objective_dir or config.max_tokens is not None:
        raise ConfigError("train: --data (a mixture) replaces OUT/OBJECTIVE and takes --batch-size, not "
                          "--max-tokens; pass one or the other.")
    sources = [parse_source(text) for text in config.data]
    objective = read_manifest(sources[0][0]).objective
    if config.document_masking != "packed" and not format_for(objective, config.batch_format).document_attention:
        raise ConfigError(f"{sources[0][0]}: --document-masking {config.document_masking} applies to CLM rows, but "
                          f"this mixture holds {objective}; leave --document-masking at 'packed'.")
    return PairMixture(sources, config.side, batch_size=config.batch_size, mode=config.mixture_mode,
                       num_examples=config.mixture_examples, per_source=config.mixture_batches == "per_source",
                       shuffle=True, shuffle_seed=config.seed, shuffle_buffer=config.shuffle_buffer,
                       return_keys=config.record_keys, expected_tokenizer=config.expected_tokenizer,
                       batch_format=config.batch_format, **DOCUMENT_OPTIONS[config.document_masking])


def open_stream(objective_dir: str | None, config: TrainConfig) -> PairStream | PairMixture:
    if config.data:
        return open_mixture(objective_dir, config)
    if not objective_dir:
        raise ConfigError("train: pass OUT/OBJECTIVE (a built objective directory) or --data PATH:WEIGHT per "
                          "mixture source.")
    if config.document_masking != "packed":
        objective = read_manifest(objective_dir).objective
        if not format_for(objective, config.batch_format).document_attention:
            raise ConfigError(f"{objective_dir}: --document-masking {config.document_masking} applies to CLM rows "
                              f"(they record document boundaries), but this directory holds {objective}; leave "
                              "--document-masking at 'packed'.")
    return PairStream(objective_dir, config.side, batch_size=config.batch_size, max_tokens=config.max_tokens,
                      shuffle=True, shuffle_seed=config.seed, shuffle_buffer=config.shuffle_buffer,
                      **DOCUMENT_OPTIONS[config.document_masking], return_keys=config.record_keys,
                      expected_tokenizer=config.expected_tokenizer, batch_format=config.batch_format)


def model_config_for(stream: PairStream, config: TrainConfig) -> ModelConfig:
    vocab_size = stream.manifest.tokenizer.get("vocab_size")
    if not isinstance(vocab_size, int):
        raise ManifestError(f"{stream.path}: the manifest's tokenizer.vocab_size is {vocab_size!r}, expected the "
                         "effective vocabulary size; rebuild the shards with `lmpairs build`.")
    return ModelConfig(vocab_size=vocab_size, d_model=config.d_model, num_layers=config.num_layers,
                       num_heads=config.num_heads, d_ff=config.d_ff, dropout=config.dropout,
                       block_documents=config.document_masking == "separate")


def endless(loader) -> Iterator[dict[str, torch.Tensor]]:
    """Batches across epochs, from the loader's current (possibly resumed) epoch on."""
    epoch, empty = loader.epoch, 0
    while True:
        loader.set_epoch(epoch)
        count = 0
        for batch in loader:
            count += 1
            yield batch
        empty = 0 if count else empty + 1
        if empty == 2:  # a resumed, finished epoch is empty once; two in a row means no data at all
            raise ConfigError(f"{loader.stream.path}: an epoch yielded no batch (rows per rank "
                               f"{loader.stream.examples_per_rank}); lower --batch-size or build more data.")
        epoch += 1


def batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Non-padding tokens the model reads (encoder and decoder inputs)."""
    return int(batch["attention_mask"].sum()) + int(batch.get("decoder_attention_mask", torch.zeros(())).sum())


class Trainer:
    """Builds the run from the manifest and config, then :meth:`run` steps it."""

    def __init__(self, objective_dir: str | None, config: TrainConfig) -> None:
        self.config, self.device = config, pick_device(config.device)
        torch.manual_seed(config.seed)
        self.stream = open_stream(objective_dir, config)
        self.objective = self.stream.objective
        self.model_config = model_config_for(self.stream, config)
        self.format = self.stream.format
        self.model = build_model(self.objective, self.model_config, batch_format=self.format.name).to(self.device)
        if distributed():  # same initial weights everywhere, but each rank its own dropout masks
            torch.manual_seed(config.seed + dist.get_rank())
        self.optimizer = make_optimizer(self.model, config)
        cuda = self.device.type == "cuda"
        self.loader = self.stream.make_loader(
            num_workers=config.num_workers, pin_memory=cuda, persistent_workers=config.num_workers > 0,
            generator=torch.Generator().manual_seed(config.seed))  # keeps the global RNG for dropout only
        self.autocast = partial(torch.autocast, "cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext
        self.loss_fn, self.target_key = self.format.loss, self.format.target_key
        self.step = self.restore() if config.resume else 0
        self.ddp = (nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device] if cuda else None)
                    if distributed() else self.model)

    # -- checkpoints ------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What a checkpoint must share with this run to resume it."""
        return {"objective": self.objective, "model_config": self.model_config.to_dict(),
                "tokenizer_sha256": self.stream.manifest.tokenizer.get("sha256"), "world_size": world_size()}

    def save(self) -> None:
        """Rank 0 writes the model and optimizer, and every rank's data position and RNG state."""
        ranks = [{"loader": self.loader.state_dict(), "rng": ckpt.rng_state()}]
        if distributed():
            mine, ranks = ranks[0], [None] * world_size()
            dist.all_gather_object(ranks, mine)
        if not distributed() or dist.get_rank() == 0:
            ckpt.save_checkpoint(self.config.checkpoint, {
                **self.identity(), "step": self.step, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "ranks": ranks, "train_config": self.config.to_dict()})
        if distributed():
            dist.barrier()  # no rank runs on (and may resume) before the file is complete

    def restore(self) -> int:
        """Load model, optimizer, this rank's loader position and RNG; any damage is a CheckpointError."""
        path = self.config.checkpoint
        state = ckpt.load_checkpoint(path)
        ckpt.check_compatible(state, self.identity(), path)
        fix = "pass the file `lmpairs train --checkpoint FILE` wrote, or start a new run without --resume"
        try:
            step, mine = int(state["step"]), state["ranks"][dist.get_rank() if distributed() else 0]
            loader_state, rng = mine["loader"], mine["rng"]
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            ckpt.set_rng_state(rng)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
            if isinstance(err, UserError):
                raise
            detail = " ".join(f"{type(err).__name__}: {err}".split())[:160]
            raise ckpt.CheckpointError(f"{path}: the checkpoint is incomplete or damaged ({detail}); {fix}.") from err
        try:
            self.loader.load_state_dict(loader_state)
        except UserError as err:
            raise ckpt.CheckpointError(f"{path}: its data position does not fit this run: {err}") from err
        logger.info("resumed %s from %s at step %d", self.objective, path, step)
        return step

    # -- steps --------------------------------------------------------------------------------------
    def fetch(self, batches: Iterator[dict], wait: Stopwatch, keys: list[list[int]] | None) -> tuple[list, int]:
        """``grad_accum`` micro-batches on the device, and the tokens they hold."""
        micro, tokens = [], 0
        for _ in range(self.config.grad_accum):
            with wait:
                batch = next(batches)
            if keys is not None:
                keys[-1].extend(batch.pop("example_key").tolist())
            tokens += batch_tokens(batch)
            micro.append({k: v.to(self.device, non_blocking=True) for k, v in batch.items()})
        return micro, tokens

    def train_step(self, batches: Iterator[dict], wait: Stopwatch, keys: list[list[int]] | None):
        self.step += 1
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.config)
        micro, tokens = self.fetch(batches, wait, keys)
        self.optimizer.zero_grad(set_to_none=True)
        loss = accumulate_gradients(self.ddp, micro, loss_fn=self.loss_fn, target_key=self.target_key,
                                    autocast=self.autocast)
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss, tokens

    def report(self, pending: list, rates: Rates, bar, *, first_step: bool = False) -> list[float]:
        """Read the pending step losses back (a device sync), log them with the window's rates."""
        values = [loss.mean() for loss in pending]
        logger.info("%s step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s  data wait %.1f%%%s", self.objective,
                    self.step, self.config.steps, values[-1], lr_at(self.step, self.config), rates.tokens_per_s,
                    100 * rates.data_wait_fraction,
                    f"  (first step, {rates.seconds:.1f} s with start-up; later rates leave it out)"
                    if first_step else "")
        bar.set_postfix(loss=f"{values[-1]:.3f}", tok_s=f"{rates.tokens_per_s:.0f}",
                        wait=f"{100 * rates.data_wait_fraction:.0f}%")
        return values

    def should_save(self, end: int) -> bool:
        every = self.config.checkpoint_every
        return bool(self.config.checkpoint) and (self.step == end or bool(every and self.step % every == 0))

    def run(self) -> TrainResult:
        """Step until ``steps`` (or ``stop_after``), logging, checkpointing and showing progress."""
        c, start = self.config, self.step
        end = min(c.steps, c.stop_after or c.steps)
        keys: list[list[int]] | None = [] if c.record_keys else None
        losses, pending, meter = [], [], Meter()
        first: Rates | None = None
        logger.info("training %s on %s: %s, %d parameters, steps %d -> %d", self.objective, self.device,
                    type(self.model).__name__, num_parameters(self.model), start, end)
        bar = progress_bar(total=c.steps, initial=start, enabled=c.progress)
        batches = endless(self.loader)
        try:
            while self.step < end:
                if keys is not None:
                    keys.append([])
                wait = Stopwatch()
                loss, tokens = self.train_step(batches, wait, keys)
                meter.add(wait_seconds=wait.seconds, tokens=tokens)
                pending.append(loss)
                save = self.should_save(end)
                if self.step == start + 1:  # start-up is not steady throughput: its own line, then left out
                    self.synchronize()
                    first = meter.close_window(keep=False)
                    losses.extend(self.report(pending, first, bar, first_step=True))
                    pending = []
                elif (save or self.step % c.log_every == 0 or self.step == end
                      or meter.window_seconds >= LOG_SECONDS):
                    losses.extend(self.report(pending, meter.close_window(), bar))
                    pending = []
                if save:
                    self.save()
                    meter.exclude()
                bar.update(1)
        finally:
            batches.close()
            bar.close()
        rates = meter.overall()
        if rates.seconds == 0 and first is not None:  # one step only: its start-up rate is all there is
            rates = first
        return TrainResult(objective=self.objective, device=str(self.device), start_step=start, final_step=self.step,
                           losses=losses, tokens_per_s=rates.tokens_per_s,
                           data_wait_fraction=rates.data_wait_fraction, num_parameters=num_parameters(self.model),
                           example_keys=keys, checkpoint=c.checkpoint)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def train(objective_dir: str | os.PathLike | None, config: TrainConfig | None = None, **settings: Any) -> TrainResult:
    """Train the reference model on ``OUT/<objective>``; ``settings`` override fields of ``config``.

    Example: ``train("out/clm", steps=100, batch_size=8, checkpoint="ckpt.pt")``.
    """
    config = (config or TrainConfig()).replace(**settings)
    return Trainer(str(objective_dir) if objective_dir else None, config).run()
