"""Frozen, validated configs shared by the pipeline (which writes them) and the loader (which reads them back).

Every field is keyword-only and declared once with :func:`~lmpairs.fields.setting`: its help text
(``lmpairs build --help`` shows it), its limits and its default. ``__post_init__`` checks each
value's type and range (numbers must be finite) and the rules between fields; errors name the
field, what was given and how to fix it. ``to_dict``/``from_dict`` round-trip through the manifest.

Limits: every ``seq_len`` is at most :data:`MAX_SEQ_LEN` (1,048,576 tokens; T5's raw rows at most
:data:`MAX_T5_RAW_LENGTH`), fractions and ratios lie in [0, 1], span lengths in [1, MAX_SEQ_LEN];
the build's own limits are in each field's help.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from lmpairs.errors import UserError
from lmpairs.fields import Limits, check_fields, setting

OBJECTIVES = ("clm", "mlm", "t5", "bart")
"""The objective names, in the order their stable ids are assigned (clm=1 … bart=4)."""


class ConfigError(UserError):
    """A configuration value is out of range; the message names the field and the fix."""


MAX_SEQ_LEN = 1 << 20
"""The longest sequence any objective takes (1,048,576 tokens): rows are int32 arrays whose lengths
and offsets must stay far from overflow, and MLM/T5 keep per-row work arrays of this size."""

MAX_T5_RAW_LENGTH = 4 * MAX_SEQ_LEN
"""The longest raw T5 row (before corruption); a high noise density with long spans needs many raw
tokens per input token, and past this a single row no longer fits comfortably in memory."""

FRACTION = Limits(0.0, 1.0)
SPAN_LENGTH = Limits(1.0, float(MAX_SEQ_LEN))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def seq_len_setting(default: int, minimum: int, help: str) -> Any:
    return setting(default, help, limits=Limits(minimum, MAX_SEQ_LEN), hint=f"pass e.g. --seq-len {default}")


class _Config:
    """Field checks on construction and to_dict/from_dict for flat or nested frozen dataclasses."""

    owner: ClassVar[str]
    """The prefix of this config's fields in messages (``mlm`` in ``mlm.mask_prob``)."""

    def __post_init__(self) -> None:
        check_fields(self, self.owner, self._fix, ConfigError)

    def _fix(self, f: dataclasses.Field) -> str:
        if "hint" in f.metadata:
            return f.metadata["hint"]
        value = f.default if f.default is not dataclasses.MISSING else "VALUE"
        return f"pass e.g. --set {self.owner}.{f.name}={json_value(value)}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, _Config):
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


def json_value(value: Any) -> str:
    """A value as ``--set`` reads it: ``true``, ``0.15``, plain strings unquoted."""
    return value if isinstance(value, str) else "true" if value is True else "false" if value is False else str(value)


FINAL_ROW = "what to do with the short last row of a stream: 'pad' it to full length or 'drop' it"


@dataclass(frozen=True, kw_only=True)
class ClmConfig(_Config):
    """Causal LM: documents framed ``[bos] ids [eos]``, packed into rows of ``seq_len + 1`` tokens."""

    owner: ClassVar[str] = "clm"
    seq_len: int = seq_len_setting(1024, 2, "tokens of model input per row (a row stores seq_len + 1 tokens)")
    add_bos: bool = setting(True, "start each document with the tokenizer's bos id")
    add_eos: bool = setting(True, "end each document with the tokenizer's eos id")
    final_row: Literal["pad", "drop"] = setting("pad", FINAL_ROW)
    packing: Literal["concat", "best_fit"] = setting(
        "concat", "how documents fill rows: 'concat' cuts the document stream at row ends; 'best_fit' puts "
        "whole documents into rows by best-fit decreasing within each input split (rows padded, counted)")
    long_documents: Literal["fragment", "truncate"] = setting(
        "fragment", "best_fit only: a document longer than a row is cut into full rows plus a packed rest "
        "('fragment') or cut to one row ('truncate', the rest dropped and counted)")

    @property
    def row_length(self) -> int:
        """Tokens per stored row: seq_len inputs plus one more for the last next-token target."""
        return self.seq_len + 1


