"""UL2's mixture of denoisers (Tay et al. 2022, "UL2: Unifying Language Learning Paradigms").

Rows are packed as T5's are (documents concatenated, ``seq_len`` raw tokens per row). Each row
draws one denoiser with probability proportional to its weight (one hash word per row), then:

- R-denoisers (``R:μ:r``, regular span corruption) and X-denoisers (``X:μ:r``, extreme: long
  spans or a high rate) are T5 span corruption with mean span ``μ`` and noise density ``r``
  (:func:`lmpairs.transforms.spans.noise_masks`, :func:`~lmpairs.transforms.spans.runs_to_sentinels`);
- the S-denoiser (``S``) is prefix-LM: the row split at a uniform point
  (:func:`lmpairs.transforms.prefix_lm.random_prefix_lengths`), inputs and labels ending in EOS.

The inputs start with the paradigm's mode token: ``[NLU]`` for R, ``[NLG]`` for X, ``[S2S]`` for
S (the tokenizer's ids where it has those pieces, else appended past the vocabulary). The default
mixture is the paper's seven denoisers weighted equally: R (μ=3, r=0.15), R (μ=8, r=0.15),
X (μ=3, r=0.5), X (μ=8, r=0.5), X (μ=64, r=0.15), X (μ=64, r=0.5), S. Encoder-decoder layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lmpairs.config_base import Config, ConfigError, check, seq_len_setting
from lmpairs.fields import setting
from lmpairs.transforms.batch import ExampleBatch, Ragged, RowBatch, concat_ragged
from lmpairs.transforms.objective import Objective, check_ids, declare
from lmpairs.transforms.packing import ConcatPacker
from lmpairs.transforms.prefix_lm import join_rows, random_prefix_lengths, split_rows
from lmpairs.transforms.rowops import lengths_of, to_grid
from lmpairs.transforms.seeding import unit_floats, words_at
from lmpairs.transforms.spans import noise_counts, noise_masks, runs_to_sentinels
from lmpairs.transforms.t5 import T5Config, T5Objective
from lmpairs.vocab import Vocab

CHOOSE, NOISE, NONNOISE, SPLIT = 0, 1, 2, 3
"""Hash streams: the denoiser, T5's two partitions, the S-denoiser's split point."""
MODE_TOKENS = {"R": "[NLU]", "X": "[NLG]", "S": "[S2S]"}
DENOISERS = ("R:3:0.15", "R:8:0.15", "X:3:0.5", "X:8:0.5", "X:64:0.15", "X:64:0.5", "S")


def parse_denoiser(text: str) -> tuple[str, float, float]:
    """``"R:3:0.15"`` -> ``("R", 3.0, 0.15)``; ``"S"`` -> ``("S", 0.0, 0.0)``; ConfigError otherwise."""
    parts = str(text).split(":")
    try:
        if parts[0] == "S" and len(parts) == 1:
            return "S", 0.0, 0.0
        mode, mean, rate = parts[0], float(parts[1]), float(parts[2])
        if mode in ("R", "X") and len(parts) == 3 and mean >= 1 and 0 < rate < 1:
            return mode, mean, rate
    except (IndexError, ValueError):
        pass
    raise ConfigError(f"ul2.denoisers: {text!r} is not a denoiser; write R:MEAN_SPAN:RATE or X:MEAN_SPAN:RATE "
                      "(mean span >= 1, 0 < rate < 1) or S, e.g. --set 'ul2.denoisers=[\"R:3:0.15\",\"S\"]'.")


@dataclass(frozen=True, kw_only=True)
class Ul2Config(Config):
    """UL2: each row gets one denoiser of the mixture (weights need not sum to 1)."""

    owner: ClassVar[str] = "ul2"
    seq_len: int = seq_len_setting(512, 16, "raw tokens per row before corruption (inputs are shorter by the "
                                            "noise, plus the mode token and EOS)")
    denoisers: tuple[str, ...] = setting(DENOISERS, "the mixture: R:MEAN_SPAN:RATE, X:MEAN_SPAN:RATE or S")
    weights: tuple[float, ...] = setting((1.0,) * len(DENOISERS), "relative weight of each denoiser")

    def __post_init__(self) -> None:
        object.__setattr__(self, "denoisers", tuple(self.denoisers))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        super().__post_init__()
        for text in self.denoisers:
            parse_denoiser(text)
        check(len(self.denoisers) > 0 and len(self.weights) == len(self.denoisers),
              f"ul2.weights has {len(self.weights)} entries for {len(self.denoisers)} denoisers; give one weight "
              "per denoiser, e.g. --set 'ul2.weights=[1,1,1,1,1,1,1]'.")
        check(all(np.isfinite(w) and w >= 0 for w in self.weights) and sum(self.weights) > 0,
              f"ul2.weights={list(self.weights)}: must be finite, >= 0 and not all 0.")


@declare(name="ul2", objective_id=6, config=Ul2Config, columns=("input_ids", "labels"), family="encoder-decoder",
         decoder_start="pad", view="sentinels", named_specials=("[NLU]", "[NLG]", "[S2S]"),
         rates=(("noise tokens / tokens", "noise_tokens", "tokens", None),
                ("S-denoiser rows / rows", "s_rows", "rows", None)))
class Ul2Objective(Objective):
    """Mixture of denoisers over packed raw rows; stores ``input_ids`` and ``labels`` (see module docs)."""

    config: Ul2Config

    def __init__(self, config: Ul2Config, vocab: Vocab) -> None:
        super().__init__(config, vocab)
        self.denoisers = [parse_denoiser(d) for d in config.denoisers]
        self.modes = np.array([vocab.named_id(MODE_TOKENS[m]) for m, _, _ in self.denoisers], dtype=np.int32)
        self._sentinels = np.asarray(vocab.sentinel_ids, dtype=np.int32)
        for (mode, mean, rate), text in zip(self.denoisers, config.denoisers):
            if mode != "S":
                _, spans = noise_counts(config.seq_len, noise_density=rate, mean_noise_span_length=mean)
                if spans > len(self._sentinels):
                    raise ConfigError(f"ul2 denoiser {text} makes up to {spans} noise spans in a row of "
                                      f"ul2.seq_len={config.seq_len} tokens, but the tokenizer has "
                                      f"{len(self._sentinels)} sentinel ids; lower --seq-len or change the denoiser.")
        bounds = np.cumsum(config.weights) / sum(config.weights)
        self._bounds = bounds
        self._t5 = T5Objective(T5Config(seq_len=16), vocab)  # its clean() undoes span corruption

    def packer(self) -> ConcatPacker:
        return ConcatPacker(objective_id=self.objective_id, row_length=self.config.seq_len, keep_final=True)

    def denoiser_index(self, rows: RowBatch, *, seed: int, copy: int = 0) -> np.ndarray:
        """The denoiser of each row (index into ``config.denoisers``), by its weight."""
        floats = unit_floats(words_at(self.keys_for(rows, seed, copy, CHOOSE), np.zeros(rows.num_rows, np.int64)))
        return np.minimum(np.searchsorted(self._bounds, floats, side="right"), len(self.denoisers) - 1)

    def corrupt_columns(self, rows: RowBatch, *, seed: int, copy: int) -> dict:
        """All span-denoiser rows in one pass (T5's parts take a mean span and a density per row), the
        S rows in another; then each row's mode token, and the rows back in their order."""
        check_ids(rows.ids.values, self.vocab, self.name)
        chosen = self.denoiser_index(rows, seed=seed, copy=copy)
        noise_keys, nonnoise_keys, split_keys = self.keys_for_streams(rows, seed, copy, (NOISE, NONNOISE, SPLIT))
        eos, lengths = self.vocab.eos_id, lengths_of(rows.ids.offsets)
        is_s = np.array([mode == "S" for mode, _, _ in self.denoisers])[chosen]
        order, inputs, labels = [], [], []
        where = np.flatnonzero(is_s)
        if where.size:
            prefix, rest = split_rows(rows.ids.take(where), random_prefix_lengths(split_keys[where], lengths[where]))
            ends = Ragged(np.full(where.shape[0], eos, np.int32), np.arange(where.shape[0] + 1, dtype=np.int64))
            order.append(where)
            inputs.append(join_rows(prefix, ends))
            labels.append(join_rows(rest, ends))
        where = np.flatnonzero(~is_s)
        if where.size:
            ids = rows.ids.take(where)
            grid, valid = to_grid(ids.values, ids.offsets, self.vocab.pad_id)
            means = np.array([mean for _, mean, _ in self.denoisers])[chosen[where]]
            rates = np.array([rate for _, _, rate in self.denoisers])[chosen[where]]
            mask = noise_masks(lengths[where], noise_keys[where], nonnoise_keys[where], noise_density=rates,
                               mean_noise_span_length=means)
            nonnoise = ~mask if valid is None else valid & ~mask
            order.append(where)
            inputs.append(runs_to_sentinels(grid, valid, mask, self._sentinels, eos))
            labels.append(runs_to_sentinels(grid, valid, nonnoise, self._sentinels, eos))
        order_all = np.concatenate(order)
        back = np.argsort(order_all, kind="stable")
        modes = Ragged(self.modes[chosen], np.arange(rows.num_rows + 1, dtype=np.int64))
        return {"input_ids": join_rows(modes, concat_ragged(inputs).take(back)),
                "labels": concat_ragged(labels).take(back)}

    def clean(self, examples: ExampleBatch) -> RowBatch:
        inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
        lengths = lengths_of(inputs.offsets)
        is_s = inputs.values[inputs.offsets[:-1]] == self.vocab.named_id("[S2S]")
        bodies = split_rows(inputs, np.ones(inputs.num_rows, np.int64))[1]  # the mode token dropped
        order, parts = [], []
        s_rows, span_rows = np.flatnonzero(is_s), np.flatnonzero(~is_s)
        if s_rows.size:
            prefix = split_rows(bodies.take(s_rows), lengths[s_rows] - 2)[0]
            rest = split_rows(labels.take(s_rows), lengths_of(labels.offsets)[s_rows] - 1)[0]
            order.append(s_rows)
            parts.append(join_rows(prefix, rest))
        if span_rows.size:
            t5_rows = self._t5.clean(ExampleBatch(examples.keys[span_rows], {"input_ids": bodies.take(span_rows),
                                                                            "labels": labels.take(span_rows)}))
            order.append(span_rows)
            parts.append(t5_rows.ids)
        ids = concat_ragged(parts).take(np.argsort(np.concatenate(order), kind="stable"))
        return RowBatch(examples.keys, ids, Ragged(lengths_of(ids.offsets).astype(np.int32),
                                                   np.arange(ids.num_rows + 1, dtype=np.int64)))

    def measure(self, examples: ExampleBatch) -> dict[str, int]:
        """Raw tokens (inputs and labels without sentinels, mode token and EOS), noise tokens of the
        span denoisers, rows and S-denoiser rows."""
        inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
        is_s = inputs.values[inputs.offsets[:-1]] == self.vocab.named_id("[S2S]")
        kept_in = ~np.isin(inputs.values, self._sentinels)
        kept_out = ~np.isin(labels.values, self._sentinels)
        span_labels = np.repeat(~is_s, lengths_of(labels.offsets))
        rows = int(inputs.num_rows)
        return {"tokens": int(kept_in.sum()) + int(kept_out.sum()) - 3 * rows,
                "noise_tokens": int((kept_out & span_labels).sum()) - int((~is_s).sum()),
                "rows": rows, "s_rows": int(is_s.sum())}
