"""Config validation names the field and the fix; every number is finite and bounded; configs
round-trip through the manifest dict."""
import dataclasses
import math
import time

import pytest

from lmpairs.config import (
    MAX_SEQ_LEN,
    MAX_T5_RAW_LENGTH,
    OBJECTIVE_CONFIGS,
    BartConfig,
    BuildConfig,
    ClmConfig,
    ConfigError,
    MlmConfig,
    T5Config,
    t5_lengths,
)
from lmpairs.errors import UserError
from lmpairs.fields import field_type

CONFIGS = [*OBJECTIVE_CONFIGS.values(), BuildConfig]
REQUIRED = {"inputs": ("corpus/*.txt",), "output": "out", "tokenizer": "tok.model"}


def build(**kw):
    return BuildConfig(**(REQUIRED | kw))


def make(cls, **kw):
    return cls(**(REQUIRED | kw)) if cls is BuildConfig else cls(**kw)


def numeric_fields():
    return [(cls, f) for cls in CONFIGS for f in dataclasses.fields(cls) if field_type(cls, f.name)[0] in (int, float)]


def t5_lengths_by_steps(inputs_length, noise_density, mean_noise_span_length):
    """T5's random_spans_helper as written there: one raw token at a time (O(n))."""
    def lengths_for(n):
        noise = int(round(n * noise_density))
        spans = int(round(noise / mean_noise_span_length))
        return n - noise + spans + 1, noise + spans + 1
    n = inputs_length - 1
    while lengths_for(n + 1)[0] <= inputs_length:
        n += 1
    targets = lengths_for(n)[1]
    if noise_density == 0.5 and targets > inputs_length:
        n, targets = n - 1, targets - 1
    return n, targets


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
    (lambda: build(split_mb=0), "build.split_mb"),
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
    assert tuple(again.objectives) == ("clm", "t5")
    assert again.t5.seq_len == again.clm.seq_len == 128
    assert isinstance(again.bart, BartConfig)


def test_unknown_manifest_fields_are_refused_with_a_fix():
    data = MlmConfig().to_dict() | {"span_masking": True}
    with pytest.raises(ConfigError, match="upgrade lmpairs"):
        MlmConfig.from_dict(data)


def test_config_errors_are_user_errors():
    assert issubclass(ConfigError, UserError) and issubclass(UserError, ValueError)


@pytest.mark.parametrize("inputs_length", [16, 17, 100, 190, 511, 512, 513, 1024, 4096])
@pytest.mark.parametrize("density, mean", [(0.15, 3.0), (0.5, 3.0), (0.5, 1.0), (0.3, 8.0), (0.01, 1.5),
                                           (0.99, 64.0), (0.8, 1.0)])
def test_t5_lengths_equal_the_step_by_step_search(inputs_length, density, mean):
    assert t5_lengths(inputs_length, density, mean) == t5_lengths_by_steps(inputs_length, density, mean)


def test_t5_lengths_of_the_longest_rows_take_no_time():
    start = time.perf_counter()
    for density, mean in [(0.15, 3.0), (0.99, 1000.0), (0.999999, float(MAX_SEQ_LEN))]:
        raw, targets = t5_lengths(MAX_SEQ_LEN, density, mean)
        assert raw >= MAX_SEQ_LEN - 1 and targets >= 1
    assert time.perf_counter() - start < 1.0  # the step-by-step search took about 1 s per million raw tokens


def test_t5_raw_rows_beyond_the_limit_are_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^t5.seq_len=1048576 with .* needs raw rows of 95,411,749 tokens"):
        T5Config(seq_len=MAX_SEQ_LEN, noise_density=0.99, mean_noise_span_length=1000.0)
    assert time.perf_counter() - start < 1.0
    assert T5Config(seq_len=MAX_SEQ_LEN).raw_length <= MAX_T5_RAW_LENGTH


@pytest.mark.parametrize("cls", [ClmConfig, MlmConfig, T5Config, BartConfig])
def test_seq_len_is_bounded_and_the_bound_itself_is_accepted(cls):
    assert cls(seq_len=MAX_SEQ_LEN).seq_len == MAX_SEQ_LEN
    for bad in (MAX_SEQ_LEN + 1, 2**31 - 1, 2**63, 10**400):
        with pytest.raises(ConfigError, match=rf"^{cls.owner}.seq_len={bad}: must be an integer with .* <= "
                                              r"1,048,576; pass e.g. --seq-len"):
            cls(seq_len=bad)


def test_with_seq_len_sets_only_the_chosen_objectives():
    cfg = build(objectives="clm").with_seq_len(8)  # below T5's minimum of 16, which clm does not care about
    assert cfg.clm.seq_len == 8 and cfg.t5 == T5Config() and cfg.mlm == MlmConfig()
    with pytest.raises(ConfigError, match=r"^t5.seq_len=8"):
        build(objectives="clm,t5").with_seq_len(8)


