"""An objective from another installed package (``tests/plugin_pkg``) is found through the
``lmpairs.objectives`` entry point: ``lmpairs build`` in a fresh process builds it on two Beam worker
processes, with --seq-len and --set, and PairStream reads it back. The package is installed with
``pip install --no-deps --no-build-isolation --target`` into a temporary directory (never into the venv)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

PLUGIN = Path(__file__).resolve().parents[1] / "plugin_pkg"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    target = tmp_path_factory.mktemp("plugin_site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(PLUGIN)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path_factory.mktemp("pip_cwd"))
    assert done.returncode == 0, done.stderr
    return str(target)


def run_lmpairs(plugin_path: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([plugin_path, str(ROOT)]))
    return subprocess.run([sys.executable, "-m", "lmpairs", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_an_entry_point_objective_builds_on_two_worker_processes(plugin_path, trained_tokenizer, english_corpus,
                                                                 tmp_path):
    out = tmp_path / "out"
    done = run_lmpairs(plugin_path, "build", "--input", str(english_corpus), "--output", str(out), "--tokenizer",
                       trained_tokenizer.name, "--objectives", "clm,reverse_plugin", "--seq-len", "24",
                       "--set", "reverse_plugin.seq_len=20", "--split-mb", "0.02", "--validation-fraction", "0",
                       "--direct_num_workers=2", "--direct_running_mode=multi_processing")
    assert done.returncode == 0, done.stderr[-3000:]
    help_text = run_lmpairs(plugin_path, "build", "--help").stdout
    assert "reverse_plugin.seq_len" in help_text
    bad = run_lmpairs(plugin_path, "build", "--input", "x", "--output", str(tmp_path / "o2"), "--tokenizer", "t",
                      "--objectives", "reverse_plugin", "--set", "reverse_plugin.width=3")
    assert bad.returncode == 2 and "reverse_plugin has no field 'width'" in bad.stderr
    assert "Traceback" not in bad.stderr

    check = ("import sys; sys.path[:0] = sys.argv[1:3]\n"
             "from lmpairs.loader import PairStream\n"
             "from lmpairs.schemas import read_manifest\n"
             "m = read_manifest(sys.argv[3])\n"
             "rows = 0\n"
             "for b in PairStream(sys.argv[3], batch_size=4, shuffle=False):\n"
             "    ids, labels = b['input_ids'].numpy(), b['labels'].numpy()\n"
             "    n = (labels != -100).sum(1)\n"
             "    assert all((ids[i, :n[i]] == labels[i, :n[i]][::-1]).all() for i in range(len(n)))\n"
             "    rows += len(n)\n"
             "print(m.config['seq_len'], rows == m.num_rows('train'), m.counters['rates'])\n")
    read = subprocess.run([sys.executable, "-c", check, plugin_path, str(ROOT), str(out / "reverse_plugin")],
                          capture_output=True, text=True, timeout=300)
    assert read.returncode == 0, read.stderr[-3000:]
    assert read.stdout.split()[:2] == ["20", "True"]
    assert np.isclose(float(read.stdout.split("'reversed_per_tokens': ")[1].rstrip("}\n")), 1.0)
