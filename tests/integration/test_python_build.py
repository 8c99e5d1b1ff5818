"""``lmpairs.build(...)`` builds what ``lmpairs build`` builds, from lists and tuples alike (Beam's
root-logger chatter on an S3 build is checked in test_build_s3)."""
from pathlib import Path

import pytest

import lmpairs
from lmpairs.cli import main
from lmpairs.schemas import read_manifest


@pytest.fixture(scope="module")
def small_corpus(english_corpus: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    paragraphs = english_corpus.read_text(encoding="utf-8").split("\n\n")[:300]
    for i in range(2):
        (folder / f"part-{i}.txt").write_text("\n\n".join(paragraphs[i::2]), encoding="utf-8")
    return folder


def test_build_takes_lists_and_tuples_and_matches_the_cli(small_corpus, spm_test_model_path, tmp_path):
    inputs = [str(small_corpus / "part-0.txt"), str(small_corpus / "part-1.txt")]
    manifests = lmpairs.build(inputs, str(tmp_path / "api"), str(spm_test_model_path), objectives=("clm", "t5"),
                              seq_len=64, settings={"t5": {"noise_density": 0.2}}, seed=3)
    assert sorted(manifests) == ["clm", "t5"]
    assert manifests["t5"].config["noise_density"] == 0.2 and manifests["clm"].config["seq_len"] == 64
    assert main(["build", "--input", *inputs, "--output", str(tmp_path / "cli"), "--tokenizer",
                 str(spm_test_model_path), "--objectives", "clm,t5", "--seq-len", "64", "--set",
                 "t5.noise_density=0.2", "--seed", "3", "-q"]) == 0
    for name in ("clm", "t5"):
        api, cli = read_manifest(str(tmp_path / "api" / name)), read_manifest(str(tmp_path / "cli" / name))
        assert [s.sha256 for s in api.splits["train"]] == [s.sha256 for s in cli.splits["train"]]
