"""Tiny transformer LMs on plain ``torch.nn``, one per model family (``FAMILY_MODELS``; ``MODELS[name]`` by spec).

Each model takes a batch dict exactly as :class:`~lmpairs.loader.PairStream` yields it and returns
logits ``(B, L, vocab)`` aligned with that batch's targets (``target_ids`` for CLM, ``labels``
otherwise); extra keys are ignored. They are reference models, kept small and readable:

- pre-LayerNorm blocks (GPT-2/T5 style), attention through ``scaled_dot_product_attention`` (flash
  kernels on GPU when no explicit mask is needed);
- rotary position embeddings (RoPE, as in LLaMA) in self-attention: no parameters, no length limit
  (T5/BART rows of any length fit), and the token embedding keeps the residual stream to itself
  (added sinusoids slowed early learning markedly in a 40-step test). CLM uses the batch's
  ``position_ids`` (reset per document) when the loader provides them;
- the output head shares the token embedding (and encoder and decoder share it too), as in
  GPT-2, T5 and BART, which roughly halves the parameters of a small-vocabulary model.

Attention cost is ``O(B · L² · d)``; with ``block_documents`` a ``(B, 1, L, L)`` boolean mask is
built per batch, which disables the flash path but keeps documents packed in one row apart.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmpairs.config import ConfigError
from lmpairs.objectives import SpecTable, get_spec
from lmpairs.trainer.attention import Varlen, attend, batch_block_mask, varlen_layout

Batch = Mapping[str, torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Sizes of a reference model; ``vocab_size`` is the manifest's effective vocabulary size."""

    vocab_size: int
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.0
    block_documents: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "num_layers", "num_heads", "d_ff"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"model.{name}={value!r}: must be an integer >= 1.")
        if self.d_model % self.num_heads or (self.d_model // self.num_heads) % 2:
            raise ConfigError(f"model.d_model={self.d_model} with num_heads={self.num_heads}: the head size "
                             "d_model / num_heads must be an even integer; change --d-model or --num-heads.")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout={self.dropout!r}: must be in [0, 1).")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Rotary = tuple[torch.Tensor, torch.Tensor]
"""``(cos, sin)``, each ``(B, 1, L, head_dim / 2)``: the rotation of every position."""


def rotary(positions: torch.Tensor, head_dim: int, *, base: float = 10000.0) -> Rotary:
    """RoPE angles for integer ``positions`` ``(B, L)``, computed in float32."""
    half = head_dim // 2
    inv_freq = base ** (-torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angles = positions.to(torch.float32)[:, None, :, None] * inv_freq
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, angles: Rotary) -> torch.Tensor:
    """Rotate query or key heads ``(B, H, L, head_dim)`` by their positions' angles."""
    cos, sin = angles
    first, second = x.float().chunk(2, dim=-1)
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1).to(x.dtype)


def default_positions(ids: torch.Tensor) -> torch.Tensor:
    return torch.arange(ids.shape[1], device=ids.device).expand(ids.shape[0], -1)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """Key-padding mask ``(B, 1, 1, L)`` for SDPA: True where a key may be attended to."""
    return attention_mask.bool()[:, None, None, :]


def document_mask(position_ids: torch.Tensor) -> torch.Tensor:
    """Causal mask ``(B, 1, L, L)`` that also keeps each packed document to itself.

    A document starts wherever the loader's ``position_ids`` restart at 0.
    """
    documents = torch.cumsum(position_ids == 0, dim=1)
    same = documents[:, :, None] == documents[:, None, :]
    length = position_ids.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=position_ids.device).tril()
    return (same & causal)[:, None]


def prefix_mask(prefix_lengths: torch.Tensor, length: int) -> torch.Tensor:
    """``(B, 1, L, L)`` bool: query ``q`` sees key ``k`` when ``k <= q`` or ``k`` lies in the row's prefix."""
    keys = torch.arange(length, device=prefix_lengths.device)
    causal = keys[None, :] <= keys[:, None]
    return (causal[None] | (keys[None, None, :] < prefix_lengths[:, None, None]))[:, None]