@dataclass(frozen=True, kw_only=True)
class MlmConfig(_Config):
    """Masked LM (BERT/RoBERTa): select ``mask_prob`` of maskable tokens, then 80/10/10."""

    owner: ClassVar[str] = "mlm"
    seq_len: int = seq_len_setting(512, 4, "tokens per row, including the frame tokens")
    mask_prob: float = setting(0.15, "share of maskable tokens selected for prediction",
                               limits=Limits(0.0, 1.0, low_open=True))
    selection: Literal["exact", "bernoulli"] = setting(
        "exact", "'exact' selects round(mask_prob * n) tokens per row (BERT); 'bernoulli' each token "
        "independently (HF's collator)")
    mask_fraction: float = setting(0.8, "share of selected tokens replaced by the mask id", limits=FRACTION)
    random_fraction: float = setting(0.1, "share of selected tokens replaced by a random id; the rest stay "
                                          "(mask_fraction + random_fraction <= 1)", limits=FRACTION)
    whole_word: bool = setting(False, "select whole words (all pieces of a word together)")
    copies: int = setting(1, "differently masked copies of each row (RoBERTa-style static duplication)",
                          limits=Limits(1, 100))
    final_row: Literal["pad", "drop"] = setting("pad", FINAL_ROW)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.mask_fraction + self.random_fraction <= 1.0 + 1e-9,
               f"mlm.mask_fraction + mlm.random_fraction = {self.mask_fraction + self.random_fraction}: "
               "must be <= 1 (the rest stay unchanged); lower one of them.")


