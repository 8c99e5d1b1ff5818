"""The lmpairs CLI: flags map onto BuildConfig, every option has help, expected errors exit 2 cleanly,
flags that look like lmpairs flags are refused with a guess, and Beam's parser checks the rest."""
import argparse
import dataclasses
import logging
import re

import pytest

from lmpairs.cli import Parser, add_config_flags, build_config, main, make_parser, parse_setting
from lmpairs.config import BartConfig, BuildConfig, ConfigError
from lmpairs.fields import Limits, setting

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
    assert config.inputs == ("a.txt", "b/*.jsonl") and tuple(config.objectives) == ("clm", "t5")
    assert config.clm.seq_len == config.t5.seq_len == 128
    assert config.bart == BartConfig()  # --seq-len sets the chosen objectives only
    assert config.shard_size_mb == 64 and config.documents == "paragraph"
    assert config.clm.final_row == "drop" and config.t5.noise_density == 0.2
    assert config.seed == BuildConfig(inputs=("x",), output="o", tokenizer="t").seed
    assert extra == ["--runner=DataflowRunner", "--project", "p"]


def test_split_size_and_shard_size_flags_map_to_the_config():
    args, _ = parse("--input", "a", "--output", "o", "--tokenizer", "t", "--split-mb", "8", "--shard-size-mb", "1")
    config = build_config(args)
    assert (config.split_mb, config.shard_size_mb) == (8, 1)


REQUIRED = ("--input", "a", "--output", "o", "--tokenizer", "t")


def test_every_build_config_field_is_a_flag_with_the_config_default():
    parser = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["build"]
    dests = {a.dest for a in parser._actions}
    nested = {"clm", "mlm", "t5", "bart"}
    assert {f.name for f in dataclasses.fields(BuildConfig)} - nested <= dests
    args, extra = parse(*REQUIRED)
    assert extra == [] and build_config(args) == BuildConfig(inputs=("a",), output="o", tokenizer="t")


def test_a_new_config_field_gets_its_flag_help_and_limits():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Grown(BuildConfig):
        split_mb: float = setting(64.0, "bytes of input per split, in MB", limits=Limits(0.0, 4096.0, low_open=True))

    parser = Parser(prog="lmpairs build")
    add_config_flags(parser, Grown)
    action = next(a for a in parser._actions if a.dest == "split_mb")
    assert action.option_strings == ["--split-mb"] and action.type is float
    assert action.help == "bytes of input per split, in MB (0 < X <= 4,096; default: 64.0)"
    assert parser.parse_args([*REQUIRED, "--split-mb", "8"]).split_mb == 8.0
    with pytest.raises(ConfigError, match=r"^build.split_mb=inf: must be a finite number"):
        Grown(inputs=("a",), output="o", tokenizer="t", split_mb=float("inf"))


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
    (["--input", "no/such/*.txt", "--tokenizer", LLAMA], r"input .*no/such/\*\.txt: matches no files"),
    (["--input", "setup.py", "--tokenizer", "setup.py"], r"setup.py: not a SentencePiece model"),
    (["--input", "setup.py", "--tokenizer", "missing.model"], r"missing.model: no such tokenizer file"),
    (["--input", "setup.py", "--tokenizer", LLAMA, "--seq-len", "4096", "--objectives", "t5"],
     r"only 100 sentinel ids.*lower --seq-len or --set t5.noise_density=\.\.\., raise --set t5.mean_noise_span_len"),
    (["--input", "setup.py", "--tokenizer", LLAMA, "--validation-fraction", "2"], r"validation_fraction=2.0"),
    (["--input", "setup.py", "--tokenizer", LLAMA, "--runner=DirectRuner"],
     r"--runner=DirectRuner: no such Beam runner \(did you mean --runner=DirectRunner\?\)"),
    (["--input", "setup.py", "--tokenizer", LLAMA, "--runner=Flinkrunner2"], r"did you mean --runner=FlinkRunner"),
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
    assert main(["train-tokenizer", "--input", "x", "--output", "m.model", "--vocab-size", "300", "--runner=X"]) == 2
    assert "lmpairs train-tokenizer: error: unrecognized arguments: --runner=X" in capsys.readouterr().err


