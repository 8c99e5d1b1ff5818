"""``lmpairs train`` as the CLI wires it: flags from TrainConfig, a run with progress, resume, errors."""
import argparse
import dataclasses

import pytest
from loader_fixtures import clm_rows, mlm_rows, write_dataset

from lmpairs.trainer import TrainConfig
from lmpairs.trainer.cli import add_train_arguments, run_train

TINY = ["--d-model", "32", "--num-heads", "2", "--num-layers", "1", "--d-ff", "64", "--batch-size", "4"]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="lmpairs train")
    add_train_arguments(made)
    return made


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory) -> str:
    return write_dataset(tmp_path_factory.mktemp("cli") / "clm", "clm", {"train": clm_rows(24, seq_len=10)})


def test_every_setting_has_a_flag_with_help():
    text = " ".join(parser().format_help().split())
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        assert flag in text
        assert " ".join(field.metadata["help"].split()) in text


def test_defaults_map_one_to_one_to_the_config():
    args = parser().parse_args(["out/clm"])
    assert {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)} == TrainConfig().to_dict()
    args = parser().parse_args(["out/clm", "--lr", "0.01", "--max-tokens", "64", "--resume", "--checkpoint", "c.pt"])
    assert (args.lr, args.max_tokens, args.resume, args.checkpoint) == (0.01, 64, True, "c.pt")


def test_train_shows_progress_and_resumes(clm_dir, tmp_path, capsys):
    ckpt = str(tmp_path / "ckpt.pt")
    common = [clm_dir, "--steps", "6", "--checkpoint", ckpt, "--log-every", "2", *TINY]
    assert run_train(parser().parse_args([*common, "--stop-after", "3", "--progress"])) == 0
    out, err = capsys.readouterr()
    assert "clm: steps 0 -> 3 on cpu" in out and "tokens/s" in out and "data wait" in out and ckpt in out
    assert "| 3/6" in err  # the tqdm bar counted the steps of the whole run
    assert run_train(parser().parse_args([*common, "--resume", "--no-progress"])) == 0
    out, err = capsys.readouterr()
    assert "clm: steps 3 -> 6 on cpu" in out and "| 6/6" not in err  # no bar (log lines may say "step 6/6")


def test_unusable_input_is_one_message_and_status_2(tmp_path, capsys):
    assert run_train(parser().parse_args([str(tmp_path), *TINY])) == 2
    err = capsys.readouterr().err
    assert err.startswith("lmpairs train: error:") and "no manifest" in err and "Traceback" not in err


def test_bad_settings_are_one_message_and_status_2(clm_dir, capsys):
    assert run_train(parser().parse_args([clm_dir, "--d-model", "30", "--num-heads", "4"])) == 2
    assert "head size" in capsys.readouterr().err


def test_document_separation_is_refused_outside_clm(tmp_path, capsys):
    mlm = write_dataset(tmp_path / "mlm", "mlm", {"train": mlm_rows(8)})
    assert run_train(parser().parse_args([mlm, "--document-masking", "separate", *TINY])) == 2
    assert "applies to CLM rows" in capsys.readouterr().err


def test_junk_and_damaged_checkpoints_are_one_line_errors_naming_the_file(clm_dir, tmp_path, capsys):
    import torch

    good = tmp_path / "good.pt"
    assert run_train(parser().parse_args([clm_dir, "--steps", "4", "--stop-after", "2", "--checkpoint", str(good),
                                          "--no-progress", *TINY])) == 0
    capsys.readouterr()
    state = torch.load(good, weights_only=True)
    damaged = {
        "junk.pt": b"this is not a checkpoint\n" * 10,
        "empty.pt": b"",
    }
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({k: v for k, v in state.items() if k != "ranks"}, tmp_path / "no_ranks.pt")
    bad_position = {**state, "ranks": [{**state["ranks"][0], "loader": {**state["ranks"][0]["loader"],
                                                                         "worker_batches": [-5], "batches": -5}}]}
    torch.save(bad_position, tmp_path / "bad_position.pt")
    for name, expected in [("junk.pt", "not a checkpoint"), ("empty.pt", "not a checkpoint"),
                           ("list.pt", "checkpoint format"), ("no_ranks.pt", "incomplete or damaged"),
                           ("bad_position.pt", "data position does not fit")]:
        path = str(tmp_path / name)
        args = [clm_dir, "--steps", "4", "--checkpoint", path, "--resume", "--no-progress", *TINY]
        assert run_train(parser().parse_args(args)) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "weights_only" not in err, err
        assert err.startswith("lmpairs train: error:") and path in err and expected in err, err
        assert "--resume" in err or "load_state_dict" in err or "set_epoch" in err, err


def test_the_first_step_is_logged_at_once_and_no_line_says_zero_tokens_per_s(clm_dir, caplog):
    caplog.set_level("INFO", logger="lmpairs")
    assert run_train(parser().parse_args([clm_dir, "--steps", "4", "--log-every", "100", "--no-progress", *TINY])) == 0
    steps = [r.getMessage() for r in caplog.records if " step " in r.getMessage()]
    assert steps[0].startswith("clm step 1/4") and "first step" in steps[0]
    assert steps[-1].startswith("clm step 4/4")  # the last step always logs
    assert not any(" 0 tokens/s" in line for line in steps)
