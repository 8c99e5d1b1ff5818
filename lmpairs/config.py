"""Frozen, validated configs shared by the pipeline (which writes them) and the loader (which reads them back).

Every field is keyword-only and checked in ``__post_init__``; errors name the field, what was
given and how to fix it. ``to_dict``/``from_dict`` round-trip through the manifest, so a default
is declared once, here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from lmpairs.errors import UserError

OBJECTIVES = ("clm", "mlm", "t5", "bart")
"""The objective names, in the order their stable ids are assigned (clm=1 … bart=4)."""


class ConfigError(UserError):
    """A configuration value is out of range; the message names the field and the fix."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_fraction(owner: str, name: str, value: float, *, allow_zero: bool = True, allow_one: bool = True) -> None:
    low_ok = value >= 0.0 if allow_zero else value > 0.0
    high_ok = value <= 1.0 if allow_one else value < 1.0
    _check(
        isinstance(value, (int, float)) and not isinstance(value, bool) and low_ok and high_ok,
        f"{owner}.{name}={value!r}: must be a number in "
        f"{'[' if allow_zero else '('}0, 1{']' if allow_one else ')'}; pass e.g. --{name.replace('_', '-')} 0.15.",
    )


def _check_int(owner: str, name: str, value: int, *, minimum: int) -> None:
    _check(
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        f"{owner}.{name}={value!r}: must be an integer >= {minimum}.",
    )