def run_build_cli(capsys, *argv) -> str:
    """``lmpairs build`` with the required flags and ``argv``: exits 2; its one line of stderr."""
    assert main(["build", *REQUIRED, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lmpairs build: error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["--row-group-mb", "inf"], "build.row_group_mb=inf: must be a finite number with 0.001 <= X <= 1,024; "
                                "pass e.g. --row-group-mb 4.0."),
    (["--row-group-mb", "nan"], "build.row_group_mb=nan: must be a finite number"),
    (["--shard-size-mb=-inf"], "build.shard_size_mb=-inf: must be a finite number"),
    (["--validation-fraction", "NaN"], "build.validation_fraction=nan"),
    (["--set", "bart.poisson_lambda=Infinity"], "bart.poisson_lambda=inf: must be a finite number with 0.1 <= X <= "
                                                "1,048,576; pass e.g. --set bart.poisson_lambda=3.5."),
    (["--set", "bart.poisson_lambda=NaN"], "bart.poisson_lambda=nan"),
    (["--set", "t5.mean_noise_span_length=-Infinity"], "t5.mean_noise_span_length=-inf"),
    (["--seq-len", "2147483647"], "clm.seq_len=2147483647: must be an integer with 2 <= N <= 1,048,576; "
                                  "pass e.g. --seq-len 1024."),
    (["--seq-len", "2147483647", "--objectives", "mlm"], "mlm.seq_len=2147483647"),
    (["--seq-len", "0", "--objectives", "bart"], "bart.seq_len=0"),
    (["--set", "t5.seq_len=1048577", "--objectives", "t5"], "t5.seq_len=1048577"),
    (["--objectives", "t5", "--seq-len", "1048576", "--set", "t5.noise_density=0.99", "--set",
      "t5.mean_noise_span_length=1000"], "needs raw rows of 95,411,749 tokens, more than the 4,194,304 allowed"),
    (["--max-document-bytes", "4294967296"], "build.max_document_bytes=4294967296"),
    (["--split-mb", "0"], "build.split_mb=0.0: must be a finite number with 0.0009 <= X <= 1,048,576"),
    (["--split-mb", "1e-9"], "build.split_mb=1e-09: must be a finite number with 0.0009 <= X"),
    (["--shard-size-mb", "1e-9"], "build.shard_size_mb=1e-09: must be a finite number with 0.001 <= X"),
    (["--row-group-mb", "0"], "build.row_group_mb=0.0: must be a finite number with 0.001 <= X <= 1,024; "
                              "pass e.g. --row-group-mb 4.0."),
    (["--shard-size-mb", "4096", "--row-group-mb", "0.01"], "build.shard_size_mb=4096.0 with build.row_group_mb=0.01 "
                                                            "makes up to 409,600 row groups per shard"),
    (["--set", "bart.poisson_lambda=1e-300"], "bart.poisson_lambda=1e-300: must be a finite number with 0.1 <= X"),
    (["--set", "bart.poisson_lambda=1e-6"], "bart.poisson_lambda=1e-06"),
    (["--seed", "-1"], "build.seed=-1"),
    (["--set", "mlm.copies=two"], "mlm.copies='two': must be an integer with 1 <= N <= 100"),
    (["--set", "mlm.copies=2.5"], "mlm.copies=2.5: must be an integer"),
    (["--set", "clm.seq_len=true"], "clm.seq_len=True: must be an integer"),
    (["--set", "mlm.whole_word=yes"], "mlm.whole_word='yes': must be true or false"),
    (["--set", "mlm.mask_prob=high"], "mlm.mask_prob='high': must be a finite number"),
    (["--set", "clm.final_row=keep"], "clm.final_row='keep': must be one of 'pad', 'drop'"),
    (["--set", "mlm.prob=0.2"], "mlm has no field 'prob'"),
])
def test_bad_settings_are_one_line_errors_before_any_work(argv, message, capsys, tmp_path):
    out = tmp_path / "out"
    err = run_build_cli(capsys, *argv, "--output", str(out))
    assert message in err
    assert not out.exists()


@pytest.mark.parametrize("argv, guesses", [
    (["--seq_len", "64", "--split_mb", "3"], ["--seq_len (did you mean --seq-len?)",
                                              "--split_mb (did you mean --split-mb?)"]),
    (["--seq_len=64"], ["--seq_len (did you mean --seq-len?)"]),
    (["--split-md", "3"], ["--split-md (did you mean --split-mb?)"]),
    (["--Row-Group-MB", "3"], ["--Row-Group-MB (did you mean --row-group-mb?)"]),
    (["--shard_size_mb", "3", "--runner=DirectRunner"], ["--shard_size_mb (did you mean --shard-size-mb?)"]),
    (["--validation-fractoin", "0.1"], ["--validation-fractoin (did you mean --validation-fraction?)"]),
])
def test_flags_that_look_like_lmpairs_flags_are_refused_with_a_guess(argv, guesses, capsys):
    err = run_build_cli(capsys, *argv)
    assert all(g in err for g in guesses), err


@pytest.mark.parametrize("argv, message", [
    (["--direct_num_workrs=2"], r"unknown option --direct_num_workrs \(did you mean --direct_num_workers\?\)"),
    (["--frobnicate"], r"unknown option --frobnicate: .*Beam's include --runner, --direct_num_workers"),
    (["--direct_num_workers=two"], r"Beam option: argument --direct_num_workers: invalid int value: 'two'"),
    (["--direct_running_mode", "fast"], r"Beam option: argument --direct_running_mode: invalid choice: 'fast'"),
    (["more.txt"], r"unexpected argument more.txt: lmpairs build takes no positional arguments"),
])
def test_arguments_beam_does_not_accept_are_refused_before_the_job(argv, message, capsys, tmp_path):
    err = run_build_cli(capsys, *argv, "--output", str(tmp_path / "out"))
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_beam_options_pass_the_checks(tmp_path):
    from lmpairs.cli import check_extra_arguments

    args, extra = parse(*REQUIRED, "--runner=DirectRunner", "--direct_num_workers", "2", "--direct_running_mode",
                        "multi_threading", "--project", "p", "--temp_location", "gs://b/tmp", "--setup_file",
                        "./setup.py", "--job_name=x")
    check_extra_arguments(args, extra)


def test_unknown_options_of_a_portable_runner_go_to_its_job_server(caplog):
    from lmpairs.cli import check_extra_arguments

    args, extra = parse(*REQUIRED, "--runner=FlinkRunner", "--flink_job_server_option=1")
    with caplog.at_level(logging.WARNING):
        check_extra_arguments(args, extra)
    assert "--flink_job_server_option" in caplog.text and "FlinkRunner job server" in caplog.text
