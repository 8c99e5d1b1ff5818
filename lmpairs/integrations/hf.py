"""``PairTrainer``: Hugging Face's ``Trainer`` reading a ``PairStream`` or ``PairMixture``, resuming exactly.

The stock ``Trainer`` wraps its dataset in a ``DataLoader`` that batches again; lmpairs streams
already-collated batches, so this subclass hands the Trainer the stream's own ``make_loader()``
(the ``dataloader_*`` training arguments apply; the stream's ``batch_size`` is the batch, not
``per_device_train_batch_size``). Each checkpoint the Trainer writes (``checkpoint-N/``) gets the
loader's position as ``lmpairs_loader.json``; ``train(resume_from_checkpoint=...)`` loads it, so
the run continues with exactly the batch the uninterrupted run would have seen next, instead of
the Trainer re-reading and discarding the batches already trained on. The loss is lmpairs' own
(:func:`lmpairs.loader.loss_for`), on the logits of a forward that gets the batch without its
targets, so a causal LM never shifts CLM's pre-shifted ``target_ids`` again.

    stream = PairStream("out/mlm", batch_size=16)
    trainer = PairTrainer(model=BertForMaskedLM(config), args=TrainingArguments("run", max_steps=1000,
                          save_steps=200), train_dataset=stream)
    trainer.train()                                   # later: trainer.train(resume_from_checkpoint=True)

Under ``torchrun`` each rank's stream reads its own part (``PairStream`` finds the rank from
``torch.distributed``), and in ``batch_size`` mode every rank's position is the same, so the main
process's file serves every rank.
"""
from __future__ import annotations

import json
import os
from typing import Any

import torch
from torch import nn
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from lmpairs.errors import UserError
from lmpairs.integrations.batches import BatchAdapter

LOADER_STATE_NAME = "lmpairs_loader.json"
"""The loader position's file in each ``checkpoint-N/`` directory."""


class PairTrainer(Trainer):
    """A ``transformers.Trainer`` whose ``train_dataset`` (and ``eval_dataset``) is a ``PairStream`` or
    ``PairMixture``; every other argument is the Trainer's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(Trainer, "get_resumed_dataloader"):
            raise ImportError("PairTrainer needs transformers' Trainer.get_resumed_dataloader (transformers 5); "
                              "pip install -e '.[hf]' installs a version that has it.")
        for name in ("train_dataset", "eval_dataset"):
            dataset = getattr(self, name)
            if dataset is not None and not (hasattr(dataset, "make_loader") and hasattr(dataset, "state_dict")):
                raise TypeError(f"PairTrainer: {name} must be a PairStream or PairMixture (it yields collated "
                                f"batches); got {type(dataset).__name__}. Use the stock Trainer for other datasets.")
        objective = getattr(self.train_dataset or self.eval_dataset, "objective", None)
        self.adapter = BatchAdapter(objective) if objective else None
        self.model_accepts_loss_kwargs = False  # the loss is a per-batch mean: the Trainer scales it for accumulation
        self._loader_state: dict[str, Any] | None = None
        self._train_loader = None

    def _loader_kwargs(self, *, training: bool) -> dict[str, Any]:
        args = self.args
        pin = bool(args.dataloader_pin_memory and torch.cuda.is_available())  # pinning needs an accelerator
        kwargs: dict[str, Any] = {"num_workers": args.dataloader_num_workers, "pin_memory": pin}
        if args.dataloader_num_workers > 0:
            kwargs["persistent_workers"] = bool(args.dataloader_persistent_workers and training)
            if args.dataloader_prefetch_factor is not None:
                kwargs["prefetch_factor"] = args.dataloader_prefetch_factor
        return kwargs

    def get_train_dataloader(self):
        """The stream's own loader, at the position of the checkpoint being resumed (if any)."""
        if self.train_dataset is None:
            raise ValueError("PairTrainer: training requires a train_dataset (a PairStream or PairMixture).")
        loader = self.train_dataset.make_loader(**self._loader_kwargs(training=True))
        if self._loader_state is not None:
            loader.load_state_dict(self._loader_state)
            self._loader_state = None
        self._train_loader = loader
        return loader

    def get_eval_dataloader(self, eval_dataset=None):
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            raise ValueError("PairTrainer: evaluation requires an eval_dataset (a PairStream or PairMixture).")
        dataset.set_epoch(0)  # every evaluation reads the same batches
        return dataset.make_loader(**self._loader_kwargs(training=False))

    def get_resumed_dataloader(self, dataloader, num_batches: int):
        """Nothing to skip: the loader already stands where the checkpoint was taken."""
        return dataloader

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs: Any):
        """``Trainer.train``; resuming also restores the loader's position saved in the checkpoint."""
        path = resume_from_checkpoint
        if path is True:
            path = get_last_checkpoint(self.args.output_dir)  # None: the Trainer says there is none
        if isinstance(path, str | os.PathLike):
            self._loader_state = read_loader_state(str(path))
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        super()._save_checkpoint(model, trial)
        if self.args.should_save and self._train_loader is not None:
            name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            folder = os.path.join(self._get_output_dir(trial=trial), name)
            with open(os.path.join(folder, LOADER_STATE_NAME), "w", encoding="utf-8") as out:
                json.dump(self._train_loader.state_dict(), out)

    def compute_loss(self, model: nn.Module, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: Any = None):
        """lmpairs' loss for the objective (float32 cross-entropy, -100 ignored) on the model's logits."""
        loss, outputs = self.adapter.loss(model, inputs)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model: nn.Module, inputs: dict[str, torch.Tensor], prediction_loss_only: bool,
                        ignore_keys: list[str] | None = None):
        """Evaluation: the loss only (lmpairs batches carry their targets under the objective's key)."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss, _ = self.adapter.loss(model, inputs)
        return loss.detach(), None, None


def read_loader_state(checkpoint: str) -> dict[str, Any]:
    """The loader position saved in ``checkpoint`` (a ``checkpoint-N`` directory)."""
    path = os.path.join(checkpoint, LOADER_STATE_NAME)
    try:
        with open(path, encoding="utf-8") as src:
            return json.load(src)
    except FileNotFoundError:
        raise UserError(f"{checkpoint}: no {LOADER_STATE_NAME}, so the data position is unknown; resume from a "
                        "checkpoint PairTrainer wrote, or start a new run.") from None
    except ValueError as err:
        raise UserError(f"{path}: not a loader state ({err}); resume from another checkpoint.") from None
