"""Train a tiny causal LM with Lightning on an lmpairs CLM build, through ``PairDataModule``.

    python examples/train_lightning.py demo-out/pairs/clm --checkpoint-dir runs/pl --steps 40
    python examples/train_lightning.py demo-out/pairs/clm --checkpoint-dir runs/pl --steps 80 --resume

Checkpoints are Lightning's own (``ModelCheckpoint``); the loader's position travels inside them,
so ``--resume`` continues with exactly the batch the uninterrupted run would have trained next.
Needs ``pip install -e '.[lightning]'``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from tiny_model import TinyCausalLM

from lmpairs.integrations.lightning import PairDataModule
from lmpairs.loader import PairStream, clm_loss


class LitCausalLM(L.LightningModule):
    def __init__(self, vocab_size: int, lr: float, steps: int) -> None:
        super().__init__()
        self.model, self.lr, self.steps = TinyCausalLM(vocab_size), lr, steps
        self.losses: dict[int, float] = {}

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = clm_loss(self.model(batch["input_ids"]), batch["target_ids"])  # float32, -100 ignored
        self.losses[self.global_step + 1] = float(loss.detach())
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, self.steps // 10)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", metavar="OUT/CLM", help="a built CLM directory")
    parser.add_argument("--checkpoint-dir", required=True, help="where ModelCheckpoint writes step-N.ckpt")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps in all (default: 40)")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this step as if interrupted")
    parser.add_argument("--save-steps", type=int, default=10, help="checkpoint every N steps (default: 10)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per batch (default: 8)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (default: 0)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: 0.003)")
    parser.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --checkpoint-dir")
    args = parser.parse_args(argv)

    L.seed_everything(0, verbose=False)
    stream = PairStream(args.data, batch_size=args.batch_size)
    module = LitCausalLM(stream.manifest.tokenizer["vocab_size"], args.lr, args.steps)
    datamodule = PairDataModule(stream, num_workers=args.num_workers)
    saver = ModelCheckpoint(dirpath=args.checkpoint_dir, filename="step-{step}", every_n_train_steps=args.save_steps,
                            save_top_k=-1, save_last=True)
    trainer = L.Trainer(max_steps=args.stop_after or args.steps, accelerator="auto", devices=1, callbacks=[saver],
                        logger=False, enable_progress_bar=False, enable_model_summary=False, deterministic=True)
    last = Path(args.checkpoint_dir) / "last.ckpt"
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if args.resume else None)
    result = {"losses": module.losses, "final_step": trainer.global_step}
    print(json.dumps({"final_step": trainer.global_step, "first_loss": module.losses[min(module.losses)],
                      "last_loss": module.losses[max(module.losses)]}))
    return result


if __name__ == "__main__":
    main()
