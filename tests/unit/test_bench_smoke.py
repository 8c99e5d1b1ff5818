"""Smoke test of the benchmarks: each script runs on a tiny input and emits its metrics.

No timing is asserted (the numbers mean nothing at this size); the benchmarks themselves run with
``make bench``. Scripts run as subprocesses, exactly as ``python -m bench.<name> --quick``, with the
corpus/tokenizer cache in a temporary folder so the repository is not written to.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `bench` is not an installed package; `python -m pytest` finds it, `pytest` not
    sys.path.insert(0, str(REPO))

from bench.common import Metric, at_least, at_most, format_table, paired_ratio  # noqa: E402

EXPECTED = {
    "pipeline": ("spm x2", "plain x1", "plain x2", "build clm (", "build clm 2w (", "build all 2w / clm 2w time",
                 "build clm 2w peak RSS at 4x", "build clm start-up"),
    "loader": ("pairstream 0w (", "pairstream 0w shuffle (", "pairstream 2w shuffle ("),
    "transforms": ("transform clm", "transform mlm", "transform t5", "transform bart", "mlm masking"),
    "tokenizers": ("spm raw", "hf raw"),
    "bart": ("bart padding, bench corpus", "bart padding, generated novel", "bart padding, Pride and Prejudice"),
    "peers": ("peers spm paragraph", "peers spm line", "peers spm lines / paragraphs"),
}


@pytest.fixture(scope="module")
def bench_env(shared_data, tmp_path_factory) -> dict[str, str]:
    """The benchmarks read the real corpora in ../shared/data (``shared_data`` skips without them)."""
    return {**os.environ, "LMPAIRS_BENCH_CACHE": str(tmp_path_factory.mktemp("bench-cache"))}


def run_quick(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def check_metrics(metrics: list[dict], prefixes: tuple[str, ...]) -> None:
    for prefix in prefixes:
        assert any(m["name"].startswith(prefix) for m in metrics), f"no metric named {prefix}…"
    for m in metrics:
        if "skipped" in m["detail"]:
            continue
        # Shares (%) may be 0 (best-fit packing cuts no document); rates and times must be positive.
        assert math.isfinite(m["value"]) and (m["value"] >= 0 if m["unit"].startswith("%") else m["value"] > 0), m
        if m["target"]:
            assert m["ratio"] is not None and m["ratio"] > 0 and isinstance(m["met"], bool), m


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bench_script_runs_quick(name: str, bench_env, tmp_path) -> None:
    out = tmp_path / f"{name}.json"
    proc = run_quick([f"bench.{name}", "--quick", "--json", str(out)], bench_env)
    assert proc.stdout.splitlines()[0].split()[:2] == ["metric", "value"]
    data = json.loads(out.read_text())
    assert data["machine"]["nproc"] >= 1
    check_metrics(data["metrics"], EXPECTED[name])


@pytest.mark.slow
def test_run_all_writes_one_table(bench_env, tmp_path) -> None:
    out = tmp_path / "all.json"
    proc = run_quick(["bench.run_all", "--quick", "--only", "transforms", "--json", str(out)], bench_env)
    assert "== all benchmarks" in proc.stdout and "targets met:" in proc.stdout
    data = json.loads(out.read_text())
    assert data["quick"] is True and set(data["seconds"]) == {"transforms"}
    check_metrics(data["metrics"], EXPECTED["transforms"])


def test_ratios_and_targets() -> None:
    assert paired_ratio([2.0, 4.0, 9.0], [1.0, 1.0, 3.0]) == 3.0  # median of 2, 4, 3
    text, check = at_least(0.8)
    assert text == ">= 0.8x" and check(0.8) and not check(0.79)
    text, check = at_most(1.3)
    assert text == "<= 1.3x" and check(1.3) and not check(1.31)
    table = format_table([Metric(name="x", value=1.5e6, unit="tok/s", ratio=2.0, versus="y", target=">= 1x", met=True)])
    assert "1.50M tok/s" in table and "2.00x" in table and "yes" in table
