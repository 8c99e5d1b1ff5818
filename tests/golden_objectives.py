"""The golden rows of the built-in objectives: fixed token documents -> packer -> noise -> stored columns.

Tokenizer-independent (the documents are fixed ids over the toy vocabulary), so a change in how
text is tokenized never moves these hashes; a change in packing, noise or formatting does.
``python tests/golden_objectives.py`` rewrites ``tests/unit/golden_objectives.json`` (do that only
when an objective's output is meant to change, and say so in the commit).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from vocabs import toy_vocab

GOLDEN = Path(__file__).resolve().parent / "unit" / "golden_objectives.json"
SEED = 1234

CASES: dict[str, list[tuple[str, dict]]] = {
    "clm": [("concat", {"seq_len": 31}), ("best_fit", {"seq_len": 40, "packing": "best_fit"}),
            ("drop", {"seq_len": 17, "final_row": "drop", "add_bos": False})],
    "mlm": [("exact", {"seq_len": 32}), ("bernoulli_ww", {"seq_len": 24, "selection": "bernoulli",
                                                          "whole_word": True, "copies": 2})],
    "t5": [("default", {"seq_len": 32}), ("dense", {"seq_len": 48, "noise_density": 0.5,
                                                   "mean_noise_span_length": 8.0})],
    "bart": [("default", {"seq_len": 40}), ("rotate", {"seq_len": 32, "rotate_ratio": 0.5, "insert_ratio": 0.1,
                                                       "token_delete_ratio": 0.05})],
}


def documents() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """60 documents of 1..120 ordinary ids, with sentence ends every few tokens (fixed, no tokenizer)."""
    rng = np.random.default_rng(20261205)
    out = []
    for i in range(60):
        n = int(rng.integers(1, 121))
        ids = rng.integers(105, 1105, size=n).astype(np.int32)
        ends = np.unique(np.append(np.cumsum(rng.integers(3, 12, size=n)), n))
        out.append((f"doc-{i}", ids, ends[ends <= n].astype(np.int32)))
    return out


def digest(objective, config) -> str:
    """sha256 over every stored example (keys and columns, in schema order) of every static copy."""
    from lmpairs.transforms.testing import rows_in_memory

    rows = rows_in_memory(objective, documents(), batch_size=7)
    h = hashlib.sha256()
    for examples in objective.examples(rows, seed=SEED):
        h.update(examples.keys.astype("<u8").tobytes())
        for name, column in examples.columns.items():
            h.update(name.encode())
            h.update(column.values.astype("<i4").tobytes())
            h.update(column.offsets.astype("<i8").tobytes())
    return h.hexdigest()


def current() -> dict[str, str]:
    from lmpairs.objectives import get_spec, make_objective

    out = {}
    for name, cases in CASES.items():
        for label, fields in cases:
            config = get_spec(name).config(**fields)
            out[f"{name}/{label}"] = digest(make_objective(name, config, toy_vocab()), config)
    return out


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
