"""Deprecated alias of :mod:`lmpairs.tokenizers` (kept for one release): import from there instead."""
from __future__ import annotations

import warnings

from lmpairs.tokenizers import (
    HF_MODEL_TYPES,
    MODEL_TYPES,
    NUM_SENTINELS,
    STANDARD_SPECIALS,
    Tokenizer,
    TokenizerError,
    sentinel_piece,
    train_tokenizer,
)

warnings.warn("lmpairs.tokenizer is deprecated; import from lmpairs.tokenizers", DeprecationWarning, stacklevel=2)

__all__ = ["HF_MODEL_TYPES", "MODEL_TYPES", "NUM_SENTINELS", "STANDARD_SPECIALS", "Tokenizer", "TokenizerError",
           "sentinel_piece", "train_tokenizer"]
