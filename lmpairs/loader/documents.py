"""Document-aware attention inputs for packed CLM rows: per-document positions, varlen ``cu_seqlens``, block masks.

A CLM row packs several documents (``doc_lengths`` over the row's ``n`` stored tokens); its
``n - 1`` input positions are the first ``n - 1`` tokens, so the last document of a row loses one
token to the shift (and a final document of one token has no input position at all). Padding sits
only at a row's end. From the batch's rows this module derives, without a Python loop over rows:

- ``segments``: the lengths of the document pieces over the batch's input positions, row by row:
  the unit of every output below;
- ``cu_seqlens`` (int32, ``(num_segments + 1,)``) and ``max_seqlen``: FlashAttention's varlen layout
  over the batch's non-padding tokens flattened row by row, i.e. over
  ``input_ids[attention_mask.bool()]`` (``flash_attn_varlen_func(q, k, v, cu_seqlens, cu_seqlens,
  max_seqlen, max_seqlen, causal=True)``);
- ``position_ids`` ``(B, L)`` restarting at 0 at each document start (padding keeps counting on from
  the last document's start, as :func:`lmpairs.loader.collate.document_positions` does);
- ``cu_seq_lens_q``/``cu_seq_lens_k`` and ``max_length_q``/``max_length_k``: the same varlen layout
  under the names Hugging Face's ``DataCollatorWithFlattening(return_flash_attn_kwargs=True)``
  emits; :func:`hf_flattened` lays a batch out as that collator does (one row of all real tokens),
  the layout HF's ``flash_attention_2`` reads them in (docs/loader.md: which attention honours what);
- ``block_mask`` ``(B, 1, L, L)`` bool, True where query ``i`` may attend key ``j``: causal and
  inside one document. Padding positions form one segment of their own, so no real token attends
  padding and no padding row is empty (an all-False row makes softmax NaN). :func:`additive_mask`
  turns it into the ``0 / -inf`` float form eager attention adds to its scores.

Cost: ``O(B · documents)`` for the segments and ``O(B · L²)`` bytes for the block mask (4 MiB per
row at ``L = 2048``); choose ``cu_seqlens`` with a varlen kernel for long rows.
"""
from __future__ import annotations

import numpy as np

from lmpairs.loader.ragged import Ragged, pad_rows

DOCUMENT_ATTENTION: tuple[str | None, ...] = (None, "position_ids", "cu_seqlens", "flash_kwargs", "block_mask")
"""Values of ``PairStream(document_attention=...)``: what a CLM batch carries besides its tokens.

``None``: nothing; ``"position_ids"``: positions reset per document; ``"cu_seqlens"``: those plus
``cu_seqlens`` (int32) and ``max_seqlen`` (one int64, shape ``(1,)``: ``int(batch["max_seqlen"])``);
``"flash_kwargs"``: positions plus HF's ``cu_seq_lens_q``/``cu_seq_lens_k`` (int32) and
``max_length_q``/``max_length_k`` (shape ``(1,)``; :func:`hf_flattened` makes them ints);
``"block_mask"``: positions plus the ``(B, 1, L, L)`` bool ``block_mask``."""


TYPED_KEYS = ("cu_seqlens", "cu_seq_lens_q", "cu_seq_lens_k", "block_mask")
"""Batch keys that keep their own dtype (int32, bool) instead of joining the batch's int64 storage."""


def check_document_attention(value: str | None) -> str | None:
    """``value`` itself when it is one of :data:`DOCUMENT_ATTENTION`, else a ValueError naming them."""
    if value not in DOCUMENT_ATTENTION:
        raise ValueError(f"document_attention={value!r}: choose None, 'position_ids', 'cu_seqlens', "
                         "'flash_kwargs' or 'block_mask' (what CLM batches carry to keep packed documents apart).")
    return value


def segment_grid(lengths: np.ndarray, input_lengths: np.ndarray) -> np.ndarray:
    """``(B, D + 1)`` int64 document piece lengths over each row's ``input_lengths[b]`` input positions.

    ``lengths`` is the rows' ``(B, D)`` zero-padded ``doc_lengths``. Documents are clipped at the
    row's last input position (pieces past it become 0); if they cover fewer tokens than the inputs,
    the rest counts as one more piece, so the pieces of a row always sum to its input length.
    """
    input_lengths = np.asarray(input_lengths, dtype=np.int64)
    ends = np.minimum(np.cumsum(lengths, axis=1), input_lengths[:, None])
    rest = input_lengths - (ends[:, -1] if ends.shape[1] else 0)
    ends = np.concatenate([ends, (input_lengths if ends.shape[1] == 0 else ends[:, -1] + rest)[:, None]], axis=1)
    return np.diff(ends, axis=1, prepend=0)


def cu_seqlens(segments: np.ndarray) -> tuple[np.ndarray, int]:
    """``(cu_seqlens int32, max_seqlen)`` of a ``(B, D)`` segment grid, pieces taken row by row."""
    flat = segments[segments > 0]  # row-major: row 0's pieces, then row 1's, ...
    out = np.zeros(flat.shape[0] + 1, dtype=np.int32)
    np.cumsum(flat, out=out[1:])
    return out, int(flat.max()) if flat.size else 0


