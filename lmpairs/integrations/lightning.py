"""``PairDataModule``: a Lightning ``LightningDataModule`` over a ``PairStream`` or ``PairMixture``.

``train_dataloader()`` returns the stream's own ``make_loader()`` behind a thin wrapper that
Lightning checkpoints and restores through its own ``state_dict``/``load_state_dict`` protocol
(``Trainer.fit(..., ckpt_path=...)``): exact mid-epoch resume. Two things the wrapper fixes:

- Lightning's fetcher may pull batches ahead of ``training_step`` (it prefetches one when a
  loader's length is unknown, and a ``training_step(dataloader_iter)`` fetches as it likes), so the
  loader's live position can be ahead of what was trained when a checkpoint is taken. The wrapper
  notes the position after each batch it hands out, and :meth:`PairDataModule.on_before_batch_transfer`
  (called for the batch about to be trained) marks that position as the one to save.
- Lightning calls ``set_epoch`` only on a DataLoader's sampler; the wrapper calls the stream's at
  the start of each epoch's iteration with ``trainer.current_epoch``, so each epoch is shuffled anew.

    dm = PairDataModule(PairStream("out/clm", batch_size=16), num_workers=2)
    L.Trainer(max_steps=1000).fit(model, datamodule=dm)          # model.training_step(batch, i)
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch


class ResumableLoader:
    """The stream's loader as Lightning sees it: iterable, sized, and stateful at the trained batch."""

    def __init__(self, loader: Any, datamodule: PairDataModule) -> None:
        self.loader, self.datamodule = loader, datamodule
        self._after: deque[dict[str, Any]] = deque()  # positions after batches fetched, not yet trained
        self._trained: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        trainer = self.datamodule.trainer
        if trainer is not None:
            self.loader.set_epoch(trainer.current_epoch)  # a loaded state for this epoch still resumes it
        self._after.clear()
        for batch in self.loader:
            self._after.append(self.loader.state_dict())
            yield batch

    def mark_trained(self) -> None:
        """The oldest fetched batch goes to training now: its position is the one a checkpoint saves."""
        if self._after:
            self._trained = self._after.popleft()

    def state_dict(self) -> dict[str, Any]:
        return self._trained if self._trained is not None else self.loader.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loader.load_state_dict(state)
        self._trained = state


class PairDataModule(L.LightningDataModule):
    """Training (and optionally validation) batches from lmpairs streams; DataLoader arguments
    (``num_workers``, ``pin_memory``, ``persistent_workers``, ``prefetch_factor``) go to ``make_loader``."""

    def __init__(self, train: Any, val: Any = None, **loader_kwargs: Any) -> None:
        super().__init__()
        self.train_stream, self.val_stream, self.loader_kwargs = train, val, loader_kwargs
        self._train_loader: ResumableLoader | None = None

    def train_dataloader(self) -> ResumableLoader:
        self._train_loader = ResumableLoader(self.train_stream.make_loader(**self.loader_kwargs), self)
        return self._train_loader

    def val_dataloader(self) -> Any:
        if self.val_stream is None:
            return []
        self.val_stream.set_epoch(0)  # every validation reads the same batches
        kwargs = {k: v for k, v in self.loader_kwargs.items() if k != "persistent_workers"}
        return self.val_stream.make_loader(**kwargs)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        trainer = self.trainer
        if self._train_loader is not None and trainer is not None and trainer.training:
            self._train_loader.mark_trained()
        return batch
