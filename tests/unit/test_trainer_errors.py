"""``lmpairs train`` refuses settings that used to end in a traceback: a directory as --checkpoint,
a --data weight that is not a finite number."""
import pytest
import torch

from lmpairs.cli import main
from lmpairs.config import ConfigError
from lmpairs.trainer.checkpoint import CheckpointError, save_checkpoint
from lmpairs.trainer.config import TrainConfig


def test_a_checkpoint_directory_is_refused_before_training(tmp_path, capsys):
    assert main(["train", str(tmp_path / "clm"), "--checkpoint", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--checkpoint {tmp_path}: is a directory; pass a file path" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_save_checkpoint_never_leaves_a_tmp_beside_it(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        save_checkpoint(tmp_path, {"step": 1, "w": torch.zeros(3)})
    assert list(tmp_path.parent.glob(tmp_path.name + ".tmp")) == []
    target = tmp_path / "ckpt.pt"
    target.mkdir()
    (tmp_path / "other").write_text("x")
    with pytest.raises(CheckpointError):
        save_checkpoint(target, {"step": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt", "other"]


@pytest.mark.parametrize("weight", ["nan", "inf", "-inf", "-1"])
def test_a_data_weight_must_be_a_finite_number(weight):
    with pytest.raises(ConfigError, match=rf"--data 'out/clm:{weight}': weight {weight} is not a finite number"):
        TrainConfig(data=(f"out/clm:{weight}",))
    TrainConfig(data=("s3://bucket/out/clm", "out/clm:0.5"))