class Attention(nn.Module):
    """Multi-head attention over ``memory`` (cross) or ``x`` itself (self)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads, self.dropout = config.num_heads, config.dropout
        self.query = nn.Linear(config.d_model, config.d_model)
        self.key_value = nn.Linear(config.d_model, 2 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        return x.view(b, length, self.num_heads, d // self.num_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None, *, mask: torch.Tensor | None = None,
                causal: bool = False, angles: Rotary | None = None, varlen: Varlen | None = None) -> torch.Tensor:
        """Self-attention rotates queries and keys by ``angles``; cross-attention passes none.
        ``varlen`` (packed CLM documents) replaces ``mask``/``causal``: see :mod:`lmpairs.trainer.attention`."""
        keys, values = self.key_value(x if memory is None else memory).chunk(2, dim=-1)
        queries, keys = self._heads(self.query(x)), self._heads(keys)
        if angles is not None:
            queries, keys = apply_rotary(queries, angles), apply_rotary(keys, angles)
        attended = attend(queries, keys, self._heads(values), mask=mask, causal=causal,
                          dropout=self.dropout if self.training else 0.0, varlen=varlen)
        return self.out(attended.transpose(1, 2).reshape(x.shape))


class Block(nn.Module):
    """Pre-LN transformer block: self-attention, optional cross-attention, GELU MLP."""

    def __init__(self, config: ModelConfig, *, cross: bool = False) -> None:
        super().__init__()
        d = config.d_model
        self.self_norm, self.self_attention = nn.LayerNorm(d), Attention(config)
        self.cross_norm = nn.LayerNorm(d) if cross else None
        self.cross_attention = Attention(config) if cross else None
        self.mlp_norm = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, d))
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, *, angles: Rotary, mask: torch.Tensor | None = None, causal: bool = False,
                memory: torch.Tensor | None = None, memory_mask: torch.Tensor | None = None,
                varlen: Varlen | None = None) -> torch.Tensor:
        x = x + self.drop(self.self_attention(self.self_norm(x), mask=mask, causal=causal, angles=angles,
                                              varlen=varlen))
        if self.cross_attention is not None:
            x = x + self.drop(self.cross_attention(self.cross_norm(x), memory, mask=memory_mask))
        return x + self.drop(self.mlp(self.mlp_norm(x)))


class Stack(nn.Module):
    """``num_layers`` blocks and a final LayerNorm."""

    def __init__(self, config: ModelConfig, *, cross: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(config, cross=cross) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, **kwargs)
        return self.norm(x)


class TinyLM(nn.Module):
    """What every model shares: the token embedding, positions, the tied head and initialization."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.drop = nn.Dropout(config.dropout)

    def embed(self, ids: torch.Tensor, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, Rotary]:
        """Token embeddings and the rotary angles of their positions (0.. per row unless given)."""
        positions = default_positions(ids) if positions is None else positions
        angles = rotary(positions, self.config.d_model // self.config.num_heads)
        return self.drop(self.embedding(ids)), angles

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.embedding.weight)

    def init_weights(self) -> None:
        """GPT-2's scheme: N(0, 0.02), residual output projections scaled by 1/sqrt(2 · layers)."""
        residual_std = 0.02 / math.sqrt(2 * self.config.num_layers)
        for name, param in self.named_parameters():
            if param.dim() < 2:
                continue
            is_residual = name.endswith("out.weight") or name.endswith("mlp.2.weight")
            nn.init.normal_(param, mean=0.0, std=residual_std if is_residual else 0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)


class DecoderOnly(TinyLM):
    """Causal LM (GPT-style) for CLM batches: ``input_ids`` [, ``position_ids``] -> next-token logits;
    with ``prefix_lengths`` (prefix-LM batches) the prefix attends bidirectionally."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.decoder = Stack(config)
        self.init_weights()

    def forward(self, batch: Batch) -> torch.Tensor:
        positions = batch.get("position_ids")
        mask, varlen = batch_block_mask(batch), varlen_layout(batch)  # the loader's per-document inputs
        if "prefix_lengths" in batch:  # prefix-LM: the prefix sees itself both ways, the rest causally
            mask = prefix_mask(batch["prefix_lengths"], batch["input_ids"].shape[1])
        if self.config.block_documents and mask is None and varlen is None:
            if positions is None:
                raise ValueError("block_documents=True needs position_ids in the batch: build the PairStream "
                                 "with position_ids=True (the trainer does so with --document-masking separate).")
            mask = document_mask(positions)
        x, angles = self.embed(batch["input_ids"], positions)
        # Padding sits only at the end of a row, so causal attention never lets a real token see it.
        return self.head(self.decoder(x, angles=angles, mask=mask, causal=True, varlen=varlen))


class EncoderOnly(TinyLM):
    """Bidirectional encoder (BERT/RoBERTa-style) for MLM batches: logits at every position."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoder = Stack(config)
        self.init_weights()

    def forward(self, batch: Batch) -> torch.Tensor:
        x, angles = self.embed(batch["input_ids"])
        return self.head(self.encoder(x, angles=angles, mask=padding_mask(batch["attention_mask"])))


class EncoderDecoder(TinyLM):
    """Encoder-decoder (T5/BART-style): encode ``input_ids``, decode ``decoder_input_ids`` causally."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoder = Stack(config)
        self.decoder = Stack(config, cross=True)
        self.init_weights()

    def forward(self, batch: Batch) -> torch.Tensor:
        keys = padding_mask(batch["attention_mask"])
        x, angles = self.embed(batch["input_ids"])
        memory = self.encoder(x, angles=angles, mask=keys)
        x, angles = self.embed(batch["decoder_input_ids"])
        return self.head(self.decoder(x, angles=angles, causal=True, memory=memory, memory_mask=keys))


FAMILY_MODELS: dict[str, type[TinyLM]] = {"decoder": DecoderOnly, "encoder": EncoderOnly,
                                          "encoder-decoder": EncoderDecoder, "prefix-decoder": DecoderOnly}
"""Model family -> model class; a new family is one class and one line here, a new objective nothing."""
MODELS: SpecTable = SpecTable(lambda spec: FAMILY_MODELS[spec.family])
"""Objective name -> model class, by the objective's declared family."""


def build_model(objective: str, config: ModelConfig, *, batch_format: str | None = None) -> TinyLM:
    """The reference model for ``objective``'s family (or ``batch_format``), initialized from torch's
    current RNG state."""
    try:
        cls = FAMILY_MODELS[batch_format or get_spec(objective).family]
    except ValueError as err:
        raise ValueError(f"no reference model for objective {objective!r}: {err}") from None
    return cls(config)


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
