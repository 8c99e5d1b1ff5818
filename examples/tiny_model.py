"""The tiny causal LM the Lightning and plain-loop examples train (random weights, no download).

Imported by those scripts from this folder (``python examples/train_plain.py`` puts it on the path).
"""
from __future__ import annotations

import torch
from torch import nn


class TinyCausalLM(nn.Module):
    """Embedding, two causal Transformer layers and a tied head: enough to see the loss fall."""

    def __init__(self, vocab_size: int, d_model: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(4096, d_model)
        layer = nn.TransformerEncoderLayer(d_model, 4, 2 * d_model, dropout=0.0, batch_first=True)
        self.layers = nn.TransformerEncoder(layer, 2)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        n = input_ids.shape[1]
        x = self.embed(input_ids) + self.pos(torch.arange(n, device=input_ids.device))
        mask = nn.Transformer.generate_square_subsequent_mask(n, device=input_ids.device)
        return self.layers(x, mask=mask, is_causal=True) @ self.embed.weight.T