def segment_ids(segments: np.ndarray, width: int) -> np.ndarray:
    """``(B, width)`` int64: the piece index of every position, -1 on padding past the pieces.

    One ``searchsorted`` over all rows: row ``b``'s piece ends are shifted by ``b · (width + 1)``
    so the concatenated ends stay sorted.
    """
    b, d = segments.shape
    ends = np.cumsum(segments, axis=1)
    shift = np.arange(b, dtype=np.int64)[:, None] * (width + 1)
    positions = np.arange(width, dtype=np.int64)[None, :] + shift
    ids = np.searchsorted((ends + shift).ravel(), positions.ravel(), side="right").reshape(b, width)
    ids -= np.arange(b, dtype=np.int64)[:, None] * d
    total = ends[:, -1:] if d else np.zeros((b, 1), dtype=np.int64)
    ids[np.arange(width)[None, :] >= total] = -1
    return ids


def positions_from_segments(segments: np.ndarray, width: int) -> np.ndarray:
    """``(B, width)`` int64 positions restarting at each piece start before ``width``; after the
    last start they count on (over padding too)."""
    b = segments.shape[0]
    starts = np.cumsum(segments, axis=1) - segments
    valid = (segments > 0) & (starts < width)
    last_start = np.zeros((b, width), dtype=np.int64)
    batch_index = np.broadcast_to(np.arange(b)[:, None], starts.shape)
    last_start[batch_index[valid], starts[valid]] = starts[valid]
    np.maximum.accumulate(last_start, axis=1, out=last_start)
    return np.arange(width, dtype=np.int64)[None, :] - last_start


def block_mask(segments: np.ndarray, width: int) -> np.ndarray:
    """``(B, 1, width, width)`` bool: causal attention inside each piece (padding: among itself)."""
    ids = segment_ids(segments, width)
    causal = np.tri(width, dtype=bool)
    return ((ids[:, :, None] == ids[:, None, :]) & causal)[:, None]


def document_inputs(doc_lengths: Ragged, rows: np.ndarray, attention_mask: np.ndarray,
                    mode: str | None) -> dict[str, np.ndarray]:
    """The extra batch arrays of ``mode`` (see :data:`DOCUMENT_ATTENTION`) for a collated CLM batch.

    ``attention_mask`` is the batch's ``(B, L)`` 0/1 mask: its row sums are the input lengths.
    ``cu_seqlens`` stays int32 and ``block_mask`` bool (the dtypes kernels take); the rest is int64.
    """
    check_document_attention(mode)
    if mode is None:
        return {}
    width = attention_mask.shape[1]
    lengths, _ = pad_rows(doc_lengths, np.asarray(rows, dtype=np.int64), fill=0)
    segments = segment_grid(lengths, attention_mask.sum(axis=1))
    out = {"position_ids": positions_from_segments(lengths, width)}  # unclipped: padding as the collator has it
    if mode == "cu_seqlens":
        cu, longest = cu_seqlens(segments)
        out.update(cu_seqlens=cu, max_seqlen=np.array([longest], dtype=np.int64))
    elif mode == "flash_kwargs":
        cu, longest = cu_seqlens(segments)
        most = np.array([longest], dtype=np.int64)
        out.update(cu_seq_lens_q=cu, cu_seq_lens_k=cu.copy(), max_length_q=most, max_length_k=most.copy())
    elif mode == "block_mask":
        out["block_mask"] = block_mask(segments, width)
    return out


def additive_mask(mask, dtype=None):
    """A bool ``block_mask`` tensor as the additive float mask eager attention adds (0 or the dtype's min)."""
    import torch  # the loader side stays numpy; this helper serves trainers

    dtype = dtype or torch.float32
    zero = torch.zeros((), dtype=dtype, device=mask.device)
    return torch.where(mask, zero, torch.tensor(torch.finfo(dtype).min, dtype=dtype, device=mask.device))


HF_FLASH_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")


def hf_flattened(batch: dict) -> dict:
    """A ``document_attention="flash_kwargs"`` CLM batch laid out as HF's ``DataCollatorWithFlattening``
    returns one: ``input_ids``/``position_ids`` ``(1, N)`` of the batch's real tokens row after row,
    ``cu_seq_lens_q/k`` int32 and ``max_length_q/k`` Python ints (no ``attention_mask``). Pass it
    as ``model(**hf_flattened(batch))`` to a model with ``attn_implementation="flash_attention_2"``;
    ``target_ids`` come along flattened the same way (for a loss outside the model).
    """
    keep = batch["attention_mask"].bool()
    out = {name: batch[name][keep][None] for name in ("input_ids", "position_ids", "target_ids") if name in batch}
    out.update(cu_seq_lens_q=batch["cu_seq_lens_q"], cu_seq_lens_k=batch["cu_seq_lens_k"],
               max_length_q=int(batch["max_length_q"]), max_length_k=int(batch["max_length_k"]))
    return out
