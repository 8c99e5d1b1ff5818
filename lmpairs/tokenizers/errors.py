"""What every tokenizer module shares: the error users see, and T5's sentinel pieces.

Kept apart so each kind's backend, training, file reading and the facade import it without
importing each other.
"""
from __future__ import annotations

from lmpairs.errors import UserError

NUM_SENTINELS = 100
FIX = ("pass a SentencePiece .model, a Hugging Face tokenizer.json or model directory, a tekken.json or a "
       "tiktoken rank file, or train one with `lmpairs train-tokenizer`.")


class TokenizerError(UserError):
    """A tokenizer file or training input is unusable; the message names the path and the fix."""


def sentinel_piece(index: int) -> str:
    """The piece text of T5's ``index``-th sentinel, ``<extra_id_{index}>``."""
    return f"<extra_id_{index}>"
