"""Config validation names the field and the fix; configs round-trip through the manifest dict."""
import dataclasses

import pytest

from lmpairs.config import (BartConfig, BuildConfig, ClmConfig, ConfigError, MlmConfig, T5Config, t5_lengths)


def build(**kw):
    return BuildConfig(inputs=("corpus/*.txt",), output="out", tokenizer="tok.model", **kw)


def test_t5_length_arithmetic_matches_random_spans_helper():
    assert t5_lengths(512, 0.15, 3.0) == (568, 114)
    assert t5_lengths(1024, 0.15, 3.0) == (1137, 229)
    cfg = T5Config(seq_len=512)
    assert (cfg.raw_length, cfg.targets_length) == (568, 114)


def test_t5_density_half_keeps_targets_no_longer_than_inputs():
    raw, targets = t5_lengths(512, 0.5, 3.0)
    assert targets <= 512 and raw > 512


@pytest.mark.parametrize("make, field", [
    (lambda: MlmConfig(mask_prob=0.0), "mlm.mask_prob"),
    (lambda: MlmConfig(mask_prob=1.5), "mlm.mask_prob"),
    (lambda: MlmConfig(mask_fraction=0.9, random_fraction=0.2), "mlm.mask_fraction + mlm.random_fraction"),
    (lambda: MlmConfig(selection="poisson"), "mlm.selection"),
    (lambda: MlmConfig(copies=0), "mlm.copies"),
    (lambda: ClmConfig(seq_len=1), "clm.seq_len"),
    (lambda: ClmConfig(final_row="keep"), "clm.final_row"),
    (lambda: T5Config(noise_density=1.0), "t5.noise_density"),
    (lambda: T5Config(mean_noise_span_length=0.5), "t5.mean_noise_span_length"),
    (lambda: BartConfig(mask_ratio=-0.1), "bart.mask_ratio"),
    (lambda: BartConfig(poisson_lambda=0), "bart.poisson_lambda"),
    (lambda: build(objectives=("clm", "gpt")), "build.objectives"),
    (lambda: build(objectives=("clm", "clm")), "build.objectives"),
    (lambda: build(validation_fraction=1.0), "build.validation_fraction"),
    (lambda: build(num_shards=0), "build.num_shards"),
    (lambda: build(shard_size_mb=-1), "build.shard_size_mb"),
    (lambda: build(input_format="csv"), "build.input_format"),
    (lambda: build(documents="page"), "build.documents"),
    (lambda: BuildConfig(inputs=(), output="o", tokenizer="t"), "build.inputs"),
    (lambda: build(seed=-1), "build.seed"),
    (lambda: build(seed=True), "build.seed"),
])
def test_invalid_values_name_the_field(make, field):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value).startswith(field)


def test_configs_are_frozen_and_keyword_only():
    cfg = MlmConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mask_prob = 0.2  # type: ignore[misc]
    with pytest.raises(TypeError):
        MlmConfig(512)  # type: ignore[misc]


def test_build_config_round_trips_through_dict():
    cfg = build(objectives="clm,t5", seed=7).with_seq_len(128)
    again = BuildConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.objectives == ("clm", "t5")
    assert again.t5.seq_len == again.clm.seq_len == 128
    assert isinstance(again.bart, BartConfig)


def test_unknown_manifest_fields_are_refused_with_a_fix():
    data = MlmConfig().to_dict() | {"span_masking": True}
    with pytest.raises(ConfigError, match="upgrade lmpairs"):
        MlmConfig.from_dict(data)
