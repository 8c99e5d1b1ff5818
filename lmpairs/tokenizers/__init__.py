"""Tokenizers of every kind behind one interface (:class:`Tokenizer`), one error type, and training.

Kinds live in their own modules: :mod:`~lmpairs.tokenizers.sentencepiece`, :mod:`~lmpairs.tokenizers.hf`
(``tokenizer.json``), :mod:`~lmpairs.tokenizers.tiktoken_bpe` (``tekken.json`` and tiktoken rank
files); :mod:`~lmpairs.tokenizers.files` reads a path with bounds, :mod:`~lmpairs.tokenizers.offsets`
maps sentence ends, :mod:`~lmpairs.tokenizers.training` trains new ones.
"""
from __future__ import annotations

from lmpairs.tokenizers.errors import NUM_SENTINELS, TokenizerError, sentinel_piece
from lmpairs.tokenizers.facade import MASK_PIECES, STANDARD_SPECIALS, Tokenizer, train_tokenizer
from lmpairs.tokenizers.files import MAX_TOKENIZER_BYTES
from lmpairs.tokenizers.training import HF_MODEL_TYPES, MODEL_TYPES

__all__ = ["HF_MODEL_TYPES", "MASK_PIECES", "MAX_TOKENIZER_BYTES", "MODEL_TYPES", "NUM_SENTINELS", "STANDARD_SPECIALS",
           "Tokenizer", "TokenizerError", "sentinel_piece", "train_tokenizer"]
