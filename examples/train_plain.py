"""A plain PyTorch training loop on an lmpairs CLM build, torchtitan-style: torch.distributed, DDP,
global token normalization, and the loader's position in the checkpoint.

    python examples/train_plain.py demo-out/pairs/clm --checkpoint runs/plain.pt --steps 40
    torchrun --nproc-per-node 2 examples/train_plain.py demo-out/pairs/clm --checkpoint runs/plain.pt --steps 40
    python examples/train_plain.py demo-out/pairs/clm --checkpoint runs/plain.pt --steps 80 --resume

Without ``torchrun`` it runs as a one-process gloo group, so the same code path is exercised. Each rank's
``PairStream`` reads its own part of every epoch (the rank comes from ``torch.distributed``) and every rank
gets the same number of batches. The loss is summed per rank and divided by the global number of target
tokens, so every token weighs the same whatever the padding and the rank. No extra is needed.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile

import torch
import torch.distributed as dist
from tiny_model import TinyCausalLM
from torch.nn.parallel import DistributedDataParallel

from lmpairs.loader import PairStream, clm_loss, num_targets


def init_distributed() -> None:
    """torchrun's environment, else a one-process gloo group (a file store in a temporary directory)."""
    if "RANK" in os.environ:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    else:
        store = os.path.join(tempfile.mkdtemp(prefix="lmpairs-plain-"), "store")
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)


def train(args: argparse.Namespace) -> dict:
    rank = dist.get_rank()
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    stream = PairStream(args.data, batch_size=args.batch_size)  # rank and world size from torch.distributed
    model = TinyCausalLM(stream.manifest.tokenizer["vocab_size"]).to(device)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    loader = stream.make_loader(num_workers=args.num_workers, pin_memory=device.type == "cuda")
    step, losses = 0, {}
    if args.resume:
        state = torch.load(args.checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loader.load_state_dict(state["loader"])
        step = state["step"]
    end = min(args.steps, args.stop_after or args.steps)
    epoch = loader.epoch
    while step < end:
        loader.set_epoch(epoch)  # a loaded state resumes its own epoch mid-way
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            count = num_targets(batch["target_ids"]).to(device)
            dist.all_reduce(count)  # the global number of target tokens of this step
            loss_sum, _ = clm_loss(ddp(batch["input_ids"]), batch["target_ids"], return_count=True)
            loss = loss_sum * dist.get_world_size() / count  # DDP averages gradients over ranks
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            losses[step] = float(loss_sum.detach() / max(1, int(num_targets(batch["target_ids"]))))
            if step % args.save_steps == 0 or step == end:
                if rank == 0:  # in batch_size mode every rank's loader state is the same
                    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "loader": loader.state_dict(), "step": step}, args.checkpoint)
                dist.barrier()
            if step >= end:
                break
        else:
            epoch += 1
    return {"losses": losses, "final_step": step}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", metavar="OUT/CLM", help="a built CLM directory")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file (model, optimizer, loader, step)")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps in all (default: 40)")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this step as if interrupted")
    parser.add_argument("--save-steps", type=int, default=10, help="checkpoint every N steps (default: 10)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per batch, per rank (default: 8)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers per rank (default: 0)")
    parser.add_argument("--lr", type=float, default=3e-3, help="learning rate (default: 0.003)")
    parser.add_argument("--resume", action="store_true", help="resume from --checkpoint")
    args = parser.parse_args(argv)
    init_distributed()
    try:
        rank = dist.get_rank()
        result = train(args)
    finally:
        dist.destroy_process_group()
    losses = result["losses"]
    print(json.dumps({"rank": rank, "final_step": result["final_step"],
                      "first_loss": losses[min(losses)] if losses else None,
                      "last_loss": losses[max(losses)] if losses else None}), flush=True)
    return result


if __name__ == "__main__":
    main()
