"""The README's path end to end: ``lmpairs demo`` on a slice of the embedded corpus, then ``inspect``.

The demo runs in a subprocess exactly as a user runs it (the ``lmpairs`` console script once it
has the ``demo`` command, ``python -m lmpairs demo`` before), with fewer documents and steps.
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lmpairs.config import BUILT_IN_NAMES as OBJECTIVES
from lmpairs.demo import fit_tokenizer
from lmpairs.embedded_corpus import write_corpus
from lmpairs.inspection import InspectOptions, inspect_build
from lmpairs.schemas import read_manifest
from lmpairs.tokenizers import TokenizerError, train_tokenizer

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_ARGS = ["--max-documents", "40", "--seq-len", "32", "--steps", "8", "--batch-size", "8",
             "--vocab-size", "1000", "--num-examples", "3"]


def demo_command() -> list[str]:
    """``lmpairs demo`` when the console script has the command, else the module entry point."""
    from lmpairs.cli import make_parser

    script = Path(sys.executable).with_name("lmpairs")
    commands = next(a.choices for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    if "demo" in commands and script.is_file():
        return [str(script), "demo"]
    return [sys.executable, "-m", "lmpairs", "demo"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    done = subprocess.run([*demo_command(), "--output", str(out), *DEMO_ARGS], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"demo failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return out, done.stdout


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_demo_writes_committed_shards_for_every_objective(demo_run: tuple[Path, str], objective: str):
    out, _ = demo_run
    manifest = read_manifest(str(out / "pairs" / objective), objective=objective)
    assert manifest.counters["documents_read"] == 40
    assert manifest.num_rows("train") > 0
    for shards in manifest.splits.values():
        for shard in shards:
            assert pq.ParquetFile(out / "pairs" / objective / shard.path).metadata.num_rows == shard.num_rows
    assert manifest.tokenizer["file"] == "lmpairs-demo.model" and (out / "lmpairs-demo.model").is_file()


def test_demo_prints_summaries_and_decoded_examples_with_their_markers(demo_run: tuple[Path, str]):
    _, stdout = demo_run
    for objective in OBJECTIVES:
        assert re.search(rf"^== {objective}  \(", stdout, re.M), objective
    assert "input_ids = row[:-1]" in stdout and "next-token shift:" in stdout  # CLM
    assert "[MASK]" in stdout and "labels are -100 elsewhere" in stdout  # MLM
    assert re.search(r"<extra_id_0> \u2194 '", stdout)  # T5 sentinel aligned with its span
    assert "input_ids (noised)" in stdout and "\u00ab" in stdout  # BART removed text marked
    assert "selected / maskable" in stdout and "noise tokens / tokens" in stdout


def test_demo_loss_falls_for_every_objective(demo_run: tuple[Path, str]):
    _, stdout = demo_run
    losses = {name: (float(first), float(last))
              for name, first, last in re.findall(r"^    (\w+): loss ([\d.]+) -> ([\d.]+) over", stdout, re.M)}
    assert sorted(losses) == sorted(OBJECTIVES)
    for name, (first, last) in losses.items():
        assert last < first - 0.1, f"{name}: loss {first} -> {last} did not fall"


def test_demo_says_where_its_outputs_are(demo_run: tuple[Path, str]):
    out, stdout = demo_run
    assert f"outputs in {out}/:" in stdout
    assert sorted(p.name for p in (out / "corpus").iterdir()) == ["cpython-reference-docs-00000.jsonl"]


def test_the_next_hint_runs_as_printed(demo_run: tuple[Path, str]):
    """Each command of the "next:" line runs from the repository root as printed (the train hint with
    fewer steps: its 200 are for a user, not for CI)."""
    _, stdout = demo_run
    hint = re.search(r"^next: (.*)$", stdout, re.M).group(1)
    commands = [shlex.split(part) for part in hint.split("    |    ")]
    assert [c[1] for c in commands] == ["inspect", "train", "report"]
    for command in commands:
        if command[1] == "train":
            command[command.index("--steps") + 1] = "2"
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{shlex.join(command)}: {done.stderr[-2000:]}"


def test_inspect_on_the_demo_build_shows_every_marker(demo_run: tuple[Path, str]):
    out, _ = demo_run
    text = inspect_build(str(out / "pairs"), InspectOptions(num_examples=30, width=120, max_tokens=0))
    assert "\u2551" in text  # a CLM row holding two documents
    assert re.search(r"\{[^{}\s]+\u2192[^{}\s]+\}", text) and re.search(r"\([^()\s]+\)", text)  # MLM
    assert "<extra_id_0>" in text and "[MASK]" in text
    assert "\u00ab\u00bb" not in text and "{}" not in text


def test_a_small_corpus_slice_gets_the_largest_vocabulary_it_allows(tmp_path: Path):
    corpus = write_corpus(tmp_path / "corpus", max_documents=40)
    tokenizer = fit_tokenizer(corpus, tmp_path / "small.model", 4000, seed=0)
    assert 500 < tokenizer.vocab.size < 4000
    with pytest.raises(TokenizerError, match="too small"):
        train_tokenizer(corpus, tmp_path / "bigger.model", tokenizer.vocab.size + 1)


def fenced_commands(markdown: str) -> list[str]:
    """Every line inside the README's fenced code blocks."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.M | re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_commands_are_the_makefile_targets():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    commands = fenced_commands(readme)
    assert "make demo" in commands and "make test" in commands, commands[:10]
    assert readme.index("make demo") < readme.index("make test")  # the main job comes first
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    assert {"demo", "test"} <= targets
    demo_recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "lmpairs demo" in demo_recipe or "lmpairs.demo" in demo_recipe
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "pytest" in test_recipe