class _Serializable:
    """to_dict/from_dict for flat or nested frozen dataclasses (manifest round-trip)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, _Serializable):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        _check(not unknown, f"{cls.__name__}: unknown fields {unknown}; this manifest was written by a "
               "newer lmpairs, upgrade lmpairs to read it.")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            sub = _NESTED.get((cls.__name__, key))
            if sub is not None and isinstance(value, dict):
                value = sub.from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)


@dataclass(frozen=True, kw_only=True)
class ClmConfig(_Serializable):
    """Causal LM: documents framed ``[bos] ids [eos]``, packed into rows of ``seq_len + 1`` tokens."""

    seq_len: int = 1024
    add_bos: bool = True
    add_eos: bool = True
    final_row: Literal["pad", "drop"] = "pad"

    def __post_init__(self) -> None:
        _check_int("clm", "seq_len", self.seq_len, minimum=2)
        _check(self.final_row in ("pad", "drop"),
               f"clm.final_row={self.final_row!r}: must be 'pad' or 'drop'.")

    @property
    def row_length(self) -> int:
        """Tokens per stored row: seq_len inputs plus one more for the last next-token target."""
        return self.seq_len + 1


@dataclass(frozen=True, kw_only=True)
class MlmConfig(_Serializable):
    """Masked LM (BERT/RoBERTa): select ``mask_prob`` of maskable tokens, then 80/10/10."""

    seq_len: int = 512
    mask_prob: float = 0.15
    selection: Literal["exact", "bernoulli"] = "exact"
    mask_fraction: float = 0.8
    random_fraction: float = 0.1
    whole_word: bool = False
    copies: int = 1
    final_row: Literal["pad", "drop"] = "pad"

    def __post_init__(self) -> None:
        _check_int("mlm", "seq_len", self.seq_len, minimum=4)
        _check_fraction("mlm", "mask_prob", self.mask_prob, allow_zero=False)
        _check(self.selection in ("exact", "bernoulli"),
               f"mlm.selection={self.selection!r}: must be 'exact' (BERT) or 'bernoulli' (HF collator).")
        _check_fraction("mlm", "mask_fraction", self.mask_fraction)
        _check_fraction("mlm", "random_fraction", self.random_fraction)
        _check(self.mask_fraction + self.random_fraction <= 1.0 + 1e-9,
               f"mlm.mask_fraction + mlm.random_fraction = {self.mask_fraction + self.random_fraction}: "
               "must be <= 1 (the rest stay unchanged); lower one of them.")
        _check_int("mlm", "copies", self.copies, minimum=1)
        _check(self.final_row in ("pad", "drop"),
               f"mlm.final_row={self.final_row!r}: must be 'pad' or 'drop'.")


def t5_lengths(inputs_length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """T5's ``random_spans_helper``: the raw row length that corrupts to ``inputs_length`` inputs.

    Returns ``(raw_length, targets_length)``; both sides include their EOS. For the defaults
    (0.15, 3.0): 512 -> (568, 114) and 1024 -> (1137, 229), as in t5/data/preprocessors.py.
    """

    def lengths_for(tokens_length: int) -> tuple[int, int]:
        num_noise_tokens = int(round(tokens_length * noise_density))
        num_nonnoise_tokens = tokens_length - num_noise_tokens
        num_noise_spans = int(round(num_noise_tokens / mean_noise_span_length))
        return num_nonnoise_tokens + num_noise_spans + 1, num_noise_tokens + num_noise_spans + 1

    tokens_length = inputs_length - 1
    while lengths_for(tokens_length + 1)[0] <= inputs_length:
        tokens_length += 1
    targets_length = lengths_for(tokens_length)[1]
    if noise_density == 0.5 and targets_length > inputs_length:  # T5's own tweak for density 0.5
        tokens_length -= 1
        targets_length -= 1
    return tokens_length, targets_length


@dataclass(frozen=True, kw_only=True)
class T5Config(_Serializable):
    """T5 span corruption; ``seq_len`` is the encoder input length (512 reads 568 raw tokens)."""

    seq_len: int = 512
    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0

    def __post_init__(self) -> None:
        # Below ~10 tokens T5's length arithmetic itself breaks (a full row corrupts to seq_len + 1).
        _check_int("t5", "seq_len", self.seq_len, minimum=16)
        _check_fraction("t5", "noise_density", self.noise_density, allow_zero=False, allow_one=False)
        _check(isinstance(self.mean_noise_span_length, (int, float)) and self.mean_noise_span_length >= 1.0,
               f"t5.mean_noise_span_length={self.mean_noise_span_length!r}: must be >= 1.")

    @property
    def raw_length(self) -> int:
        return t5_lengths(self.seq_len, self.noise_density, self.mean_noise_span_length)[0]

    @property
    def targets_length(self) -> int:
        return t5_lengths(self.seq_len, self.noise_density, self.mean_noise_span_length)[1]

    @property
    def max_spans(self) -> int:
        """Spans in a full raw row; each needs its own sentinel."""
        num_noise = int(round(self.raw_length * self.noise_density))
        num_noise = min(max(num_noise, 1), self.raw_length - 1)
        return max(1, int(round(num_noise / self.mean_noise_span_length)))


@dataclass(frozen=True, kw_only=True)
class BartConfig(_Serializable):
    """BART denoising; defaults are BART-large's (fairseq ``denoising`` task)."""

    seq_len: int = 512
    mask_ratio: float = 0.3
    random_ratio: float = 0.1
    poisson_lambda: float = 3.5
    mask_whole_words: bool = True
    token_mask_ratio: float = 0.0
    token_delete_ratio: float = 0.0
    insert_ratio: float = 0.0
    permute_sentence_ratio: float = 1.0
    rotate_ratio: float = 0.0

    def __post_init__(self) -> None:
        _check_int("bart", "seq_len", self.seq_len, minimum=4)
        for name in ("mask_ratio", "random_ratio", "token_mask_ratio", "token_delete_ratio",
                     "insert_ratio", "permute_sentence_ratio", "rotate_ratio"):
            _check_fraction("bart", name, getattr(self, name))
        _check(isinstance(self.poisson_lambda, (int, float)) and self.poisson_lambda > 0,
               f"bart.poisson_lambda={self.poisson_lambda!r}: must be > 0 (BART uses 3.5).")


OBJECTIVE_CONFIGS: dict[str, type] = {"clm": ClmConfig, "mlm": MlmConfig, "t5": T5Config, "bart": BartConfig}


