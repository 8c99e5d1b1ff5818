"""Every ``lmpairs`` subcommand has --help, and every option in it says what it does."""
import argparse
import subprocess
import sys

import pytest

from lmpairs.cli import COMMANDS, make_parser

EXPECTED = {"build", "train-tokenizer", "inspect", "report", "train", "demo"}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_registered():
    assert set(subparsers()) == EXPECTED
    assert len(COMMANDS) == len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_help_explains_every_option(name, capsys):
    with pytest.raises(SystemExit) as done:
        make_parser().parse_args([name, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: lmpairs {name}")
    undocumented = [a.dest for a in subparsers()[name]._actions
                    if a.help in (None, "") and a.dest != "help"]
    assert undocumented == []


def test_build_help_shows_each_numeric_limit_and_every_objective_setting(capsys):
    with pytest.raises(SystemExit):
        make_parser().parse_args(["build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for limit in ("0.001 <= X <= 1,048,576", "0.001 <= X <= 1,024", "0 <= X < 1", "at most 1,048,576"):
        assert limit in text
    for setting in ("clm.final_row:", "mlm.copies:", "t5.mean_noise_span_length:", "bart.poisson_lambda:"):
        assert setting in text


def test_python_dash_m_lmpairs_is_the_cli():
    done = subprocess.run([sys.executable, "-m", "lmpairs", "demo", "--help"], capture_output=True, text=True,
                          check=True)
    assert done.stdout.startswith("usage: lmpairs demo")
