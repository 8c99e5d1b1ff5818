""""side" (train/validation) apart from "split" (an input byte range): the new names, and the old
ones kept one release with a warning (``--split`` flags, ``split=`` options)."""
import argparse

import pytest

from lmpairs.inspection.cli import add_inspect_arguments
from lmpairs.inspection.report import InspectOptions
from lmpairs.report.cli import add_report_arguments
from lmpairs.report.figures import FigureOptions


@pytest.mark.parametrize("add", [add_inspect_arguments, add_report_arguments])
def test_side_flag_and_its_hidden_deprecated_alias(add, capsys):
    parser = argparse.ArgumentParser(prog="lmpairs x")
    add(parser)
    assert parser.parse_args(["out"]).side == "train"
    assert parser.parse_args(["out", "--side", "validation"]).side == "validation"
    assert capsys.readouterr().err == ""
    assert parser.parse_args(["out", "--split", "validation"]).side == "validation"
    assert "lmpairs x: warning: --split is deprecated" in capsys.readouterr().err
    text = parser.format_help()
    assert "--side" in text and "--split" not in text
    with pytest.raises(SystemExit):
        parser.parse_args(["out", "--split", "test"])


@pytest.mark.parametrize("options", [InspectOptions, FigureOptions])
def test_options_take_side_and_the_old_split_keyword(options):
    assert options(side="validation").side == "validation"
    with pytest.warns(DeprecationWarning, match=r"split=.*pass side="):
        assert options(split="validation").side == "validation"
    with pytest.raises(TypeError, match="not both"):
        options(split="train", side="validation")