def t5_lengths(inputs_length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """T5's ``random_spans_helper``: the raw row length that corrupts to ``inputs_length`` inputs.

    Returns ``(raw_length, targets_length)``; both sides include their EOS. For the defaults
    (0.15, 3.0): 512 -> (568, 114) and 1024 -> (1137, 229), as in t5/data/preprocessors.py.
    T5 steps the raw length up one token at a time; the corrupted length never decreases as the
    raw length grows (each step adds 0, 1 or 2 tokens), so doubling then bisection finds the same
    answer in O(log n) steps instead of O(n).
    """

    def lengths_for(tokens_length: int) -> tuple[int, int]:
        num_noise_tokens = int(round(tokens_length * noise_density))
        num_nonnoise_tokens = tokens_length - num_noise_tokens
        num_noise_spans = int(round(num_noise_tokens / mean_noise_span_length))
        return num_nonnoise_tokens + num_noise_spans + 1, num_noise_tokens + num_noise_spans + 1

    # The longest raw length, at least inputs_length - 1, whose inputs fit: low fits (or is the start),
    # high does not.
    low, high = inputs_length - 1, max(inputs_length, 1)
    while lengths_for(high)[0] <= inputs_length:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if lengths_for(middle)[0] <= inputs_length else (low, middle)
    tokens_length = low
    targets_length = lengths_for(tokens_length)[1]
    if noise_density == 0.5 and targets_length > inputs_length:  # T5's own tweak for density 0.5
        tokens_length -= 1
        targets_length -= 1
    return tokens_length, targets_length


@dataclass(frozen=True, kw_only=True)
class T5Config(_Config):
    """T5 span corruption; ``seq_len`` is the encoder input length (512 reads 568 raw tokens)."""

    owner: ClassVar[str] = "t5"
    # Below ~10 tokens T5's length arithmetic itself breaks (a full row corrupts to seq_len + 1).
    seq_len: int = seq_len_setting(512, 16, "encoder input length; raw rows are longer by the tokens the "
                                            "spans remove (512 reads 568 raw tokens)")
    noise_density: float = setting(0.15, "share of raw tokens that become noise (targets)",
                                   limits=Limits(0.0, 1.0, low_open=True, high_open=True))
    mean_noise_span_length: float = setting(3.0, "mean length of a noise span, in tokens", limits=SPAN_LENGTH)

    def __post_init__(self) -> None:
        super().__post_init__()
        raw = self.raw_length
        _check(raw <= MAX_T5_RAW_LENGTH,
               f"t5.seq_len={self.seq_len} with t5.noise_density={self.noise_density} and "
               f"t5.mean_noise_span_length={self.mean_noise_span_length} needs raw rows of {raw:,} tokens, more "
               f"than the {MAX_T5_RAW_LENGTH:,} allowed; lower --seq-len or t5.noise_density, or shorten "
               "t5.mean_noise_span_length.")

    @property
    def raw_length(self) -> int:
        return t5_lengths(self.seq_len, self.noise_density, self.mean_noise_span_length)[0]

    @property
    def targets_length(self) -> int:
        return t5_lengths(self.seq_len, self.noise_density, self.mean_noise_span_length)[1]

@dataclass(frozen=True, kw_only=True)
class BartConfig(_Config):
    """BART denoising; defaults are BART-large's (fairseq ``denoising`` task)."""

    owner: ClassVar[str] = "bart"
    seq_len: int = seq_len_setting(512, 4, "tokens per row (source and target), including the frame tokens")
    mask_ratio: float = setting(0.3, "share of tokens (or words) masked by span infilling", limits=FRACTION)
    random_ratio: float = setting(0.1, "share of masked and inserted tokens given a random id instead of the "
                                       "mask id", limits=FRACTION)
    poisson_lambda: float = setting(3.5, "mean span length (Poisson) of text infilling", limits=Limits(
        0.0, float(MAX_SEQ_LEN), low_open=True))
    mask_whole_words: bool = setting(True, "infill whole words (spans start at word starts)")
    token_mask_ratio: float = setting(0.0, "share of single tokens masked (no spans)", limits=FRACTION)
    token_delete_ratio: float = setting(0.0, "share of tokens deleted", limits=FRACTION)
    insert_ratio: float = setting(0.0, "mask tokens inserted, as a share of the row", limits=FRACTION)
    permute_sentence_ratio: float = setting(1.0, "share of sentences shuffled", limits=FRACTION)
    rotate_ratio: float = setting(0.0, "probability of rotating the row to start at a random token",
                                  limits=FRACTION)


OBJECTIVE_CONFIGS: dict[str, type] = {"clm": ClmConfig, "mlm": MlmConfig, "t5": T5Config, "bart": BartConfig}
"""Objective name -> config class; :func:`lmpairs.objectives.register` adds a registered objective's."""


MAX_INT64 = 2**63 - 1


@dataclass(frozen=True, kw_only=True)
class BuildConfig(_Config):
    """One ``lmpairs build`` job: inputs, tokenizer, objectives and how to write them.

    ``lmpairs build`` has one flag per field (``--max-document-bytes`` for ``max_document_bytes``;
    ``flag`` in a field's metadata renames it), with the help, limits and default declared here;
    the objective configs are set with ``--seq-len`` and ``--set OBJECTIVE.FIELD=VALUE``.
    """

    owner: ClassVar[str] = "build"
    inputs: tuple[str, ...] = setting(
        help="input files or globs (local, gs://, s3://); .gz/.bz2/.zst/.xz are decompressed",
        flag="--input", nargs="+", metavar="GLOB")
    output: str = setting(help="output directory; gets OUT/<objective>/", metavar="DIR")
    tokenizer: str = setting(help="SentencePiece .model, tokenizer.json, tekken.json, tiktoken rank file or a "
                             "local HF model directory (files: local, gs://, s3://)",
                             metavar="MODEL")
    objectives: tuple[str, ...] = setting(OBJECTIVES, "comma-separated objectives out of " + ",".join(OBJECTIVES),
                                          metavar="LIST")
    seed: int = setting(0, "seed of every random choice", limits=Limits(0, MAX_INT64))
    validation_fraction: float = setting(0.01, "fraction of documents (by key hash) in the validation split",
                                         limits=Limits(0.0, 1.0, high_open=True), metavar="F")
    split_mb: float = setting(16.0, "large uncompressed text/JSONL inputs are cut into byte-range splits of about "
                                    "M MB, each read, packed and written by one worker (compressed files and Parquet "
                                    "are one split each)", limits=Limits(0.0, 1_048_576.0, low_open=True), metavar="M")
    shard_size_mb: float = setting(256.0, "a split's shard rolls over to a new file after about M MB of "
                                          "(uncompressed) rows", limits=Limits(0.0, 1_048_576.0, low_open=True),
                                   metavar="M")
    input_format: Literal["auto", "text", "jsonl", "parquet"] = setting(
        "auto", "input format; auto picks by extension (.jsonl, .parquet, else text)", flag="--format")
    text_field: str = setting("text", "JSONL field / Parquet column holding the text", metavar="NAME")
    documents: Literal["line", "paragraph", "file"] = setting(
        "paragraph", "what one document is in a text file: a blank-line-separated paragraph (books, articles, "
        "most corpora), a line (one-document-per-line corpora) or the whole file")
    max_document_bytes: int = setting(16 * 1024 * 1024, "longer documents are rejected as too_long",
                                      limits=Limits(1, 2**31 - 1))
    row_group_mb: float = setting(4.0, "Parquet row group size in MB of rows",
                                  limits=Limits(0.0, 1024.0, low_open=True), metavar="M")
    overwrite: bool = setting(False, "replace these objectives in a non-empty --output")
    clm: ClmConfig = field(default_factory=ClmConfig)
    mlm: MlmConfig = field(default_factory=MlmConfig)
    t5: T5Config = field(default_factory=T5Config)
    bart: BartConfig = field(default_factory=BartConfig)

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        if isinstance(self.objectives, str):
            object.__setattr__(self, "objectives", tuple(o.strip() for o in self.objectives.split(",") if o.strip()))
        super().__post_init__()
        _check(len(self.inputs) > 0, "build.inputs is empty: pass --input GLOB (one or more).")
        _check(bool(self.output), "build.output is empty: pass --output DIR.")
        _check(bool(self.tokenizer),
               "build.tokenizer is empty: pass --tokenizer MODEL (a SentencePiece .model or a tokenizer.json).")
        known = tuple(OBJECTIVE_CONFIGS)
        unknown = [o for o in self.objectives if o not in known]
        _check(not unknown and len(self.objectives) > 0,
               f"build.objectives={list(self.objectives)}: unknown {unknown}; choose from {','.join(known)}.")
        _check(len(set(self.objectives)) == len(self.objectives),
               f"build.objectives={list(self.objectives)}: lists an objective twice.")
        for name in OBJECTIVES:
            config = getattr(self, name)
            _check(isinstance(config, OBJECTIVE_CONFIGS[name]),
                   f"build.{name}={config!r}: must be a {OBJECTIVE_CONFIGS[name].__name__}.")

    def _fix(self, f: dataclasses.Field) -> str:
        if "hint" in f.metadata:
            return f.metadata["hint"]
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        return f"pass e.g. {flag} {json_value(f.default)}" if f.default is not dataclasses.MISSING else f"pass {flag}"

    def objective_config(self, objective: str):
        """The config of one objective by name: this build's field for the four built-in ones, the
        declared config class's defaults for an objective registered in :mod:`lmpairs.objectives`."""
        if objective in OBJECTIVES:
            return getattr(self, objective)
        return OBJECTIVE_CONFIGS[objective]()

    def with_seq_len(self, seq_len: int) -> BuildConfig:
        """Apply one ``--seq-len`` to every chosen built-in objective (T5 reads it as the encoder input
        length); a registered objective builds with its config class's defaults."""
        return dataclasses.replace(self, **{name: dataclasses.replace(getattr(self, name), seq_len=seq_len)
                                            for name in self.objectives if name in OBJECTIVES})


_NESTED: dict[tuple[str, str], type] = {("BuildConfig", name): cls for name, cls in OBJECTIVE_CONFIGS.items()}

