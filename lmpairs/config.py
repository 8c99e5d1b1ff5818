"""The build's config (:class:`BuildConfig`), and the config classes of the built-in objectives.

Every objective's config lives in its own module (``lmpairs.transforms.clm.ClmConfig`` …) and is
re-exported here; the base class, limits and messages are :mod:`lmpairs.config_base`'s. Configs are
frozen, validated dataclasses shared by the pipeline (which writes them) and the loader (which
reads them back).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from lmpairs.config_base import (
    FINAL_ROW,
    FRACTION,
    MAX_SEQ_LEN,
    SPAN_LENGTH,
    Config,
    ConfigError,
    check,
    json_value,
    seq_len_setting,
)
from lmpairs.fields import Limits, setting
from lmpairs.objectives import OBJECTIVE_CONFIGS, get_spec
from lmpairs.transforms.bart import BartConfig
from lmpairs.transforms.clm import ClmConfig
from lmpairs.transforms.mlm import MlmConfig
from lmpairs.transforms.t5 import MAX_T5_RAW_LENGTH, T5Config, t5_lengths

_Config = Config  # the name earlier code used

OBJECTIVES = ("clm", "mlm", "t5", "bart")
"""The objectives a build makes when none are named (every registered one can be named)."""
BUILT_IN_NAMES = ("clm", "mlm", "t5", "bart", "prefix_lm", "ul2", "fim")


MAX_INT64 = 2**63 - 1
MIN_SPLIT_MB = 0.0009
"""About 1 KB: every split costs a few ms of fixed work, so smaller splits (1e-9 MB: one per byte) would
cost far more than the bytes they read."""
MIN_SHARD_MB = 0.001
"""About 1 KB: each shard is a file with a fixed cost (create, footer, a manifest entry, an open in every
reader); at 1e-9 MB every row group would be a file of its own."""
MIN_ROW_GROUP_MB = 0.001
"""About 1 KB: each row group carries per-column metadata in the footer and is one read in the loader;
at 1e-9 MB every row would be a row group of its own."""
MAX_ROW_GROUPS_PER_SHARD = 262_144
"""Shard size / row-group size at most this: a Parquet writer keeps the footer (hundreds of bytes per
row group) in memory until the shard closes, and every reader loads it whole (defaults: 256 / 4 = 64;
the default shard size allows any row-group size down to the floor)."""


@dataclass(frozen=True, kw_only=True)
class BuildConfig(Config):
    """One ``lmpairs build`` job: inputs, tokenizer, objectives and how to write them.

    ``lmpairs build`` has one flag per field (``--max-document-bytes`` for ``max_document_bytes``;
    ``flag`` in a field's metadata renames it), with the help, limits and default declared here;
    the objective configs are set with ``--seq-len`` and ``--set OBJECTIVE.FIELD=VALUE``.

    ``objectives`` is a name -> config mapping over the registry (:mod:`lmpairs.objectives`); it may
    be given as names (``"clm,t5"`` or a tuple: each gets its config class's defaults), or as a
    mapping whose values are configs or their dicts. ``config.t5`` reads one objective's config
    (its defaults when the objective is not chosen).
    """

    owner: ClassVar[str] = "build"
    inputs: tuple[str, ...] = setting(
        help="input files or globs (local, gs://, s3://); .gz/.bz2/.zst/.xz are decompressed",
        flag="--input", nargs="+", metavar="GLOB")
    output: str = setting(help="output directory; gets OUT/<objective>/", metavar="DIR")
    tokenizer: str = setting(help="SentencePiece .model, tokenizer.json, tekken.json, tiktoken rank file or a "
                             "local HF model directory (files: local, gs://, s3://)",
                             metavar="MODEL")
    objectives: Mapping[str, Any] | tuple[str, ...] = setting(
        OBJECTIVES, "comma-separated objectives out of the registered ones (built in: "
        + ",".join(BUILT_IN_NAMES) + ")", metavar="LIST", names=True)
    seed: int = setting(0, "seed of every random choice", limits=Limits(0, MAX_INT64))
    validation_fraction: float = setting(0.01, "fraction of documents (by key hash) in the validation split",
                                         limits=Limits(0.0, 1.0, high_open=True), metavar="F")
    split_mb: float = setting(16.0, "large uncompressed text/JSONL inputs are cut into byte-range splits of about "
                                    "M MB, each read, packed and written by one worker (compressed files and Parquet "
                                    "are one split each)", limits=Limits(MIN_SPLIT_MB, 1_048_576.0), metavar="M")
    shard_size_mb: float = setting(256.0, "a split's shard rolls over to a new file after about M MB of "
                                          "(uncompressed) rows", limits=Limits(MIN_SHARD_MB, 1_048_576.0),
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
                                  limits=Limits(MIN_ROW_GROUP_MB, 1024.0), metavar="M")
    overwrite: bool = setting(False, "replace these objectives in a non-empty --output")
    io_deadline_s: float = setting(60.0, "give up on remote storage (s3://, gs://) once one request has failed and "
                                         "been retried for S seconds: the build stops with one line instead of "
                                         "waiting out Beam's retries (minutes)", limits=Limits(1.0, 86_400.0),
                                   metavar="S")
    restart: bool = setting(False, "start an interrupted build again from nothing instead of reusing the input "
                                   "splits it finished")

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        if isinstance(self.objectives, str):
            object.__setattr__(self, "objectives", tuple(o.strip() for o in self.objectives.split(",") if o.strip()))
        super().__post_init__()
        check(len(self.inputs) > 0, "build.inputs is empty: pass --input GLOB (one or more).")
        check(bool(self.output), "build.output is empty: pass --output DIR.")
        check(bool(self.tokenizer),
               "build.tokenizer is empty: pass --tokenizer MODEL (a SentencePiece .model or a tokenizer.json).")
        object.__setattr__(self, "objectives", objective_configs(self.objectives))
        groups = self.shard_size_mb / self.row_group_mb
        check(groups <= MAX_ROW_GROUPS_PER_SHARD,
              f"build.shard_size_mb={json_value(self.shard_size_mb)} with build.row_group_mb="
              f"{json_value(self.row_group_mb)} makes up to {groups:,.0f} row groups per shard, more than the "
              f"{MAX_ROW_GROUPS_PER_SHARD:,} allowed (each adds footer metadata held in memory); raise "
              f"--row-group-mb to at least {self.shard_size_mb / MAX_ROW_GROUPS_PER_SHARD:.4g} or lower "
              f"--shard-size-mb.")

    def _fix(self, f: dataclasses.Field) -> str:
        if "hint" in f.metadata:
            return f.metadata["hint"]
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        return f"pass e.g. {flag} {json_value(f.default)}" if f.default is not dataclasses.MISSING else f"pass {flag}"

    def __getattr__(self, name: str) -> Any:
        """``config.t5``: the chosen objective's config, or its config class's defaults."""
        if name.startswith("_") or name in ("objectives",):
            raise AttributeError(name)
        try:
            return self.objective_config(name)
        except ConfigError:
            raise AttributeError(name) from None

    def objective_config(self, objective: str) -> Any:
        """The config of one objective by name: this build's when chosen, else its class's defaults."""
        if objective in self.objectives:
            return self.objectives[objective]
        return objective_spec(objective).config()

    def with_objective(self, objective: str, **changes: Any) -> BuildConfig:
        """This build with fields of one chosen objective's config changed; an unknown field or an
        objective not chosen is a one-line :class:`ConfigError`."""
        check(objective in self.objectives, f"{objective} is not among the chosen objectives "
              f"({','.join(self.objectives)}); add it to --objectives or drop its --set.")
        config = self.objectives[objective]
        fields = [f.name for f in dataclasses.fields(config)]
        unknown = sorted(set(changes) - set(fields))
        check(not unknown, f"{objective} has no field {', '.join(map(repr, unknown))}; choose from "
              f"{', '.join(fields)}.")
        return dataclasses.replace(self, objectives={**self.objectives,
                                                     objective: dataclasses.replace(config, **changes)})

    def with_seq_len(self, seq_len: int) -> BuildConfig:
        """Apply one ``--seq-len`` to every chosen objective (T5 and UL2 read it as the encoder input length)."""
        config = self
        for name in self.objectives:
            if not any(f.name == "seq_len" for f in dataclasses.fields(self.objectives[name])):
                raise ConfigError(f"--seq-len: objective {name} has no seq_len field; set its length with --set "
                                  f"{name}.FIELD=VALUE.")
            config = config.with_objective(name, seq_len=seq_len)
        return config

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["objectives"] = {name: c.to_dict() for name, c in self.objectives.items()}
        return out



def _accept_objective_configs(init):
    """``BuildConfig(..., mlm=MlmConfig(...))``, the form before objectives became a mapping: a keyword
    named after a registered objective gives that objective's config when it is chosen (and is
    ignored when it is not, as before); any other unknown keyword is a one-line :class:`ConfigError`."""
    fields = {f.name for f in dataclasses.fields(BuildConfig)}

    @functools.wraps(init)
    def __init__(self, **kwargs: Any) -> None:
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in fields}
        for name in extra:
            try:
                get_spec(name)
            except ValueError:
                raise ConfigError(f"BuildConfig: unknown field {name!r}; choose from {', '.join(sorted(fields))}, "
                                  "or a registered objective's name for its config.") from None
        if extra:
            chosen = kwargs.get("objectives", OBJECTIVES)
            if isinstance(chosen, str):
                chosen = tuple(o.strip() for o in chosen.split(",") if o.strip())
            given = dict(chosen) if isinstance(chosen, Mapping) else {name: None for name in chosen}
            kwargs["objectives"] = {name: extra.get(name, config) or objective_spec(name).config()
                                    for name, config in given.items()}
        init(self, **kwargs)

    return __init__


BuildConfig.__init__ = _accept_objective_configs(BuildConfig.__init__)  # type: ignore[method-assign]

def objective_spec(name: str) -> Any:
    """The registered spec of ``name``; an unknown name is a one-line :class:`ConfigError`."""
    try:
        return get_spec(name)
    except ValueError as err:
        raise ConfigError(f"build.objectives: {err}") from None


def objective_configs(value: Any) -> dict[str, Any]:
    """``objectives`` as given (names, ``"a,b"``, or a mapping of configs or dicts) -> name -> config."""
    if isinstance(value, str):
        value = tuple(o.strip() for o in value.split(",") if o.strip())
    names = list(value)
    check(len(names) > 0, "build.objectives is empty: pass --objectives clm (or a comma-separated list).")
    check(len(set(names)) == len(names), f"build.objectives={names}: lists an objective twice.")
    out: dict[str, Any] = {}
    for name in names:
        cls = objective_spec(name).config
        config = value[name] if isinstance(value, Mapping) else cls()
        if isinstance(config, dict):
            config = cls.from_dict(config)
        check(isinstance(config, cls), f"build.{name}={config!r}: must be a {cls.__name__}.")
        out[name] = config
    return out


__all__ = ["FINAL_ROW", "FRACTION", "MAX_INT64", "MAX_SEQ_LEN", "MAX_T5_RAW_LENGTH", "OBJECTIVES", "OBJECTIVE_CONFIGS",
           "SPAN_LENGTH", "BartConfig", "BuildConfig", "ClmConfig", "Config", "ConfigError", "MlmConfig", "T5Config",
           "json_value", "objective_configs", "seq_len_setting", "t5_lengths"]
