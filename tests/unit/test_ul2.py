"""ul2: the mixture's weights, each denoiser's density and mean span, mode tokens, and exact rebuild."""
import numpy as np
import pytest
from vocabs import toy_vocab

from lmpairs.config_base import ConfigError
from lmpairs.objectives import make_objective
from lmpairs.transforms import Ragged, RowBatch
from lmpairs.transforms.testing import check_invariants, rows_in_memory
from lmpairs.transforms.ul2 import DENOISERS, MODE_TOKENS, Ul2Config, parse_denoiser

VOCAB = toy_vocab().with_named({"[NLU]": None, "[NLG]": None, "[S2S]": None})


def random_rows(num_rows: int, length: int, seed: int = 0) -> RowBatch:
    rng = np.random.default_rng(seed)
    ids = rng.integers(105, 1105, size=num_rows * length).astype(np.int32)
    offsets = np.arange(num_rows + 1, dtype=np.int64) * length
    return RowBatch(rng.integers(0, 2**63, size=num_rows).astype(np.uint64), Ragged(ids, offsets),
                    Ragged(np.full(num_rows, length, np.int32), np.arange(num_rows + 1, dtype=np.int64)))


def test_invariants_hold_and_every_row_rebuilds():
    objective = make_objective("ul2", Ul2Config(seq_len=64), VOCAB)
    docs = [(f"d{i}", np.arange(105 + i, 105 + i + 1 + (i * 7) % 90), np.zeros(0, np.int32)) for i in range(60)]
    rows = rows_in_memory(objective, docs)
    examples = check_invariants(objective, rows, seed=5, splits=(3, 17))
    assert objective.measure(examples)["tokens"] == rows.ids.values.shape[0]


@pytest.fixture(scope="module")
def mixture():
    objective = make_objective("ul2", Ul2Config(seq_len=512), VOCAB)
    rows = random_rows(14000, 512)
    examples = objective.corrupt(rows, seed=11)
    return objective, rows, examples, objective.denoiser_index(rows, seed=11)


def test_mixture_weights_and_mode_tokens_follow_the_config(mixture):
    objective, rows, examples, chosen = mixture
    shares = np.bincount(chosen, minlength=7) / rows.num_rows
    assert np.abs(shares - 1 / 7).max() < 0.02
    inputs = examples.columns["input_ids"]
    first = inputs.values[inputs.offsets[:-1]]
    for d, text in enumerate(DENOISERS):
        assert (first[chosen == d] == VOCAB.named_id(MODE_TOKENS[text[0]])).all()
    weighted = make_objective("ul2", Ul2Config(seq_len=64, denoisers=("R:3:0.15", "S"), weights=(3.0, 1.0)), VOCAB)
    share_s = (weighted.denoiser_index(random_rows(20000, 64), seed=2) == 1).mean()
    assert abs(share_s - 0.25) < 0.02


@pytest.mark.parametrize("text", DENOISERS)
def test_each_denoiser_has_its_density_and_mean_span_within_five_percent(text):
    mode, mean, rate = parse_denoiser(text)
    # T5's arithmetic rounds the span count per row: 77 noise tokens of a 512-token row make one span
    # at mean 64, so that denoiser is measured on rows where the rounding is small (2133 -> 320 / 5).
    length = 2133 if text == "X:64:0.15" else 512
    objective = make_objective("ul2", Ul2Config(seq_len=length, denoisers=(text,), weights=(1.0,)), VOCAB)
    rows = random_rows(1500, length, seed=len(text))
    examples = objective.corrupt(rows, seed=4)
    inputs, labels = examples.columns["input_ids"], examples.columns["labels"]
    assert (inputs.values[inputs.offsets[:-1]] == VOCAB.named_id(MODE_TOKENS[mode])).all()
    if mode == "S":
        prefix = inputs.lengths - 2  # mode token and EOS
        assert abs(prefix.mean() / (length / 2) - 1) < 0.05  # uniform split over 1 .. length - 1
        return
    sentinels = np.asarray(VOCAB.sentinel_ids)
    spans = int(np.isin(inputs.values, sentinels).sum())  # one sentinel per span in the inputs
    noise = int((~np.isin(labels.values, sentinels)).sum()) - rows.num_rows  # minus one EOS per row
    assert abs(noise / (length * rows.num_rows) / rate - 1) < 0.05
    assert abs(noise / spans / mean - 1) < 0.05


def test_bad_mixtures_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="is not a denoiser"):
        Ul2Config(denoisers=("R:3",), weights=(1.0,))
    with pytest.raises(ConfigError, match="one weight per denoiser"):
        Ul2Config(weights=(1.0,))
    with pytest.raises(ConfigError, match="sentinel ids"):
        make_objective("ul2", Ul2Config(seq_len=4096), VOCAB)
    assert Ul2Config.from_dict(Ul2Config().to_dict()) == Ul2Config()
