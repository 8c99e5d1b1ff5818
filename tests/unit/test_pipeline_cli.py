"""The lmpairs CLI: flags map onto BuildConfig, every option has help, expected errors exit 2 cleanly."""
import argparse

import pytest

from lmpairs.cli import build_config, main, make_parser, parse_setting
from lmpairs.config import BuildConfig, ConfigError

LLAMA = "<llama_model_path>"  # replaced by the fixture's path in the test


def parse(*argv):
    args, extra = make_parser().parse_known_args(["build", *argv])
    return args, extra


def test_flags_map_onto_the_build_config_and_unknown_flags_go_to_beam():
    args, extra = parse("--input", "a.txt", "b/*.jsonl", "--output", "o", "--tokenizer", "t.model",
                        "--objectives", "clm,t5", "--seq-len", "128", "--shard-size-mb", "64", "--documents",
                        "paragraph", "--set", "clm.final_row=drop", "--set", "t5.noise_density=0.2",
                        "--runner=DataflowRunner", "--project", "p")
    config = build_config(args)
    assert config.inputs == ("a.txt", "b/*.jsonl") and config.objectives == ("clm", "t5")
    assert config.clm.seq_len == config.t5.seq_len == config.bart.seq_len == 128
    assert config.shard_size_mb == 64 and config.documents == "paragraph"
    assert config.clm.final_row == "drop" and config.t5.noise_density == 0.2
    assert config.seed == BuildConfig(inputs=("x",), output="o", tokenizer="t").seed
    assert extra == ["--runner=DataflowRunner", "--project", "p"]


def test_num_shards_and_shard_size_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        parse("--input", "a", "--output", "o", "--tokenizer", "t", "--num-shards", "2", "--shard-size-mb", "1")
    assert "not allowed with argument" in capsys.readouterr().err


def test_set_names_the_fields_it_accepts():
    assert parse_setting("mlm.whole_word=true") == ("mlm", "whole_word", True)
    with pytest.raises(ConfigError, match="mlm has no field 'prob'; choose from seq_len, mask_prob"):
        parse_setting("mlm.prob=0.2")
    with pytest.raises(ConfigError, match="expected OBJECTIVE.FIELD=VALUE"):
        parse_setting("gpt.seq_len=3")


def test_every_option_of_every_command_has_help():
    parser = make_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) >= {"build", "train-tokenizer"}
    for name, sub in subparsers.choices.items():
        missing = [a.dest for a in sub._actions if not a.help]
        assert missing == [], name


@pytest.mark.parametrize("argv, message", [
    (["--input", "no/such/*.txt", "--tokenizer", LLAMA], r"--input .*no/such/\*\.txt: matches no files"),
    (["--input", "setup.py", "--tokenizer", "setup.py"], r"setup.py: not a SentencePiece model"),
    (["--input", "setup.py", "--tokenizer", "missing.model"], r"missing.model: no such tokenizer file"),
    (["--input", "setup.py", "--tokenizer", LLAMA, "--seq-len", "4096", "--objectives", "t5"],
     r"only 100 sentinel ids"),
    (["--input", "setup.py", "--tokenizer", LLAMA, "--validation-fraction", "2"], r"validation_fraction=2.0"),
])
def test_expected_errors_print_one_message_and_exit_2(argv, message, capsys, tmp_path, monkeypatch, repo_root,
                                                     llama_model_path):
    monkeypatch.chdir(repo_root)
    argv = [str(llama_model_path) if arg == LLAMA else arg for arg in argv]
    assert main(["build", "--output", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lmpairs build: error: ") and "Traceback" not in err
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "out").exists()


def test_train_tokenizer_rejects_beam_style_extra_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["train-tokenizer", "--input", "x", "--output", "m.model", "--vocab-size", "300", "--runner=X"])
    assert "unrecognized arguments: --runner=X" in capsys.readouterr().err
