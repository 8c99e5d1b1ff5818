"""The package's habits: --version is setup.py's, logging flags on every command, py.typed ships, the
license is Apache-2.0's text, ``lmpairs.build`` checks its arguments, ``import lmpairs`` stays light."""
import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import lmpairs
from lmpairs.cli import BEAM_WORKER_RELAY, configure_logging, main, make_parser
from lmpairs.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_version_flag_prints_what_setup_py_declares():
    declared = subprocess.run([sys.executable, "setup.py", "--version"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split()[-1]
    shown = subprocess.run([sys.executable, "-m", "lmpairs", "--version"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert shown == f"lmpairs {declared}" and declared == lmpairs.__version__


def commands() -> dict[str, argparse.ArgumentParser]:
    return dict(next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices)


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_takes_quiet_verbose_and_log_level_and_only_build_mentions_beam(name):
    text = " ".join(commands()[name].format_help().split())
    assert "-q, --quiet" in text and "-v, --verbose" in text and "--log-level" in text
    start = text.index("-v, --verbose")
    verbose_help = text[start:text.index("--log-level {", start)]
    assert ("Beam" in verbose_help) == (name == "build")


@pytest.mark.parametrize(("argv", "lmpairs_level", "root_level"), [
    (["inspect", "x"], logging.INFO, logging.WARNING),
    (["-q", "inspect", "x"], logging.WARNING, logging.WARNING),
    (["inspect", "x", "--log-level", "debug"], logging.DEBUG, logging.WARNING),
    (["train", "x", "-v"], logging.DEBUG, logging.WARNING),  # -v on a command without Beam: lmpairs' debug only
    (["build", "--input", "a", "--output", "o", "--tokenizer", "t", "-v"], logging.DEBUG, logging.INFO),
])
def test_logging_levels(argv, lmpairs_level, root_level):
    args, _ = make_parser().parse_known_args(argv)
    configure_logging(args)
    assert logging.getLogger("lmpairs").level == lmpairs_level
    assert logging.getLogger().level == root_level  # Beam logs its "Finished listing" lines here
    assert logging.getLogger("apache_beam").level == root_level


def test_the_local_workers_start_up_warning_is_dropped_unless_verbose():
    relay = logging.getLogger(BEAM_WORKER_RELAY)

    def record(message):
        return logging.LogRecord(BEAM_WORKER_RELAY, logging.WARNING, __file__, 1, message, None, None)

    noise = record('Worker: severity: WARN message: "No semi_persistent_directory found: User registered objects"')
    real = record("Worker: severity: ERROR message: \"Traceback ...\"")
    build = ["build", "--input", "a", "--output", "o", "--tokenizer", "t"]
    try:
        configure_logging(make_parser().parse_known_args(build)[0])
        assert not relay.filter(noise) and relay.filter(real)
        configure_logging(make_parser().parse_known_args([*build, "-v"])[0])
        assert relay.filter(noise) and relay.filter(real)
    finally:
        relay.filters.clear()


def test_quiet_and_verbose_exclude_each_other(capsys):
    assert main(["inspect", "x", "-q", "-v"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_py_typed_ships_and_the_license_is_apache_2():
    assert (ROOT / "lmpairs" / "py.typed").is_file()
    assert '"py.typed"' in (ROOT / "setup.py").read_text()
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_build_refuses_unknown_options_and_settings_for_objectives_it_does_not_make():
    with pytest.raises(ConfigError, match="unknown option seq_length; choose from"):
        lmpairs.build(["a.txt"], "out", "t.model", seq_length=3)
    with pytest.raises(ConfigError, match="settings for 't5', which this build does not make"):
        lmpairs.build(["a.txt"], "out", "t.model", objectives=("clm",), settings={"t5": {"noise_density": 0.3}})
    with pytest.raises(ConfigError, match=r"settings\[.t5.\] names noise, which t5 does not have; choose from"):
        lmpairs.build(["a.txt"], "out", "t.model", objectives=["t5"], settings={"t5": {"noise": 0.3}})


def test_import_lmpairs_loads_neither_beam_nor_torch():
    code = "import sys, lmpairs; print(any(m.split('.')[0] in ('apache_beam', 'torch') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