@pytest.mark.parametrize("cls, field", numeric_fields(), ids=lambda x: getattr(x, "name", getattr(x, "__name__", x)))
def test_every_number_is_bounded_and_finite(cls, field):
    limits = field.metadata.get("limits")
    assert limits is not None and limits.low is not None and limits.high is not None, "declare its limits"
    prefix = rf"^{cls.owner}.{field.name}="
    for bad in (math.inf, -math.inf, math.nan, "1", True, [1]):
        with pytest.raises(ConfigError, match=prefix):
            make(cls, **{field.name: bad})
    base = field_type(cls, field.name)[0]
    above = limits.high + (1 if base is int else limits.high)
    with pytest.raises(ConfigError, match=prefix + ".*must be"):
        make(cls, **{field.name: above})
    if base is int:
        with pytest.raises(ConfigError, match=prefix):
            make(cls, **{field.name: float(field.default)})  # 3.0 is not an integer


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_has_help_text(cls):
    undocumented = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("help")
                    and not dataclasses.is_dataclass(field_type(cls, f.name)[0])]
    assert undocumented == []


@pytest.mark.parametrize("make_bad, message", [
    (lambda: MlmConfig(copies="two"), "mlm.copies='two': must be an integer with 1 <= N <= 100; "
                                      "pass e.g. --set mlm.copies=1."),
    (lambda: MlmConfig(whole_word=1), "mlm.whole_word=1: must be true or false"),
    (lambda: ClmConfig(final_row=None), "clm.final_row=None: must be one of 'pad', 'drop'"),
    (lambda: build(text_field=3), "build.text_field=3: must be a string; pass e.g. --text-field text."),
    (lambda: build(inputs=("a", 3)), "build.inputs=('a', 3): must be a list or tuple of strings; pass --input."),
    (lambda: build(row_group_mb=10**400), "build.row_group_mb=1000000000"),
    (lambda: build(shard_size_mb=0), "build.shard_size_mb=0: must be a finite number with 0.001 <= X <= 1,048,576; "
                                     "pass e.g. --shard-size-mb 256.0."),
    (lambda: build(shard_size_mb=1e-9), "build.shard_size_mb=1e-09: must be a finite number with 0.001 <= X"),
    (lambda: build(row_group_mb=1e-9), "build.row_group_mb=1e-09: must be a finite number with 0.001 <= X <= 1,024; "
                                       "pass e.g. --row-group-mb 4.0."),
    (lambda: build(row_group_mb=0), "build.row_group_mb=0: must be a finite number with 0.001 <= X"),
    (lambda: build(shard_size_mb=1_048_576, row_group_mb=0.001),
     "build.shard_size_mb=1048576.0 with build.row_group_mb=0.001 makes up to 1,048,576,000 row groups per shard, "
     "more than the 262,144 allowed (each adds footer metadata held in memory); raise --row-group-mb to at least 4 "
     "or lower --shard-size-mb."),
    (lambda: build(objectives={"clm": T5Config()}), "build.clm=T5Config("),
    (lambda: build(objectives="clm,gpt"), "build.objectives: unknown objective 'gpt'; choose from clm, mlm"),
    (lambda: build(objectives="clm").with_objective("clm", seq=8), "clm has no field 'seq'; choose from seq_len"),
    (lambda: build(objectives="clm").with_objective("t5", seq_len=8), "t5 is not among the chosen objectives"),
])
def test_wrong_types_name_the_field_and_the_fix(make_bad, message):
    with pytest.raises(ConfigError) as err:
        make_bad()
    assert str(err.value).startswith(message)


def test_integers_for_float_fields_become_floats():
    cfg = BartConfig(poisson_lambda=3, mask_ratio=0)
    assert cfg.poisson_lambda == 3.0 and isinstance(cfg.poisson_lambda, float) and isinstance(cfg.mask_ratio, float)
    assert BartConfig.from_dict(cfg.to_dict()) == cfg


def test_numpy_numbers_become_plain_python_numbers():
    np = pytest.importorskip("numpy")
    cfg = MlmConfig(seq_len=np.int64(128), mask_prob=np.float32(0.25), copies=np.int32(2))
    assert type(cfg.seq_len) is int and type(cfg.mask_prob) is float and type(cfg.copies) is int
    assert cfg == MlmConfig(seq_len=128, mask_prob=0.25, copies=2)
    with pytest.raises(ConfigError, match="^mlm.whole_word"):
        MlmConfig(whole_word=np.bool_(True))
