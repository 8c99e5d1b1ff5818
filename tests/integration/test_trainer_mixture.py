"""``lmpairs train`` on a mixture (``--data PATH:WEIGHT``) and with per-document attention."""
import argparse
import logging

import pytest
from loader_fixtures import clm_rows, write_dataset

from lmpairs.config import ConfigError
from lmpairs.trainer import train
from lmpairs.trainer.cli import add_train_arguments, config_from_args, run_train

TINY = {"d_model": 32, "num_heads": 2, "num_layers": 1, "d_ff": 64, "batch_size": 4, "steps": 3, "log_every": 1,
        "shuffle_buffer": 16, "progress": False}

pytestmark = [pytest.mark.fast, pytest.mark.usefixtures("torch_one_thread")]


@pytest.fixture(scope="module")
def clm_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainmix")
    return [write_dataset(root / name / "clm", "clm", {"train": clm_rows(n, seq_len=10, first_key=k, seed=i)})
            for i, (name, n, k) in enumerate([("web", 40, 1000), ("books", 8, 90000)])]


def test_train_on_a_mixture_logs_each_sources_share(clm_dirs, caplog):
    with caplog.at_level(logging.INFO, logger="lmpairs.loader.mixture"):
        result = train(None, data=(f"{clm_dirs[0]}:0.75", f"{clm_dirs[1]}:0.25"), record_keys=True, **TINY)
    assert result.final_step == 3 and all(loss == loss for loss in result.losses)
    assert "books/clm: 12 of 8 rows (25.0%, 1.50 passes)" in caplog.text


@pytest.mark.parametrize("documents", ["varlen", "block_mask", "separate"])
def test_train_with_per_document_attention(clm_dirs, documents):
    result = train(clm_dirs[0], document_masking=documents, **TINY)
    assert result.final_step == 3 and all(0 < loss < 100 for loss in result.losses)


def test_data_flag_repeats_into_the_config(clm_dirs, capsys):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--data", f"{clm_dirs[0]}:3", "--data", clm_dirs[1], "--mixture-batches", "per_source",
                              "--steps", "2", "--batch-size", "4", "--d-model", "32", "--num-heads", "2",
                              "--d-ff", "64", "--num-layers", "1", "--no-progress"])
    config = config_from_args(args)
    assert config.data == (f"{clm_dirs[0]}:3", clm_dirs[1]) and config.mixture_batches == "per_source"
    assert run_train(args) == 0
    assert "clm: steps 0 -> 2" in capsys.readouterr().out
    assert parser.parse_args([]).data == ()


def test_neither_or_both_inputs_are_refused(clm_dirs):
    with pytest.raises(ConfigError, match="--data"):
        train(None, **TINY)
    with pytest.raises(ConfigError, match="replaces OUT/OBJECTIVE"):
        train(clm_dirs[0], data=(clm_dirs[1],), **TINY)
