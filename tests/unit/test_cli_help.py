"""Every ``lmpairs`` subcommand has --help, and every option in it says what it does."""
import argparse

import pytest

from lmpairs.cli import COMMANDS, make_parser

EXPECTED = {"build", "train-tokenizer", "inspect", "train", "demo"}


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
