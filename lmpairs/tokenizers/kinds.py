"""Which kind a tokenizer file is, told from its bytes, and its backend model.

JSON is a Hugging Face tokenizer.json or a tekken.json (by their fields); lines of ``base64 rank``
are a tiktoken rank file; anything else must parse as a SentencePiece protobuf. Kinds needing an
optional package import it only here, with an error naming the install command.
"""
from __future__ import annotations

from lmpairs.tokenizers.errors import TokenizerError


def parse_model(data: bytes, name: str, num_threads: int | None):
    """The backend model for ``data``, by content: JSON (tokenizer.json or tekken.json), a tiktoken
    rank file, else SentencePiece."""
    from lmpairs.tokenizers.hf import HFTokenizerModel, parse_json_tokenizer

    parsed = parse_json_tokenizer(data, name)
    if parsed is not None and parsed[0] == "tokenizer.json":
        return HFTokenizerModel(data, parsed[1], name, num_threads=num_threads)
    if parsed is not None or _looks_like_rank_file(data):
        from lmpairs.tokenizers.tiktoken_bpe import LLAMA3_PATTERN, TiktokenModel, parse_rank_file, tekken_ranks

        _import_tiktoken(name)
        if parsed is not None:
            ranks, specials, pattern, _ = tekken_ranks(parsed[1], name)
            return TiktokenModel(ranks, specials=specials, pattern=pattern, name=name, kind="tekken",
                                 num_threads=num_threads)
        return TiktokenModel(parse_rank_file(data, name), specials=(), pattern=LLAMA3_PATTERN, name=name,
                             kind="tiktoken", num_threads=num_threads)
    from lmpairs.tokenizers.sentencepiece import SentencePieceModel

    return SentencePieceModel(data, name, num_threads=num_threads)


def _looks_like_rank_file(data: bytes) -> bool:
    from lmpairs.tokenizers.tiktoken_bpe import looks_like_rank_file

    return looks_like_rank_file(data)


def _import_tiktoken(name: str) -> None:
    try:
        import tiktoken  # noqa: F401
    except ImportError as err:
        raise TokenizerError(f"{name}: is a tiktoken-format BPE (tekken.json or a rank file), which needs the "
                             "`tiktoken` package; install it with: pip install tiktoken") from err
