"""Per-document self-attention for packed CLM batches: a block mask, or varlen over ``cu_seqlens``.

The loader (``PairStream(document_attention=...)``, :mod:`lmpairs.loader.documents`) gives a CLM
batch either a ``(B, 1, L, L)`` bool ``block_mask`` or FlashAttention's varlen ``cu_seqlens`` /
``max_seqlen`` over the non-padding tokens. :func:`attend` is the reference model's one attention
call and takes either:

- ``block_mask``: scaled-dot-product attention with that explicit mask (eager, ``O(B · L²)``);
- ``cu_seqlens``: :func:`varlen_attention`. With the ``flash_attn`` package on CUDA (fp16/bf16) it
  calls ``flash_attn_varlen_func``; otherwise it regroups the tokens into one row per document,
  ``(num_documents, max_seqlen)``, and runs causal SDPA on those rows (no explicit mask, so torch's
  flash/efficient kernels apply), costing ``O(Σ max_seqlen²)`` instead of ``O(B · L²)``. Either
  way a token attends only to earlier tokens of its own document.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Varlen:
    """Where each non-padding token sits: ``real`` ``(B, L)`` bool; per token its document and offset."""

    real: torch.Tensor
    document: torch.Tensor
    offset: torch.Tensor
    cu_seqlens: torch.Tensor
    max_seqlen: int

    @property
    def num_documents(self) -> int:
        return int(self.cu_seqlens.shape[0]) - 1


def varlen_layout(batch: Mapping[str, torch.Tensor]) -> Varlen | None:
    """The batch's :class:`Varlen` when it carries ``cu_seqlens`` (one host sync for ``max_seqlen``)."""
    cu = batch.get("cu_seqlens")
    if cu is None:
        return None
    real = batch["attention_mask"].bool()
    lengths = (cu[1:] - cu[:-1]).long()
    total = int(cu[-1])
    if total != int(real.sum()):
        raise ValueError(f"cu_seqlens covers {total} tokens but attention_mask has {int(real.sum())}; pass the "
                         "batch as PairStream(document_attention='cu_seqlens') collated it.")
    document = torch.repeat_interleave(torch.arange(lengths.shape[0], device=cu.device), lengths)
    offset = torch.arange(total, device=cu.device) - cu[:-1].long()[document]
    return Varlen(real, document, offset, cu.to(torch.int32), int(batch["max_seqlen"]))


def _flash_varlen():
    try:
        from flash_attn import flash_attn_varlen_func  # optional: CUDA only
    except ImportError:
        return None
    return flash_attn_varlen_func


def varlen_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, layout: Varlen, *,
                     dropout: float = 0.0) -> torch.Tensor:
    """Causal attention inside each document of ``(B, H, L, D)`` heads; padding positions get zeros."""
    b, h, length, d = queries.shape
    flat = [x.transpose(1, 2)[layout.real] for x in (queries, keys, values)]  # (tokens, H, D) each
    flash = _flash_varlen() if queries.is_cuda and queries.dtype in (torch.float16, torch.bfloat16) else None
    if flash is not None:
        out = flash(*flat, layout.cu_seqlens, layout.cu_seqlens, layout.max_seqlen, layout.max_seqlen,
                    dropout_p=dropout, causal=True)
    else:
        grids = []
        for x in flat:
            grid = x.new_zeros(layout.num_documents, layout.max_seqlen, h, d)
            grid[layout.document, layout.offset] = x
            grids.append(grid.transpose(1, 2))
        # Each document is a row whose padding trails its tokens: causal attention never reaches it.
        attended = F.scaled_dot_product_attention(*grids, dropout_p=dropout, is_causal=True)
        out = attended.transpose(1, 2)[layout.document, layout.offset]
    result = queries.new_zeros(b, length, h, d)
    result[layout.real] = out.to(queries.dtype)
    return result.transpose(1, 2)


def attend(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, mask: torch.Tensor | None = None,
           causal: bool = False, dropout: float = 0.0, varlen: Varlen | None = None) -> torch.Tensor:
    """Attention of ``(B, H, L, D)`` heads: varlen when ``varlen`` is given, else SDPA with ``mask``."""
    if varlen is not None:
        return varlen_attention(queries, keys, values, varlen, dropout=dropout)
    return F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, dropout_p=dropout,
                                          is_causal=causal and mask is None)


def batch_block_mask(batch: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """The batch's ``(B, 1, L, L)`` bool ``block_mask``, if the loader made one."""
    mask = batch.get("block_mask")
    if mask is not None and (mask.dim() != 4 or mask.dtype != torch.bool):
        raise ValueError(f"block_mask has shape {tuple(mask.shape)} and dtype {mask.dtype}; expected (B, 1, L, L) "
                         "bool as PairStream(document_attention='block_mask') yields it.")
    return mask
