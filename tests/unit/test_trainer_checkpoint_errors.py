"""``lmpairs train --resume`` with a file that is not an lmpairs checkpoint: one line naming the file
and the fix, never torch's unpickling traceback (whose text suggests the unsafe ``weights_only=False``)."""
import io
import os
import pickle
import zipfile

import pytest

torch = pytest.importorskip("torch")

from lmpairs import cli  # noqa: E402
from lmpairs.trainer import loop as trainer_loop  # noqa: E402
from lmpairs.trainer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402


class Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def junk_files(tmp_path):
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("data.txt", "hello")
    pickled = io.BytesIO()
    torch.save({"model": Payload()}, pickled)
    files = {"random.pt": os.urandom(4096), "empty.pt": b"", "text.pt": b"not a checkpoint\n",
             "zip.pt": zipped.getvalue(), "pickle.pt": pickle.dumps({"a": 1}), "code.pt": pickled.getvalue()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return [tmp_path / name for name in files]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_junk_checkpoints_are_one_line_errors_naming_the_file(tmp_path):
    for path in junk_files(tmp_path):
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        message = str(err.value)
        assert message.startswith(f"{path}: not a checkpoint lmpairs can read"), message
        assert "without --resume" in message and "weights_only" not in message and "\n" not in message


def test_a_checkpoint_of_another_format_is_refused(tmp_path):
    torch.save({"format": 99}, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="checkpoint format 99"):
        load_checkpoint(tmp_path / "old.pt")
    save_checkpoint(tmp_path / "ok.pt", {"step": 3})
    assert load_checkpoint(tmp_path / "ok.pt")["step"] == 3


def test_train_resume_from_junk_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(1024))
    monkeypatch.setattr(trainer_loop, "train", lambda objective_dir, config: load_checkpoint(config.checkpoint))
    assert cli.main(["train", str(tmp_path), "--checkpoint", str(junk), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lmpairs train: error: {junk}: not a checkpoint lmpairs can read")
    assert err.count("\n") == 1 and "weights_only" not in err and "Traceback" not in err
