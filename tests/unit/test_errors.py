"""One base for every error a user can fix, and one ``main`` that prints it as one line with exit 2."""
import ast
from pathlib import Path

import pytest

from lmpairs import cli
from lmpairs.errors import UsageError, UserError

PACKAGE = Path(__file__).resolve().parents[2] / "lmpairs"

INTERNAL: dict[str, str] = {}
"""Exception classes that are deliberately not UserError (name -> why); none so far."""


def exception_classes() -> dict[str, list[str]]:
    """Every class in lmpairs/ named *Error or *Exception, with the names of its bases."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Exception")):
                found[f"{path.relative_to(PACKAGE.parent)}:{node.name}"] = [ast.unparse(b) for b in node.bases]
    return found


def test_every_error_class_derives_from_user_error():
    classes = exception_classes()
    names = {key.rpartition(":")[2] for key in classes}
    assert {"ConfigError", "TokenizerError", "ManifestError", "CheckpointError", "BuildError"} <= names
    user_errors = {"UserError"}  # grows to the classes that derive from one of them
    for _ in classes:
        user_errors |= {k.rpartition(":")[2] for k, bases in classes.items() if set(bases) & user_errors}
    stray = sorted(k for k in classes if k.rpartition(":")[2] not in user_errors | set(INTERNAL))
    assert stray == [], "derive these from lmpairs.errors.UserError (or list them in INTERNAL with why)"


def run_raising(monkeypatch, capsys, error: BaseException) -> tuple[int, str]:
    """``lmpairs inspect x`` with a runner that raises ``error``: the exit code and stderr."""
    def run(args, extra):
        raise error
    monkeypatch.setattr(cli, "add_inspect", lambda sub: sub.add_parser("inspect").set_defaults(run=run))
    monkeypatch.setattr(cli, "COMMANDS", (cli.add_build, cli.add_inspect))
    code = cli.main(["inspect"])
    return code, capsys.readouterr().err


def test_main_prints_any_user_error_on_one_line_and_exits_2(monkeypatch, capsys):
    code, err = run_raising(monkeypatch, capsys, UserError("out/x.json: broken\n  rebuild it."))
    assert code == 2
    assert err == "lmpairs inspect: error: out/x.json: broken rebuild it.\n"


def test_main_lets_programming_errors_through(monkeypatch, capsys):
    with pytest.raises(KeyError):
        run_raising(monkeypatch, capsys, KeyError("bug"))


def test_usage_errors_name_the_subcommand_and_its_help(capsys):
    assert cli.main(["build", "--input", "a"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("lmpairs build: error: the following arguments are required: --output, --tokenizer")
    assert err.rstrip().endswith("(see lmpairs build --help)")
    assert cli.main(["frobnicate"]) == 2
    assert capsys.readouterr().err.startswith("lmpairs: error: argument COMMAND: invalid choice: 'frobnicate'")
    assert cli.main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_parser_errors_raise_usage_error_instead_of_exiting():
    with pytest.raises(UsageError, match="invalid int value") as caught:
        cli.make_parser().parse_known_args(["build", "--input", "a", "--output", "o", "--tokenizer", "t",
                                             "--seed", "x"])
    assert caught.value.prog == "lmpairs build"


def test_help_still_exits_0(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["build", "--help"])
    assert done.value.code == 0
    assert "objective settings" in capsys.readouterr().out
