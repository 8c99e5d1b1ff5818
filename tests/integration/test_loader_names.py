"""Renamed words (issue 21): ``side`` (train/validation) and ``shuffle_seed`` in the loader, and
``--document-masking``/``--side`` in ``lmpairs train``; the old names work one release with a warning."""
import argparse

import pytest
from loader_fixtures import clm_rows, write_dataset

from lmpairs.loader import PairMixture, PairStream
from lmpairs.trainer import TrainConfig
from lmpairs.trainer.cli import add_train_arguments, config_from_args

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory):
    keys, columns = clm_rows(30, seq_len=6)
    return write_dataset(tmp_path_factory.mktemp("names") / "clm", "clm",
                         {"train": (keys, columns), "validation": (keys[:12] + 500, {k: v[:12] for k, v in
                                                                                     columns.items()})},
                         num_shards=1, row_group_rows=5)


def keys(dataset):
    return [k for b in dataset for k in b["example_key"].tolist()]


def test_split_and_seed_still_work_with_a_deprecation_warning(clm_dir):
    new = PairStream(clm_dir, side="validation", batch_size=4, shuffle_seed=3, return_keys=True)
    with pytest.warns(DeprecationWarning, match=r"split=.*pass side="):
        old_split = PairStream(clm_dir, split="validation", batch_size=4, shuffle_seed=3, return_keys=True)
    with pytest.warns(DeprecationWarning, match=r"seed=.*pass shuffle_seed="):
        old_seed = PairStream(clm_dir, "validation", batch_size=4, seed=3, return_keys=True)
    assert keys(new) == keys(old_split) == keys(old_seed)
    assert new.side == new.split == "validation" and new.shuffle_seed == new.seed == 3
    assert new.fingerprint(1) == old_seed.fingerprint(1)  # states stay compatible across the rename
    assert keys(new) != keys(PairStream(clm_dir, "validation", batch_size=4, return_keys=True))


def test_old_and_new_name_together_are_refused(clm_dir):
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="pass shuffle_seed= only"):
        PairStream(clm_dir, batch_size=4, seed=1, shuffle_seed=2)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="pass side= only"):
        PairMixture([(clm_dir, 1)], "validation", batch_size=4, split="train")


def test_mixture_takes_the_new_names_and_the_old_with_a_warning(clm_dir):
    new = PairMixture([(clm_dir, 1)], side="validation", batch_size=4, shuffle_seed=2, return_keys=True)
    with pytest.warns(DeprecationWarning):
        old = PairMixture([(clm_dir, 1)], split="validation", batch_size=4, seed=2, return_keys=True)
    assert keys(new) == keys(old) and len(keys(new)) == 12


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="lmpairs train")
    add_train_arguments(made)
    return made


def test_train_flags_renamed_with_hidden_deprecated_aliases(capsys):
    args = parser().parse_args(["out/clm", "--documents", "separate", "--split", "validation"])
    config = config_from_args(args)
    assert (config.document_masking, config.side) == ("separate", "validation")
    err = capsys.readouterr().err
    assert "--documents is deprecated" in err and "use --document-masking" in err and "use --side" in err
    text = parser().format_help()
    assert "--document-masking" in text and "--documents" not in text and "--split" not in text
    with pytest.warns(DeprecationWarning, match="'documents' is deprecated"):
        assert TrainConfig().replace(documents="varlen").document_masking == "varlen"


@pytest.mark.parametrize("make", [lambda p: PairStream(p, batch_size=4), lambda p: PairMixture([(p, 1)], batch_size=4)])
def test_world_size_without_torch_distributed_warns_for_streams_and_mixtures(clm_dir, make, monkeypatch, caplog):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with caplog.at_level("WARNING", logger="lmpairs"):
        dataset = make(clm_dir)
    assert (dataset.rank, dataset.world_size) == (0, 1)
    assert f"this {type(dataset).__name__} reads the whole split on every rank" in caplog.text
