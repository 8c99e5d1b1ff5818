"""examples/custom_objective.py (the docs' worked example) registers, corrupts and rebuilds its rows."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
from vocabs import toy_vocab

from lmpairs.objectives import get_spec, make_objective, objective_names, register, unregister
from lmpairs.transforms.testing import check_invariants, rows_in_memory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_objective.py"


def load_example():
    spec = importlib.util.spec_from_file_location("custom_objective", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_worked_example_is_a_working_objective(capsys):
    example = load_example()
    example.main()
    assert "deleted" in capsys.readouterr().out and "token_deletion" not in objective_names()
    register(example.TokenDeletionObjective)
    try:
        assert get_spec("token_deletion").config is example.TokenDeletionConfig
        objective = make_objective("token_deletion", example.TokenDeletionConfig(seq_len=64, deletion_rate=0.3),
                                   toy_vocab())
        docs = [(f"d{i}", np.arange(105, 105 + 20 + i), np.zeros(0, np.int32)) for i in range(200)]
        rows = rows_in_memory(objective, docs)
        examples = check_invariants(objective, rows, seed=1, splits=(7,))
        counts = objective.measure(examples)
        assert abs(counts["deleted"] / counts["tokens"] - 0.3) < 0.02
    finally:
        unregister("token_deletion")