@dataclass(frozen=True, kw_only=True)
class BuildConfig(_Serializable):
    """One ``lmpairs build`` job: inputs, tokenizer, objectives and how to write them."""

    inputs: tuple[str, ...]
    output: str
    tokenizer: str
    objectives: tuple[str, ...] = OBJECTIVES
    seed: int = 0
    validation_fraction: float = 0.01
    num_shards: int = 16
    shard_size_mb: float | None = None
    input_format: Literal["auto", "text", "jsonl", "parquet"] = "auto"
    text_field: str = "text"
    documents: Literal["line", "paragraph", "file"] = "line"
    max_document_bytes: int = 16 * 1024 * 1024
    pack_buckets: int = 16
    row_group_mb: float = 4.0
    overwrite: bool = False
    clm: ClmConfig = field(default_factory=ClmConfig)
    mlm: MlmConfig = field(default_factory=MlmConfig)
    t5: T5Config = field(default_factory=T5Config)
    bart: BartConfig = field(default_factory=BartConfig)

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        if isinstance(self.objectives, str):
            object.__setattr__(self, "objectives", tuple(o.strip() for o in self.objectives.split(",") if o.strip()))
        _check(len(self.inputs) > 0, "build.inputs is empty: pass --input GLOB (one or more).")
        _check(bool(self.output), "build.output is empty: pass --output DIR.")
        _check(bool(self.tokenizer), "build.tokenizer is empty: pass --tokenizer MODEL (a SentencePiece .model).")
        unknown = [o for o in self.objectives if o not in OBJECTIVES]
        _check(not unknown and len(self.objectives) > 0,
               f"build.objectives={list(self.objectives)}: unknown {unknown}; choose from {','.join(OBJECTIVES)}.")
        _check(len(set(self.objectives)) == len(self.objectives),
               f"build.objectives={list(self.objectives)}: lists an objective twice.")
        _check_int("build", "seed", self.seed, minimum=0)
        _check_fraction("build", "validation_fraction", self.validation_fraction, allow_one=False)
        _check_int("build", "num_shards", self.num_shards, minimum=1)
        _check(self.shard_size_mb is None or (isinstance(self.shard_size_mb, (int, float)) and self.shard_size_mb > 0),
               f"build.shard_size_mb={self.shard_size_mb!r}: must be > 0 (or leave it unset and pass --num-shards).")
        _check(self.input_format in ("auto", "text", "jsonl", "parquet"),
               f"build.input_format={self.input_format!r}: choose auto, text, jsonl or parquet.")
        _check(self.documents in ("line", "paragraph", "file"),
               f"build.documents={self.documents!r}: choose line, paragraph (blank-line separated) or file.")
        _check_int("build", "max_document_bytes", self.max_document_bytes, minimum=1)
        _check_int("build", "pack_buckets", self.pack_buckets, minimum=1)
        _check(isinstance(self.row_group_mb, (int, float)) and self.row_group_mb > 0,
               f"build.row_group_mb={self.row_group_mb!r}: must be > 0.")

    def objective_config(self, objective: str):
        """The config of one objective by name (``clm``, ``mlm``, ``t5``, ``bart``)."""
        return getattr(self, objective)

    def with_seq_len(self, seq_len: int) -> "BuildConfig":
        """Apply one ``--seq-len`` to every objective (T5 reads it as the encoder input length)."""
        return dataclasses.replace(
            self,
            clm=dataclasses.replace(self.clm, seq_len=seq_len),
            mlm=dataclasses.replace(self.mlm, seq_len=seq_len),
            t5=dataclasses.replace(self.t5, seq_len=seq_len),
            bart=dataclasses.replace(self.bart, seq_len=seq_len),
        )


_NESTED: dict[tuple[str, str], type] = {("BuildConfig", name): cls for name, cls in OBJECTIVE_CONFIGS.items()}

