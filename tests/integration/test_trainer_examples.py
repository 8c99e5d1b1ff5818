"""The three trainer examples (HF Trainer, Lightning, plain torch.distributed) train a tiny random model on
a CLM build with falling loss, and a run stopped and resumed from each framework's own checkpoint trains
on exactly the batches of the uninterrupted run (every later step's loss is identical)."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from loader_fixtures import mlm_rows, seq2seq_rows, write_dataset
from s3_server import free_port

from lmpairs.errors import UserError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def example(name: str):
    """Import an example as ``python examples/NAME.py`` runs it: its folder on the path (tiny_model.py)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory) -> str:
    """96 rows of a learnable sequence (each id follows from the last), 12 batches of 8 per epoch."""
    rows = [(np.arange(s, s + 17) % 50 + 105).astype(np.int32) for s in (i * 7 % 50 for i in range(96))]
    keys = np.arange(96, dtype=np.uint64) + 1000
    return write_dataset(tmp_path_factory.mktemp("examples") / "clm", "clm",
                         {"train": (keys, {"input_ids": rows, "doc_lengths": [np.array([17], np.int32)] * 96})})


def check_resume(full: dict, resumed: dict, start: int, end: int) -> None:
    losses = full["losses"]
    assert losses[end] < losses[1] - 0.5  # the loss falls
    later = {step: loss for step, loss in resumed["losses"].items() if step > start}
    assert sorted(later) == list(range(start + 1, end + 1))
    assert later == {step: losses[step] for step in later}  # exactly the uninterrupted run's steps


def test_hf_trainer_resumes_from_its_own_checkpoint_to_the_same_next_batch(clm_dir, tmp_path):
    pytest.importorskip("accelerate")  # the hf extra; `make` installs it
    hf = example("train_hf")
    common = [clm_dir, "--steps", "16", "--save-steps", "5"]
    full = hf.main([*common, "--output-dir", str(tmp_path / "full")])
    hf.main([*common, "--output-dir", str(tmp_path / "part"), "--stop-after", "13"])
    assert (tmp_path / "part" / "checkpoint-13" / "lmpairs_loader.json").is_file()
    resumed = hf.main([*common, "--output-dir", str(tmp_path / "part"), "--resume"])
    check_resume(full, resumed, 13, 16)  # across the epoch boundary at 12 batches

    (tmp_path / "full" / "checkpoint-16" / "lmpairs_loader.json").unlink()  # a checkpoint of another trainer
    with pytest.raises(UserError, match=r"checkpoint-16: no lmpairs_loader\.json, so the data position is unknown"):
        hf.main([*common, "--output-dir", str(tmp_path / "full"), "--resume"])


@pytest.mark.parametrize(("objective", "rows"), [("mlm", mlm_rows(48)), ("t5", seq2seq_rows(48))])
def test_hf_trainer_trains_encoder_and_encoder_decoder_batches(objective, rows, tmp_path):
    """MLM batches reach a BERT and T5 batches a T5 without their labels; lmpairs' loss is finite."""
    pytest.importorskip("accelerate")
    data = write_dataset(tmp_path / objective, objective, {"train": rows})
    argv = [data, "--steps", "3", "--save-steps", "3", "--output-dir", str(tmp_path / "run")]
    result = example("train_hf").main(argv)
    assert result["objective"] == objective and sorted(result["losses"]) == [1, 2, 3]
    assert all(0 < loss < 20 for loss in result["losses"].values())


def test_lightning_resumes_from_its_own_checkpoint(clm_dir, tmp_path):
    pytest.importorskip("lightning")  # the lightning extra; `make` installs it
    pl = example("train_lightning")
    full = pl.main([clm_dir, "--steps", "16", "--checkpoint-dir", str(tmp_path / "full")])
    pl.main([clm_dir, "--steps", "16", "--save-steps", "7", "--stop-after", "7", "--num-workers", "2",
             "--checkpoint-dir", str(tmp_path / "part")])
    resumed = pl.main([clm_dir, "--steps", "16", "--save-steps", "7", "--num-workers", "2", "--resume",
                       "--checkpoint-dir", str(tmp_path / "part")])
    check_resume(full, resumed, 7, 16)


def test_plain_distributed_loop_resumes_exactly(clm_dir, tmp_path):
    plain = example("train_plain")
    full = plain.main([clm_dir, "--steps", "16", "--checkpoint", str(tmp_path / "full.pt")])
    common = [clm_dir, "--steps", "16", "--checkpoint", str(tmp_path / "part.pt"), "--num-workers", "2"]
    plain.main([*common, "--stop-after", "13"])
    resumed = plain.main([*common, "--resume"])
    check_resume(full, resumed, 13, 16)


def test_plain_loop_under_torchrun_two_ranks_resumes_exactly(clm_dir, tmp_path):
    """Two gloo ranks (``torchrun --nproc-per-node 2``, as docs/trainers.md gives it): a run stopped at
    step 3 and resumed ends each rank on the loss of the uninterrupted run."""
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")

    def run(*extra: str, checkpoint: str) -> list[dict]:
        command = [torchrun, "--nproc-per-node", "2", "--master-port", str(free_port()),
                   str(EXAMPLES / "train_plain.py"), clm_dir, "--steps", "6", "--save-steps", "3",
                   "--checkpoint", str(tmp_path / checkpoint), *extra]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        # one flat JSON object per rank; the two ranks' lines may interleave on the shared pipe (each
        # object is one write, its newline another), so split by object, not by line
        lines = [json.loads(text) for text in re.findall(r"\{[^{}]*\}", done.stdout)]
        return sorted(lines, key=lambda line: line["rank"])

    full = run(checkpoint="full.pt")
    assert run("--stop-after", "3", checkpoint="part.pt")[0]["final_step"] == 3
    resumed = run("--resume", checkpoint="part.pt")
    assert [line["rank"] for line in resumed] == [0, 1]
    assert [line["last_loss"] for line in resumed] == [line["last_loss"] for line in full]
    assert full[0]["first_loss"] != full[1]["first_loss"]  # the ranks read different batches
