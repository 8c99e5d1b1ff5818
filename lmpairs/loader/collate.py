"""One collate function per batch format (:mod:`lmpairs.loader.formats` picks it): rows -> a batch.

Collate functions return int64 numpy arrays; :func:`batch_tensors` turns a batch into tensors.

Batches are int64 tensors, padded to the longest row of the batch (or a multiple of
``pad_to_multiple_of``), −100 wherever a position carries no loss.

- CLM: a stored row of ``n <= seq_len + 1`` tokens gives ``input_ids = row[:-1]`` and pre-shifted
  ``target_ids = row[1:]``; optional ``position_ids`` restart at 0 at each document start
  (``doc_lengths``), for trainers that pack documents.
- MLM: ``input_ids``, ``attention_mask`` and the stored ``labels``.
- T5/BART: ``decoder_input_ids`` are the labels shifted right behind a start id, as Hugging Face's
  ``shift_tokens_right`` does: pad for T5, eos for BART (``decoder_start_token_id``). Positions
  past a row's labels hold pad and are masked by ``decoder_attention_mask``.
- Prefix-LM decoder: ``input_ids + labels`` as one decoder row, loss on the labels only, and
  ``prefix_lengths`` for the bidirectional prefix mask.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lmpairs.loader.documents import TYPED_KEYS, document_inputs
from lmpairs.loader.ragged import Ragged, length_mask, pad_rows, round_up
from lmpairs.transforms.spec import IGNORE_INDEX


@dataclass(frozen=True, kw_only=True)
class CollateSpec:
    """Ids and shape options every collate function needs (special ids come from the manifest)."""

    pad_id: int
    eos_id: int
    pad_to_multiple_of: int | None = None
    position_ids: bool = False
    document_attention: str | None = None  # CLM: see lmpairs.loader.documents.DOCUMENT_ATTENTION


def batch_tensors(arrays: dict[str, np.ndarray], *, pack: bool = True) -> dict[str, torch.Tensor]:
    """Contiguous int64 tensors; with ``pack``, views of one storage.

    A DataLoader worker hands each storage to the main process through its own shared-memory
    segment; one segment per batch instead of one per key makes worker batches markedly cheaper
    to ship (one small copy here buys that). Without workers nothing is shipped: pass
    ``pack=False`` to wrap the arrays as they are.
    """
    kept = {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()
            if name in TYPED_KEYS}  # block_mask (bool), cu_seqlens (int32): the dtypes attention kernels take
    arrays = {name: a for name, a in arrays.items() if name not in kept}
    if not pack:
        return {**{name: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for name, a in arrays.items()},
                **kept}
    sizes = [a.size for a in arrays.values()]
    flat = torch.empty(sum(sizes), dtype=torch.int64)
    flat_np, out, start = flat.numpy(), {}, 0
    for (name, a), n in zip(arrays.items(), sizes):
        flat_np[start:start + n] = a.reshape(-1)
        out[name] = flat[start:start + n].view(a.shape)
        start += n
    return {**out, **kept}


def document_positions(doc_lengths: Ragged, rows: np.ndarray, width: int) -> np.ndarray:
    """Positions that restart at each document start inside a packed row (``(B, width)`` int64)."""
    lengths, _ = pad_rows(doc_lengths, rows, fill=0)
    starts = np.cumsum(lengths, axis=1) - lengths
    valid = (lengths > 0) & (starts < width)
    last_start = np.zeros((rows.shape[0], width), dtype=np.int64)
    batch_index = np.broadcast_to(np.arange(rows.shape[0])[:, None], starts.shape)
    last_start[batch_index[valid], starts[valid]] = starts[valid]
    np.maximum.accumulate(last_start, axis=1, out=last_start)
    return np.arange(width, dtype=np.int64)[None, :] - last_start


def collate_clm(columns: dict[str, Ragged], rows: np.ndarray, spec: CollateSpec) -> dict[str, np.ndarray]:
    """One gather of the stored rows; inputs and targets are its two overlapping slices."""
    rows = np.asarray(rows, dtype=np.int64)
    batch = _full_clm_rows(columns["input_ids"], rows, spec) if rows.size else None
    if batch is None:
        batch = _padded_clm_rows(columns["input_ids"], rows, spec)
    if spec.document_attention is not None:  # position_ids plus cu_seqlens or a block mask
        batch.update(document_inputs(columns["doc_lengths"], rows, batch["attention_mask"], spec.document_attention))
    elif spec.position_ids:
        batch["position_ids"] = document_positions(columns["doc_lengths"], rows, batch["input_ids"].shape[1])
    return batch


def _full_clm_rows(ragged: Ragged, rows: np.ndarray, spec: CollateSpec) -> dict[str, np.ndarray] | None:
    """The usual batch, every row full and no rounding to add: no padding work at all (None otherwise)."""
    lengths = ragged.offsets[rows + 1] - ragged.offsets[rows]
    length = int(lengths[0])
    if length < 2 or round_up(length - 1, spec.pad_to_multiple_of) != length - 1 or (lengths != length).any():
        return None
    grid = ragged.windows(length)[ragged.offsets[rows]].astype(np.int64)
    return {"input_ids": grid[:, :-1], "attention_mask": np.ones((rows.shape[0], length - 1), dtype=np.int64),
            "target_ids": grid[:, 1:]}


def _padded_clm_rows(ragged: Ragged, rows: np.ndarray, spec: CollateSpec) -> dict[str, np.ndarray]:
    """Rows of any lengths: short rows padded, their last token a target only."""
    grid, lengths = pad_rows(ragged, rows, fill=spec.pad_id)
    width = round_up(max(grid.shape[1] - 1, 0), spec.pad_to_multiple_of)
    if grid.shape[1] < width + 1:
        grid = np.pad(grid, ((0, 0), (0, width + 1 - grid.shape[1])), constant_values=spec.pad_id)
    positions = np.maximum(lengths - 1, 0)
    input_ids, target_ids = grid[:, :-1], grid[:, 1:].copy()
    if (positions < width).any():  # short rows: their last token is a target only
        outside = np.arange(width)[None, :] >= positions[:, None]
        input_ids[outside] = spec.pad_id
        target_ids[outside] = IGNORE_INDEX
    return {"input_ids": input_ids, "attention_mask": length_mask(positions, width), "target_ids": target_ids}


def collate_mlm(columns: dict[str, Ragged], rows: np.ndarray, spec: CollateSpec) -> dict[str, np.ndarray]:
    input_ids, lengths = pad_rows(columns["input_ids"], rows, fill=spec.pad_id, multiple=spec.pad_to_multiple_of)
    labels, _ = pad_rows(columns["labels"], rows, fill=IGNORE_INDEX, multiple=spec.pad_to_multiple_of)
    return {"input_ids": input_ids, "attention_mask": length_mask(lengths, input_ids.shape[1]), "labels": labels}


def shift_right(labels: np.ndarray, lengths: np.ndarray, *, start_id: int, pad_id: int) -> np.ndarray:
    """Decoder inputs: ``[start] + labels[:-1]`` per row, −100 padding turned into pad ids.

    Exactly Hugging Face's ``shift_tokens_right`` (what ``prepare_decoder_input_ids_from_labels``
    and ``DataCollatorForSeq2Seq`` produce), so batches equal what an HF pipeline would feed.
    """
    out = np.full_like(labels, pad_id)
    if labels.shape[1]:
        out[:, 0] = start_id
        out[:, 1:] = labels[:, :-1]
        out[out == IGNORE_INDEX] = pad_id
    return out


def collate_seq2seq(columns: dict[str, Ragged], rows: np.ndarray, spec: CollateSpec, *,
                    start: str) -> dict[str, np.ndarray]:
    multiple = spec.pad_to_multiple_of
    input_ids, in_lengths = pad_rows(columns["input_ids"], rows, fill=spec.pad_id, multiple=multiple)
    labels, lengths = pad_rows(columns["labels"], rows, fill=IGNORE_INDEX, multiple=multiple)
    start_id = spec.pad_id if start == "pad" else spec.eos_id
    return {
        "input_ids": input_ids,
        "attention_mask": length_mask(in_lengths, input_ids.shape[1]),
        "decoder_input_ids": shift_right(labels, lengths, start_id=start_id, pad_id=spec.pad_id),
        "decoder_attention_mask": length_mask(lengths, labels.shape[1]),
        "labels": labels,
    }


def collate_prefix_decoder(columns: dict[str, Ragged], rows: np.ndarray, spec: CollateSpec) -> dict[str, np.ndarray]:
    """Prefix-LM on one decoder stack: the row is ``input_ids + labels`` (prefix, then target).

    ``input_ids``/``target_ids`` are that row shifted as for CLM, with −100 on every position that
    predicts a prefix token (loss on the target only), and ``prefix_lengths`` (``(B,)``) tells the
    model which keys every position may see: the whole prefix bidirectionally, the rest causally.
    """
    rows = np.asarray(rows, dtype=np.int64)
    prefix, prefix_lengths = pad_rows(columns["input_ids"], rows, fill=spec.pad_id)
    target, target_lengths = pad_rows(columns["labels"], rows, fill=spec.pad_id)
    lengths = prefix_lengths + target_lengths
    width = round_up(max(int(lengths.max(initial=1)) - 1, 1), spec.pad_to_multiple_of)
    full = np.full((rows.shape[0], width + 1), spec.pad_id, dtype=np.int64)
    full[:, :prefix.shape[1]] = np.where(np.arange(prefix.shape[1])[None, :] < prefix_lengths[:, None], prefix,
                                         spec.pad_id)
    batch_index = np.broadcast_to(np.arange(rows.shape[0])[:, None], target.shape)
    columns_at = prefix_lengths[:, None] + np.arange(target.shape[1])[None, :]
    real = np.arange(target.shape[1])[None, :] < target_lengths[:, None]
    full[batch_index[real], columns_at[real]] = target[real]
    positions = np.arange(width)[None, :]
    input_ids, target_ids = full[:, :-1].copy(), full[:, 1:].copy()
    outside = positions >= (lengths - 1)[:, None]
    input_ids[outside] = spec.pad_id
    target_ids[outside | (positions < (prefix_lengths - 1)[:, None])] = IGNORE_INDEX
    return {"input_ids": input_ids, "attention_mask": length_mask(np.maximum(lengths - 1, 0), width),
            "target_ids": target_ids, "prefix_lengths": prefix_lengths.astype(np.int64)}


Collate = Callable[[dict[str, Ragged], np.ndarray, CollateSpec], dict[str, np.ndarray]]
