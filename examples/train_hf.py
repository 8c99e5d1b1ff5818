"""Train a tiny, randomly initialised Hugging Face model on an lmpairs build with ``PairTrainer``.

    python examples/train_hf.py demo-out/pairs/clm --output-dir runs/hf --steps 40
    python examples/train_hf.py demo-out/pairs/clm --output-dir runs/hf --steps 80 --resume   # continues exactly

CLM trains a ``LlamaForCausalLM``, MLM a ``BertForMaskedLM``, T5 and BART a ``T5ForConditionalGeneration``,
each a few hundred thousand parameters sized by the manifest's vocabulary (no download). Checkpoints are
the Trainer's own (``checkpoint-N/``), with the loader's position beside them. Needs ``pip install -e '.[hf]'``.
"""
from __future__ import annotations

import argparse
import json

from transformers import (
    BertConfig,
    BertForMaskedLM,
    LlamaConfig,
    LlamaForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
    TrainingArguments,
    set_seed,
)

from lmpairs.integrations.hf import PairTrainer
from lmpairs.loader import PairStream


def tiny_model(objective: str, vocab_size: int, special_ids: dict):
    """A small random model of the objective's layout; its embedding has the manifest's vocabulary size."""
    pad = special_ids.get("pad", 0)
    if objective == "clm":
        return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                            max_position_embeddings=4096, pad_token_id=pad))
    if objective == "mlm":
        return BertForMaskedLM(BertConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                                          num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=4096,
                                          pad_token_id=pad))
    return T5ForConditionalGeneration(T5Config(vocab_size=vocab_size, d_model=64, d_ff=128, d_kv=16, num_layers=2,
                                               num_heads=4, pad_token_id=pad, decoder_start_token_id=pad))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", metavar="OUT/OBJECTIVE", help="a built objective directory")
    parser.add_argument("--output-dir", required=True, help="the Trainer's output and checkpoint directory")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps in all (default: 40)")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop after this step as if interrupted (the schedule still spans --steps)")
    parser.add_argument("--save-steps", type=int, default=10, help="checkpoint every N steps (default: 10)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per batch (default: 8)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (default: 0)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: 0.003)")
    parser.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --output-dir")
    args = parser.parse_args(argv)

    set_seed(0)
    stream = PairStream(args.data, batch_size=args.batch_size)
    tokenizer = stream.manifest.tokenizer
    model = tiny_model(stream.objective, tokenizer["vocab_size"], tokenizer["special_ids"])
    training = TrainingArguments(output_dir=args.output_dir, max_steps=args.steps, learning_rate=args.lr,
                                 warmup_steps=max(1, args.steps // 10), logging_steps=1, save_steps=args.save_steps,
                                 dataloader_num_workers=args.num_workers, report_to=[], seed=0,
                                 disable_tqdm=True)
    trainer = PairTrainer(model=model, args=training, train_dataset=stream)
    if args.stop_after is not None:
        from transformers import TrainerCallback

        class StopAfter(TrainerCallback):
            def on_step_end(self, args_, state, control, **kwargs):
                if state.global_step >= stop_after:
                    control.should_save, control.should_training_stop = True, True

        stop_after = args.stop_after
        trainer.add_callback(StopAfter())
    trainer.train(resume_from_checkpoint=True if args.resume else None)
    losses = {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}
    result = {"objective": stream.objective, "losses": losses, "final_step": trainer.state.global_step}
    print(json.dumps({"objective": result["objective"], "final_step": result["final_step"],
                      "first_loss": losses[min(losses)] if losses else None,
                      "last_loss": losses[max(losses)] if losses else None}))
    return result


if __name__ == "__main__":
    main()
