"""Single-source streams and mixtures give the batches and states recorded before the loader's
refactor (issue 21: ``PairStream`` is a mixture of one), and old states resume the new loader."""
import json

import pytest
from loader_golden import GOLDEN, record

pytestmark = pytest.mark.fast  # shards written directly; the two-worker scenario is the slow test below


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text())


def check(got: dict, golden: dict) -> None:
    for name, now in got.items():
        was = golden[name]
        assert now["epoch0"] == was["epoch0"], f"{name}: epoch 0 batches changed"
        assert now["epoch1"] == was["epoch1"], f"{name}: epoch 1 batches changed"
        assert now["state"] == was["state"], f"{name}: state after 3 batches changed"
        assert now["resumed"] == was["resumed"] == was["epoch1"][3:], f"{name}: the recorded state resumes elsewhere"


def test_batches_and_states_are_those_recorded_before_the_refactor(tmp_path, golden):
    check(record(tmp_path, golden, workers=False), golden)


@pytest.mark.slow
def test_two_worker_loader_batches_and_state_are_those_recorded(tmp_path, golden):
    got = record(tmp_path, golden)
    check({"clm_two_workers": got["clm_two_workers"]}, golden)
